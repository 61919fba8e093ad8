/*
 * import_outcome.c
 *	  What each row of an import did, as the caller sees it: the reason
 *	  code, field and text of a row, the summary (counts, and the first
 *	  AP_SUMMARY_ROWS conflicts and skips), and the plan's rows.
 *
 * A row's reasons are kept as bits and field masks (ApOutcome); text is
 * made only for the rows shown.  The summary is built as a jsonb value
 * directly, never as JSON text parsed again, and holds at most
 * AP_SUMMARY_ROWS rows whatever the file's size: activepipe_import_plan
 * and the kept report of a commit are the complete lists.
 */
#include "activepipe.h"

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "import.h"

const char *const ap_action_names[AP_NACTIONS] = {"new", "update", "unchanged", "conflict", "skip"};

/* The most serious reason of the row: the one its code and field name. */
static uint8
primary(const ApOutcome *o)
{
	uint8		why = o->why;

	return why & (uint8) -why;	/* lowest bit: AP_WHY_* are in that order */
}

static int
first_field(uint64 mask)
{
	int			f;

	for (f = 0; f < AP_NFIELDS; f++)
		if (mask & (UINT64CONST(1) << f))
			return f;
	return -1;
}

const char *
ap_reason_code(const ApOutcome *o)
{
	switch (primary(o))
	{
		case AP_WHY_NO_KEY:
			return "no_match_key";
		case AP_WHY_TOO_LONG:
			return "too_long";
		case AP_WHY_DELETED:
			return "contact_deleted";
		case AP_WHY_AMBIGUOUS:
			return "ambiguous";
		case AP_WHY_CONFLICT:
			return "conflict";
		case AP_WHY_BAD_NUMBER:
			return "bad_number";
	}
	return NULL;
}

const char *
ap_reason_field(const ApOutcome *o)
{
	switch (primary(o))
	{
		case AP_WHY_TOO_LONG:
			return ap_contract[first_field(o->long_mask)].name;
		case AP_WHY_AMBIGUOUS:
			return ap_match_names[o->matched_by];
		case AP_WHY_CONFLICT:
			return ap_contract[first_field(o->conflict_mask)].name;
		case AP_WHY_BAD_NUMBER:
			return ap_contract[first_field(o->bad_mask)].name;
	}
	return NULL;
}

static void
add_reason(StringInfo s, const char *text)
{
	if (s->len > 0)
		appendStringInfoString(s, "; ");
	appendStringInfoString(s, text);
}

/* The row's reasons as text, or NULL when it has none. */
char *
ap_reason_text(const ApOutcome *o)
{
	StringInfoData s;
	int			f;
	int			n = 0;

	if (o->why & AP_WHY_NO_KEY)
		return pstrdup("no match key");
	if (o->why & AP_WHY_TOO_LONG)
		return psprintf("%s is too long for its column",
						ap_contract[first_field(o->long_mask)].name);
	if (o->why & AP_WHY_DELETED)
		return pstrdup("contact deleted");
	if (o->why == 0)
		return NULL;
	initStringInfo(&s);
	if (o->why & AP_WHY_AMBIGUOUS)
		appendStringInfo(&s, "ambiguous: %d contacts share this %s",
						 o->ambiguous, ap_match_names[o->matched_by]);
	if (o->why & AP_WHY_CONFLICT)
	{
		add_reason(&s, "conflict: ");
		for (f = 0; f < AP_NIDENTITY; f++)
			if (o->conflict_mask & (1 << f))
				appendStringInfo(&s, "%s%s", n++ ? ", " : "", ap_contract[f].name);
		appendStringInfoString(&s, n > 1 ? " differ" : " differs");
	}
	for (f = 0; f < AP_NFIELDS; f++)
		if (o->bad_mask & (UINT64CONST(1) << f))
		{
			add_reason(&s, "bad number in ");
			appendStringInfo(&s, "%s kept as text", ap_contract[f].name);
		}
	return s.data;
}

void
ap_summary_init(ApSummary *s, MemoryContext cxt)
{
	memset(s, 0, sizeof(*s));
	s->cxt = cxt;
	s->shown = MemoryContextAlloc(cxt, sizeof(ApShownRow) * AP_SUMMARY_ROWS);
}

/*
 * Count a row; keep it for the summary when it is among the first
 * AP_SUMMARY_ROWS conflicts and skips.
 */
void
ap_summary_add(ApSummary *s, const ApOutcome *o, int64 contact_id,
			   bool has_contact)
{
	MemoryContext old;
	ApShownRow *r;

	s->counts[o->action]++;
	s->total++;
	if (o->action != AP_ACT_CONFLICT && o->action != AP_ACT_SKIP)
		return;
	if (s->nshown == AP_SUMMARY_ROWS)
	{
		s->omitted++;
		return;
	}
	old = MemoryContextSwitchTo(s->cxt);
	r = &s->shown[s->nshown++];
	r->line = o->line;
	r->action = o->action;
	r->matched_by = o->matched_by;
	r->contact_id = contact_id;
	r->has_contact = has_contact;
	r->reason = ap_reason_text(o);
	r->code = ap_reason_code(o);
	r->field = ap_reason_field(o);
	r->conflicts = o->conflicts ? (Jsonb *) pg_detoast_datum_copy((struct varlena *) o->conflicts) : NULL;
	MemoryContextSwitchTo(old);
}

static void
push_key(JsonbParseState **st, const char *key)
{
	ap_push_string(st, WJB_KEY, key, strlen(key));
}

static void
push_int(JsonbParseState **st, const char *key, int64 n)
{
	JsonbValue	v;

	push_key(st, key);
	v.type = jbvNumeric;
	v.val.numeric = int64_to_numeric(n);
	pushJsonbValue(st, WJB_VALUE, &v);
}

