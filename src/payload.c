/*
 * payload.c
 *	  contact_integrations.payload_json to and from the contract's values.
 *
 * Reading flattens a payload into the text the CSV carries (ranges as
 * plain numbers, tags joined with ';').  Writing applies per-field edits
 * to a payload, normalising each value as its kind says, and tells the
 * caller when nothing changed so it can skip the write.
 */
#include "activepipe.h"

#include "access/htup_details.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "normalize.h"

/* Text of a JSON scalar, or NULL for null and empty strings. */
static const char *
scalar_text(JsonbValue *v, int *len)
{
	char	   *s;

	switch (v->type)
	{
		case jbvString:
			*len = v->val.string.len;
			return *len > 0 ? v->val.string.val : NULL;
		case jbvNumeric:
			s = DatumGetCString(DirectFunctionCall1(numeric_out,
													NumericGetDatum(v->val.numeric)));
			*len = strlen(s);
			return s;
		case jbvBool:
			*len = v->val.boolean ? 4 : 5;
			return v->val.boolean ? "true" : "false";
		default:
			return NULL;
	}
}

/* A tags array joined with ';'; other containers as JSON text. */
static const char *
container_text(JsonbValue *v, int *len)
{
	JsonbIterator *it = JsonbIteratorInit(v->val.binary.data);
	JsonbValue	elem;
	JsonbIteratorToken tok;
	StringInfoData buf;

	if (!JsonContainerIsArray(v->val.binary.data))
	{
		char	   *s = JsonbToCString(NULL, v->val.binary.data, v->val.binary.len);

		*len = strlen(s);
		return s;
	}
	initStringInfo(&buf);
	while ((tok = JsonbIteratorNext(&it, &elem, true)) != WJB_DONE)
	{
		const char *t;
		int			tlen;

		if (tok != WJB_ELEM || (t = scalar_text(&elem, &tlen)) == NULL)
			continue;
		if (buf.len > 0)
			appendStringInfoChar(&buf, ';');
		appendBinaryStringInfo(&buf, t, tlen);
	}
	*len = buf.len;
	return buf.len > 0 ? buf.data : NULL;
}

void
ap_payload_to_values(const ApBinding *b, Jsonb *payload, ApValues *out)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			field = -1;

	if (payload == NULL || !JB_ROOT_IS_OBJECT(payload))
		return;
	it = JsonbIteratorInit(&payload->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			field = ap_field_index(v.val.string.val, v.val.string.len);
			/* identity fields come from their column when one is bound */
			if (field >= 0 && field < AP_NIDENTITY && b->col[field] != NULL)
				field = -1;
		}
		else if (tok == WJB_VALUE && field >= 0)
		{
			int			len = 0;
			const char *t = (v.type == jbvBinary) ?
				container_text(&v, &len) : scalar_text(&v, &len);

			out->val[field] = t;
			out->len[field] = t ? len : 0;
		}
	}
}

void
ap_values_from_row(const ApBinding *b, const Datum *values, const bool *nulls,
				   ApValues *out)
{
	int			f;
	Datum		d;

	memset(out, 0, sizeof(ApValues));
	for (f = 0; f < AP_NIDENTITY; f++)
	{
		d = values[AP_COL_FIRST_FIELD + f - 1];
		if (!nulls[AP_COL_FIRST_FIELD + f - 1])
		{
			text	   *t = DatumGetTextPP(d);

			/* white space only is blank: exported empty, falls back */
			if (!ap_is_blank(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t)))
			{
				out->len[f] = VARSIZE_ANY_EXHDR(t);
				out->val[f] = VARDATA_ANY(t);
			}
		}
	}
	if (!nulls[AP_COL_PAYLOAD - 1])
		ap_payload_to_values(b, DatumGetJsonbP(values[AP_COL_PAYLOAD - 1]), out);
}

