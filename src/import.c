/*
 * import.c
 *	  CSV import entry points: activepipe_import_preview (writes nothing),
 *	  activepipe_import_plan (the per-row plan as a set, writes nothing) and
 *	  activepipe_import_commit (applies it and logs one event).
 *
 * One engine serves all three, so their counts agree by construction:
 * stream the file through the CSV reader; map the header; for each row
 * compute its keys, match it against the tenant's in-memory key index
 * (email, then mobile, then phone), merge it into the contact's working
 * state and classify it.  Only commit then writes, in batches.
 */
#include "activepipe.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/memutils.h"

#include "csv_reader.h"
#include "import.h"
#include "normalize.h"

typedef enum ApMode
{
	AP_MODE_PREVIEW,
	AP_MODE_PLAN,
	AP_MODE_COMMIT
} ApMode;

static const char *const action_names[] = {"new", "update", "unchanged", "conflict", "skip"};

/*
 * A row of the file waiting in the chunk: its line, trimmed values, match
 * keys (by ApMatchKey - 1; len 0: none) and what matching found before the
 * chunk's rows ran.
 */
typedef struct ApChunkRow
{
	int32		line;
	bool		has_key;
	uint8		by;				/* ApMatchKey */
	int32		contact;		/* -1: none */
	int32		count;
	const char *key[3];
	uint32		klen[3];
	uint32		khash[3];
	ApRowValues rv;
} ApChunkRow;

typedef struct ApImport
{
	ApMode		mode;
	bool		overwrite;
	int64		user_id;
	const ap_phone_region *region;
	ApTenant	tenant;
	MemoryContext cxt;			/* lives for the call */
	MemoryContext rowcxt;		/* reset after every row */

	/* the header */
	bool		have_header;
	int			ncols;
	int16	   *colfield;		/* contract field of each column, or -1 */
	bool		present[AP_NFIELDS];
	StringInfoData ignored;		/* JSON array elements of ignored headers */
	StringInfoData ignored_short;	/* the same, bounded, for the event log */
	int			nignored;

	/* rows waiting in the current chunk (see process_chunk) */
	ApChunkRow *chunk;
	int			nchunk;
	MemoryContext chunkcxt;		/* their values; reset after each chunk */

	/* the rows */
	ApRowResult *rows;
	int32		nrows;
	int32		rows_cap;
	int64		counts[5];		/* by ApAction */
	StringInfoData reason;
	const char *encoding;		/* what the file was decoded from */
} ApImport;

/*
 * Rows are matched and merged a chunk at a time: the payloads of the
 * contacts a chunk matches are read in one statement, used, and dropped
 * with the chunk, so an import never holds the tenant's payloads.
 */
#define CHUNK_ROWS 2048

/* libcsv and the reader allocate here, so an ERROR leaks nothing. */
static MemoryContext csv_cxt;

static void *
csv_realloc(void *ptr, size_t size)
{
	if (ptr == NULL)
		return MemoryContextAllocHuge(csv_cxt, size);
	return repalloc_huge(ptr, size);
}

static void
csv_free(void *ptr)
{
	if (ptr)
		pfree(ptr);
}

static void
bad_file(long line, const char *msg, const char *detail) pg_attribute_noreturn();

static void
bad_file(long line, const char *msg, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_BAD_COPY_FILE_FORMAT),
			 errmsg("%s", msg),
			 detail ? errdetail("Line %ld: %s", line, detail) :
			 errdetail("Line %ld.", line),
			 errhint("Nothing was imported.")));
}

#define EVENT_IGNORED_MAX 2048	/* bytes of ignored names in an event */
#define EVENT_NAME_MAX 64

static void
note_ignored(ApImport *im, const char *s, size_t len)
{
	char	   *name = pnstrdup(s, len);

	appendStringInfoString(&im->ignored, im->nignored ? ", " : "");
	escape_json(&im->ignored, name);
	if (im->ignored_short.len < EVENT_IGNORED_MAX)
	{
		name[pg_mbcliplen(name, len, EVENT_NAME_MAX)] = '\0';
		appendStringInfoString(&im->ignored_short, im->nignored ? ", " : "");
		escape_json(&im->ignored_short, name);
	}
	im->nignored++;
}

