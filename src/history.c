/*
 * history.c
 *	  Reading what activepipe kept of past calls: the report of an import
 *	  commit (activepipe_import_report, and as a CSV file to download,
 *	  activepipe_import_report_csv), and the contacts an export sent
 *	  (activepipe_export_report).
 *
 * An event of another tenant reads exactly like one that does not exist;
 * an event whose report was pruned (activepipe_prune_history) says so.
 */
#include "activepipe.h"

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "history.h"

#define REPORT_BATCH 1000

/* The same words whether the event is missing, another tenant's, or another kind. */
static void
event_not_found(const char *kind, int64 event_id) pg_attribute_noreturn();

static void
event_not_found(const char *kind, int64 event_id)
{
	ereport(ERROR,
			(errcode(ERRCODE_NO_DATA_FOUND),
			 errmsg("%s event " INT64_FORMAT " not found", kind, event_id),
			 errhint("The id does not name an %s of this user.", kind)));
}

/*
 * The tenant's event event_id, which must be of kind ("import" or
 * "export") and kept: *undone_by gets the undo that undid an import (0:
 * none), *pending the contacts (int8[]) that undo left because they had
 * changed since, which undoing again retries (0: none).
 */
void
ap_history_event(const ApBinding *b, int64 user_id, int64 event_id,
				 const char *kind, int64 *undone_by, Datum *pending)
{
	Oid			types[2] = {INT8OID, INT8OID};
	Datum		values[2] = {Int64GetDatum(user_id), Int64GetDatum(event_id)};
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	bool		import = strcmp(kind, "import") == 0;
	Datum		d;

	/* not read-only: a fresh snapshot, after the tenant lock an undo took */
	if (ap_spi_run(b, AP_Q_EVENT_FIND, 2, types, values, NULL, false) != 1)
		event_not_found(kind, event_id);
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	if (strcmp(SPI_getvalue(tup, desc, 1), kind) != 0)
		event_not_found(kind, event_id);
	if (!DatumGetBool(SPI_getbinval(tup, desc, import ? 2 : 4, &isnull)))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the report of %s event " INT64_FORMAT " is no longer kept",
						kind, event_id),
				 errdetail("Reports are kept for activepipe.history_days days (now %d; 0 keeps them forever), then removed by activepipe_prune_history; events from before activepipe 1.2, or made with activepipe.keep_history off, have none.",
						   ap_history_days),
				 errhint("Raise activepipe.history_days to keep reports longer.")));
	if (undone_by)
	{
		d = SPI_getbinval(tup, desc, 3, &isnull);
		*undone_by = isnull ? 0 : DatumGetInt64(d);
		d = SPI_getbinval(tup, desc, 5, &isnull);
		*pending = isnull ? (Datum) 0 : PointerGetDatum(DatumGetArrayTypePCopy(d));
	}
}

/*
 * Hand each kept row of an import's report to row(), in line order, a
 * batch at a time.
 */
static void
scan_report(const ApBinding *b, int64 user_id, int64 event_id,
			void (*row) (HeapTuple tup, TupleDesc desc, void *arg), void *arg)
{
	Oid			types[2] = {INT8OID, INT8OID};
	Datum		values[2] = {Int64GetDatum(user_id), Int64GetDatum(event_id)};
	Portal		portal = ap_spi_cursor(b, AP_Q_REPORT_ROWS, 2, types, values, NULL);
	MemoryContext batch = AllocSetContextCreate(CurrentMemoryContext,
												"activepipe report batch",
												ALLOCSET_DEFAULT_SIZES);

	for (;;)
	{
		MemoryContext old;
		uint64		i;

		SPI_cursor_fetch(portal, true, REPORT_BATCH);
		if (SPI_processed == 0)
			break;
		old = MemoryContextSwitchTo(batch);
		for (i = 0; i < SPI_processed; i++)
		{
			CHECK_FOR_INTERRUPTS();
			row(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, arg);
		}
		MemoryContextSwitchTo(old);
		MemoryContextReset(batch);
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	MemoryContextDelete(batch);
}

/* A report row into the result set: its first nine columns. */
static void
report_row(HeapTuple tup, TupleDesc desc, void *arg)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) arg;
	Datum		values[AP_REPORT_NATTS];
	bool		nulls[AP_REPORT_NATTS];
	int			i;

	for (i = 0; i < AP_REPORT_NATTS; i++)
		values[i] = SPI_getbinval(tup, desc, i + 1, &nulls[i]);
	/* changes is kept as JSON text (json): the report gives jsonb */
	if (!nulls[5])
		values[5] = ap_changes_jsonb(DatumGetTextPP(values[5]));
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/*
 * activepipe_import_report(user_id, event_id): the kept report of an
 * import commit, one row per data row of its file.
 */
