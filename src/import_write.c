/*
 * import_write.c
 *	  The writes of an import commit, at the end of each chunk, set-based:
 *	  the contacts the chunk's rows changed (ApTenant.dirty) are written in
 *	  batches -- new contacts by one INSERT ... SELECT FROM unnest(...)
 *	  with ids drawn beforehand (ap_assign_ids), changed identity fields by
 *	  one UPDATE ... FROM unnest(...), profiles (payload, last_imported_at)
 *	  by one upsert -- and then forget their pending edits.  Contacts a
 *	  file leaves unchanged are not written at all.
 *
 * Writing each chunk while its payloads are in memory means no payload is
 * read twice and no edits are held past their chunk.  Every write checks
 * what it touched: a contact deleted since the import read it is marked
 * deleted (its rows are reported as skipped), never written again and
 * never given a new profile; a written contact is locked against a delete
 * until the commit ends.
 */
#include "activepipe.h"

#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "import.h"
#include "import_history.h"

/*
 * A chunk's dirty contacts in one statement of each kind: at 1000, a
 * 1,024-row chunk often wrote its profiles in two, the second of a few
 * dozen (154 upserts for a 100k-row file instead of 98).
 */
#define WRITE_BATCH AP_CHUNK_ROWS

/*
 * What the import calls blank, for the fill-blanks re-check in SQL: the
 * characters ap_trim (src/lib/normalize.c) trims, no-break space included
 * where the database encoding is UTF-8 (ap_trim knows it by its UTF-8
 * bytes).  test/hardening.sql holds the two to the same answers.
 */
#define AP_BLANK_ASCII " \t\r\n\v\f"
#define AP_BLANK_NBSP "\xC2\xA0"

static Datum
blank_chars(void)
{
	return CStringGetTextDatum(GetDatabaseEncoding() == PG_UTF8 ?
							   AP_BLANK_ASCII AP_BLANK_NBSP : AP_BLANK_ASCII);
}

/* A contact the import made and has not written yet. */
static inline bool
unwritten_new(const ApContact *ct)
{
	return ct->is_new && !ct->inserted;
}

/* Contact c changed: it is written at the end of the chunk (commit). */
void
ap_tenant_note_dirty(ApTenant *t, int32 c)
{
	ApContact  *ct = &t->contacts[c];

	if (ct->in_dirty)
		return;
	if (t->ndirty == t->dirty_cap)
	{
		t->dirty_cap = Max(t->dirty_cap * 2, 1024);
		t->dirty = t->dirty ? repalloc(t->dirty, sizeof(int32) * t->dirty_cap) :
			MemoryContextAlloc(t->cxt, sizeof(int32) * t->dirty_cap);
	}
	t->dirty[t->ndirty++] = c;
	ct->in_dirty = true;
}

static ArrayType *
make_array(Datum *d, bool *nulls, int n, Oid type, int16 typlen, bool byval,
		   char align)
{
	int			dims[1] = {n};
	int			lbs[1] = {1};

	return construct_md_array(d, nulls, 1, dims, lbs, type, typlen, byval, align);
}

/* One text[] per identity field; only_dirty leaves unchanged ones NULL. */
static void
identity_arrays(ApContact **batch, int n, bool only_dirty, Datum *out)
{
	Datum	   *d = palloc(sizeof(Datum) * n);
	bool	   *nulls = palloc(sizeof(bool) * n);
	int			f,
				i;

	for (f = 0; f < AP_NIDENTITY; f++)
	{
		for (i = 0; i < n; i++)
		{
			ApContact  *ct = batch[i];
			uint32		len;
			const char *s = ap_ident(ct, f, &len);

			nulls[i] = s == NULL || (only_dirty && !(ct->ident_dirty & (1 << f)));
			d[i] = nulls[i] ? (Datum) 0 :
				PointerGetDatum(cstring_to_text_with_len(s, len));
		}
		out[f] = PointerGetDatum(make_array(d, nulls, n, TEXTOID, -1, false, TYPALIGN_INT));
	}
}