static void
read_header(ApImport *im, const ap_csv_field *fields, int n, long line)
{
	int			i;

	im->colfield = MemoryContextAlloc(im->cxt, sizeof(int16) * Max(n, 1));
	im->ncols = n;
	for (i = 0; i < n; i++)
	{
		const char *s = fields[i].data;
		size_t		len = fields[i].len;
		int			f;

		ap_trim(&s, &len);
		f = ap_header_index(s, len);
		im->colfield[i] = f;
		if (f < 0)
		{
			if (len > 0)
				note_ignored(im, s, len);
			continue;
		}
		if (im->present[f])
			bad_file(line, psprintf("duplicate column \"%s\" in the header",
									ap_contract[f].name),
					 psprintf("Column %d repeats an earlier column.", i + 1));
		im->present[f] = true;
	}
	if (!im->present[AP_F_EMAIL] && !im->present[AP_F_MOBILE] &&
		!im->present[AP_F_PHONE])
		bad_file(line, "the header has no email, mobile or phone column",
				 "An import matches contacts by email, mobile or phone.");
	im->have_header = true;
}

/* The row's values, trimmed; false when every cell is blank. */
static bool
row_values(ApImport *im, const ap_csv_field *fields, int n, ApRowValues *rv)
{
	bool		any = false;
	int			i;

	memcpy(rv->present, im->present, sizeof(rv->present));
	memset(rv->val, 0, sizeof(rv->val));
	memset(rv->len, 0, sizeof(rv->len));
	for (i = 0; i < n; i++)
	{
		int			f = im->colfield[i];
		const char *s = fields[i].data;
		size_t		len = fields[i].len;

		ap_trim(&s, &len);
		if (len == 0)
			continue;
		any = true;				/* even in an ignored column: not a blank line */
		if (f < 0)
			continue;
		rv->val[f] = s;
		rv->len[f] = len;
	}
	/* a short row leaves the fields it lacks untouched */
	for (i = n; i < im->ncols; i++)
		if (im->colfield[i] >= 0)
			rv->present[im->colfield[i]] = false;
	return any;
}

/* Compute the row's match keys into its chunk memory. */
static void
row_keys(ApImport *im, ApChunkRow *row)
{
	static const int fields[3] = {AP_F_EMAIL, AP_F_MOBILE, AP_F_PHONE};
	const ApRowValues *rv = &row->rv;
	int			k;

	row->has_key = false;
	for (k = 0; k < 3; k++)
	{
		int			f = fields[k];
		char		pkey[AP_PHONE_KEY_SIZE];
		char	   *key;
		size_t		n = 0;

		row->klen[k] = 0;
		if (rv->val[f] == NULL)
			continue;
		if (f == AP_F_EMAIL)
		{
			key = MemoryContextAlloc(im->chunkcxt, rv->len[f] + 1);
			n = ap_email_key(rv->val[f], rv->len[f], key, rv->len[f] + 1);
		}
		else if ((n = ap_phone_key(rv->val[f], rv->len[f], im->region, pkey)) > 0)
			key = memcpy(MemoryContextAlloc(im->chunkcxt, n), pkey, n);
		if (n == 0)
			continue;
		row->key[k] = key;
		row->klen[k] = (uint32) n;
		row->khash[k] = ap_key_hash(key, n);
		row->has_key = true;
	}
}

/*
 * Match by email, then mobile, then phone: sets row->by, contact and
 * count (contact -1 when no key matches).
 */
static void
match_row(ApImport *im, ApChunkRow *row)
{
	ApTenant   *t = &im->tenant;
	int			k;

	row->by = AP_MATCH_NONE;
	row->contact = -1;
	for (k = 0; k < 3; k++)
	{
		ApKeyEntry *e;

		if (row->klen[k] == 0)
			continue;
		e = ap_key_find(k == 0 ? &t->email : &t->phone, row->key[k],
						row->klen[k], row->khash[k]);
		if (e == NULL)
			continue;
		row->by = (uint8) (k + 1);	/* ApMatchKey order */
		row->contact = e->contact;
		row->count = e->rec->count;
		return;
	}
}

/* Whether an earlier row of the chunk changed an entry of this row's keys. */
static bool
row_keys_touched(const ApTenant *t, const ApChunkRow *row)
{
	int			k;

	for (k = 0; k < 3; k++)
		if (row->klen[k] > 0 && ap_key_touched(t, row->khash[k]))
			return true;
	return false;
}

