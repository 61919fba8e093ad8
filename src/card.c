/*
 * card.c
 *	  The ActivePipe card of a contact: activepipe_card (read),
 *	  activepipe_card_save (validate, normalise, upsert) and
 *	  activepipe_card_clear (empty the payload only).
 *
 * Every call first reads the contact through the tenant filter; a contact
 * of another tenant is reported exactly like a missing one.
 */
#include "activepipe.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/json.h"
#include "utils/numeric.h"

#include "normalize.h"

/* One contact's row of AP_Q_CONTACT_ROWS, or an error when not the tenant's. */
static HeapTuple
fetch_contact(const ApBinding *b, int64 user_id, int64 contact_id,
			  bool read_only)
{
	Oid			types[2] = {INT8OID, INT8ARRAYOID};
	Datum		values[2];

	values[0] = Int64GetDatum(user_id);
	values[1] = PointerGetDatum(ap_ids_array(&contact_id, 1));
	if (ap_spi_run(b, AP_Q_CONTACT_ROWS, 2, types, values, NULL, read_only) != 1)
		ap_contact_not_found(contact_id);
	return SPI_tuptable->vals[0];
}

static void
push_null(JsonbParseState **st)
{
	JsonbValue	v;

	v.type = jbvNull;
	pushJsonbValue(st, WJB_VALUE, &v);
}

static void
push_timestamp(JsonbParseState **st, const char *key, HeapTuple tup,
			   TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);
	char		buf[MAXDATELEN + 1];

	ap_push_string(st, WJB_KEY, key, strlen(key));
	if (isnull)
		push_null(st);
	else
	{
		/* pushJsonbValue keeps the pointer: the text must outlive buf */
		char	   *s = pstrdup(JsonEncodeDateTime(buf, d, TIMESTAMPTZOID, NULL));

		ap_push_string(st, WJB_VALUE, s, strlen(s));
	}
}

/* A payload value as a JsonbValue, or NULL. */
static JsonbValue *
payload_value(Jsonb *payload, int field)
{
	JsonbValue *v;

	if (payload == NULL || !JB_ROOT_IS_OBJECT(payload))
		return NULL;
	v = getKeyJsonValueFromContainer(&payload->root, ap_contract[field].name,
									 strlen(ap_contract[field].name), NULL);
	return (v && v->type != jbvNull) ? v : NULL;
}

static void
push_fields(JsonbParseState **st, const ApBinding *b, HeapTuple tup,
			TupleDesc desc, Jsonb *payload)
{
	int			f;

	ap_push_string(st, WJB_KEY, "fields", 6);
	pushJsonbValue(st, WJB_BEGIN_OBJECT, NULL);
	for (f = 0; f < AP_NFIELDS; f++)
	{
		JsonbValue *v = NULL;
		bool		isnull = true;
		Datum		d = 0;

		ap_push_string(st, WJB_KEY, ap_contract[f].name, strlen(ap_contract[f].name));
		if (f < AP_NIDENTITY && b->col[f])
			d = SPI_getbinval(tup, desc, AP_COL_FIRST_FIELD + f, &isnull);
		else
			v = payload_value(payload, f);
		if (!isnull)
		{
			text	   *t = DatumGetTextPP(d);

			ap_push_string(st, WJB_VALUE, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
		}
		else if (v)
			pushJsonbValue(st, WJB_VALUE, v);
		else
			push_null(st);
	}
	pushJsonbValue(st, WJB_END_OBJECT, NULL);
}

/*
 * A range field's number, or NULL.  A value that is not a number is
 * worth a warning: an import or a save keeps such text ("POA", say)
 * instead of refusing it, and an application may have written anything.
 */
static JsonbValue *
range_number(JsonbParseState **st, Jsonb *payload, int field)
{
	JsonbValue *v = payload_value(payload, field);
	char	   *msg;

	if (v == NULL || v->type == jbvNumeric)
		return v;
	msg = psprintf("%s is not a number", ap_contract[field].name);
	ap_push_string(st, WJB_ELEM, msg, strlen(msg));
	return NULL;
}

/*
 * What the user should look at, range pair by pair: values that are not
 * numbers, and a minimum above its maximum.  Both are allowed.
 */
static void
push_warnings(JsonbParseState **st, Jsonb *payload)
{
	int			f;

	ap_push_string(st, WJB_KEY, "warnings", 8);
	pushJsonbValue(st, WJB_BEGIN_ARRAY, NULL);
	for (f = AP_F_MINBEDS; f <= AP_F_MAXBUILDINGSIZE; f += 2)
	{
		JsonbValue *lo = range_number(st, payload, f);
		JsonbValue *hi = range_number(st, payload, ap_range_partner(f));
		char	   *msg;

		if (!lo || !hi)
			continue;
		if (DatumGetInt32(DirectFunctionCall2(numeric_cmp,
											  NumericGetDatum(lo->val.numeric),
											  NumericGetDatum(hi->val.numeric))) <= 0)
			continue;
		msg = psprintf("%s is greater than %s", ap_contract[f].name,
					   ap_contract[ap_range_partner(f)].name);
		ap_push_string(st, WJB_ELEM, msg, strlen(msg));
	}
	pushJsonbValue(st, WJB_END_ARRAY, NULL);
}

/* The card of one contact, built inside SPI; the caller copies it out. */
static Jsonb *
build_card(const ApBinding *b, int64 user_id, int64 contact_id,
		   bool read_only)
{
	HeapTuple	tup = fetch_contact(b, user_id, contact_id, read_only);
	TupleDesc	desc = SPI_tuptable->tupdesc;
	JsonbParseState *st = NULL;
	JsonbValue	v;
	bool		isnull;
	Datum		d;
	Jsonb	   *payload = NULL;

	d = SPI_getbinval(tup, desc, AP_COL_PAYLOAD, &isnull);
	if (!isnull)
		payload = DatumGetJsonbP(d);
	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	ap_push_string(&st, WJB_KEY, "contact_id", 10);
	v.type = jbvNumeric;
	v.val.numeric = int64_to_numeric(contact_id);
	pushJsonbValue(&st, WJB_VALUE, &v);
	ap_push_string(&st, WJB_KEY, "has_profile", 11);
	v.type = jbvBool;
	v.val.boolean = DatumGetBool(SPI_getbinval(tup, desc, AP_COL_HAS_PROFILE, &isnull));
	pushJsonbValue(&st, WJB_VALUE, &v);
	push_timestamp(&st, "last_exported_at", tup, desc, AP_COL_EXPORTED);
	push_timestamp(&st, "last_imported_at", tup, desc, AP_COL_IMPORTED);
	push_fields(&st, b, tup, desc, payload);
	push_warnings(&st, payload);
	return JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL));
}

