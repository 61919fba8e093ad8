/*
 * undo.c
 *	  activepipe_import_undo and activepipe_import_undo_preview: put back
 *	  what an import commit changed, from what it kept (import_contacts).
 *
 * Each contact the commit wrote is compared with what the commit left (a
 * hash of its bound columns and its payload; for a contact it created, of
 * its whole row too): one changed since, by anything but an export's
 * timestamp, is left as it is and reported as a conflict.  Otherwise a contact the commit
 * created is deleted with its profile, and one it updated gets back its
 * columns, payload fields, last_imported_at and updated_at, and loses a
 * profile the commit made.  The contacts are locked, then read and written
 * in batches, in the caller's transaction, under the tenant lock.  The
 * contacts an undo leaves are kept with the import (undo_pending), and
 * undoing it again retries those only: after the newer import that changed
 * them is undone, say.
 */
#include "activepipe.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "history.h"
#include "import_history.h"

#define UNDO_BATCH 1000

/* Columns of AP_Q_UNDO_CONTACTS, 1-based. */
#define U_ID 1
#define U_CREATED 2
#define U_HAD_PROFILE 3
#define U_IMPORTED_AT 4
#define U_UPDATED_AT 5
#define U_BEFORE 6
#define U_HASH 7
#define U_ROW_HASH 8
#define U_ROW_NOW 9
#define U_EXISTS 10
#define U_FIRST_FIELD 11
#define U_PAYLOAD (U_FIRST_FIELD + AP_NIDENTITY)

/* The writes of one batch, as arrays. */
typedef struct UndoBatch
{
	int			ndelete;
	Datum	   *delete_ids;
	int			nunprofile;		/* profiles the import made */
	Datum	   *unprofile_ids;
	int			ncolumns;
	Datum	   *column_ids;
	Datum	   *column_masks;
	Datum	   *column_vals[AP_NIDENTITY];
	bool	   *column_nulls[AP_NIDENTITY];
	int			nprofiles;
	Datum	   *profile_ids;
	Datum	   *profile_payloads;
	Datum	   *profile_imported;
	bool	   *imported_nulls;
	Datum	   *profile_updated;
	bool	   *updated_nulls;
} UndoBatch;

typedef struct Undo
{
	const ApBinding *b;
	int64		user_id;
	int64		event_id;
	bool		preview;
	int64		restored;
	int64		deleted;
	int64		conflicts;
	int64		shown_ids[AP_SUMMARY_ROWS];	/* the first conflicts */
	int			nshown;
	Datum		which;			/* int8[] of the contacts to retry; 0: all */
	Datum	   *left;			/* every conflict's contact id */
	int			nleft;
	int			maxleft;
	MemoryContext cxt;			/* the call's: left lives as long as it */
	UndoBatch	batch;
} Undo;

static void
batch_init(UndoBatch *ub)
{
	int			f;

	memset(ub, 0, sizeof(*ub));
#define ALLOC(field, type) (ub->field = palloc(sizeof(type) * UNDO_BATCH))
	ALLOC(delete_ids, Datum);
	ALLOC(unprofile_ids, Datum);
	ALLOC(column_ids, Datum);
	ALLOC(column_masks, Datum);
	ALLOC(profile_ids, Datum);
	ALLOC(profile_payloads, Datum);
	ALLOC(profile_imported, Datum);
	ALLOC(imported_nulls, bool);
	ALLOC(profile_updated, Datum);
	ALLOC(updated_nulls, bool);
#undef ALLOC
	for (f = 0; f < AP_NIDENTITY; f++)
	{
		ub->column_vals[f] = palloc(sizeof(Datum) * UNDO_BATCH);
		ub->column_nulls[f] = palloc(sizeof(bool) * UNDO_BATCH);
	}
}

