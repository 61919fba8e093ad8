/*
 * export.c
 *	  CSV export: activepipe_export (one document), activepipe_export_rows
 *	  (the same rows as a set, for COPY), activepipe_export_summary, and
 *	  the id-array and CSV-formatting helpers they share.
 *
 * An export holds the tenant lock (as imports and card writes do), so it
 * reads a state no other activepipe call changes before it stamps it.
 * Rows come from one statement over the tenant's requested contacts in
 * ascending id order, handed over one at a time from the executor, whose
 * memory is reset after each, so memory stays near the size of the
 * output.  last_exported_at
 * is then stamped set-based: profiles read by their row versions (a TID
 * scan, falling back to an update by id for rows changed since), missing
 * profiles by one INSERT.  The event names the contacts sent
 * (export_contacts), for activepipe_export_report.
 */
#include "activepipe.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "csv_writer.h"
#include "import_history.h"

void
ap_contact_not_found(int64 contact_id)
{
	/* the same words whether the id is free or another tenant's */
	ereport(ERROR,
			(errcode(ERRCODE_NO_DATA_FOUND),
			 errmsg("contact " INT64_FORMAT " not found", contact_id),
			 errhint("The id does not name a contact of this user.")));
}

int
ap_cmp_int64(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return (x > y) - (x < y);
}

int64 *
ap_sorted_unique_ids(ArrayType *arr, int *n, int *requested)
{
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;
	int64	   *ids;
	int			i,
				k = 0;

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("contact_ids must be a one-dimensional array")));
	deconstruct_array(arr, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
					  &elems, &nulls, &nelems);
	ids = palloc(sizeof(int64) * Max(nelems, 1));
	for (i = 0; i < nelems; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("contact_ids must not contain NULL")));
		ids[i] = DatumGetInt64(elems[i]);
	}
	qsort(ids, nelems, sizeof(int64), ap_cmp_int64);
	for (i = 0; i < nelems; i++)
		if (k == 0 || ids[k - 1] != ids[i])
			ids[k++] = ids[i];
	*n = k;
	*requested = nelems;
	return ids;
}

ArrayType *
ap_ids_array(const int64 *ids, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(n, 1));
	int			i;

	for (i = 0; i < n; i++)
		d[i] = Int64GetDatum(ids[i]);
	return construct_array(d, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
}

static void
check_cap(int n)
{
	if (n > ap_export_cap)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("export of %d contacts exceeds the cap of %d", n, ap_export_cap),
				 errhint("Export fewer contacts, or raise the setting activepipe.export_cap.")));
}

void
ap_append_csv_cell(StringInfo buf, const char *s, int len, bool escape_formulas)
{
	bool		risky = escape_formulas && ap_csv_formula_risky(s, len);
	int			i;

	if (!risky && !ap_csv_needs_quotes(s, len, ','))
	{
		appendBinaryStringInfo(buf, s, len);
		return;
	}
	appendStringInfoChar(buf, '"');
	if (risky)
		appendStringInfoChar(buf, '\'');	/* shown as text, not evaluated */
	for (i = 0; i < len; i++)
	{
		if (s[i] == '"')
			appendStringInfoChar(buf, '"');
		appendStringInfoChar(buf, s[i]);
	}
	appendStringInfoChar(buf, '"');
}

void
ap_append_csv_header(StringInfo buf)
{
	int			f;

	for (f = 0; f < AP_NFIELDS; f++)
	{
		if (f > 0)
			appendStringInfoChar(buf, ',');
		appendStringInfoString(buf, ap_contract[f].name);
	}
	appendStringInfoString(buf, "\r\n");
}

void
ap_append_csv_row(StringInfo buf, const ApValues *v, bool escape_formulas)
{
	int			f;

	for (f = 0; f < AP_NFIELDS; f++)
	{
		if (f > 0)
			appendStringInfoChar(buf, ',');
		if (v->val[f])
			ap_append_csv_cell(buf, v->val[f], v->len[f], escape_formulas);
	}
	appendStringInfoString(buf, "\r\n");
}

/* What one export call does with each row. */
typedef void (*ApRowVisitor) (const ApValues *v, void *arg);

