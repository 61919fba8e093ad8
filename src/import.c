/*
 * import.c
 *	  CSV import entry points: activepipe_import_preview (writes nothing),
 *	  activepipe_import_plan (the per-row plan as a set, writes nothing) and
 *	  activepipe_import_commit (applies it, keeps its report, logs one
 *	  event), and the driver they share.
 *
 * One engine serves all three, so their counts agree by construction:
 * stream the file through the CSV reader; map the header and decide how
 * candidates are found (import_probe.c); then, a chunk of rows at a time,
 * compute each row's keys, find the contacts holding them, match each row
 * (email, then mobile, then phone) against the contacts as the rows before
 * it left them, merge it (import_merge.c) and say what it did
 * (import_outcome.c).  Only commit then writes, in batches
 * (import_write.c).
 */
#include "activepipe.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "csv_reader.h"
#include "import.h"
#include "import_history.h"
#include "normalize.h"

typedef enum ApMode
{
	AP_MODE_PREVIEW,
	AP_MODE_PLAN,
	AP_MODE_COMMIT
} ApMode;

/*
 * A row of the file waiting in the chunk: its line, its cells as uploaded
 * (raw, ends), its trimmed values (pointing into raw), its match keys (by
 * ApMatchKey - 1; klen 0: none) and the contact matching found.
 */
typedef struct ApChunkRow
{
	int32		line;
	bool		has_key;
	uint8		by;				/* ApMatchKey */
	int32		contact;		/* -1: none */
	int32		holders;
	uint16		long_mask;		/* identity values too long for their column */
	const char *key[3];
	uint32		klen[3];
	uint32		khash[3];
	char	   *raw;
	uint32	   *ends;
	int			ncells;
	ApRowValues rv;
} ApChunkRow;

/*
 * Rows are matched and merged a chunk at a time (AP_CHUNK_ROWS): a chunk's
 * candidates are probed for, and the payloads of the contacts it matches
 * read, in one statement each; they are dropped with the chunk, so an
 * import never holds the tenant's payloads, and its report is written as
 * it goes.
 *
 * A chunk also ends before its rows' cells pass this many bytes: what a
 * chunk builds grows with its bytes, many times over for long values of
 * control characters (a commit's history writes each as six, \u0001, an
 * overwrite keeps old and new, and the chunk's report is copied into an
 * array and a tuple): test/scripts/memory.sh measured 5.5x a 9.5 MB file of
 * them at 512 kB, 3.5x at this.  Only a row longer than the limit makes a
 * larger chunk, of its own.  A typical ActivePipe row is about 220 bytes,
 * so AP_CHUNK_ROWS of them stay under it.
 */
#define CHUNK_BYTES (256 * 1024)

typedef struct ApImport
{
	ApMode		mode;
	bool		want_changes;	/* describe each row's changes (plan, report) */
	StringInfoData changes;		/* describing one row's payload changes */
	ApTenant	tenant;
	MemoryContext cxt;			/* lives for the call */
	MemoryContext rowcxt;		/* reset after every row */
	MemoryContext chunkcxt;		/* the chunk's rows; reset after each chunk */
	const char *data;			/* the file */
	size_t		len;

	/* the header */
	bool		have_header;
	long		header_line;	/* where the header record starts */
	uint32		filter_limit;	/* most file keys a filtered scan takes */
	int64		filter_rows;	/* rows the key pass has read */
	bool		stop_early;		/* it may give up on its first rows' keys */
	int64		lines;			/* the file's lines, an upper bound of its rows */
	int			ncols;
	int16	   *colfield;		/* contract field of each column, or -1 */
	bool		present[AP_NFIELDS];

	/* rows waiting in the current chunk, and what they did */
	ApChunkRow *chunk;
	ApOutcome  *outcome;
	int			nchunk;
	size_t		chunk_bytes;	/* of the rows' cells */

	ApSummary	summary;
	ApSummaryHead head;
	ReturnSetInfo *rsinfo;		/* plan */
	ApHistory  *history;		/* commit, unless history is off */
} ApImport;