static Datum
array_of(Datum *d, bool *nulls, int n, Oid type)
{
	int			dims[1] = {n};
	int			lbs[1] = {1};
	int16		typlen;
	bool		byval;
	char		align;

	get_typlenbyvalalign(type, &typlen, &byval, &align);
	return PointerGetDatum(construct_md_array(d, nulls, 1, dims, lbs, type,
											  typlen, byval, align));
}

/* Run q with $1 the tenant and then the given arrays. */
static void
run(Undo *u, ApQuery q, int nargs, Oid *types, Datum *values)
{
	Oid			t[2 + AP_NIDENTITY + 1];
	Datum		v[2 + AP_NIDENTITY + 1];

	t[0] = INT8OID;
	v[0] = Int64GetDatum(u->user_id);
	memcpy(t + 1, types, sizeof(Oid) * nargs);
	memcpy(v + 1, values, sizeof(Datum) * nargs);
	ap_spi_run(u->b, q, nargs + 1, t, v, NULL, false);
}

static void
flush_batch(Undo *u)
{
	UndoBatch  *ub = &u->batch;
	Oid			types[2 + AP_NIDENTITY];
	Datum		values[2 + AP_NIDENTITY];
	int			f;

	if (ub->ndelete > 0)
	{
		types[0] = INT8ARRAYOID;
		values[0] = array_of(ub->delete_ids, NULL, ub->ndelete, INT8OID);
		run(u, AP_Q_UNDO_DELETE_PROFILES, 1, types, values);
		run(u, AP_Q_UNDO_DELETE_CONTACTS, 1, types, values);
	}
	if (ub->nunprofile > 0)
	{
		types[0] = INT8ARRAYOID;
		values[0] = array_of(ub->unprofile_ids, NULL, ub->nunprofile, INT8OID);
		run(u, AP_Q_UNDO_DELETE_PROFILES, 1, types, values);
	}
	if (ub->ncolumns > 0)
	{
		types[0] = INT8ARRAYOID;
		values[0] = array_of(ub->column_ids, NULL, ub->ncolumns, INT8OID);
		types[1] = INT4ARRAYOID;
		values[1] = array_of(ub->column_masks, NULL, ub->ncolumns, INT4OID);
		for (f = 0; f < AP_NIDENTITY; f++)
		{
			types[2 + f] = TEXTARRAYOID;
			values[2 + f] = array_of(ub->column_vals[f], ub->column_nulls[f],
									 ub->ncolumns, TEXTOID);
		}
		run(u, AP_Q_UNDO_COLUMNS, 2 + AP_NIDENTITY, types, values);
	}
	if (ub->nprofiles > 0)
	{
		types[0] = INT8ARRAYOID;
		values[0] = array_of(ub->profile_ids, NULL, ub->nprofiles, INT8OID);
		types[1] = JSONBARRAYOID;
		values[1] = array_of(ub->profile_payloads, NULL, ub->nprofiles, JSONBOID);
		types[2] = TIMESTAMPTZARRAYOID;
		values[2] = array_of(ub->profile_imported, ub->imported_nulls, ub->nprofiles,
							 TIMESTAMPTZOID);
		types[3] = TIMESTAMPTZARRAYOID;
		values[3] = array_of(ub->profile_updated, ub->updated_nulls, ub->nprofiles,
							 TIMESTAMPTZOID);
		run(u, AP_Q_UNDO_PROFILES, 4, types, values);
	}
	ub->ndelete = ub->nunprofile = ub->ncolumns = ub->nprofiles = 0;
}

/*
 * A key of the "columns" or "payload" object of before (NULL when absent).
 */
static JsonbValue *
before_part(Jsonb *before, const char *part, JsonbValue *buf)
{
	JsonbValue *v = getKeyJsonValueFromContainer(&before->root, part, strlen(part), buf);

	return v && v->type == jbvBinary ? v : NULL;
}

/*
 * The contact's bound columns put back from its records' "columns": each
 * field as the first record that changed it found it.
 */
