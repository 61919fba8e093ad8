/*
 * import_history.c
 *	  The kept report of an import commit.
 *
 * import_history holds one row per commit (the file's header, and the undo
 * that undid it); import_rows an entry per data row of the file (line,
 * action, contact, reason; for rows that changed something each changed
 * field's old and new value; for conflicts and skips the cells as
 * uploaded, so they can be fixed and uploaded again); import_contacts an
 * entry per contact each write batch wrote: what an undo puts back, and a
 * hash of what the batch left, so an undo can tell a contact changed since.
 *
 * Entries are written a chunk at a time, as the import decides them, so a
 * commit never holds its whole report in memory; each chunk is one row of
 * its table, a column's values as an array (one row per entry cost a heap
 * and an index insert each: 1.9 s of a 100k-row commit, against 0.7 s).
 */
#include "activepipe.h"

#include "access/htup_details.h"
#include "access/transam.h"
#include "catalog/pg_enum.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "import_history.h"

bool		ap_keep_history = true;

/* import_rows columns after user_id and event_id, as arrays */
#define HR_LINE 0
#define HR_ACTION 1
#define HR_CONTACT 2
#define HR_MATCHED 3
#define HR_CODE 4
#define HR_FIELD 5
#define HR_REASON 6
#define HR_CHANGES 7
#define HR_CONFLICTS 8
#define HR_CELLS 9
#define HR_NCOLS 10

/* import_contacts columns likewise */
#define HC_ID 0
#define HC_CREATED 1
#define HC_HAD_PROFILE 2
#define HC_IMPORTED 3
#define HC_UPDATED 4
#define HC_BEFORE 5
#define HC_HASH 6
#define HC_ROW_HASH 7
#define HC_NCOLS 8

typedef struct Columns
{
	int			n;
	int			cap;
	Datum	   *v[HR_NCOLS];
	bool	   *isnull[HR_NCOLS];
} Columns;

struct ApHistory
{
	const ApBinding *b;
	int64		user_id;
	int64		event_id;
	MemoryContext cxt;			/* the accumulated columns */
	MemoryContext scratch;		/* building one value; reset after each */
	StringInfoData before;		/* the value being built, kept for the next */
	text	   *nothing_before; /* {"columns":{},"payload":{}} */
	Datum		action_text[AP_NACTIONS];	/* every row has one: made once */
	Datum		match_text[AP_MATCH_PHONE + 1];
	int32		chunks;			/* rows written to import_rows and import_contacts */
	Columns		rows;
	Columns		contacts;
};

static void
columns_reserve(MemoryContext cxt, Columns *c, int ncols)
{
	int			i;

	if (c->n < c->cap)
		return;
	c->cap = c->cap ? c->cap * 2 : 1024;
	for (i = 0; i < ncols; i++)
	{
		c->v[i] = c->v[i] ? repalloc(c->v[i], sizeof(Datum) * c->cap) :
			MemoryContextAlloc(cxt, sizeof(Datum) * c->cap);
		c->isnull[i] = c->isnull[i] ? repalloc(c->isnull[i], sizeof(bool) * c->cap) :
			MemoryContextAlloc(cxt, sizeof(bool) * c->cap);
	}
}

static void
put(Columns *c, int col, Datum d, bool isnull)
{
	c->v[col][c->n] = isnull ? (Datum) 0 : d;
	c->isnull[col][c->n] = isnull;
}

static void
put_text(Columns *c, int col, const char *s)
{
	put(c, col, s ? CStringGetTextDatum(s) : 0, s == NULL);
}

static Datum
column_array(Columns *c, int col, Oid type)
{
	int			dims[1] = {c->n};
	int			lbs[1] = {1};
	int16		typlen;
	bool		byval;
	char		align;

	get_typlenbyvalalign(type, &typlen, &byval, &align);
	return PointerGetDatum(construct_md_array(c->v[col], c->isnull[col], 1, dims, lbs,
											  type, typlen, byval, align));
}

/*
 * Run q with $1 user, $2 event, $3 the chunk's number and then one array
 * per column of c: the chunk is one row of the table.
 */