static void
record_row(ApImport *im, long line, ApAction action, ApMatchKey by, int32 c)
{
	ApRowResult *r;

	if (im->nrows >= im->rows_cap)
	{
		im->rows_cap *= 2;
		im->rows = repalloc_huge(im->rows, sizeof(ApRowResult) * im->rows_cap);
	}
	r = &im->rows[im->nrows++];
	r->line = (int32) line;
	r->action = (uint8) action;
	r->matched_by = (uint8) by;
	r->contact = c;
	r->reason = im->reason.len ?
		MemoryContextStrdup(im->cxt, im->reason.data) : NULL;
	im->counts[action]++;
}

static void
import_row(ApImport *im, ApChunkRow *row)
{
	ApTenant   *t = &im->tenant;
	const ApRowValues *rv = &row->rv;
	ApAction	action;
	int32		c;
	uint16		dirty;

	resetStringInfo(&im->reason);
	if (!row->has_key)
	{
		appendStringInfoString(&im->reason, "no match key");
		record_row(im, row->line, AP_ACT_SKIP, AP_MATCH_NONE, -1);
		return;
	}
	/* what process_chunk found holds unless a row since changed a key */
	if (row_keys_touched(t, row))
		match_row(im, row);
	if (row->contact < 0)
	{
		MemoryContext old = MemoryContextSwitchTo(t->cxt);

		c = ap_tenant_new_contact(t);
		t->contacts[c].is_new = true;
		MemoryContextSwitchTo(old);
		action = ap_merge_row(t, c, rv, AP_MATCH_NONE, 1, im->overwrite,
							  true, im->region, &im->reason, &dirty);
		/* later rows of the same person find the contact this one makes */
		old = MemoryContextSwitchTo(t->cxt);
		ap_tenant_index_contact(t, c, im->region);
		MemoryContextSwitchTo(old);
		record_row(im, row->line, action, AP_MATCH_NONE, c);
		return;
	}
	c = row->contact;
	ap_tenant_payloads(t, &c, 1);	/* read with its chunk but for edge cases */
	action = ap_merge_row(t, c, rv, row->by, row->count, im->overwrite, false,
						  im->region, &im->reason, &dirty);

	/*
	 * Keys this row gave the contact find it for the rows after it: the
	 * fields this row changed, also ones an earlier row changed before.
	 */
	dirty &= (1 << AP_F_EMAIL) | (1 << AP_F_PHONE) | (1 << AP_F_MOBILE);
	if (dirty)
	{
		MemoryContext old = MemoryContextSwitchTo(t->cxt);

		ap_tenant_index_keys(t, c, dirty, im->region);
		MemoryContextSwitchTo(old);
	}
	record_row(im, row->line, action, row->by, c);
}

/*
 * Match and merge the rows of the chunk, in file order.  First match every
 * row as the index stands and read the payloads of the contacts found, in
 * one statement.  A row can only match otherwise through a key an earlier
 * row of the chunk changed (the touched bits say which), and then matches
 * that row's contact, read for that row; import_row still reads any
 * contact it finds unread.
 */
static void
process_chunk(ApImport *im)
{
	ApTenant   *t = &im->tenant;
	MemoryContext old = MemoryContextSwitchTo(im->chunkcxt);
	int32	   *want = palloc(sizeof(int32) * Max(im->nchunk, 1));
	int			nwant = 0;
	int			i;

	for (i = 0; i < im->nchunk; i++)
	{
		CHECK_FOR_INTERRUPTS();
		match_row(im, &im->chunk[i]);
		if (im->chunk[i].contact >= 0)
			want[nwant++] = im->chunk[i].contact;
	}
	ap_tenant_payloads(t, want, nwant);
	memset(t->touched, 0, sizeof(t->touched));
	for (i = 0; i < im->nchunk; i++)
	{
		CHECK_FOR_INTERRUPTS();
		MemoryContextSwitchTo(im->rowcxt);
		import_row(im, &im->chunk[i]);
		MemoryContextSwitchTo(im->chunkcxt);
		MemoryContextReset(im->rowcxt);
	}
	ap_tenant_drop_payloads(t);
	im->nchunk = 0;
	MemoryContextSwitchTo(old);
	MemoryContextReset(im->chunkcxt);
}