static void
restore_columns(Undo *u, int64 id, Jsonb **before, int n)
{
	UndoBatch  *ub = &u->batch;
	int32		mask = 0;
	int			f;

	for (f = 0; f < AP_NIDENTITY; f++)
	{
		JsonbValue	vbuf;
		JsonbValue *v = NULL;
		int			k;

		ub->column_nulls[f][ub->ncolumns] = true;
		ub->column_vals[f][ub->ncolumns] = 0;
		for (k = 0; k < n && v == NULL && u->b->col[f]; k++)
		{
			JsonbValue	cbuf;
			JsonbValue *cols = before_part(before[k], "columns", &cbuf);

			if (cols)
				v = getKeyJsonValueFromContainer(cols->val.binary.data, ap_contract[f].name,
												 ap_contract[f].name_len, &vbuf);
		}
		if (v == NULL)
			continue;
		mask |= 1 << f;
		if (v->type == jbvString)
		{
			ub->column_nulls[f][ub->ncolumns] = false;
			ub->column_vals[f][ub->ncolumns] =
				PointerGetDatum(cstring_to_text_with_len(v->val.string.val, v->val.string.len));
		}
	}
	if (mask == 0)
		return;
	ub->column_ids[ub->ncolumns] = Int64GetDatum(id);
	ub->column_masks[ub->ncolumns++] = Int32GetDatum(mask);
}

/*
 * The payload put back: the fields of the last record's "payload", then of
 * each earlier one, so that a field takes the value the first found.
 */
static Jsonb *
restore_payload(Jsonb *payload, Jsonb **before, int n)
{
	int			k;

	for (k = n - 1; k >= 0; k--)
	{
		JsonbValue	buf;
		JsonbValue *p = before_part(before[k], "payload", &buf);

		if (p)
			payload = ap_payload_restore(payload, JsonbValueToJsonb(p));
	}
	return payload;
}

/*
 * Whether a contact the commit created is, in every column's stored
 * bytes, the row the commit left (by the hash of the whole row the commit
 * kept; contacts it only updated are compared by their bound columns and
 * payload).  No kept hash (history of an earlier development build) is a
 * change: the contact is left, never deleted unchecked.
 */
static bool
row_unchanged(HeapTuple tup, TupleDesc desc)
{
	bool		isnull,
				kept_null,
				now_null;
	Datum		kept,
				now;

	if (!DatumGetBool(SPI_getbinval(tup, desc, U_CREATED, &isnull)))
		return true;
	kept = SPI_getbinval(tup, desc, U_ROW_HASH, &kept_null);
	now = SPI_getbinval(tup, desc, U_ROW_NOW, &now_null);
	if (kept_null || now_null)
		return false;
	return DatumGetInt64(kept) == DatumGetInt64(now);
}

/* Note a contact the undo leaves (changed since), for the summary and a retry. */
static void
leave(Undo *u, int64 id)
{
	if (u->nshown < AP_SUMMARY_ROWS)
		u->shown_ids[u->nshown++] = id;
	if (u->nleft == u->maxleft)
	{
		u->maxleft = Max(64, u->maxleft * 2);
		u->left = u->left ? repalloc_huge(u->left, sizeof(Datum) * u->maxleft) :
			MemoryContextAllocHuge(u->cxt, sizeof(Datum) * u->maxleft);
	}
	u->left[u->nleft++] = Int64GetDatum(id);
	u->conflicts++;
}

/*
 * One contact of the import, from its records g[0..n-1] (one per write
 * batch that wrote it, in order; each joined with the contact as it is
 * now): compare with what the last left, then queue what puts back what
 * the first found.  Returns false for a conflict.
 */