/* "Prefer mobile, then phone": a blank mobile takes a mobile-number phone. */
void
ap_values_export_mobile(ApValues *v)
{
	char		key[AP_PHONE_KEY_SIZE];
	size_t		n;

	if (v->val[AP_F_MOBILE] != NULL || v->val[AP_F_PHONE] == NULL)
		return;
	n = ap_phone_key(v->val[AP_F_PHONE], v->len[AP_F_PHONE],
					 ap_default_region(), key);
	if (n > 0 && ap_phone_key_is_mobile(key, n))
	{
		v->val[AP_F_MOBILE] = v->val[AP_F_PHONE];
		v->len[AP_F_MOBILE] = v->len[AP_F_PHONE];
	}
}

/* jsonb's own key order: shorter first, then bytewise */
static int
key_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	if (alen != blen)
		return alen < blen ? -1 : 1;
	return memcmp(a, b, alen);
}

static int	field_order[AP_NFIELDS];	/* fields in jsonb key order */

static int
cmp_field_order(const void *x, const void *y)
{
	int			a = *(const int *) x;
	int			b = *(const int *) y;

	return key_cmp(ap_contract[a].name, ap_contract[a].name_len, ap_contract[b].name, ap_contract[b].name_len);
}

static void
init_field_order(void)
{
	static bool done = false;
	int			f;

	if (done)
		return;
	for (f = 0; f < AP_NFIELDS; f++)
		field_order[f] = f;
	qsort(field_order, AP_NFIELDS, sizeof(int), cmp_field_order);
	done = true;
}

/* v as the JSON string s (not copied). */
static JsonbValue *
string_value(JsonbValue *v, const char *s, size_t len)
{
	v->type = jbvString;
	v->val.string.val = (char *) s;
	v->val.string.len = len;
	return v;
}

void
ap_push_string(JsonbParseState **st, JsonbIteratorToken tok,
			   const char *s, size_t len)
{
	JsonbValue	v;

	pushJsonbValue(st, tok, string_value(&v, s, len));
}

static void
push_key(JsonbParseState **st, int field)
{
	ap_push_string(st, WJB_KEY, ap_contract[field].name, ap_contract[field].name_len);
}

/* A canonical range number as numeric; plain integers skip numeric_in. */
static Numeric
range_numeric(const char *num)
{
	size_t		n = strlen(num);
	size_t		i;

	for (i = 0; i < n && n <= 18; i++)
		if (num[i] < '0' || num[i] > '9')
			break;
	if (n > 0 && n <= 18 && i == n)
		return int64_to_numeric(strtoll(num, NULL, 10));
	return DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(num),
											   ObjectIdGetDatum(InvalidOid),
											   Int32GetDatum(-1)));
}

/* Collects a cell's tags as jsonb strings. */
typedef struct TagList
{
	JsonbValue *elems;
	int			n;
	int			cap;
} TagList;

static void
collect_tag(const char *tag, size_t len, void *arg)
{
	TagList    *l = (TagList *) arg;

	CHECK_FOR_INTERRUPTS();		/* a cell of thousands of tags */
	if (l->n == l->cap)
	{
		l->cap = l->cap ? l->cap * 2 : 8;
		l->elems = l->elems ? repalloc(l->elems, sizeof(JsonbValue) * l->cap) :
			palloc(sizeof(JsonbValue) * l->cap);
	}
	string_value(&l->elems[l->n++], tag, len);
}

/*
 * The value a field's text stores: a range as a number (text that is not
 * one sets the field's bit in *bad_mask and stays text), tags as an array,
 * anything else as the trimmed string.  False when it stores nothing.
 */