/* Exported ids split by whether they have a profile row already. */
typedef struct ApStamps
{
	int64	   *with;
	ItemPointerData *with_tid;	/* the profile row versions read */
	int64	   *without;
	int			nwith;
	int			nwithout;
} ApStamps;

/* The export's read, as the executor hands over its rows. */
typedef struct ExportReceiver
{
	DestReceiver pub;
	const ApBinding *b;
	const int64 *ids;			/* requested: sorted, unique */
	int			n;
	int			seen;			/* ids[seen] is the next row's id */
	ApRowVisitor visit;
	void	   *arg;
	ApStamps   *stamps;
	MemoryContext rowcxt;		/* reset after every row */
} ExportReceiver;

static bool
export_row(TupleTableSlot *slot, DestReceiver *self)
{
	ExportReceiver *r = (ExportReceiver *) self;
	ApStamps   *stamps = r->stamps;
	int64		id;
	ApValues	v;
	MemoryContext old;

	CHECK_FOR_INTERRUPTS();
	slot_getallattrs(slot);
	id = DatumGetInt64(slot->tts_values[AP_COL_ID - 1]);
	if (r->seen >= r->n || r->ids[r->seen] != id)
		ap_contact_not_found(r->seen < r->n ? r->ids[r->seen] : id);
	r->seen++;
	if (DatumGetBool(slot->tts_values[AP_COL_HAS_PROFILE - 1]))
	{
		ItemPointerCopy((ItemPointer) DatumGetPointer(slot->tts_values[AP_COL_CTID - 1]),
						&stamps->with_tid[stamps->nwith]);
		stamps->with[stamps->nwith++] = id;
	}
	else
		stamps->without[stamps->nwithout++] = id;
	old = MemoryContextSwitchTo(r->rowcxt);
	ap_values_from_row(r->b, slot->tts_values, slot->tts_isnull, &v);
	ap_values_export_mobile(&v);
	r->visit(&v, r->arg);
	MemoryContextSwitchTo(old);
	MemoryContextReset(r->rowcxt);
	return true;
}

static void
export_startup(DestReceiver *self, int operation, TupleDesc desc)
{
	if (desc->natts != AP_CONTACT_ROW_NATTS)
		elog(ERROR, "activepipe: unexpected row shape");
}

/*
 * Visit the tenant's contacts among ids[] (sorted, unique) in ascending
 * id order.  Any id that is missing, or is another tenant's, is an error
 * before anything is written.  The rows go from the executor's slot to
 * the visitor, with no tuptable in between: copying them into one and
 * out again made a 100k-contact export 10% slower (639 against 577 ms).
 */
static void
export_scan(const ApBinding *b, int64 user_id, const int64 *ids, int n,
			ApRowVisitor visit, void *arg, ApStamps *stamps)
{
	Oid			types[2] = {INT8OID, INT8ARRAYOID};
	Datum		values[2];
	ExportReceiver r;

	stamps->with = palloc(sizeof(int64) * Max(n, 1));
	stamps->with_tid = palloc(sizeof(ItemPointerData) * Max(n, 1));
	stamps->without = palloc(sizeof(int64) * Max(n, 1));
	stamps->nwith = stamps->nwithout = 0;
	values[0] = Int64GetDatum(user_id);
	values[1] = PointerGetDatum(ap_ids_array(ids, n));
	memset(&r, 0, sizeof(r));
	ap_dest_init(&r.pub, export_row, export_startup);
	r.b = b;
	r.ids = ids;
	r.n = n;
	r.visit = visit;
	r.arg = arg;
	r.stamps = stamps;
	r.rowcxt = AllocSetContextCreate(CurrentMemoryContext, "activepipe export row",
									 ALLOCSET_DEFAULT_SIZES);
	/* not read-only: a fresh snapshot, taken after the tenant lock */
	ap_spi_stream(b, AP_Q_CONTACT_ROWS, 2, types, values, (DestReceiver *) &r, false);
	MemoryContextDelete(r.rowcxt);
	if (r.seen < n)
		ap_contact_not_found(ids[r.seen]);
}