static void
push_str(JsonbParseState **st, const char *key, const char *s)
{
	JsonbValue	v;

	push_key(st, key);
	if (s == NULL)
	{
		v.type = jbvNull;
		pushJsonbValue(st, WJB_VALUE, &v);
	}
	else
		ap_push_string(st, WJB_VALUE, s, strlen(s));
}

static void
push_bool(JsonbParseState **st, const char *key, bool b)
{
	JsonbValue	v;

	push_key(st, key);
	v.type = jbvBool;
	v.val.boolean = b;
	pushJsonbValue(st, WJB_VALUE, &v);
}

static void
push_jsonb(JsonbParseState **st, const char *key, Jsonb *jb)
{
	JsonbValue	v;

	push_key(st, key);
	if (jb == NULL)
		v.type = jbvNull;
	else
	{
		v.type = jbvBinary;
		v.val.binary.data = &jb->root;
		v.val.binary.len = VARSIZE(jb) - VARHDRSZ;
	}
	pushJsonbValue(st, WJB_VALUE, &v);
}

static void
push_row(JsonbParseState **st, const ApShownRow *r)
{
	pushJsonbValue(st, WJB_BEGIN_OBJECT, NULL);
	push_int(st, "line", r->line);
	push_str(st, "action", ap_action_names[r->action]);
	if (r->has_contact)
		push_int(st, "contact_id", r->contact_id);
	else
		push_str(st, "contact_id", NULL);
	push_str(st, "matched_by", ap_match_names[r->matched_by]);
	push_str(st, "reason", r->reason);
	push_str(st, "reason_code", r->code);
	push_str(st, "field", r->field);
	push_jsonb(st, "conflicts", r->conflicts);
	pushJsonbValue(st, WJB_END_OBJECT, NULL);
}

/*
 * The summary.  For the event log (for_event) it has no rows and only the
 * first ignored column names, each clipped, so the event row stays small.
 */
Jsonb *
ap_summary_jsonb(const ApSummary *s, const ApSummaryHead *h, bool for_event)
{
	JsonbParseState *st = NULL;
	const int64 *k = s->counts;
	ListCell   *lc;
	int			bytes = 0;
	int			i;

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	push_int(&st, "total_rows", s->total);
	push_int(&st, "matched", k[AP_ACT_UPDATE] + k[AP_ACT_UNCHANGED] + k[AP_ACT_CONFLICT]);
	push_int(&st, "new", k[AP_ACT_NEW]);
	push_int(&st, "updated", k[AP_ACT_UPDATE]);
	push_int(&st, "unchanged", k[AP_ACT_UNCHANGED]);
	push_int(&st, "conflicts", k[AP_ACT_CONFLICT]);
	push_int(&st, "skipped", k[AP_ACT_SKIP]);
	push_bool(&st, "overwrite", h->overwrite);
	push_str(&st, "encoding", h->encoding);
	push_key(&st, "ignored_columns");
	pushJsonbValue(&st, WJB_BEGIN_ARRAY, NULL);
	foreach(lc, h->ignored)
	{
		const char *name = lfirst(lc);
		int			len = strlen(name);

		if (for_event)
		{
			if (bytes >= AP_EVENT_IGNORED_MAX)
				break;
			len = pg_mbcliplen(name, len, AP_EVENT_NAME_MAX);
			bytes += len;
		}
		ap_push_string(&st, WJB_ELEM, name, len);
	}
	pushJsonbValue(&st, WJB_END_ARRAY, NULL);
	push_int(&st, "ignored_columns_total", list_length(h->ignored));
	if (h->event_id && !for_event)
		push_int(&st, "event_id", h->event_id);
	if (!for_event)
	{
		push_int(&st, "rows_omitted", s->omitted);
		push_key(&st, "rows");
		pushJsonbValue(&st, WJB_BEGIN_ARRAY, NULL);
		for (i = 0; i < s->nshown; i++)
			push_row(&st, &s->shown[i]);
		pushJsonbValue(&st, WJB_END_ARRAY, NULL);
	}
	return JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL));
}

/*
 * One row of activepipe_import_plan: line, action, contact_id, matched_by,
 * reason, changes, conflicts, reason_code, field.
 */
void
ap_plan_put(ReturnSetInfo *rsinfo, const ApOutcome *o, int64 contact_id,
			bool has_contact)
{
	Datum		values[AP_PLAN_NATTS];
	bool		nulls[AP_PLAN_NATTS];
	char	   *reason = ap_reason_text(o);
	const char *code = ap_reason_code(o);
	const char *field = ap_reason_field(o);

	memset(nulls, 0, sizeof(nulls));
	values[0] = Int32GetDatum(o->line);
	values[1] = CStringGetTextDatum(ap_action_names[o->action]);
	values[2] = Int64GetDatum(contact_id);
	nulls[2] = !has_contact;
	nulls[3] = o->matched_by == AP_MATCH_NONE;
	values[3] = nulls[3] ? 0 : CStringGetTextDatum(ap_match_names[o->matched_by]);
	nulls[4] = reason == NULL;
	values[4] = reason ? CStringGetTextDatum(reason) : 0;
	nulls[5] = o->changes == NULL;
	values[5] = o->changes ? ap_changes_jsonb(o->changes) : 0;
	nulls[6] = o->conflicts == NULL;
	values[6] = JsonbPGetDatum(o->conflicts);
	nulls[7] = code == NULL;
	values[7] = code ? CStringGetTextDatum(code) : 0;
	nulls[8] = field == NULL;
	values[8] = field ? CStringGetTextDatum(field) : 0;
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

