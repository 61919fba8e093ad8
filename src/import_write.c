/*
 * import_write.c
 *	  The writes of an import commit, set-based and batched: new contacts
 *	  by one INSERT ... SELECT FROM unnest(...) per batch, with ids drawn
 *	  beforehand (ap_assign_ids); changed identity fields by one UPDATE
 *	  ... FROM unnest(...) per batch; profiles (payload, last_imported_at)
 *	  by one upsert per batch.  Contacts a file left unchanged are not
 *	  written at all.
 *
 * Every write checks what it touched: a contact deleted since the import
 * read it is marked deleted (its rows are reported as skipped), never
 * written again and never given a new profile.
 */
#include "activepipe.h"

#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "import.h"
#include "import_history.h"

#define WRITE_BATCH 1000

/*
 * What the import calls blank, for the fill-blanks re-check in SQL: the
 * characters ap_trim (src/lib/normalize.c) trims, no-break space included
 * where the database encoding is UTF-8 (ap_trim knows it by its UTF-8
 * bytes).  test/import_blank.sql holds the two to the same answers.
 */
#define AP_BLANK_ASCII " \t\r\n\v\f"
#define AP_BLANK_NBSP "\xC2\xA0"

static Datum
blank_chars(void)
{
	return CStringGetTextDatum(GetDatabaseEncoding() == PG_UTF8 ?
							   AP_BLANK_ASCII AP_BLANK_NBSP : AP_BLANK_ASCII);
}

/* Which contacts a pass writes. */
typedef bool (*ApWants) (const ApTenant *t, const ApContact *ct);

static bool
wants_insert(const ApTenant *t, const ApContact *ct)
{
	return ct->is_new;
}

static bool
wants_update(const ApTenant *t, const ApContact *ct)
{
	return !ct->is_new && (ct->ident_dirty & t->binding->bound) != 0;
}

/* Contacts whose profile may change; the payload decides. */
static bool
wants_profile(const ApTenant *t, const ApContact *ct)
{
	return !ct->deleted && (ct->is_new || ct->ident_dirty != 0 || ct->payload_dirty);
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

/*
 * Mark deleted the contacts of batch whose ids the statement did not
 * return (SPI_tuptable: one int8 column).  Returns how many.
 */
static int
mark_missing(ApTenant *t, ApContact **batch, int n)
{
	int64	   *got = palloc(sizeof(int64) * Max(SPI_processed, 1));
	uint64		i;
	int			j;
	int			missing = 0;

	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;

		got[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
											 SPI_tuptable->tupdesc, 1, &isnull));
	}
	qsort(got, SPI_processed, sizeof(int64), ap_cmp_int64);
	for (j = 0; j < n; j++)
	{
		if (bsearch(&batch[j]->id, got, SPI_processed, sizeof(int64), ap_cmp_int64))
			continue;
		batch[j]->deleted = true;
		t->ndeleted++;
		missing++;
	}
	pfree(got);
	return missing;
}

static void
write_inserts(ApTenant *t, ApContact **batch, int n, ApHistory *h)
{
	Oid			types[2 + AP_NIDENTITY];
	Datum		values[2 + AP_NIDENTITY];

	identity_params(t, batch, n, false, types, values);
	if (ap_spi_run(t->binding, AP_Q_IMPORT_INSERT, 2 + AP_NIDENTITY, types,
				   values, NULL, false) != (uint64) n)
		elog(ERROR, "activepipe: inserting new contacts returned a wrong count");
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
	mark_missing(t, batch, n);
}

/*
 * The payload to store for ct, built from the payload read again now and
 * the pending edits; NULL when there is nothing to write.  Rows that
 * repeat a contact with contradicting values can end where the database
 * already is: such a payload is not written, unless the contact itself is
 * (new, or identity changed: it is stamped).
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
	if (p == NULL && !ct->is_new && ct->ident_dirty == 0)
		return NULL;
	return p ? p : ct->payload ? ct->payload : empty;
}

static void
write_profiles(ApTenant *t, ApContact **batch, int n, ApHistory *h)
{
	Oid			types[3] = {INT8OID, INT8ARRAYOID, JSONBARRAYOID};
	Datum		values[3];
	Datum	   *d = palloc(sizeof(Datum) * n);
	int32	   *idx = palloc(sizeof(int32) * n);
	Jsonb	   *empty = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")));
	int			i,
				kept = 0;

	/* the payloads were dropped with their chunks: read this batch's again */
	for (i = 0; i < n; i++)
		idx[i] = batch[i] - t->contacts;
	ap_tenant_payloads(t, idx, n);
	for (i = 0; i < n; i++)
	{
		Jsonb	   *p = profile_payload(batch[i], empty);

		CHECK_FOR_INTERRUPTS();
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
		mark_missing(t, batch, kept);
	}
	/* what an undo needs, of the contacts written */
	for (i = 0; h && i < kept; i++)
		if (!batch[i]->deleted)
			ap_history_contact(h, t, batch[i], DatumGetJsonbP(d[i]));
	if (h)
		ap_history_contacts_flush(h);
	ap_tenant_drop_payloads(t);
}

/* Run writer over every contact that wants it, WRITE_BATCH at a time. */
static void
write_pass(ApTenant *t, ApWants wants, ApHistory *h,
		   void (*writer) (ApTenant *, ApContact **, int, ApHistory *))
{
	ApContact **batch = palloc(sizeof(ApContact *) * WRITE_BATCH);
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext,
											  "activepipe import write",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old;
	int			n = 0;
	int32		c;

	for (c = 0; c <= t->ncontacts; c++)
	{
		CHECK_FOR_INTERRUPTS();
		if (c < t->ncontacts && wants(t, &t->contacts[c]))
			batch[n++] = &t->contacts[c];
		if (n == 0 || (n < WRITE_BATCH && c < t->ncontacts))
			continue;
		old = MemoryContextSwitchTo(cxt);
		writer(t, batch, n, h);
		MemoryContextSwitchTo(old);
		MemoryContextReset(cxt);
		/* a batch with nothing to write ran no statement */
		SPI_freetuptable(SPI_tuptable);
		SPI_tuptable = NULL;
		n = 0;
	}
	MemoryContextDelete(cxt);
	pfree(batch);
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
	uint64		i = 0;

	for (c = from; c < t->ncontacts; c++)
		n += t->contacts[c].is_new && t->contacts[c].id == 0;
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
	ap_spi_run(t->binding, AP_Q_CONTACT_IDS, 2, types, values, NULL, false);
	for (c = from; c < t->ncontacts; c++)
	{
		bool		isnull;

		if (!t->contacts[c].is_new || t->contacts[c].id != 0)
			continue;
		t->contacts[c].id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i++],
														SPI_tuptable->tupdesc, 1, &isnull));
	}
	SPI_freetuptable(SPI_tuptable);
	SPI_tuptable = NULL;
}

void
ap_import_write(ApTenant *t, ApHistory *h)
{
	write_pass(t, wants_insert, h, write_inserts);
	write_pass(t, wants_update, h, write_updates);
	write_pass(t, wants_profile, h, write_profiles);
}