static Datum
id_array(ApContact **batch, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * n);
	int			i;

	for (i = 0; i < n; i++)
		d[i] = Int64GetDatum(batch[i]->id);
	return PointerGetDatum(make_array(d, NULL, n, INT8OID, 8, FLOAT8PASSBYVAL,
									  TYPALIGN_DOUBLE));
}

/* $1 user, $2 ids, $3.. one text[] per identity field. */
static void
identity_params(ApTenant *t, ApContact **batch, int n, bool only_dirty,
				Oid *types, Datum *values)
{
	int			f;

	types[0] = INT8OID;
	types[1] = INT8ARRAYOID;
	values[0] = Int64GetDatum(t->user_id);
	values[1] = id_array(batch, n);
	for (f = 0; f < AP_NIDENTITY; f++)
		types[2 + f] = TEXTARRAYOID;
	identity_arrays(batch, n, only_dirty, values + 2);
}

static int
cmp_contact_id(const void *a, const void *b)
{
	int64		x = (*(ApContact *const *) a)->id;
	int64		y = (*(ApContact *const *) b)->id;

	return (x > y) - (x < y);
}

/*
 * The statement just run returned (id int8[, ctid]) of the contacts of
 * batch it wrote: mark the others deleted, and note new profile tids.
 */
static void
written(ApTenant *t, ApContact **batch, int n)
{
	SPITupleTable *tt = SPI_tuptable;
	ApContact **sorted = palloc(sizeof(ApContact *) * n);
	bool	   *seen = palloc0(sizeof(bool) * n);
	uint64		i;
	int			j;

	memcpy(sorted, batch, sizeof(ApContact *) * n);
	qsort(sorted, n, sizeof(ApContact *), cmp_contact_id);
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		ApContact	key;
		ApContact  *kp = &key;
		ApContact **hit;

		key.id = DatumGetInt64(SPI_getbinval(tt->vals[i], tt->tupdesc, 1, &isnull));
		hit = bsearch(&kp, sorted, n, sizeof(ApContact *), cmp_contact_id);
		if (hit == NULL)
			continue;
		seen[hit - sorted] = true;
		if (tt->tupdesc->natts > 1)
			ItemPointerCopy((ItemPointer) DatumGetPointer(SPI_getbinval(tt->vals[i],
																		tt->tupdesc, 2, &isnull)),
							&(*hit)->profile);
	}
	for (j = 0; j < n; j++)
		if (!seen[j] && !sorted[j]->deleted)
		{
			sorted[j]->deleted = true;
			t->ndeleted++;
		}
	/*
	 * Freed here, where it is read: SPI keeps every result until
	 * SPI_finish, and the history statements that follow the write leave
	 * SPI_tuptable pointing elsewhere.
	 */
	SPI_freetuptable(tt);
	pfree(sorted);
	pfree(seen);
}

/*
 * The new contacts of the batch, with the ids drawn for them.  A trigger
 * or rule that skips a row or gives it another id would leave rows paired
 * with contacts that do not exist (or with another contact): refused.
 */
static void
write_inserts(ApTenant *t, ApContact **batch, int n, ApHistory *h)
{
	Oid			types[2 + AP_NIDENTITY];
	Datum		values[2 + AP_NIDENTITY];
	int64	   *want = palloc(sizeof(int64) * n);
	int64	   *got;
	uint64		i;
	bool		same;

	identity_params(t, batch, n, false, types, values);
	same = ap_spi_run(t->binding, AP_Q_IMPORT_INSERT, 2 + AP_NIDENTITY, types,
					  values, NULL, false) == (uint64) n;
	got = palloc(sizeof(int64) * Max(SPI_processed, 1));
	for (i = 0; same && i < SPI_processed; i++)
	{
		bool		isnull;

		got[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc,
											 1, &isnull));
		want[i] = batch[i]->id;
	}
	if (same)
	{
		qsort(want, n, sizeof(int64), ap_cmp_int64);
		qsort(got, n, sizeof(int64), ap_cmp_int64);
		same = memcmp(want, got, sizeof(int64) * n) == 0;
	}
	if (!same)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("a trigger or rule on %s changed the new contacts the import inserted",
						t->binding->table),
				 errdetail("The import inserts new contacts with ids drawn from the %s column's sequence and needs each row stored with its id; " UINT64_FORMAT " of %d came back as inserted.",
						   t->binding->id_col, SPI_processed, n),
				 errhint("Let INSERT triggers on the contacts table keep a given id and not skip rows.")));
	SPI_freetuptable(SPI_tuptable);	/* read: see written() */
	pfree(want);
	pfree(got);
}