static bool
edit_value(int field, const char *s, size_t len, JsonbValue *out,
		   uint64 *bad_mask)
{
	char		num[64];
	TagList		tags = {NULL, 0, 0};

	ap_trim(&s, &len);
	if (len == 0)
		return false;
	switch (ap_contract[field].kind)
	{
		case AP_KIND_RANGE:
			switch (ap_parse_range(s, len, num, sizeof(num)))
			{
				case AP_NUM_EMPTY:
					return false;
				case AP_NUM_OK:
					out->type = jbvNumeric;
					out->val.numeric = range_numeric(num);
					return true;
				case AP_NUM_BAD:
					*bad_mask |= UINT64CONST(1) << field;
					break;
			}
			break;
		case AP_KIND_TAGS:
			{
				size_t		need = ap_tags_scratch_size(s, len);
				void	   *scratch = need > 0 ? palloc(need) : NULL;

				ap_tags_split(s, len, scratch, collect_tag, &tags);
				if (scratch != NULL)
					pfree(scratch);
			}
			if (tags.n == 0)
				return false;
			out->type = jbvArray;
			out->val.array.elems = tags.elems;
			out->val.array.nElems = tags.n;
			out->val.array.rawScalar = false;
			return true;
		default:
			break;
	}
	out->type = jbvString;
	out->val.string.val = (char *) s;
	out->val.string.len = len;
	return true;
}

/*
 * Push one normalised field, or nothing when it stores nothing.  A bad
 * range number is pushed as its text only when keep_bad.
 */
static void
push_field(JsonbParseState **st, int field, const char *s, size_t len,
		   bool keep_bad, uint64 *bad_mask)
{
	JsonbValue	v;
	uint64		bad = 0;
	int			i;

	if (!edit_value(field, s, len, &v, &bad))
		return;
	*bad_mask |= bad;
	if (bad && !keep_bad)
		return;
	push_key(st, field);
	if (v.type != jbvArray)
	{
		pushJsonbValue(st, WJB_VALUE, &v);
		return;
	}
	pushJsonbValue(st, WJB_BEGIN_ARRAY, NULL);
	for (i = 0; i < v.val.array.nElems; i++)
		pushJsonbValue(st, WJB_ELEM, &v.val.array.elems[i]);
	pushJsonbValue(st, WJB_END_ARRAY, NULL);
}

Jsonb *
ap_payload_apply(Jsonb *old, const ApFieldEdit *edits, bool keep_bad,
				 uint64 *bad_mask)
{
	JsonbParseState *st = NULL;
	JsonbValue *res;
	Jsonb	   *result;
	int			f;
	int			j = 0;

	/*
	 * Pairs go out in jsonb's key order (old pairs come in that order; the
	 * edits are merged in by field_order), so the sort that finishing the
	 * object does finds them sorted and returns at once.
	 */
	init_field_order();
	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	if (old != NULL && JB_ROOT_IS_OBJECT(old))
	{
		JsonbIterator *it = JsonbIteratorInit(&old->root);
		JsonbValue	v;
		JsonbIteratorToken tok;
		bool		keep = true;

		/* keep every pair that no edit touches, unknown keys included */
		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		{
			if (tok == WJB_KEY)
			{
				f = ap_field_index(v.val.string.val, v.val.string.len);
				keep = (f < 0 || edits[f].kind == AP_EDIT_KEEP);
				if (keep)
				{
					for (; j < AP_NFIELDS; j++)
					{
						int			e = field_order[j];

						if (key_cmp(ap_contract[e].name, ap_contract[e].name_len,
									v.val.string.val, v.val.string.len) > 0)
							break;
						if (edits[e].kind == AP_EDIT_TEXT)
							push_field(&st, e, edits[e].text, edits[e].len, keep_bad, bad_mask);
					}
					pushJsonbValue(&st, WJB_KEY, &v);
				}
			}
			else if (tok == WJB_VALUE && keep)
				pushJsonbValue(&st, WJB_VALUE, &v);
		}
	}
	for (; j < AP_NFIELDS; j++)
	{
		int			e = field_order[j];

		if (edits[e].kind == AP_EDIT_TEXT)
			push_field(&st, e, edits[e].text, edits[e].len, keep_bad, bad_mask);
	}
	res = pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	result = JsonbValueToJsonb(res);
	if (old == NULL ? JB_ROOT_COUNT(result) == 0 :
		compareJsonbContainers(&old->root, &result->root) == 0)
		return NULL;			/* nothing changed: the caller writes nothing */
	return result;
}