static void *
csv_realloc(void *ptr, size_t size)
{
	/* the reader allocates only while parse_file has its context current */
	if (ptr == NULL)
		return MemoryContextAllocHuge(CurrentMemoryContext, size);
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

/* The bytes of a record's cells, all together. */
static size_t
cells_bytes(const ap_csv_field *fields, int n)
{
	size_t		total = 0;
	int			i;

	for (i = 0; i < n; i++)
		total += fields[i].len;
	return total;
}

/*
 * Copy a record's cells, bytes long together (cells_bytes), into one block
 * (*raw), with where each ends (*ends): the reader reuses its buffer for
 * the next record.
 */
static void
copy_cells(MemoryContext cxt, const ap_csv_field *fields, int n, size_t bytes,
		   char **raw, uint32 **ends)
{
	size_t		total;
	int			i;

	*raw = MemoryContextAllocHuge(cxt, Max(bytes, 1));
	*ends = MemoryContextAlloc(cxt, sizeof(uint32) * Max(n, 1));
	total = 0;
	for (i = 0; i < n; i++)
	{
		memcpy(*raw + total, fields[i].data, fields[i].len);
		total += fields[i].len;
		(*ends)[i] = (uint32) total;
	}
}

/* Cells as a JSON array of strings, as the report keeps them. */
static Jsonb *
cells_jsonb(const char *raw, const uint32 *ends, int n)
{
	JsonbParseState *st = NULL;
	int			i;

	pushJsonbValue(&st, WJB_BEGIN_ARRAY, NULL);
	for (i = 0; i < n; i++)
	{
		uint32		start = i ? ends[i - 1] : 0;

		ap_push_string(&st, WJB_ELEM, raw + start, ends[i] - start);
	}
	return JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_ARRAY, NULL));
}