static void
write_updates(ApTenant *t, ApContact **batch, int n, ApHistory *h)
{
	Oid			types[3 + AP_NIDENTITY];
	Datum		values[3 + AP_NIDENTITY];
	int			nargs = 2 + AP_NIDENTITY;

	identity_params(t, batch, n, true, types, values);
	if (!t->overwrite)
	{
		types[nargs] = TEXTOID;
		values[nargs++] = blank_chars();
	}
	ap_spi_run(t->binding, t->overwrite ? AP_Q_IMPORT_UPDATE : AP_Q_IMPORT_FILL,
			   nargs, types, values, NULL, false);
	written(t, batch, n);
}

/*
 * The payload to store for ct, from its payload (resident for the chunk)
 * and its pending edits; NULL when there is nothing to write.  Rows that
 * repeat a contact with contradicting values can end where the database
 * already is: such a payload is not written, unless the contact itself is
 * (just made, or identity changed: it is stamped).
 */
static Jsonb *
profile_payload(const ApContact *ct, Jsonb *empty)
{
	ApFieldEdit edits[AP_NFIELDS];
	uint64		bad = 0;
	Jsonb	   *p = NULL;

	if (ct->payload_dirty)
	{
		ap_pending_edits(ct->pending, edits);
		p = ap_payload_apply(ct->payload, edits, true, &bad);
	}
	if (p == NULL && !unwritten_new(ct) && ct->ident_dirty == 0)
		return NULL;
	return p ? p : ct->payload ? ct->payload : empty;
}

static void
write_profiles(ApTenant *t, ApContact **batch, int n, ApHistory *h)
{
	Oid			types[3] = {INT8OID, INT8ARRAYOID, JSONBARRAYOID};
	Datum		values[3];
	Datum	   *d = palloc(sizeof(Datum) * n);
	Jsonb	   *empty = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")));
	MemoryContext batchcxt = CurrentMemoryContext;
	MemoryContext scratch = AllocSetContextCreate(batchcxt, "activepipe payload",
												  ALLOCSET_DEFAULT_SIZES);
	int			i,
				kept = 0;

	for (i = 0; i < n; i++)
	{
		Jsonb	   *p;

		CHECK_FOR_INTERRUPTS();
		/* building leaves parse state behind: only the payload is kept */
		MemoryContextSwitchTo(scratch);
		p = profile_payload(batch[i], empty);
		MemoryContextSwitchTo(batchcxt);
		if (p != NULL && p != empty && p != batch[i]->payload)
			p = ap_varlena_copy(batchcxt, p);
		MemoryContextReset(scratch);
		if (p == NULL)
			continue;
		batch[kept] = batch[i];
		d[kept++] = JsonbPGetDatum(p);
	}
	if (kept > 0)
	{
		values[0] = Int64GetDatum(t->user_id);
		values[1] = id_array(batch, kept);
		values[2] = PointerGetDatum(make_array(d, NULL, kept, JSONBOID, -1, false, TYPALIGN_INT));
		ap_spi_run(t->binding, AP_Q_IMPORT_PROFILES_UPSERT, 3, types, values, NULL, false);
		written(t, batch, kept);
	}
	/* what an undo needs, of the contacts written */
	for (i = 0; h && i < kept; i++)
		if (!batch[i]->deleted)
			ap_history_contact(h, t, batch[i], DatumGetJsonbP(d[i]));
	if (h)
		ap_history_contacts_flush(h);
}

static bool
wants_insert(const ApContact *ct, uint16 bound)
{
	return unwritten_new(ct);
}

static bool
wants_update(const ApContact *ct, uint16 bound)
{
	return !unwritten_new(ct) && !ct->deleted && (ct->ident_dirty & bound) != 0;
}