static Datum
card_result(Jsonb *card)
{
	Jsonb	   *copy = (Jsonb *) SPI_palloc(VARSIZE(card));

	memcpy(copy, card, VARSIZE(card));
	SPI_finish();
	PG_RETURN_JSONB_P(copy);
}

PG_FUNCTION_INFO_V1(activepipe_card);
Datum
activepipe_card(PG_FUNCTION_ARGS)
{
	ApBinding  *b;

	SPI_connect();
	b = ap_binding_load(fcinfo);
	return card_result(build_card(b, PG_GETARG_INT64(0), PG_GETARG_INT64(1), true));
}

/* A saved JSON value as the text the normalisers take; NULL clears. */
static const char *
save_value_text(JsonbValue *v, int field, int *len)
{
	StringInfoData buf;
	JsonbIterator *it;
	JsonbValue	elem;
	JsonbIteratorToken tok;

	switch (v->type)
	{
		case jbvNull:
			return NULL;
		case jbvString:
			*len = v->val.string.len;
			return v->val.string.val;
		case jbvNumeric:
		case jbvBool:
			{
				char	   *s = JsonbToCString(NULL, &JsonbValueToJsonb(v)->root, 0);

				*len = strlen(s);
				return s;
			}
		default:
			break;
	}
	if (ap_contract[field].kind != AP_KIND_TAGS ||
		!JsonContainerIsArray(v->val.binary.data))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ActivePipe field \"%s\" must be a string, a number or null",
						ap_contract[field].name),
				 errhint("Only tags also accepts a JSON array of strings.")));
	/* a tags array: join, and let the tag splitter trim and de-duplicate */
	initStringInfo(&buf);
	it = JsonbIteratorInit(v->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &elem, true)) != WJB_DONE)
	{
		if (tok != WJB_ELEM)
			continue;
		if (elem.type != jbvString)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("ActivePipe tags must be strings")));
		appendBinaryStringInfo(&buf, elem.val.string.val, elem.val.string.len);
		appendStringInfoChar(&buf, ';');
	}
	*len = buf.len;
	return buf.data;
}

/*
 * Whether v is what the card shows for bound identity field f of the
 * contact (tup): the column's text, or null for a NULL column.  A form
 * that posts back every field of the card sends these unchanged.
 */
static bool
shows_column(const JsonbValue *v, int f, HeapTuple tup, TupleDesc desc)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, AP_COL_FIRST_FIELD + f, &isnull);
	text	   *t;

	if (isnull || v->type == jbvNull)
		return isnull && v->type == jbvNull;
	if (v->type != jbvString)
		return false;
	t = DatumGetTextPP(d);
	return v->val.string.len == VARSIZE_ANY_EXHDR(t) &&
		memcmp(v->val.string.val, VARDATA_ANY(t), v->val.string.len) == 0;
}