/*
 * Comparing edits with a payload without building the result.  An import
 * asks, row by row, whether a row changes its contact; building the new
 * payload for every row only to compare it cost more than the rest of the
 * row.  The answers must be those of ap_payload_apply followed by
 * compareJsonbContainers, so values are compared as jsonb compares them:
 * strings bytewise, numbers by value, tag arrays element by element.
 */

static bool
scalars_equal(const JsonbValue *a, const JsonbValue *b)
{
	if (a->type != b->type)
		return false;
	switch (a->type)
	{
		case jbvString:
			return a->val.string.len == b->val.string.len &&
				memcmp(a->val.string.val, b->val.string.val, a->val.string.len) == 0;
		case jbvNumeric:
			/* equal bytes are the common case; 3 and 3.0 are equal too */
			if (VARSIZE(a->val.numeric) == VARSIZE(b->val.numeric) &&
				memcmp(a->val.numeric, b->val.numeric, VARSIZE(a->val.numeric)) == 0)
				return true;
			return DatumGetBool(DirectFunctionCall2(numeric_eq,
													NumericGetDatum(a->val.numeric),
													NumericGetDatum(b->val.numeric)));
		default:
			return false;		/* null or bool: an edit never stores one */
	}
}

/* An edit's tag array against a stored value (itself a built array or jsonb). */
static bool
array_equals(const JsonbValue *arr, const JsonbValue *v)
{
	JsonbIterator *it;
	JsonbValue	elem;
	JsonbIteratorToken tok;
	int			i = 0;

	if (v->type == jbvArray)
	{
		if (v->val.array.nElems != arr->val.array.nElems)
			return false;
		for (i = 0; i < arr->val.array.nElems; i++)
			if (!scalars_equal(&arr->val.array.elems[i], &v->val.array.elems[i]))
				return false;
		return true;
	}
	if (v->type != jbvBinary || !JsonContainerIsArray(v->val.binary.data) ||
		JsonContainerIsScalar(v->val.binary.data) ||
		JsonContainerSize(v->val.binary.data) != (uint32) arr->val.array.nElems)
		return false;
	it = JsonbIteratorInit(v->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &elem, true)) != WJB_DONE)
	{
		if (tok != WJB_ELEM)
			continue;
		if (!scalars_equal(&arr->val.array.elems[i++], &elem))
			return false;
	}
	return true;
}

/* Set field's bit in *bad_mask when s is a range that is not a number. */
static void
note_bad_range(int field, const char *s, size_t len, uint64 *bad_mask)
{
	char		num[64];

	ap_trim(&s, &len);
	if (len > 0 && ap_parse_range(s, len, num, sizeof(num)) == AP_NUM_BAD)
		*bad_mask |= UINT64CONST(1) << field;
}

/* Equal values; either may be absent (NULL). */
static bool
values_equal(const JsonbValue *a, const JsonbValue *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	if (a->type == jbvArray)
		return array_equals(a, b);
	if (b->type == jbvArray)
		return array_equals(b, a);
	return scalars_equal(a, b);
}

/*
 * What field f holds: the pending edit if any (pending may be NULL), else
 * the payload's value; NULL when it holds nothing.  buf may be returned.
 */
JsonbValue *
ap_payload_field(Jsonb *payload, const ApFieldEdit *pending, int f,
				 JsonbValue *buf)
{
	uint64		ignored = 0;

	if (pending != NULL && pending[f].kind != AP_EDIT_KEEP)
		return (pending[f].kind == AP_EDIT_TEXT &&
				edit_value(f, pending[f].text, pending[f].len, buf, &ignored)) ? buf : NULL;
	if (payload == NULL || !JB_ROOT_IS_OBJECT(payload))
		return NULL;
	return getKeyJsonValueFromContainer(&payload->root, ap_contract[f].name,
										ap_contract[f].name_len, buf);
}

/*
 * Append n bytes that enlargeStringInfo has made room for.  History writes
 * a few short pieces per changed field of most rows of a file: one
 * capacity check per field, not one call per piece (ap_json_change).
 */
static inline void
append_reserved(StringInfo out, const char *s, int n)
{
	memcpy(out->data + out->len, s, n);
	out->len += n;
	out->data[out->len] = '\0';
}