static void
flush(ApHistory *h, Columns *c, ApQuery q, const Oid *coltypes, int ncols)
{
	Oid			types[3 + HR_NCOLS];
	Datum		values[3 + HR_NCOLS];
	MemoryContext old;
	int			i;

	if (c->n == 0)
		return;
	old = MemoryContextSwitchTo(h->cxt);
	types[0] = INT8OID;
	types[1] = INT8OID;
	types[2] = INT4OID;
	values[0] = Int64GetDatum(h->user_id);
	values[1] = Int64GetDatum(h->event_id);
	values[2] = Int32GetDatum(++h->chunks);
	for (i = 0; i < ncols; i++)
	{
		types[3 + i] = get_array_type(coltypes[i]);
		values[3 + i] = column_array(c, i, coltypes[i]);
	}
	ap_spi_run(h->b, q, 3 + ncols, types, values, NULL, false);
	MemoryContextSwitchTo(old);
	c->n = 0;
	c->cap = 0;
	memset(c->v, 0, sizeof(c->v));
	memset(c->isnull, 0, sizeof(c->isnull));
	MemoryContextReset(h->cxt);
	h->scratch = AllocSetContextCreate(h->cxt, "activepipe history value",
									   ALLOCSET_DEFAULT_SIZES);
}

/*
 * Start the report of commit event_id (NULL when activepipe.keep_history
 * is off): its header row, with the file's header cells as a JSON array.
 */