/* Keep a row of the file, its values copied, for the chunk. */
static void
stash_row(ApImport *im, const ap_csv_field *fields, int n, long line)
{
	ApChunkRow *row = &im->chunk[im->nchunk];
	size_t		total = 0;
	char	   *copy;
	int			f;

	if (n > im->ncols)
		bad_file(line, "a row has more fields than the header",
				 psprintf("%d fields, the header has %d.", n, im->ncols));
	if (!row_values(im, fields, n, &row->rv))
		return;					/* a row of empty cells is a blank line */
	row->line = (int32) line;
	for (f = 0; f < AP_NFIELDS; f++)
		total += row->rv.len[f];
	/* the reader reuses its buffer: the values move to the chunk's memory */
	copy = MemoryContextAlloc(im->chunkcxt, Max(total, 1));
	for (f = 0; f < AP_NFIELDS; f++)
		if (row->rv.val[f])
		{
			memcpy(copy, row->rv.val[f], row->rv.len[f]);
			row->rv.val[f] = copy;
			copy += row->rv.len[f];
		}
	row_keys(im, row);
	if (++im->nchunk == CHUNK_ROWS)
		process_chunk(im);
}

static int
record_cb(const ap_csv_field *fields, int n, long first_line, long last_line,
		  void *arg)
{
	ApImport   *im = (ApImport *) arg;
	MemoryContext old;

	CHECK_FOR_INTERRUPTS();
	old = MemoryContextSwitchTo(im->rowcxt);
	if (!im->have_header)
		read_header(im, fields, n, first_line);
	else
		stash_row(im, fields, n, first_line);
	MemoryContextSwitchTo(old);
	MemoryContextReset(im->rowcxt);
	return 0;
}

static void
parse_file(ApImport *im, const char *data, size_t len)
{
	ap_csv_options opts = {csv_realloc, csv_free, 0};
	ap_csv_result res;

	csv_cxt = AllocSetContextCreate(im->cxt, "activepipe csv", ALLOCSET_DEFAULT_SIZES);
	switch (ap_csv_read(data, len, &opts, record_cb, im, &res))
	{
		case AP_CSV_OK:
		case AP_CSV_STOPPED:
			break;
		case AP_CSV_EMPTY:
			bad_file(1, "the file is empty", "An import needs a header line.");
		case AP_CSV_UNTERMINATED_QUOTE:
			bad_file(res.line, "unterminated quoted field",
					 "The quoted field that starts on this line never closes.");
		case AP_CSV_BAD_QUOTE:
			bad_file(res.line, "misplaced quote",
					 "A quote appears inside an unquoted field or after a closing quote.");
		case AP_CSV_NOMEM:
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory reading the import file")));
	}
	MemoryContextDelete(csv_cxt);
}

static void
append_row_json(StringInfo s, ApImport *im, const ApRowResult *r)
{
	int64		id = r->contact >= 0 ? im->tenant.contacts[r->contact].id : 0;

	appendStringInfo(s, "{\"line\": %d, \"action\": \"%s\", \"contact_id\": ",
					 r->line, action_names[r->action]);
	if (id)
		appendStringInfo(s, INT64_FORMAT, id);
	else
		appendStringInfoString(s, "null");
	appendStringInfoString(s, ", \"matched_by\": ");
	if (r->matched_by)
		appendStringInfo(s, "\"%s\"", ap_match_names[r->matched_by]);
	else
		appendStringInfoString(s, "null");
	appendStringInfoString(s, ", \"reason\": ");
	if (r->reason)
		escape_json(s, r->reason);
	else
		appendStringInfoString(s, "null");
	appendStringInfoChar(s, '}');
}

/*
 * The counts part of the summary, shared by the result and the event.  The
 * event's copy must stay small (its table bounds it), so it lists only the
 * first ignored column names, each clipped.
 */
static void
append_counts(StringInfo s, ApImport *im, bool for_event)
{
	int64	   *k = im->counts;

	appendStringInfo(s,
					 "\"total_rows\": " INT64_FORMAT ", \"matched\": " INT64_FORMAT
					 ", \"new\": " INT64_FORMAT ", \"updated\": " INT64_FORMAT
					 ", \"unchanged\": " INT64_FORMAT ", \"conflicts\": " INT64_FORMAT
					 ", \"skipped\": " INT64_FORMAT ", \"overwrite\": %s"
					 ", \"encoding\": \"%s\", \"ignored_columns\": [%s]"
					 ", \"ignored_columns_total\": %d",
					 (int64) im->nrows,
					 k[AP_ACT_UPDATE] + k[AP_ACT_UNCHANGED] + k[AP_ACT_CONFLICT],
					 k[AP_ACT_NEW], k[AP_ACT_UPDATE], k[AP_ACT_UNCHANGED],
					 k[AP_ACT_CONFLICT], k[AP_ACT_SKIP],
					 im->overwrite ? "true" : "false", im->encoding,
					 for_event ? im->ignored_short.data : im->ignored.data,
					 im->nignored);
}