/*
 * s, len bytes long, as a JSON string (history keeps JSON text: building
 * jsonb costs more).  Not escape_json: it wants a NUL-terminated string,
 * and these are slices of the file and of stored values.
 */
void
ap_json_string(StringInfo out, const char *s, uint32 len)
{
	const char *start = s;
	const char *run = s;
	const char *end = s + len;

	/* most values need no escape: copied at once */
	enlargeStringInfo(out, len + 2);
	append_reserved(out, "\"", 1);
	for (; s < end; s++)
	{
		unsigned char c = (unsigned char) *s;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		appendBinaryStringInfo(out, run, s - run);
		run = s + 1;
		if (c == '"' || c == '\\')
		{
			appendStringInfoChar(out, '\\');
			appendStringInfoChar(out, c);
		}
		else
			appendStringInfo(out, "\\u%04x", c);
	}
	if (run != start)			/* escapes took some of the room */
		enlargeStringInfo(out, (end - run) + 1);
	append_reserved(out, run, end - run);
	append_reserved(out, "\"", 1);
}

/*
 * Field f's name as a JSON key, after a comma unless first.  The
 * contract's names are lowercase ASCII: nothing to escape.  Room is made
 * for extra bytes more, for the caller to append with append_reserved.
 */
static void
json_key_reserve(StringInfo out, int f, bool first, int extra)
{
	enlargeStringInfo(out, ap_contract[f].name_len + 4 + extra);
	if (!first)
		append_reserved(out, ",", 1);
	append_reserved(out, "\"", 1);
	append_reserved(out, ap_contract[f].name, ap_contract[f].name_len);
	append_reserved(out, "\":", 2);
}

void
ap_json_key(StringInfo out, int f, bool first)
{
	json_key_reserve(out, f, first, 0);
}

/* v (NULL: null) as JSON: a scalar, a stored container, or tags */
void
ap_json_value(StringInfo out, const JsonbValue *v)
{
	int			i;

	if (v == NULL || v->type == jbvNull)
		appendBinaryStringInfo(out, "null", 4);
	else if (v->type == jbvString)
		ap_json_string(out, v->val.string.val, v->val.string.len);
	else if (v->type == jbvNumeric)
		appendStringInfoString(out, DatumGetCString(DirectFunctionCall1(numeric_out,
																		NumericGetDatum(v->val.numeric))));
	else if (v->type == jbvBool)
		appendStringInfoString(out, v->val.boolean ? "true" : "false");
	else if (v->type == jbvBinary)
		(void) JsonbToCString(out, v->val.binary.data, v->val.binary.len);
	else
	{
		Assert(v->type == jbvArray);
		appendStringInfoChar(out, '[');
		for (i = 0; i < v->val.array.nElems; i++)
		{
			if (i > 0)
				appendStringInfoChar(out, ',');
			ap_json_value(out, &v->val.array.elems[i]);
		}
		appendStringInfoChar(out, ']');
	}
}

/* Push key name (a constant) and v as a pair of the object being built. */
static void
push_pair(JsonbParseState **st, const char *name, JsonbValue *v)
{
	ap_push_string(st, WJB_KEY, name, strlen(name));
	pushJsonbValue(st, WJB_VALUE, v);	/* a container is unpacked */
}

/* Whether container c holds key name (a constant). */
static bool
has_key(JsonbContainer *c, const char *name)
{
	JsonbValue	k;

	return findJsonbValueFromContainer(c, JB_FOBJECT,
									   string_value(&k, name, strlen(name))) != NULL;
}

/* v is [old, new] (the kept form) or {"old", "new"} (the earlier one) */
static bool
is_change(const JsonbValue *v, bool *pair)
{
	if (v->type != jbvBinary || JsonContainerSize(v->val.binary.data) != 2)
		return false;
	*pair = JsonContainerIsArray(v->val.binary.data);
	return *pair || (has_key(v->val.binary.data, "old") &&
					 has_key(v->val.binary.data, "new"));
}

static void
bad_changes(const char *detail) pg_attribute_noreturn();