ApHistory *
ap_history_begin(const ApTenant *t, int64 event_id, Jsonb *header)
{
	ApHistory  *h;
	Oid			types[3] = {INT8OID, INT8OID, JSONBOID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', header ? ' ' : 'n'};
	int			i;

	if (!ap_keep_history)
		return NULL;
	h = palloc0(sizeof(ApHistory));
	h->b = t->binding;
	h->user_id = t->user_id;
	h->event_id = event_id;
	h->cxt = AllocSetContextCreate(CurrentMemoryContext, "activepipe history",
								   ALLOCSET_DEFAULT_SIZES);
	h->scratch = AllocSetContextCreate(h->cxt, "activepipe history value",
									   ALLOCSET_DEFAULT_SIZES);
	initStringInfo(&h->before);
	h->nothing_before = cstring_to_text("{\"columns\":{},\"payload\":{}}");
	for (i = 0; i < AP_NACTIONS; i++)
		h->action_text[i] = CStringGetTextDatum(ap_action_names[i]);
	for (i = AP_MATCH_EMAIL; i <= AP_MATCH_PHONE; i++)
		h->match_text[i] = CStringGetTextDatum(ap_match_names[i]);
	values[0] = Int64GetDatum(h->user_id);
	values[1] = Int64GetDatum(event_id);
	values[2] = JsonbPGetDatum(header);
	ap_spi_run(h->b, AP_Q_HISTORY_HEADER, 3, types, values, nulls, false);
	return h;
}

/*
 * One data row of the report.  cells (a JSON array of the row's cells as
 * uploaded) is kept for conflicts and skips only.
 */
void
ap_history_row(ApHistory *h, const ApOutcome *o, int64 contact_id,
			   bool has_contact, Jsonb *cells)
{
	Columns    *c = &h->rows;
	MemoryContext old = MemoryContextSwitchTo(h->cxt);
	bool		shown = o->action == AP_ACT_CONFLICT || o->action == AP_ACT_SKIP;

	columns_reserve(h->cxt, c, HR_NCOLS);
	put(c, HR_LINE, Int32GetDatum(o->line), false);
	put(c, HR_ACTION, h->action_text[o->action], false);
	put(c, HR_CONTACT, Int64GetDatum(contact_id), !has_contact);
	put(c, HR_MATCHED, h->match_text[o->matched_by], o->matched_by == AP_MATCH_NONE);
	put_text(c, HR_CODE, ap_reason_code(o));
	put_text(c, HR_FIELD, ap_reason_field(o));
	put_text(c, HR_REASON, ap_reason_text(o));
	put(c, HR_CHANGES, PointerGetDatum(o->changes), o->changes == NULL);
	put(c, HR_CONFLICTS, JsonbPGetDatum(o->conflicts), o->conflicts == NULL);
	put(c, HR_CELLS, JsonbPGetDatum(cells), !shown || cells == NULL);
	c->n++;
	MemoryContextSwitchTo(old);
}

void
ap_history_rows_flush(ApHistory *h)
{
	static const Oid types[HR_NCOLS] = {INT4OID, TEXTOID, INT8OID, TEXTOID,
	TEXTOID, TEXTOID, TEXTOID, JSONOID, JSONBOID, JSONBOID};

	flush(h, &h->rows, AP_Q_HISTORY_ROWS, types, HR_NCOLS);
}

/*
 * h extended by a field's bytes (NULL: none), seeded with what came before
 * and its length, so that field boundaries and NULL against '' count
 * without copying the fields into one buffer.
 */
static uint64
hash_field(uint64 h, const void *bytes, Size len)
{
	return hash_bytes_extended((const unsigned char *) (bytes ? bytes : ""),
							   bytes ? len : 0,
							   hash_combine64(h, bytes ? len : PG_UINT32_MAX));
}

int64
ap_contact_state_hash(const ApBinding *b, const char *const *vals,
					  const uint32 *lens, Jsonb *payload)
{
	uint64		h = 0;
	int			f;

	for (f = 0; f < AP_NIDENTITY; f++)
		if (b->col[f] != NULL)
			h = hash_field(h, vals[f], lens[f]);
	/* the payload seeded with the columns' hash, not copied after them */
	if (payload)
		h = hash_bytes_extended((const unsigned char *) VARDATA(payload),
								VARSIZE(payload) - VARHDRSZ, h);
	else
		h = hash_bytes_extended((const unsigned char *) "", 1, h);
	return (int64) h;
}

/*
 * How a value is hashed: its bytes as stored, unless they hold OIDs that
 * another node or a restored copy gives other values (a user type's
 * enum label, composite type, array element type, range type).  Built-in
 * types' OIDs are the same everywhere: their bytes are hashed as they are.
 */
typedef enum ImageKind
{
	IMAGE_BYTES,
	IMAGE_ENUM,					/* by its label and sort order */
	IMAGE_ROW,					/* by its count of fields and each */
	IMAGE_ARRAY,					/* by its shape and elements */
	IMAGE_RANGE					/* by its bytes after the range type's OID */
} ImageKind;

static ImageKind
image_kind(Oid type)
{
	Oid			base;

	if (type < FirstNormalObjectId)
		return IMAGE_BYTES;
	base = getBaseType(type);
	if (base < FirstNormalObjectId)
		return IMAGE_BYTES;
	switch (get_typtype(base))
	{
		case TYPTYPE_ENUM:
			return IMAGE_ENUM;
		case TYPTYPE_COMPOSITE:
			return IMAGE_ROW;
		case TYPTYPE_RANGE:
		case TYPTYPE_MULTIRANGE:
			return IMAGE_RANGE;
		default:
			return OidIsValid(get_element_type(base)) ? IMAGE_ARRAY : IMAGE_BYTES;
	}
}

static uint64 image_row(uint64 h, Datum row);
static uint64 image_value(uint64 h, Datum v, bool isnull, ImageKind kind,
						  int16 len, bool byval);

/* A varlena's bytes from offset skip on, detoasted (compression does not count). */
static uint64
image_varlena(uint64 h, Datum v, Size skip)
{
	struct varlena *d = PG_DETOAST_DATUM_PACKED(v);

	h = hash_field(h, VARDATA_ANY(d) + skip, VARSIZE_ANY_EXHDR(d) - skip);
	if ((Pointer) d != DatumGetPointer(v))
		pfree(d);				/* a value at a time, for every created contact */
	return h;
}

/*
 * An enum value by its label and its place in the sort order: the label
 * alone would let two renames (gold to old_gold, silver to gold) make an
 * edited value hash as the one the import wrote.
 */
static uint64
image_enum(uint64 h, Datum v)
{
	HeapTuple	tup = SearchSysCache1(ENUMOID, v);
	Form_pg_enum e;

	if (!HeapTupleIsValid(tup))
		return hash_field(h, &v, sizeof(Datum));
	e = (Form_pg_enum) GETSTRUCT(tup);
	h = hash_field(h, &e->enumsortorder, sizeof(e->enumsortorder));
	h = hash_field(h, NameStr(e->enumlabel), strlen(NameStr(e->enumlabel)));
	ReleaseSysCache(tup);
	return h;
}

static uint64
image_array(uint64 h, Datum v)
{
	ArrayType  *a = DatumGetArrayTypeP(v);
	Oid			elem = ARR_ELEMTYPE(a);
	ImageKind	kind = image_kind(elem);
	int16		len;
	bool		byval;
	char		align;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			i;

	h = hash_field(h, ARR_DIMS(a), sizeof(int) * ARR_NDIM(a));
	h = hash_field(h, ARR_LBOUND(a), sizeof(int) * ARR_NDIM(a));
	get_typlenbyvalalign(elem, &len, &byval, &align);
	deconstruct_array(a, elem, len, byval, align, &elems, &nulls, &n);
	for (i = 0; i < n; i++)
		h = image_value(h, elems[i], nulls[i], kind, len, byval);
	pfree(elems);
	pfree(nulls);
	return h;
}

/*
 * One value, by hash_field: as record_image_eq compares values, so that
 * no type's notion of equal (interval '1 day' and '24 hours', numeric 1.0
 * and 1.00, 0 and -0, a case-insensitive collation) and no session
 * setting can make an edited row hash as it was; but with the OIDs of
 * user types replaced by what they stand for (image_kind), so that a row
 * hashes alike on every node of a Citus cluster and after a restore.  A
 * NULL is a field of its own length tag; every other value adds at least
 * one field (a composite, its count of fields first), so a NULL never
 * hashes as a value made of NULLs.  The bytes follow the machine's byte
 * order.
 */
static uint64
image_value(uint64 h, Datum v, bool isnull, ImageKind kind, int16 len, bool byval)
{
	if (isnull)
		return hash_field(h, NULL, 0);
	switch (kind)
	{
		case IMAGE_ENUM:
			return image_enum(h, v);
		case IMAGE_ROW:
			return image_row(h, v);
		case IMAGE_ARRAY:
			return image_array(h, v);
		case IMAGE_RANGE:
			return image_varlena(h, v, sizeof(Oid));
		case IMAGE_BYTES:
			break;
	}
	if (byval)
		return hash_field(h, &v, sizeof(Datum));
	if (len > 0)
		return hash_field(h, DatumGetPointer(v), len);
	if (len == -1)
		return image_varlena(h, v, 0);
	return hash_field(h, DatumGetCString(v), strlen(DatumGetCString(v)));
}

/*
 * A composite value: the count of its live fields, then each, by
 * image_value.  The top-level row starts from 0 without the count, as
 * the hashes kept before composites were framed.
 */
static uint64
image_fields(uint64 h, Datum row, bool framed)
{
	HeapTupleHeader td = DatumGetHeapTupleHeader(row);
	TupleDesc	desc = lookup_rowtype_tupdesc(HeapTupleHeaderGetTypeId(td),
											  HeapTupleHeaderGetTypMod(td));
	HeapTupleData tuple;
	Datum	   *values = palloc(sizeof(Datum) * desc->natts);
	bool	   *nulls = palloc(sizeof(bool) * desc->natts);
	int32		live = 0;
	int			i;

	tuple.t_len = HeapTupleHeaderGetDatumLength(td);
	ItemPointerSetInvalid(&tuple.t_self);
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = td;
	heap_deform_tuple(&tuple, desc, values, nulls);
	for (i = 0; i < desc->natts; i++)
		live += !TupleDescAttr(desc, i)->attisdropped;
	if (framed)
		h = hash_field(h, &live, sizeof(live));
	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped)
			h = image_value(h, values[i], nulls[i], image_kind(att->atttypid),
							att->attlen, att->attbyval);
	}
	ReleaseTupleDesc(desc);
	pfree(values);
	pfree(nulls);
	return h;
}