/*
 * Turn the fields argument into one edit per contract field.  The
 * contact's own fields (bound identity columns) are accepted only as the
 * card shows them, and change nothing.
 */
static void
save_edits(const ApBinding *b, Jsonb *fields, ApFieldEdit *edits,
		   HeapTuple tup, TupleDesc desc)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			f = -1;
	char	   *key = NULL;

	if (!JB_ROOT_IS_OBJECT(fields))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("fields must be a JSON object of ActivePipe fields")));
	it = JsonbIteratorInit(&fields->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			key = pnstrdup(v.val.string.val, v.val.string.len);
			f = ap_field_index(key, strlen(key));
			if (f < 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("unknown ActivePipe field \"%s\"", key),
						 errhint("The card saves the 26 integration fields of the ActivePipe contract; see activepipe_contract().")));
		}
		else if (tok == WJB_VALUE && f < AP_NIDENTITY && b->col[f] != NULL)
		{
			if (!shows_column(&v, f, tup, desc))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("ActivePipe field \"%s\" belongs to the contact, not the card", key),
						 errdetail("The card accepts the contact's own fields only as they are on the contact now; this one differs (changed in the form, or on the contact since the card was read)."),
						 errhint("Edit the contact itself to change identity and address fields.")));
		}
		else if (tok == WJB_VALUE)
		{
			int			len = 0;
			const char *t = save_value_text(&v, f, &len);

			edits[f].kind = t ? AP_EDIT_TEXT : AP_EDIT_CLEAR;
			edits[f].text = t;
			edits[f].len = len;
		}
	}
}

PG_FUNCTION_INFO_V1(activepipe_card_save);
Datum
activepipe_card_save(PG_FUNCTION_ARGS)
{
	int64		user_id = PG_GETARG_INT64(0);
	int64		contact_id = PG_GETARG_INT64(1);
	Jsonb	   *fields = PG_GETARG_JSONB_P(2);
	ApFieldEdit edits[AP_NFIELDS];
	ApBinding  *b;
	HeapTuple	tup;
	bool		isnull,
				has_profile;
	Datum		d;
	Jsonb	   *old = NULL,
			   *payload;
	uint64		not_numbers = 0;	/* kept as text; the card warns */

	memset(edits, 0, sizeof(edits));
	SPI_connect();
	b = ap_binding_load(fcinfo);
	/* serialise with imports: they write back whole payloads */
	ap_lock_tenant(b, user_id);
	tup = fetch_contact(b, user_id, contact_id, false);
	has_profile = DatumGetBool(SPI_getbinval(tup, SPI_tuptable->tupdesc,
											 AP_COL_HAS_PROFILE, &isnull));
	d = SPI_getbinval(tup, SPI_tuptable->tupdesc, AP_COL_PAYLOAD, &isnull);
	if (!isnull)
		old = DatumGetJsonbP(d);
	save_edits(b, fields, edits, tup, SPI_tuptable->tupdesc);
	/* a range value that is not a number is kept as text, as import does */
	payload = ap_payload_apply(old, edits, true, &not_numbers);
	if (payload != NULL || !has_profile)
	{
		Oid			types[3] = {INT8OID, INT8OID, JSONBOID};
		Datum		values[3];

		values[0] = Int64GetDatum(user_id);
		values[1] = Int64GetDatum(contact_id);
		values[2] = JsonbPGetDatum(payload ? payload : old ? old :
								   DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("{}"))));
		ap_spi_run(b, AP_Q_PROFILE_UPSERT, 3, types, values, NULL, false);
	}
	return card_result(build_card(b, user_id, contact_id, false));
}

PG_FUNCTION_INFO_V1(activepipe_card_clear);
Datum
activepipe_card_clear(PG_FUNCTION_ARGS)
{
	int64		user_id = PG_GETARG_INT64(0);
	int64		contact_id = PG_GETARG_INT64(1);
	Oid			types[2] = {INT8OID, INT8OID};
	Datum		values[2];
	ApBinding  *b;

	SPI_connect();
	b = ap_binding_load(fcinfo);
	/* serialise with imports: they write back whole payloads */
	ap_lock_tenant(b, user_id);
	fetch_contact(b, user_id, contact_id, false);
	values[0] = Int64GetDatum(user_id);
	values[1] = Int64GetDatum(contact_id);
	ap_spi_run(b, AP_Q_PROFILE_CLEAR, 2, types, values, NULL, false);
	SPI_finish();
	PG_RETURN_VOID();
}