static Jsonb *
summary_jsonb(ApImport *im, int64 event_id)
{
	StringInfoData s;
	int32		i;
	bool		first = true;

	initStringInfo(&s);
	appendStringInfoChar(&s, '{');
	append_counts(&s, im, false);
	if (event_id)
		appendStringInfo(&s, ", \"event_id\": " INT64_FORMAT, event_id);
	appendStringInfoString(&s, ", \"rows\": [");
	for (i = 0; i < im->nrows; i++)
	{
		const ApRowResult *r = &im->rows[i];

		CHECK_FOR_INTERRUPTS();
		if (r->action != AP_ACT_CONFLICT && r->action != AP_ACT_SKIP)
			continue;
		if (!first)
			appendStringInfoString(&s, ", ");
		append_row_json(&s, im, r);
		first = false;
	}
	appendStringInfoString(&s, "]}");
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(s.data)));
}

static int64
log_import(ApImport *im, text *filename)
{
	ApEventCounts counts;
	StringInfoData s;

	counts.total_rows = im->nrows;
	counts.new_count = im->counts[AP_ACT_NEW];
	counts.updated_count = im->counts[AP_ACT_UPDATE];
	counts.conflict_count = im->counts[AP_ACT_CONFLICT];
	counts.skipped_count = im->counts[AP_ACT_SKIP];
	initStringInfo(&s);
	appendStringInfoChar(&s, '{');
	append_counts(&s, im, true);
	appendStringInfoChar(&s, '}');
	return ap_event_log(im->tenant.binding, im->user_id, "import", filename,
						&counts, DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
																	CStringGetDatum(s.data))));
}

static void
plan_rows(ApImport *im, ReturnSetInfo *rsinfo)
{
	int32		i;

	for (i = 0; i < im->nrows; i++)
	{
		const ApRowResult *r = &im->rows[i];
		int64		id = r->contact >= 0 ? im->tenant.contacts[r->contact].id : 0;
		Datum		values[5];
		bool		nulls[5] = {false, false, id == 0, r->matched_by == 0, r->reason == NULL};

		CHECK_FOR_INTERRUPTS();
		values[0] = Int32GetDatum(r->line);
		values[1] = CStringGetTextDatum(action_names[r->action]);
		values[2] = Int64GetDatum(id);
		values[3] = r->matched_by ? CStringGetTextDatum(ap_match_names[r->matched_by]) : 0;
		values[4] = r->reason ? CStringGetTextDatum(r->reason) : 0;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
}

/*
 * Run an import over csv (in the database encoding).  Returns the summary
 * (copied out of SPI memory), or NULL in plan mode.
 */
static Jsonb *
run_import(FunctionCallInfo fcinfo, ApMode mode, int64 user_id,
		   const char *data, size_t len, bool overwrite, text *filename,
		   const char *encoding)
{
	ApImport	im;
	ApBinding  *b;
	Jsonb	   *summary = NULL;
	Jsonb	   *copy = NULL;
	int64		event_id = 0;

	memset(&im, 0, sizeof(im));
	im.mode = mode;
	im.overwrite = overwrite;
	im.user_id = user_id;
	im.region = ap_default_region();
	/* text arrives already in the database encoding: name it the same way */
	im.encoding = encoding ? encoding :
		GetDatabaseEncoding() == PG_UTF8 ? "UTF-8" : GetDatabaseEncodingName();

	SPI_connect();
	b = ap_binding_load(fcinfo);
	if (mode == AP_MODE_COMMIT && IsolationUsesXactSnapshot() &&
		!IsolationIsSerializable())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("activepipe_import_commit cannot run in a REPEATABLE READ transaction"),
				 errdetail("Its snapshot predates the tenant lock, so a concurrent import of the same user could be missed and contacts duplicated."),
				 errhint("Run the commit in a READ COMMITTED (or SERIALIZABLE) transaction.")));
	if (mode == AP_MODE_COMMIT)
		ap_lock_tenant(b, user_id);
	im.cxt = AllocSetContextCreate(CurrentMemoryContext, "activepipe import",
								   ALLOCSET_DEFAULT_SIZES);
	im.rowcxt = AllocSetContextCreate(im.cxt, "activepipe import row",
									  ALLOCSET_SMALL_SIZES);
	/* a chunk's memory is kept from one chunk to the next, not given back */
	im.chunkcxt = AllocSetContextCreate(im.cxt, "activepipe import chunk",
										2 * 1024 * 1024, 2 * 1024 * 1024,
										ALLOCSET_DEFAULT_MAXSIZE);
	im.chunk = MemoryContextAllocHuge(im.cxt, sizeof(ApChunkRow) * CHUNK_ROWS);
	im.tenant.cxt = im.cxt;
	im.tenant.binding = b;
	im.tenant.overwrite = overwrite;
	im.rows_cap = 1024;
	im.rows = MemoryContextAllocHuge(im.cxt, sizeof(ApRowResult) * im.rows_cap);
	initStringInfo(&im.ignored);
	initStringInfo(&im.ignored_short);
	initStringInfo(&im.reason);

	ap_tenant_load(&im.tenant, b, user_id, im.region);
	parse_file(&im, data, len);
	process_chunk(&im);			/* the rows after the last full chunk */

	if (mode == AP_MODE_COMMIT)
	{
		ap_import_write(&im.tenant, user_id);
		event_id = log_import(&im, filename);
	}
	ap_tenant_done(&im.tenant);	/* after the writes: they read payloads */
	if (mode == AP_MODE_PLAN)
		plan_rows(&im, (ReturnSetInfo *) fcinfo->resultinfo);
	else
	{
		summary = summary_jsonb(&im, event_id);
		copy = (Jsonb *) SPI_palloc(VARSIZE(summary));
		memcpy(copy, summary, VARSIZE(summary));
	}
	SPI_finish();
	return copy;
}