static uint64
image_row(uint64 h, Datum row)
{
	return image_fields(h, row, true);
}

/*
 * activepipe_row_image_hash(row): image_row as SQL, so that the
 * statements reading a created contact's row hash it where the row is
 * stored.  Read on a Citus coordinator, the row comes from its worker as
 * text or binary and is rebuilt with the coordinator's OIDs: hashed there
 * in its stored bytes (before image_kind), an enum column made a commit
 * and its undo run through different nodes see every created contact as
 * changed since.  Called as f(ROW(c.*)): an anonymous record of the row's
 * live columns, whole even when the table has a column named c (see
 * history_row_hashes in queries.c).
 */
PG_FUNCTION_INFO_V1(activepipe_row_image_hash);
Datum
activepipe_row_image_hash(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64((int64) image_fields(0, PointerGetDatum(PG_GETARG_HEAPTUPLEHEADER(0)), false));
}

/* Field f of an identity block exactly as stored (NULL: SQL NULL). */
static const char *
stored(const void *block, int f, uint32 *len)
{
	const char *s = ap_ident_raw(block, f, len);

	if (s == NULL && !ap_ident_is_null(block, f))
		return "";
	return s;
}

/*
 * What contact ct was before the commit, in the fields it changes, as
 * JSON text: {"columns": {column field: text or null}, "payload": {key:
 * [value] or null}}: a payload value is wrapped in an array, so that a key
 * that held a JSON null ([null]) differs from a key that was absent
 * (null).  The payload fields are those some row of the commit changed (a
 * field changed and changed back is put back as it is).  A contact with
 * no profile before has an empty "payload".
 */