static void
stamp(const ApBinding *b, ApQuery q, int64 user_id, const int64 *ids, int n)
{
	Oid			types[2] = {INT8OID, INT8ARRAYOID};
	Datum		values[2];

	if (n == 0)
		return;
	values[0] = Int64GetDatum(user_id);
	values[1] = PointerGetDatum(ap_ids_array(ids, n));
	ap_spi_run(b, q, 2, types, values, NULL, false);
}

/*
 * Stamp the profiles the export read by their row versions; returns how
 * many were stamped.  Fewer than read means some were stamped already in
 * this transaction or changed since: the caller then runs the update by id.
 */
static uint64
stamp_by_tid(const ApBinding *b, int64 user_id, const ApStamps *stamps)
{
	Oid			types[3] = {INT8OID, TIDARRAYOID, INT8ARRAYOID};
	Datum		values[3];
	Datum	   *d;
	int			i;

	if (stamps->nwith == 0)
		return 0;
	d = palloc(sizeof(Datum) * stamps->nwith);
	for (i = 0; i < stamps->nwith; i++)
		d[i] = PointerGetDatum(&stamps->with_tid[i]);
	values[0] = Int64GetDatum(user_id);
	values[1] = PointerGetDatum(construct_array(d, stamps->nwith, TIDOID,
												sizeof(ItemPointerData), false,
												TYPALIGN_SHORT));
	values[2] = PointerGetDatum(ap_ids_array(stamps->with, stamps->nwith));
	return ap_spi_run(b, AP_Q_EXPORTED_AT_TID, 3, types, values, NULL, false);
}

/* The export's event, and which contacts it sent. */
static void
log_export(const ApBinding *b, int64 user_id, const int64 *ids, int n,
		   int requested, text *filename)
{
	ApEventCounts counts = {0};
	JsonbParseState *st = NULL;
	int64		event_id = ap_event_id(b);
	static const char *const keys[3] = {"requested", "duplicates", "exported"};
	int			vals[3] = {n, requested - n, n};
	int			i;

	counts.total_rows = n;
	/* the same meanings as activepipe_export_summary's */
	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	for (i = 0; i < 3; i++)
	{
		JsonbValue	v;

		ap_push_string(&st, WJB_KEY, keys[i], strlen(keys[i]));
		v.type = jbvNumeric;
		v.val.numeric = int64_to_numeric(vals[i]);
		pushJsonbValue(&st, WJB_VALUE, &v);
	}
	ap_event_log(b, user_id, event_id, "export", filename, &counts,
				 JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL)));
	if (ap_keep_history)
	{
		Oid			types[3] = {INT8OID, INT8OID, INT8ARRAYOID};
		Datum		values[3];

		values[0] = Int64GetDatum(user_id);
		values[1] = Int64GetDatum(event_id);
		values[2] = PointerGetDatum(ap_ids_array(ids, n));
		ap_spi_run(b, AP_Q_EXPORT_CONTACTS, 3, types, values, NULL, false);
	}
}

/* Stamp last_exported_at and log the export. */
static void
export_finish(const ApBinding *b, int64 user_id, const ApStamps *stamps,
			  const int64 *ids, int n, int requested, text *filename)
{
	if (ap_stamp_exports)
	{
		if (stamp_by_tid(b, user_id, stamps) < (uint64) stamps->nwith)
			stamp(b, AP_Q_EXPORTED_AT_UPDATE, user_id, stamps->with, stamps->nwith);
		/* under a transaction snapshot, a profile made since is a 40001 */
		stamp(b, IsolationUsesXactSnapshot() ? AP_Q_EXPORTED_AT_UPSERT : AP_Q_EXPORTED_AT,
			  user_id, stamps->without, stamps->nwithout);
	}
	log_export(b, user_id, ids, n, requested, filename);
}

typedef struct CsvState
{
	StringInfo	buf;
	bool		escape_formulas;
} CsvState;

static void
visit_csv(const ApValues *v, void *arg)
{
	CsvState   *cs = (CsvState *) arg;

	ap_append_csv_row(cs->buf, v, cs->escape_formulas);
}

/*
 * activepipe_export(user_id, contact_ids, filename, escape_formulas): the
 * CSV document; logs an export event.
 */