static void
bad_changes(const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("a kept import row's changes are not in a known form"),
			 errdetail("%s", detail),
			 errhint("The import history tables are written by activepipe only; restore them from a backup.")));
}

/*
 * A row's changes as the plan and the report return them, jsonb
 * {field: {"old": ..., "new": ...}}, from the JSON text the import builds
 * and history keeps, {field: [old, new]} (ap_json_change).  A value that
 * is already {"old", "new"} (history kept by a 1.2 development build
 * before this form) is returned as it is; any other is refused, not read.
 */
Datum
ap_changes_jsonb(const text *changes)
{
	Jsonb	   *kept = DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
														  CStringGetDatum(text_to_cstring(changes))));
	JsonbParseState *st = NULL;
	JsonbIterator *it = JsonbIteratorInit(&kept->root);
	JsonbIteratorToken tok;
	JsonbValue	v;
	JsonbValue	key = {0};
	bool		pair;

	if (!JB_ROOT_IS_OBJECT(kept))
		bad_changes("The changes are not a JSON object.");
	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			key = v;
			pushJsonbValue(&st, WJB_KEY, &v);
		}
		else if (tok != WJB_VALUE)
			continue;
		else if (!is_change(&v, &pair))
			bad_changes(psprintf("The change of field \"%.*s\" is neither [old, new] nor {\"old\", \"new\"}.",
								 pg_mbcliplen(key.val.string.val, key.val.string.len, 64),
								 key.val.string.val));
		else if (!pair)
			pushJsonbValue(&st, WJB_VALUE, &v);
		else
		{
			pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
			push_pair(&st, "old", getIthJsonbValueFromContainer(v.val.binary.data, 0));
			push_pair(&st, "new", getIthJsonbValueFromContainer(v.val.binary.data, 1));
			pushJsonbValue(&st, WJB_END_OBJECT, NULL);
		}
	}
	return JsonbPGetDatum(JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL)));
}

/*
 * What field f was and became as JSON text: "f":[old,new], after a comma
 * unless first.  A commit keeps one per changed field of most of its rows
 * (import_rows.changes): built as text, not jsonb, without spaces between
 * its own keys and values (a stored container inside a value keeps
 * jsonb's spacing), and as a pair rather than {"old":...,"new":...}, which
 * ap_changes_jsonb makes of it when it is read: those keys were a quarter
 * of a commit's history text.
 */
void
ap_json_change(StringInfo out, bool first, int f, const JsonbValue *old,
			   const JsonbValue *new)
{
	json_key_reserve(out, f, first, 1);
	append_reserved(out, "[", 1);
	ap_json_value(out, old);
	appendStringInfoChar(out, ',');
	ap_json_value(out, new);
	appendStringInfoChar(out, ']');
}

/* Push a value as a pair's value: a scalar, a stored container, or tags. */
void
ap_push_value(JsonbParseState **st, const JsonbValue *v)
{
	int			i;

	if (v->type != jbvArray)
	{
		pushJsonbValue(st, WJB_VALUE, (JsonbValue *) v);
		return;
	}
	pushJsonbValue(st, WJB_BEGIN_ARRAY, NULL);
	for (i = 0; i < v->val.array.nElems; i++)
		pushJsonbValue(st, WJB_ELEM, &v->val.array.elems[i]);
	pushJsonbValue(st, WJB_END_ARRAY, NULL);
}