static void
before_values(StringInfo out, const ApTenant *t, const ApContact *ct, bool had_profile)
{
	const void *orig = ct->orig_ident ? ct->orig_ident : ct->ident;
	uint64		touched = had_profile ? ap_pending_changed(ct->pending) : 0;
	bool		first = true;
	int			f;

	appendStringInfoString(out, "{\"columns\":{");
	for (f = 0; f < AP_NIDENTITY; f++)
	{
		uint32		len;
		const char *v;

		if (!(ct->ident_dirty & t->binding->bound & (1 << f)))
			continue;
		v = stored(orig, f, &len);
		ap_json_key(out, f, first);
		first = false;
		if (v)
			ap_json_string(out, v, len);
		else
			appendStringInfoString(out, "null");
	}
	appendStringInfoString(out, "},\"payload\":{");
	first = true;
	for (f = 0; f < AP_NFIELDS; f++)
	{
		JsonbValue	buf;
		JsonbValue *v;

		if (!(touched & (UINT64CONST(1) << f)))
			continue;
		v = ap_payload_field(ct->payload, NULL, f, &buf);
		ap_json_key(out, f, first);
		first = false;
		if (v == NULL)
			appendStringInfoString(out, "null");
		else
		{
			appendStringInfoChar(out, '[');
			ap_json_value(out, v);		/* a scalar, or a container */
			appendStringInfoChar(out, ']');
		}
	}
	appendStringInfoString(out, "}}");
}

/*
 * before_values built in the history's buffer (numbers and stored
 * containers leave their output behind in the scratch context), copied
 * into the columns' memory at its size.
 */
static text *
before_kept(ApHistory *h, const ApTenant *t, const ApContact *ct, bool had_profile)
{
	MemoryContext old = MemoryContextSwitchTo(h->scratch);
	text	   *copy;

	ap_text_begin(&h->before);
	before_values(&h->before, t, ct, had_profile);
	copy = ap_varlena_copy(h->cxt, ap_text_end(&h->before));
	ap_buffer_shrink(&h->before, AP_KEPT_BUFFER_MAX);
	MemoryContextSwitchTo(old);
	MemoryContextReset(h->scratch);
	return copy;
}

/*
 * Keep what an undo needs of contact ct, which the commit wrote with
 * payload after: its profile as the commit read it just before writing
 * (ap_tenant_profile_read), the fields it changed as they were, and a hash
 * of what it left.
 */