PG_FUNCTION_INFO_V1(activepipe_export);
Datum
activepipe_export(PG_FUNCTION_ARGS)
{
	int64		user_id;
	int			n,
				requested;
	int64	   *ids;
	text	   *filename = NULL;
	CsvState	cs;
	ApStamps	stamps;
	ApBinding  *b;
	text	   *result;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("user_id and contact_ids must not be NULL")));
	user_id = PG_GETARG_INT64(0);
	ids = ap_sorted_unique_ids(PG_GETARG_ARRAYTYPE_P(1), &n, &requested);
	if (!PG_ARGISNULL(2))
		filename = PG_GETARG_TEXT_PP(2);
	cs.escape_formulas = !PG_ARGISNULL(3) && PG_GETARG_BOOL(3);
	check_cap(n);

	/* the document is built in place behind a text header: no final copy */
	cs.buf = makeStringInfo();
	appendBinaryStringInfo(cs.buf, "\0\0\0\0", VARHDRSZ);
	ap_append_csv_header(cs.buf);
	SPI_connect();
	b = ap_binding_load(fcinfo);
	ap_lock_tenant(b, user_id);
	export_scan(b, user_id, ids, n, visit_csv, &cs, &stamps);
	export_finish(b, user_id, &stamps, ids, n, requested, filename);
	SPI_finish();
	result = (text *) cs.buf->data;
	SET_VARSIZE(result, cs.buf->len);
	PG_RETURN_TEXT_P(result);
}

typedef struct RowsState
{
	ReturnSetInfo *rsinfo;
} RowsState;

static void
visit_rows(const ApValues *v, void *arg)
{
	RowsState  *rs = (RowsState *) arg;
	Datum		values[AP_NFIELDS];
	bool		nulls[AP_NFIELDS];
	int			f;

	for (f = 0; f < AP_NFIELDS; f++)
	{
		nulls[f] = (v->val[f] == NULL);
		values[f] = nulls[f] ? (Datum) 0 :
			PointerGetDatum(cstring_to_text_with_len(v->val[f], v->len[f]));
	}
	tuplestore_putvalues(rs->rsinfo->setResult, rs->rsinfo->setDesc,
						 values, nulls);
}

PG_FUNCTION_INFO_V1(activepipe_export_rows);
Datum
activepipe_export_rows(PG_FUNCTION_ARGS)
{
	int64		user_id = PG_GETARG_INT64(0);
	int			n,
				requested;
	int64	   *ids = ap_sorted_unique_ids(PG_GETARG_ARRAYTYPE_P(1), &n, &requested);
	RowsState	rs;
	ApStamps	stamps;
	ApBinding  *b;

	check_cap(n);
	InitMaterializedSRF(fcinfo, 0);
	rs.rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	SPI_connect();
	b = ap_binding_load(fcinfo);
	ap_lock_tenant(b, user_id);
	export_scan(b, user_id, ids, n, visit_rows, &rs, &stamps);
	export_finish(b, user_id, &stamps, ids, n, requested, NULL);
	SPI_finish();
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(activepipe_export_summary);
Datum
activepipe_export_summary(PG_FUNCTION_ARGS)
{
	int64		user_id = PG_GETARG_INT64(0);
	int			n,
				requested;
	int64	   *ids = ap_sorted_unique_ids(PG_GETARG_ARRAYTYPE_P(1), &n, &requested);
	Oid			types[2] = {INT8OID, INT8ARRAYOID};
	Datum		values[2];
	int64		found;
	ApBinding  *b;
	char	   *js;

	SPI_connect();
	b = ap_binding_load(fcinfo);
	values[0] = Int64GetDatum(user_id);
	values[1] = PointerGetDatum(ap_ids_array(ids, n));
	ap_spi_run(b, AP_Q_CONTACT_COUNT, 2, types, values, NULL, true);
	found = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
										SPI_tuptable->tupdesc, 1, &(bool){false}));
	SPI_finish();
	/* requested counts distinct ids, so requested = exportable + not_found */
	js = psprintf("{\"requested\": %d, \"exportable\": " INT64_FORMAT
				  ", \"not_found\": " INT64_FORMAT ", \"duplicates\": %d"
				  ", \"cap\": %d, \"within_cap\": %s}",
				  n, found, n - found, requested - n, ap_export_cap,
				  n <= ap_export_cap ? "true" : "false");
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(js)));
}