/* Upper bound of the data rows: the file's lines. */
static int64
count_lines(const char *data, size_t len)
{
	const char *end = data + len;
	const char *p = data;
	int64		n = 0;
	char		eol = memchr(data, '\n', len) ? '\n' : '\r';

	while (p < end && (p = memchr(p, eol, end - p)) != NULL)
	{
		n++;
		p++;
		if ((n & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	return n + 1;
}

/*
 * A scan keeps only the contacts that hold one of the file's keys when the
 * file has few distinct keys next to the tenant's contacts: at most one in
 * FILTER_RATIO by the planner's statistics, and never more than
 * FILTER_MAX_KEYS (the most it ever holds in memory; the only bound where
 * there are no statistics, as on Citus).  A first pass over the file finds
 * them and gives up as soon as there are more.  Against a 100k tenant (a
 * 1M-contact table of 10 tenants): the preview of a 1-row file takes 57 ms
 * instead of 110, of a 30k-row file 0.31 s instead of 0.52 (one key per 2
 * contacts; at one per 8 it was not filtered), and a file with no key
 * (2M rows like ",x") reads no contact at all: 8 MB of memory instead of
 * 45.  Always filtering made a 100k-row file slower (1.13 s against 0.87
 * s): its first pass now stops after FILTER_SAMPLE_ROWS rows when their
 * keys, over the whole file's lines, would pass the bound (the 100k-row
 * file's passed it after 40k rows: about 5% of its preview).  Only a file
 * of FILTER_STOP_BYTES or more per contact of the tenant stops so early:
 * the first rows can mislead (keys all at the front, cells of many lines),
 * and for a smaller file the whole tenant (45 MB for 100k contacts) would
 * cost more memory than the file's own rows.
 */
#define FILTER_RATIO 2
#define FILTER_MAX_KEYS 65536
#define FILTER_SAMPLE_ROWS 1024
#define FILTER_STOP_BYTES 150

static int
file_key_cb(const ap_csv_field *fields, int n, long first_line, long last_line,
			void *arg)
{
	ApImport   *im = (ApImport *) arg;
	uint32		nkeys = 0;
	int			i;

	CHECK_FOR_INTERRUPTS();
	if (first_line == im->header_line)
		return 0;
	for (i = 0; i < n && i < im->ncols; i++)
	{
		int			f = im->colfield[i];
		const char *s = fields[i].data;
		size_t		len = fields[i].len;

		if (f != AP_F_EMAIL && f != AP_F_MOBILE && f != AP_F_PHONE)
			continue;
		ap_trim(&s, &len);
		if (len > 0)
			nkeys = ap_tenant_file_key(&im->tenant, f, s, len);
	}
	/* too many, or bound to be: the first rows' keys, over the whole file */
	if (++im->filter_rows == FILTER_SAMPLE_ROWS && im->stop_early &&
		(double) ap_tenant_file_key_count(&im->tenant) / FILTER_SAMPLE_ROWS * im->lines >
		im->filter_limit)
		return 1;
	return nkeys > im->filter_limit;
}

/*
 * Every key the file's rows carry, in tenant.filekeys; none (NULL) when
 * there are more than filter_limit, or the reader stopped early (the main
 * pass then fails at the same place).
 */
static void
collect_file_keys(ApImport *im)
{
	ap_csv_options opts = {csv_realloc, csv_free, 0};
	ap_csv_result res;
	ApTenant   *t = &im->tenant;
	MemoryContext passcxt = AllocSetContextCreate(CurrentMemoryContext,
												  "activepipe file pass",
												  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old;
	ap_csv_status status;

	im->filter_limit = FILTER_MAX_KEYS;
	if (t->estimate > 0)
		im->filter_limit = (uint32) Min(t->estimate / FILTER_RATIO, FILTER_MAX_KEYS);
	im->stop_early = t->estimate > 0 && im->len >= FILTER_STOP_BYTES * t->estimate;
	ap_tenant_file_keys_start(t);
	old = MemoryContextSwitchTo(passcxt);
	status = ap_csv_read(im->data, im->len, &opts, file_key_cb, im, &res);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(passcxt);
	if (status != AP_CSV_OK)
	{
		/* too many keys, or a file the main pass will refuse: no filter */
		ap_tenant_file_keys_drop(t);
		return;
	}
	elog(DEBUG1, "activepipe: the scan keeps the contacts that hold one of the file's %u keys",
		 ap_tenant_file_key_count(t));
}

/*
 * The header is known: decide how candidates are found and read the
 * tenant if it is scanned; a commit draws its event id and starts its
 * report.
 */
static void
start_rows(ApImport *im, const ap_csv_field *fields, int n)
{
	ApTenant   *t = &im->tenant;
	MemoryContext old = MemoryContextSwitchTo(im->cxt);

	im->lines = count_lines(im->data, im->len);
	ap_probe_setup(t, im->lines, im->present);
	if (t->strategy == AP_STRATEGY_SCAN)
	{
		collect_file_keys(im);
		ap_tenant_scan(t);
	}
	else
		ap_tenant_track_ids(t);
	if (im->mode == AP_MODE_COMMIT)
	{
		char	   *raw;
		uint32	   *ends;

		copy_cells(im->cxt, fields, n, cells_bytes(fields, n), &raw, &ends);
		im->head.event_id = ap_event_id(t->binding);
		im->history = ap_history_begin(t, im->head.event_id,
									   cells_jsonb(raw, ends, n));
		im->want_changes = im->history != NULL;
	}
	MemoryContextSwitchTo(old);
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
			{
				MemoryContext old = MemoryContextSwitchTo(im->cxt);

				im->head.ignored = lappend(im->head.ignored, pnstrdup(s, len));
				MemoryContextSwitchTo(old);
			}
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
	im->header_line = line;
	start_rows(im, fields, n);
}

/*
 * The identity values of the row longer than their column holds (a
 * varchar(n) column): the row is skipped and says which, instead of the
 * whole commit failing when it writes it.
 */
static uint16
too_long(const ApBinding *b, const ApRowValues *rv)
{
	uint16		mask = 0;
	int			f;

	for (f = 0; f < AP_NIDENTITY; f++)
		if (b->maxlen[f] > 0 && rv->val[f] != NULL && rv->len[f] > (uint32) b->maxlen[f] &&
			pg_mbstrlen_with_len(rv->val[f], rv->len[f]) > b->maxlen[f])
			mask |= (uint16) (1 << f);
	return mask;
}

/* Compute the row's match keys into its chunk memory. */
static void
row_keys(ApImport *im, ApChunkRow *row)
{
	const ApRowValues *rv = &row->rv;
	int			k;

	row->has_key = false;
	row->long_mask = too_long(im->tenant.binding, rv);
	for (k = 0; k < 3; k++)
	{
		int			f = ap_match_fields[k];
		char		pkey[AP_PHONE_KEY_SIZE];
		char	   *key = NULL;
		size_t		n = 0;

		row->klen[k] = 0;
		if (rv->val[f] == NULL)
			continue;
		if (f == AP_F_EMAIL)
		{
			key = MemoryContextAlloc(im->chunkcxt, rv->len[f] + 1);
			n = ap_email_key(rv->val[f], rv->len[f], key, rv->len[f] + 1);
		}
		else if ((n = ap_phone_key(rv->val[f], rv->len[f], im->tenant.region, pkey)) > 0)
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
 * Match by email, then mobile, then phone, against the contacts as they
 * are now: sets row->by, contact and holders (contact -1: no key matches;
 * holders > 1: the key is shared and the row's names pick none of them).
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
		e = ap_key_find(k == 0 ? t->email : t->phone, row->key[k],
						row->klen[k], row->khash[k]);
		if (k > 0 && t->strategy == AP_STRATEGY_PROBE && (e == NULL || !e->probed))
		{
			/* its email match went since the chunk's probes (probe_chunk) */
			ApKeyStr	ks = {row->key[k], row->klen[k]};

			ap_probe_keys(t, NULL, 0, &ks, 1);
			e = ap_key_find(t->phone, row->key[k], row->klen[k], row->khash[k]);
		}
		if (e == NULL || e->contact < 0)
			continue;
		row->by = (uint8) (k + 1);	/* ApMatchKey order */
		row->contact = e->contact;
		row->holders = ap_key_count(e);
		if (row->holders > 1)
		{
			int32		c = ap_merge_pick_holder(t, e->holders, &row->rv);

			if (c >= 0)
			{
				row->contact = c;
				row->holders = 1;
			}
		}
		return;
	}
}

/*
 * Describe what the merge did to ct.  Building the conflicts (jsonb) and
 * the changes (JSON text) leaves parse state and buffers behind: they are
 * built in the row's memory, only the results are kept with the chunk.
 */
static void
describe(ApImport *im, ApOutcome *o, const ApContact *ct, const ApRowValues *rv,
		 const void *old_ident, const ApMergeResult *res)
{
	o->action = (uint8) res->action;
	o->why = res->why;
	o->ambiguous = res->ambiguous;
	o->conflict_mask = res->conflict_mask;
	o->bad_mask = res->bad_mask;
	if (res->conflict_mask)
		o->conflicts = ap_varlena_copy(im->chunkcxt,
									   ap_conflict_values(ct, rv, res->conflict_mask));
	if (im->want_changes && (res->ident_changed || res->payload_changed))
		o->changes = ap_change_values(im->chunkcxt, ct, old_ident, res);
}

static void
import_row(ApImport *im, ApChunkRow *row, ApOutcome *o)
{
	ApTenant   *t = &im->tenant;
	ApMergeResult res;
	ApContact  *ct;
	void	   *old_ident;
	int32		c;
	bool		created;

	memset(o, 0, sizeof(*o));
	o->line = row->line;
	o->contact = -1;
	if (!row->has_key)
	{
		o->action = AP_ACT_SKIP;
		o->why = AP_WHY_NO_KEY;
		return;
	}
	if (row->long_mask)
	{
		o->action = AP_ACT_SKIP;
		o->why = AP_WHY_TOO_LONG;
		o->long_mask = row->long_mask;
		return;
	}
	/* rows before this one may have changed who holds its keys */
	match_row(im, row);
	created = row->contact < 0;
	if (created)
	{
		MemoryContext old = MemoryContextSwitchTo(t->cxt);

		c = ap_tenant_new_contact(t);
		t->contacts[c].is_new = true;
		MemoryContextSwitchTo(old);
	}
	else
	{
		c = row->contact;
		if (t->contacts[c].deleted)
		{
			/* found gone when an earlier chunk wrote it: nothing to apply */
			o->contact = c;
			o->matched_by = row->by;
			o->action = AP_ACT_SKIP;
			o->why = AP_WHY_DELETED;
			return;
		}
		ap_tenant_payloads(t, &c, 1);	/* read with its chunk but for edge cases */
	}
	ct = &t->contacts[c];
	old_ident = ct->ident;
	ap_merge_row(t, c, &row->rv, (ApMatchKey) row->by, row->holders, created,
				 im->want_changes ? &im->changes : NULL, &res);
	/* the contact leaves the keys it lost and holds the ones it gained */
	if (res.ident_changed & ((1 << AP_F_EMAIL) | (1 << AP_F_PHONE) | (1 << AP_F_MOBILE)))
		ap_tenant_rekey(t, c, old_ident);
	o->contact = c;
	o->matched_by = row->by;
	describe(im, o, ct, &row->rv, old_ident, &res);
	if (im->want_changes)
		ap_buffer_shrink(&im->changes, AP_KEPT_BUFFER_MAX);	/* copied by describe */
	if (im->mode == AP_MODE_COMMIT &&
		(ct->ident_dirty || ct->payload_dirty || (ct->is_new && !ct->inserted)))
		ap_tenant_note_dirty(t, c);
}

/*
 * The chunk is written (commit): rows whose contact the writes found
 * deleted meanwhile are skipped, "contact deleted", and apply nothing.
 */
static void
skip_deleted(ApImport *im)
{
	int			i;

	if (im->tenant.ndeleted == 0)
		return;
	for (i = 0; i < im->nchunk; i++)
	{
		ApOutcome  *o = &im->outcome[i];

		if (o->contact < 0 || !im->tenant.contacts[o->contact].deleted ||
			o->action == AP_ACT_SKIP)
			continue;
		o->action = AP_ACT_SKIP;
		o->why = AP_WHY_DELETED;
		o->changes = NULL;
		o->conflicts = NULL;
	}
}

/* Whether a contact now holds the row's email key. */
static bool
email_held(ApImport *im, const ApChunkRow *row)
{
	ApKeyEntry *e;

	if (row->klen[0] == 0)
		return false;
	e = ap_key_find(im->tenant.email, row->key[0], row->klen[0], row->khash[0]);
	return e != NULL && e->contact >= 0;
}

/*
 * Read the candidates of the chunk's keys: every email key, then the phone
 * keys of the rows that no email matches.  A row matched by email never
 * looks at its phone keys (match_row), so probing them would only cost
 * index descents; a row that an earlier row leaves without its email
 * match has its phone keys probed then (match_row).
 */
static void
probe_chunk(ApImport *im)
{
	ApKeyStr   *keys = palloc(sizeof(ApKeyStr) * im->nchunk * 2);
	int			n = 0;
	int			i,
				k;

	for (i = 0; i < im->nchunk; i++)
	{
		ApChunkRow *row = &im->chunk[i];

		if (row->klen[0] > 0)
			keys[n++] = (ApKeyStr) {row->key[0], row->klen[0]};
	}
	ap_probe_keys(&im->tenant, keys, n, NULL, 0);
	n = 0;
	for (i = 0; i < im->nchunk; i++)
	{
		ApChunkRow *row = &im->chunk[i];

		if (email_held(im, row))
			continue;
		for (k = 1; k < 3; k++)
			if (row->klen[k] > 0)
				keys[n++] = (ApKeyStr) {row->key[k], row->klen[k]};
	}
	ap_probe_keys(&im->tenant, NULL, 0, keys, n);
	pfree(keys);
}

/* Count, show, plan and keep what each row of the chunk did. */
static void
report_chunk(ApImport *im)
{
	ApTenant   *t = &im->tenant;
	int			i;

	for (i = 0; i < im->nchunk; i++)
	{
		ApOutcome  *o = &im->outcome[i];
		ApChunkRow *row = &im->chunk[i];
		const ApContact *ct = o->contact >= 0 ? &t->contacts[o->contact] : NULL;
		bool		has_contact = ct && (!ct->is_new || im->mode == AP_MODE_COMMIT);
		int64		id = has_contact ? ct->id : 0;

		CHECK_FOR_INTERRUPTS();
		ap_summary_add(&im->summary, o, id, has_contact);
		if (im->mode == AP_MODE_PLAN)
			ap_plan_put(im->rsinfo, o, id, has_contact);
		else if (im->history)
		{
			Jsonb	   *cells = NULL;

			/* kept for conflicts and skips, to fix and upload again */
			if (o->action == AP_ACT_CONFLICT || o->action == AP_ACT_SKIP)
			{
				MemoryContext old = MemoryContextSwitchTo(im->rowcxt);

				cells = ap_varlena_copy(im->chunkcxt,
									    cells_jsonb(row->raw, row->ends, row->ncells));
				MemoryContextSwitchTo(old);
				MemoryContextReset(im->rowcxt);
			}
			ap_history_row(im->history, o, id, has_contact, cells);
		}
	}
	if (im->history)
		ap_history_rows_flush(im->history);
}

/*
 * Match and merge the rows of the chunk, in file order.  First find the
 * candidates of the chunk's keys (probe), then match every row as the
 * contacts stand and read the payloads of the contacts found, in one
 * statement; each row is then matched again as the rows before it left
 * the contacts, and any contact it finds unread is read for it.
 */
static void
process_chunk(ApImport *im)
{
	ApTenant   *t = &im->tenant;
	MemoryContext old = MemoryContextSwitchTo(im->chunkcxt);
	int32	   *want = palloc(sizeof(int32) * Max(im->nchunk, 1));
	int32		first_new;
	int			nwant = 0;
	int			i;

	if (t->strategy == AP_STRATEGY_PROBE)
		probe_chunk(im);
	first_new = t->ncontacts;
	for (i = 0; i < im->nchunk; i++)
	{
		CHECK_FOR_INTERRUPTS();
		match_row(im, &im->chunk[i]);
		if (im->chunk[i].contact >= 0)
			want[nwant++] = im->chunk[i].contact;
	}
	ap_tenant_payloads(t, want, nwant);
	for (i = 0; i < im->nchunk; i++)
	{
		CHECK_FOR_INTERRUPTS();
		MemoryContextSwitchTo(im->rowcxt);
		import_row(im, &im->chunk[i], &im->outcome[i]);
		MemoryContextSwitchTo(im->chunkcxt);
		MemoryContextReset(im->rowcxt);
	}
	if (im->mode == AP_MODE_COMMIT)
	{
		ap_assign_ids(t, first_new);
		ap_import_write(t, im->history);
		skip_deleted(im);
	}
	report_chunk(im);
	ap_tenant_drop_payloads(t);
	im->nchunk = 0;
	im->chunk_bytes = 0;
	MemoryContextSwitchTo(old);
	MemoryContextReset(im->chunkcxt);
}

/*
 * Keep a row of the file for the chunk: its cells copied (the reader
 * reuses its buffer), and its trimmed values pointing into the copy.
 */
static void
stash_row(ApImport *im, const ap_csv_field *fields, int n, long line)
{
	ApChunkRow *row;
	ApRowValues *rv;
	bool		any = false;
	size_t		bytes;
	int			i;

	if (n > im->ncols)
		bad_file(line, "a row has more fields than the header",
				 psprintf("%d fields, the header has %d.", n, im->ncols));
	/* a row that would take the chunk past CHUNK_BYTES starts the next */
	bytes = cells_bytes(fields, n);
	if (im->nchunk > 0 && im->chunk_bytes + bytes > CHUNK_BYTES)
		process_chunk(im);
	row = &im->chunk[im->nchunk];
	rv = &row->rv;
	copy_cells(im->chunkcxt, fields, n, bytes, &row->raw, &row->ends);
	row->ncells = n;
	memcpy(rv->present, im->present, sizeof(rv->present));
	memset(rv->val, 0, sizeof(rv->val));
	memset(rv->len, 0, sizeof(rv->len));
	for (i = 0; i < n; i++)
	{
		uint32		start = i ? row->ends[i - 1] : 0;
		const char *s = row->raw + start;
		size_t		len = row->ends[i] - start;
		int			f = im->colfield[i];

		ap_trim(&s, &len);
		if (len == 0)
			continue;
		any = true;				/* even in an ignored column: not a blank line */
		if (f < 0)
			continue;
		rv->val[f] = s;
		rv->len[f] = len;
	}
	if (!any)
		return;					/* a row of empty cells is a blank line */
	/* a short row leaves the fields it lacks untouched */
	for (i = n; i < im->ncols; i++)
		if (im->colfield[i] >= 0)
			rv->present[im->colfield[i]] = false;
	row->line = (int32) line;
	row_keys(im, row);
	im->chunk_bytes += bytes;
	if (++im->nchunk == AP_CHUNK_ROWS)
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
parse_file(ApImport *im)
{
	ap_csv_options opts = {csv_realloc, csv_free, 0};
	ap_csv_result res;
	MemoryContext csvcxt = AllocSetContextCreate(im->cxt, "activepipe csv",
												 ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(csvcxt);
	ap_csv_status status = ap_csv_read(im->data, im->len, &opts, record_cb, im, &res);

	MemoryContextSwitchTo(old);
	switch (status)
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
	MemoryContextDelete(csvcxt);
}

/* Log the commit's event (its chunks are written). */
static void
finish_commit(ApImport *im, text *filename)
{
	ApTenant   *t = &im->tenant;
	ApSummary  *s = &im->summary;
	ApEventCounts counts;

	counts.total_rows = s->total;
	counts.new_count = s->counts[AP_ACT_NEW];
	counts.updated_count = s->counts[AP_ACT_UPDATE];
	counts.conflict_count = s->counts[AP_ACT_CONFLICT];
	counts.skipped_count = s->counts[AP_ACT_SKIP];
	ap_event_log(t->binding, t->user_id, im->head.event_id, "import", filename,
				 &counts, ap_summary_jsonb(s, &im->head, true));
}

/*
 * A commit serialises with the tenant's other writers on the tenant lock,
 * then reads: its snapshot must be taken after the lock, which a
 * transaction snapshot (REPEATABLE READ, SERIALIZABLE) taken before it is
 * not.
 */
void
ap_refuse_xact_snapshot(const char *what)
{
	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s cannot run in a %s transaction", what,
						IsolationIsSerializable() ? "SERIALIZABLE" : "REPEATABLE READ"),
				 errdetail("Its snapshot would predate the tenant lock, so a concurrent call for the same user could be missed and contacts duplicated."),
				 errhint("Run it in a READ COMMITTED transaction (the default).")));
}

/* Set up an import of data for user_id; inside SPI. */
static void
init_import(ApImport *im, ApBinding *b, ApMode mode, int64 user_id,
			const char *data, size_t len, bool overwrite, const char *encoding)
{
	memset(im, 0, sizeof(*im));
	im->mode = mode;
	im->want_changes = mode == AP_MODE_PLAN;
	im->data = data;
	im->len = len;
	im->head.overwrite = overwrite;
	/* text arrives already in the database encoding: name it the same way */
	im->head.encoding = encoding ? encoding :
		GetDatabaseEncoding() == PG_UTF8 ? "UTF-8" : GetDatabaseEncodingName();
	im->cxt = AllocSetContextCreate(CurrentMemoryContext, "activepipe import",
									ALLOCSET_DEFAULT_SIZES);
	im->rowcxt = AllocSetContextCreate(im->cxt, "activepipe import row",
									   ALLOCSET_SMALL_SIZES);
	/* a chunk's memory is kept from one chunk to the next, not given back */
	im->chunkcxt = AllocSetContextCreate(im->cxt, "activepipe import chunk",
										 2 * 1024 * 1024, 2 * 1024 * 1024,
										 ALLOCSET_DEFAULT_MAXSIZE);
	im->chunk = MemoryContextAllocHuge(im->cxt, sizeof(ApChunkRow) * AP_CHUNK_ROWS);
	ap_buffer_init(&im->changes, im->cxt);
	im->outcome = MemoryContextAllocHuge(im->cxt, sizeof(ApOutcome) * AP_CHUNK_ROWS);
	ap_summary_init(&im->summary, im->cxt);
	ap_tenant_init(&im->tenant, b, user_id, ap_default_region(), overwrite, im->cxt);
	if (mode == AP_MODE_COMMIT)
		im->tenant.pendcxt = AllocSetContextCreate(im->cxt, "activepipe import pending",
												   ALLOCSET_DEFAULT_SIZES);
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
	Jsonb	   *summary;
	Jsonb	   *copy = NULL;

	SPI_connect();
	b = ap_binding_load(fcinfo);
	ap_binding_require_text(b);
	if (mode == AP_MODE_COMMIT)
	{
		ap_refuse_xact_snapshot("activepipe_import_commit");
		ap_lock_tenant(b, user_id);
	}
	init_import(&im, b, mode, user_id, data, len, overwrite, encoding);
	im.rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	parse_file(&im);
	process_chunk(&im);			/* the rows after the last full chunk */
	if (mode == AP_MODE_COMMIT)
		finish_commit(&im, filename);
	ap_tenant_done(&im.tenant); /* after the writes: they read payloads */
	if (mode != AP_MODE_PLAN)
	{
		summary = ap_summary_jsonb(&im.summary, &im.head, false);
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