/* The text or bytea csv argument as bytes in the database encoding. */
static const char *
csv_arg(FunctionCallInfo fcinfo, bool raw, size_t *len, const char **encoding)
{
	struct varlena *v = PG_GETARG_VARLENA_PP(1);

	if (raw)
		return ap_decode_upload((bytea *) v, len, encoding);
	*encoding = NULL;
	*len = VARSIZE_ANY_EXHDR(v);
	return VARDATA_ANY(v);
}

/* The three entry points share their arguments: (user_id, csv, overwrite[, filename]). */
static Datum
import_call(FunctionCallInfo fcinfo, ApMode mode, bool raw)
{
	size_t		len;
	const char *enc;
	const char *data;
	text	   *filename = NULL;
	Jsonb	   *summary;

	/* commit is not STRICT, for its optional filename */
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("user_id, csv and overwrite must not be NULL")));
	if (mode == AP_MODE_COMMIT && !PG_ARGISNULL(3))
		filename = PG_GETARG_TEXT_PP(3);
	data = csv_arg(fcinfo, raw, &len, &enc);
	if (mode == AP_MODE_PLAN)
		InitMaterializedSRF(fcinfo, 0);
	summary = run_import(fcinfo, mode, PG_GETARG_INT64(0), data, len,
						 PG_GETARG_BOOL(2), filename, enc);
	if (mode == AP_MODE_PLAN)
		return (Datum) 0;
	PG_RETURN_JSONB_P(summary);
}

PG_FUNCTION_INFO_V1(activepipe_import_preview);
Datum
activepipe_import_preview(PG_FUNCTION_ARGS)
{
	return import_call(fcinfo, AP_MODE_PREVIEW, false);
}

PG_FUNCTION_INFO_V1(activepipe_import_commit);
Datum
activepipe_import_commit(PG_FUNCTION_ARGS)
{
	return import_call(fcinfo, AP_MODE_COMMIT, false);
}

PG_FUNCTION_INFO_V1(activepipe_import_plan);
Datum
activepipe_import_plan(PG_FUNCTION_ARGS)
{
	return import_call(fcinfo, AP_MODE_PLAN, false);
}

/* The bytea overloads: raw uploads, decoded first. */
PG_FUNCTION_INFO_V1(activepipe_import_preview_bytea);
Datum
activepipe_import_preview_bytea(PG_FUNCTION_ARGS)
{
	return import_call(fcinfo, AP_MODE_PREVIEW, true);
}

PG_FUNCTION_INFO_V1(activepipe_import_commit_bytea);
Datum
activepipe_import_commit_bytea(PG_FUNCTION_ARGS)
{
	return import_call(fcinfo, AP_MODE_COMMIT, true);
}