static bool
undo_contact(Undo *u, HeapTuple *g, int n, TupleDesc desc)
{
	UndoBatch  *ub = &u->batch;
	HeapTuple	first = g[0];
	HeapTuple	last = g[n - 1];
	const char *vals[AP_NIDENTITY];
	uint32		lens[AP_NIDENTITY];
	bool		isnull;
	Datum		d;
	Jsonb	   *payload = NULL;
	Jsonb	  **before;
	int64		id = DatumGetInt64(SPI_getbinval(first, desc, U_ID, &isnull));
	int			f;

	if (!DatumGetBool(SPI_getbinval(last, desc, U_EXISTS, &isnull)))
		return false;			/* deleted since */
	for (f = 0; f < AP_NIDENTITY; f++)
	{
		d = SPI_getbinval(last, desc, U_FIRST_FIELD + f, &isnull);
		vals[f] = NULL;
		lens[f] = 0;
		if (!isnull)
		{
			text	   *t = DatumGetTextPP(d);

			vals[f] = VARDATA_ANY(t);
			lens[f] = VARSIZE_ANY_EXHDR(t);
		}
	}
	d = SPI_getbinval(last, desc, U_PAYLOAD, &isnull);
	if (!isnull)
		payload = DatumGetJsonbP(d);
	if (ap_contact_state_hash(u->b, vals, lens, payload) !=
		DatumGetInt64(SPI_getbinval(last, desc, U_HASH, &isnull)))
		return false;			/* changed since */
	if (!row_unchanged(last, desc))
		return false;			/* a column the import did not bind changed */
	if (DatumGetBool(SPI_getbinval(first, desc, U_CREATED, &isnull)))
	{
		ub->delete_ids[ub->ndelete++] = Int64GetDatum(id);
		u->deleted++;
		return true;
	}
	before = palloc(sizeof(Jsonb *) * n);
	for (f = 0; f < n; f++)
		before[f] = DatumGetJsonbP(SPI_getbinval(g[f], desc, U_BEFORE, &isnull));
	restore_columns(u, id, before, n);
	if (!DatumGetBool(SPI_getbinval(first, desc, U_HAD_PROFILE, &isnull)))
		ub->unprofile_ids[ub->nunprofile++] = Int64GetDatum(id);
	else
	{
		int			k = ub->nprofiles++;

		ub->profile_ids[k] = Int64GetDatum(id);
		ub->profile_payloads[k] = JsonbPGetDatum(restore_payload(payload, before, n));
		ub->profile_imported[k] = SPI_getbinval(first, desc, U_IMPORTED_AT, &ub->imported_nulls[k]);
		ub->profile_updated[k] = SPI_getbinval(first, desc, U_UPDATED_AT, &ub->updated_nulls[k]);
	}
	u->restored++;
	return true;
}

/*
 * The records of one contact, gathered across the batches the cursor
 * returns.  Those of the contact a batch ends with are copied, once that
 * batch's writes are flushed, since the next batch may hold more of them:
 * into the one of two contexts that holds nothing then, and the other is
 * reset.
 */
typedef struct UndoRecords
{
	HeapTuple  *tup;
	int			n;
	int			max;
	int64		id;
	MemoryContext kept[2];
	int			cur;			/* kept[cur] holds the copies */
} UndoRecords;

static void
records_undo(Undo *u, UndoRecords *r, TupleDesc desc)
{
	if (r->n == 0)
		return;
	if (!undo_contact(u, r->tup, r->n, desc))
		leave(u, r->id);
	r->n = 0;
}

static void
records_add(Undo *u, UndoRecords *r, HeapTuple tup, TupleDesc desc)
{
	bool		isnull;
	int64		id = DatumGetInt64(SPI_getbinval(tup, desc, U_ID, &isnull));

	if (r->n > 0 && id != r->id)
		records_undo(u, r, desc);
	if (r->n == r->max)
	{
		r->max *= 2;
		r->tup = repalloc(r->tup, sizeof(HeapTuple) * r->max);
	}
	r->tup[r->n++] = tup;
	r->id = id;
}