bool
ap_payload_edits_change(Jsonb *payload, const ApFieldEdit *pending,
						const ApFieldEdit *edits, uint64 *bad_mask,
						uint64 *changed_mask, StringInfo changes)
{
	bool		changed = false;
	int			f;

	/* describing needs every field compared */
	Assert(changes == NULL || changed_mask != NULL);
	/* apply always builds an object: any other root changes */
	if (payload != NULL && !JB_ROOT_IS_OBJECT(payload))
		changed = true;
	for (f = 0; f < AP_NFIELDS; f++)
	{
		JsonbValue	nv,
					cv;
		JsonbValue *n,
				   *c;

		if (edits[f].kind == AP_EDIT_KEEP)
			continue;
		if (changed && changed_mask == NULL)
		{
			/* the answer is known: only bad numbers are left to report */
			if (edits[f].kind == AP_EDIT_TEXT &&
				ap_contract[f].kind == AP_KIND_RANGE)
				note_bad_range(f, edits[f].text, edits[f].len, bad_mask);
			continue;
		}
		n = (edits[f].kind == AP_EDIT_TEXT &&
			 edit_value(f, edits[f].text, edits[f].len, &nv, bad_mask)) ? &nv : NULL;
		c = ap_payload_field(payload, pending, f, &cv);
		if (values_equal(n, c))
			continue;
		changed = true;
		if (changed_mask)
			*changed_mask |= UINT64CONST(1) << f;
		/* identity fields the payload holds: described with the columns */
		if (changes && f >= AP_NIDENTITY)
			ap_json_change(changes, changes->len == 0, f, c, n);
	}
	return changed;
}

/*
 * payload with the keys of before put back as they were: a null in before
 * removes the key (it was absent), [value] sets it to value (a JSON null
 * included).  An undo calls this on the payload its import left, so the
 * result is the payload from before the import, byte for byte.
 */
Jsonb *
ap_payload_restore(Jsonb *payload, Jsonb *before)
{
	JsonbParseState *st = NULL;
	JsonbIterator *it;
	JsonbValue	k,
				v;
	JsonbIteratorToken tok;
	bool		keep = true;

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	if (payload != NULL && JB_ROOT_IS_OBJECT(payload))
	{
		it = JsonbIteratorInit(&payload->root);
		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		{
			if (tok == WJB_KEY)
			{
				keep = getKeyJsonValueFromContainer(&before->root, v.val.string.val,
													v.val.string.len, &k) == NULL;
				if (keep)
					pushJsonbValue(&st, WJB_KEY, &v);
			}
			else if (tok == WJB_VALUE && keep)
				pushJsonbValue(&st, WJB_VALUE, &v);
		}
	}
	it = JsonbIteratorInit(&before->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
			k = v;
		else if (tok == WJB_VALUE && v.type == jbvBinary)
		{
			JsonbValue *was = getIthJsonbValueFromContainer(v.val.binary.data, 0);

			if (was == NULL)
				continue;
			pushJsonbValue(&st, WJB_KEY, &k);
			ap_push_value(&st, was);
		}
	}
	return JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL));
}

/*
 * A copy of v (a plain varlena: jsonb, text) in cxt: a value built in
 * scratch memory (building leaves parse state and buffers behind), kept
 * once the scratch is reset.
 */
void *
ap_varlena_copy(MemoryContext cxt, const void *v)
{
	return memcpy(MemoryContextAlloc(cxt, VARSIZE(v)), v, VARSIZE(v));
}

/*
 * Text built in a string buffer (made already, and kept from one text to
 * the next), header and all: begin empties it and leaves room for the
 * header, end sets it; the text is the buffer's memory until begin again.
 */
void
ap_text_begin(StringInfo out)
{
	resetStringInfo(out);
	appendStringInfoSpaces(out, VARHDRSZ);
}

text *
ap_text_end(StringInfo out)
{
	SET_VARSIZE(out->data, out->len);
	return (text *) out->data;
}

/* A string buffer of 1 kB in cxt (initStringInfo in a given context). */
void
ap_buffer_init(StringInfo s, MemoryContext cxt)
{
	s->data = MemoryContextAlloc(cxt, 1024);
	s->maxlen = 1024;
	resetStringInfo(s);
}

/*
 * A buffer kept from one value to the next goes back to 1 kB, in its own
 * context, once one large value grew it past limit: it would otherwise
 * hold that memory until the call ends (60 MB after a 10 MB cell of
 * control characters).
 */
void
ap_buffer_shrink(StringInfo s, int limit)
{
	MemoryContext home;

	if (s->maxlen <= limit)
		return;
	home = GetMemoryChunkContext(s->data);
	pfree(s->data);
	ap_buffer_init(s, home);
}