PG_FUNCTION_INFO_V1(activepipe_import_report);
Datum
activepipe_import_report(PG_FUNCTION_ARGS)
{
	int64		user_id = PG_GETARG_INT64(0);
	int64		event_id = PG_GETARG_INT64(1);
	ApBinding  *b;

	InitMaterializedSRF(fcinfo, 0);
	SPI_connect();
	b = ap_binding_load(fcinfo);
	ap_history_event(b, user_id, event_id, "import", NULL, NULL);
	scan_report(b, user_id, event_id, report_row, fcinfo->resultinfo);
	SPI_finish();
	return (Datum) 0;
}

typedef struct CsvReport
{
	StringInfo	buf;
	bool		escape_formulas;
} CsvReport;

/* The elements of a JSON array of strings (cells), as CSV cells. */
static void
append_cells(CsvReport *r, Jsonb *cells)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;

	if (cells == NULL)
		return;
	it = JsonbIteratorInit(&cells->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok != WJB_ELEM)
			continue;
		appendStringInfoChar(r->buf, ',');
		if (v.type == jbvString)
			ap_append_csv_cell(r->buf, v.val.string.val, v.val.string.len,
							   r->escape_formulas);
	}
}

static void
csv_row(HeapTuple tup, TupleDesc desc, void *arg)
{
	CsvReport  *r = (CsvReport *) arg;
	int			col;
	bool		isnull;
	Datum		cells;

	/* line, action, contact_id, matched_by, reason */
	for (col = 1; col <= 5; col++)
	{
		char	   *s = SPI_getvalue(tup, desc, col);

		if (col > 1)
			appendStringInfoChar(r->buf, ',');
		if (s)
			ap_append_csv_cell(r->buf, s, strlen(s), r->escape_formulas);
	}
	cells = SPI_getbinval(tup, desc, AP_REPORT_NATTS + 1, &isnull);
	append_cells(r, isnull ? NULL : DatumGetJsonbP(cells));
	appendStringInfoString(r->buf, "\r\n");
}

/*
 * activepipe_import_report_csv(user_id, event_id, escape_formulas): the
 * report as a CSV document to download: line, action, contact_id,
 * matched_by, reason, then the row's cells as uploaded (kept for conflicts
 * and skips), under the file's own header.
 */
PG_FUNCTION_INFO_V1(activepipe_import_report_csv);
Datum
activepipe_import_report_csv(PG_FUNCTION_ARGS)
{
	int64		user_id = PG_GETARG_INT64(0);
	int64		event_id = PG_GETARG_INT64(1);
	Oid			types[2] = {INT8OID, INT8OID};
	Datum		values[2] = {Int64GetDatum(user_id), Int64GetDatum(event_id)};
	CsvReport	r;
	ApBinding  *b;
	text	   *result;
	bool		isnull = true;

	r.buf = makeStringInfo();
	r.escape_formulas = PG_GETARG_BOOL(2);
	SPI_connect();
	b = ap_binding_load(fcinfo);
	ap_history_event(b, user_id, event_id, "import", NULL, NULL);
	appendStringInfoString(r.buf, "line,action,contact_id,matched_by,reason");
	/* a fresh snapshot, as the event's and the rows' reads take */
	if (ap_spi_run(b, AP_Q_REPORT_HEADER, 2, types, values, NULL, false) == 1)
	{
		Datum		h = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
									  &isnull);

		append_cells(&r, isnull ? NULL : DatumGetJsonbP(h));
	}
	appendStringInfoString(r.buf, "\r\n");
	scan_report(b, user_id, event_id, csv_row, &r);
	SPI_finish();
	result = cstring_to_text_with_len(r.buf->data, r.buf->len);
	pfree(r.buf->data);
	PG_RETURN_TEXT_P(result);
}

/*
 * activepipe_export_report(user_id, event_id): the contacts an export sent.
 */
PG_FUNCTION_INFO_V1(activepipe_export_report);
Datum
activepipe_export_report(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int64		user_id = PG_GETARG_INT64(0);
	int64		event_id = PG_GETARG_INT64(1);
	Oid			types[2] = {INT8OID, INT8OID};
	Datum		values[2] = {Int64GetDatum(user_id), Int64GetDatum(event_id)};
	ApBinding  *b;
	uint64		i;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	SPI_connect();
	b = ap_binding_load(fcinfo);
	ap_history_event(b, user_id, event_id, "export", NULL, NULL);
	ap_spi_run(b, AP_Q_EXPORT_REPORT, 2, types, values, NULL, true);
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Datum		id = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc,
									   1, &isnull);

		CHECK_FOR_INTERRUPTS();
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &id, &isnull);
	}
	SPI_finish();
	return (Datum) 0;
}