static void
records_carry(UndoRecords *r)
{
	MemoryContext old = MemoryContextSwitchTo(r->kept[!r->cur]);
	int			i;

	for (i = 0; i < r->n; i++)
		r->tup[i] = heap_copytuple(r->tup[i]);
	MemoryContextSwitchTo(old);
	MemoryContextReset(r->kept[r->cur]);
	r->cur = !r->cur;
}

/*
 * Read the import's contacts (or those to retry) in batches; write each
 * batch's undo.  An undo (not its preview) locks them first, and then
 * reads them in a new snapshot, which sees any edit it waited for.
 */
static void
undo_contacts(Undo *u)
{
	Oid			types[3] = {INT8OID, INT8OID, INT8ARRAYOID};
	Datum		values[3] = {Int64GetDatum(u->user_id), Int64GetDatum(u->event_id), u->which};
	char		nulls[3] = {' ', ' ', u->which ? ' ' : 'n'};
	Portal		portal;
	TupleDesc	desc = NULL;
	UndoRecords r = {0};
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext cxt = AllocSetContextCreate(caller, "activepipe undo batch",
											  ALLOCSET_DEFAULT_SIZES);

	r.max = 16;
	r.tup = palloc(sizeof(HeapTuple) * r.max);
	r.kept[0] = AllocSetContextCreate(caller, "activepipe undo records", ALLOCSET_DEFAULT_SIZES);
	r.kept[1] = AllocSetContextCreate(caller, "activepipe undo records", ALLOCSET_DEFAULT_SIZES);
	if (!u->preview)
		ap_spi_run(u->b, AP_Q_UNDO_LOCK, 3, types, values, nulls, false);
	portal = ap_spi_cursor(u->b, AP_Q_UNDO_CONTACTS, 3, types, values, nulls);
	batch_init(&u->batch);
	for (;;)
	{
		SPITupleTable *tt;
		uint64		n,
					i;

		SPI_cursor_fetch(portal, true, UNDO_BATCH);
		tt = SPI_tuptable;
		n = SPI_processed;
		if (desc == NULL)
			desc = CreateTupleDescCopy(tt->tupdesc);
		MemoryContextSwitchTo(cxt);
		for (i = 0; i < n; i++)
		{
			CHECK_FOR_INTERRUPTS();
			records_add(u, &r, tt->vals[i], desc);
		}
		if (n == 0)
			records_undo(u, &r, desc);	/* the last contact */
		if (!u->preview)
			flush_batch(u);
		u->batch.ndelete = u->batch.nunprofile = u->batch.ncolumns = u->batch.nprofiles = 0;
		MemoryContextSwitchTo(caller);
		MemoryContextReset(cxt);
		records_carry(&r);
		SPI_freetuptable(tt);
		if (n == 0)
			break;
	}
	SPI_cursor_close(portal);
	MemoryContextDelete(cxt);
	MemoryContextDelete(r.kept[0]);
	MemoryContextDelete(r.kept[1]);
}

static void
push_int(JsonbParseState **st, const char *key, int64 n)
{
	JsonbValue	v;

	ap_push_string(st, WJB_KEY, key, strlen(key));
	v.type = jbvNumeric;
	v.val.numeric = int64_to_numeric(n);
	pushJsonbValue(st, WJB_VALUE, &v);
}

static void
push_text(JsonbParseState **st, const char *key, const char *s)
{
	ap_push_string(st, WJB_KEY, key, strlen(key));
	ap_push_string(st, WJB_VALUE, s, strlen(s));
}

/*
 * The summary: {status, undone_event_id, restored, deleted, conflicts,
 * rows_omitted, rows: [{contact_id, action, reason}]} (rows: the first
 * conflicts); event_id when an undo event was logged, undone_by when the
 * import was undone already.
 */