static bool
wants_profile(const ApContact *ct, uint16 bound)
{
	return !ct->deleted &&
		(unwritten_new(ct) || ct->ident_dirty != 0 || ct->payload_dirty);
}

/* Run writer over the dirty contacts wants picks, WRITE_BATCH at a time. */
static void
write_pass(ApTenant *t, ApHistory *h,
		   bool (*wants) (const ApContact *ct, uint16 bound),
		   void (*writer) (ApTenant *, ApContact **, int, ApHistory *))
{
	ApContact **batch = palloc(sizeof(ApContact *) * WRITE_BATCH);
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext,
											  "activepipe import write",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old;
	int			n = 0;
	int32		i;

	for (i = 0; i <= t->ndirty; i++)
	{
		CHECK_FOR_INTERRUPTS();
		if (i < t->ndirty && wants(&t->contacts[t->dirty[i]], t->binding->bound))
			batch[n++] = &t->contacts[t->dirty[i]];
		if (n == 0 || (n < WRITE_BATCH && i < t->ndirty))
			continue;
		old = MemoryContextSwitchTo(cxt);
		writer(t, batch, n, h);
		MemoryContextSwitchTo(old);
		MemoryContextReset(cxt);
		n = 0;
	}
	MemoryContextDelete(cxt);
	pfree(batch);
}

static int
cmp_int32(const void *a, const void *b)
{
	int32		x = *(const int32 *) a;
	int32		y = *(const int32 *) b;

	return (x > y) - (x < y);
}

/*
 * Write the contacts changed since the last write, then settle them: their
 * edits are in the database now.  The import's snapshot then sees its own
 * writes, so a later chunk reads the payloads it wrote.
 */
void
ap_import_write(ApTenant *t, ApHistory *h)
{
	int32		i;

	if (t->ndirty == 0)
		return;
	/* in the order the contacts were read and made */
	qsort(t->dirty, t->ndirty, sizeof(int32), cmp_int32);
	write_pass(t, h, wants_insert, write_inserts);
	write_pass(t, h, wants_update, write_updates);
	write_pass(t, h, wants_profile, write_profiles);
	for (i = 0; i < t->ndirty; i++)
	{
		ApContact  *ct = &t->contacts[t->dirty[i]];

		ct->inserted = ct->is_new;
		ct->ident_dirty = 0;
		ct->payload_dirty = false;
		ct->pending = NULL;
		ct->orig_ident = NULL;
		ct->in_dirty = false;
	}
	t->ndirty = 0;
	MemoryContextReset(t->pendcxt);
	CommandCounterIncrement();
	UpdateActiveSnapshotCommandId();
}

/*
 * Give the new contacts from index from on their ids, drawn from the id
 * column's sequence in one statement.
 */
void
ap_assign_ids(ApTenant *t, int32 from)
{
	Oid			types[2] = {OIDOID, INT4OID};
	Datum		values[2];
	bool		always;
	Oid			seq;
	int32		n = 0;
	int32		c;
	uint64		k = 0;

	for (c = from; c < t->ncontacts; c++)
		n += unwritten_new(&t->contacts[c]);
	if (n == 0)
		return;
	seq = ap_binding_id_sequence(t->binding, &always);
	if (!OidIsValid(seq))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the contacts id column %s.%s has no sequence",
						t->binding->table, t->binding->id_col),
				 errdetail("The import creates contacts with ids drawn from that column's sequence."),
				 errhint("Make the column serial, bigserial or an identity column.")));
	values[0] = ObjectIdGetDatum(seq);
	values[1] = Int32GetDatum(n);
	if (ap_spi_run(t->binding, AP_Q_CONTACT_IDS, 2, types, values, NULL, false) != (uint64) n)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("activepipe: drawing %d contact ids returned a wrong count", n)));
	for (c = from; c < t->ncontacts; c++)
	{
		bool		isnull;

		if (!unwritten_new(&t->contacts[c]))
			continue;
		t->contacts[c].id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[k++],
														SPI_tuptable->tupdesc, 1, &isnull));
		ap_tenant_made_id(t, c);
	}
	SPI_freetuptable(SPI_tuptable);
}