void
ap_history_contact(ApHistory *h, const ApTenant *t, const ApContact *ct,
				   Jsonb *after)
{
	Columns    *c = &h->contacts;
	MemoryContext old = MemoryContextSwitchTo(h->cxt);
	const ApWanted *was = ap_tenant_profile_read(t, ct - t->contacts);
	const char *vals[AP_NIDENTITY];
	uint32		lens[AP_NIDENTITY];
	int			f;

	for (f = 0; f < AP_NIDENTITY; f++)
		vals[f] = stored(ct->ident, f, &lens[f]);
	columns_reserve(h->cxt, c, HC_NCOLS);
	put(c, HC_ID, Int64GetDatum(ct->id), false);
	put(c, HC_CREATED, BoolGetDatum(ct->is_new), false);
	put(c, HC_HAD_PROFILE, BoolGetDatum(was != NULL), false);
	put(c, HC_IMPORTED, TimestampTzGetDatum(was ? was->imported_at : 0),
		was == NULL || was->imported_null);
	put(c, HC_UPDATED, TimestampTzGetDatum(was ? was->updated_at : 0),
		was == NULL || was->updated_null);
	/* undo deletes a contact the commit created: nothing of before is read */
	put(c, HC_BEFORE, PointerGetDatum(ct->is_new ? h->nothing_before :
									  before_kept(h, t, ct, was != NULL)), false);
	put(c, HC_HASH, Int64GetDatum(ap_contact_state_hash(t->binding, vals, lens, after)),
		false);
	put(c, HC_ROW_HASH, 0, true);	/* created: read at the flush */
	c->n++;
	MemoryContextSwitchTo(old);
}

/*
 * The row hash of each contact the batch created, as the batch left it
 * (undo deletes such a contact only while its row still hashes the same).
 * NULL where the row is gone (no other session can delete it before the
 * commit ends: it is new).
 */
static void
row_hashes(ApHistory *h)
{
	Columns    *c = &h->contacts;
	Oid			types[2] = {INT8OID, INT8ARRAYOID};
	Datum		values[2];
	int64	   *created;		/* (id, position) pairs, ordered by id */
	Datum	   *ids;
	int			n = 0;
	int			i;
	uint64		r;

	created = palloc(sizeof(int64) * 2 * c->n);
	ids = palloc(sizeof(Datum) * c->n);
	for (i = 0; i < c->n; i++)
		if (DatumGetBool(c->v[HC_CREATED][i]))
		{
			created[2 * n] = DatumGetInt64(c->v[HC_ID][i]);
			created[2 * n + 1] = i;
			ids[n++] = c->v[HC_ID][i];
		}
	if (n == 0)
		return;
	/* ap_cmp_int64 reads a pair's first element: its id */
	qsort(created, n, 2 * sizeof(int64), ap_cmp_int64);
	values[0] = Int64GetDatum(h->user_id);
	values[1] = PointerGetDatum(construct_array(ids, n, INT8OID, sizeof(int64),
												FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	ap_spi_run(h->b, AP_Q_HISTORY_ROW_HASHES, 2, types, values, NULL, false);
	for (r = 0; r < SPI_processed; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		int64		key[2];
		int64	   *hit;
		Datum		d;

		key[0] = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		hit = bsearch(key, created, n, 2 * sizeof(int64), ap_cmp_int64);
		if (hit == NULL)
			continue;
		d = SPI_getbinval(tup, desc, 2, &isnull);
		c->v[HC_ROW_HASH][hit[1]] = isnull ? (Datum) 0 : Int64GetDatum(DatumGetInt64(d));
		c->isnull[HC_ROW_HASH][hit[1]] = isnull;
	}
	SPI_freetuptable(SPI_tuptable);
}

void
ap_history_contacts_flush(ApHistory *h)
{
	static const Oid types[HC_NCOLS] = {INT8OID, BOOLOID, BOOLOID, TIMESTAMPTZOID,
	TIMESTAMPTZOID, JSONOID, INT8OID, INT8OID};
	MemoryContext old = MemoryContextSwitchTo(h->cxt);

	row_hashes(h);
	MemoryContextSwitchTo(old);
	flush(h, &h->contacts, AP_Q_HISTORY_CONTACTS, types, HC_NCOLS);
}