static Jsonb *
undo_summary(const Undo *u, const char *status, int64 undo_event, bool for_event)
{
	JsonbParseState *st = NULL;
	int			i;

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	push_text(&st, "status", status);
	push_int(&st, "undone_event_id", u->event_id);
	if (undo_event && strcmp(status, "already undone") == 0)
		push_int(&st, "undone_by", undo_event);
	else if (undo_event)
		push_int(&st, "event_id", undo_event);
	push_int(&st, "restored", u->restored);
	push_int(&st, "deleted", u->deleted);
	push_int(&st, "conflicts", u->conflicts);
	if (!for_event)
	{
		push_int(&st, "rows_omitted", u->conflicts - u->nshown);
		ap_push_string(&st, WJB_KEY, "rows", 4);
		pushJsonbValue(&st, WJB_BEGIN_ARRAY, NULL);
		for (i = 0; i < u->nshown; i++)
		{
			pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
			push_int(&st, "contact_id", u->shown_ids[i]);
			push_text(&st, "action", "conflict");
			push_text(&st, "reason", "changed since import");
			pushJsonbValue(&st, WJB_END_OBJECT, NULL);
		}
		pushJsonbValue(&st, WJB_END_ARRAY, NULL);
	}
	return JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL));
}

/*
 * Log the undo and mark the import undone (by its first undo), with the
 * contacts left to retry; returns the event id.
 */
static int64
log_undo(Undo *u)
{
	Oid			types[4] = {INT8OID, INT8OID, INT8OID, INT8ARRAYOID};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', u->nleft ? ' ' : 'n'};
	ApEventCounts counts = {0};
	int64		event_id = ap_event_id(u->b);

	counts.total_rows = u->restored + u->deleted + u->conflicts;
	counts.updated_count = u->restored;
	counts.conflict_count = u->conflicts;
	ap_event_log(u->b, u->user_id, event_id, "undo", NULL, &counts,
				 undo_summary(u, "undone", 0, true));
	values[0] = Int64GetDatum(u->user_id);
	values[1] = Int64GetDatum(u->event_id);
	values[2] = Int64GetDatum(event_id);
	values[3] = u->nleft ? array_of(u->left, NULL, u->nleft, INT8OID) : (Datum) 0;
	ap_spi_run(u->b, AP_Q_UNDO_DONE, 4, types, values, nulls, false);
	return event_id;
}

static Datum
undo_call(FunctionCallInfo fcinfo, bool preview)
{
	Undo	   *u = palloc0(sizeof(Undo));
	int64		undone_by;
	int64		undo_event = 0;
	Jsonb	   *summary;
	Jsonb	   *copy;

	u->user_id = PG_GETARG_INT64(0);
	u->event_id = PG_GETARG_INT64(1);
	u->preview = preview;
	u->cxt = CurrentMemoryContext;
	SPI_connect();
	u->b = ap_binding_load(fcinfo);
	if (!preview)
	{
		ap_refuse_xact_snapshot("activepipe_import_undo");
		ap_lock_tenant(u->b, u->user_id);
	}
	ap_history_event(u->b, u->user_id, u->event_id, "import", &undone_by, &u->which);
	if (undone_by && !u->which)
		summary = undo_summary(u, "already undone", undone_by, false);
	else
	{
		undo_contacts(u);
		if (!preview)
			undo_event = log_undo(u);
		summary = undo_summary(u, preview ? "preview" : "undone", undo_event, false);
	}
	copy = (Jsonb *) SPI_palloc(VARSIZE(summary));
	memcpy(copy, summary, VARSIZE(summary));
	SPI_finish();
	PG_RETURN_JSONB_P(copy);
}

/* activepipe_import_undo(user_id, event_id) */
PG_FUNCTION_INFO_V1(activepipe_import_undo);
Datum
activepipe_import_undo(PG_FUNCTION_ARGS)
{
	return undo_call(fcinfo, false);
}

/* activepipe_import_undo_preview(user_id, event_id): the same, writing nothing */
PG_FUNCTION_INFO_V1(activepipe_import_undo_preview);
Datum
activepipe_import_undo_preview(PG_FUNCTION_ARGS)
{
	return undo_call(fcinfo, true);
}
