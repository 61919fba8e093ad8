/*
 * import_write.c
 *	  The writes of an import commit, set-based and batched: new contacts
 *	  by one INSERT ... SELECT FROM unnest(...) per batch, changed identity
 *	  fields by one UPDATE ... FROM unnest(...) per batch, and profiles
 *	  (payload and last_imported_at) by one upsert per batch.  Contacts a
 *	  file left unchanged are not written at all.
 */
#include "activepipe.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "import.h"

#define WRITE_BATCH 1000

/* Which contacts a pass writes. */
typedef bool (*ApWants) (const ApContact *ct);

static bool
wants_insert(const ApContact *ct)
{
	return ct->is_new;
}

static bool
wants_update(const ApContact *ct)
{
	return !ct->is_new && ct->ident_dirty != 0;
}

/* Contacts whose profile may change; the statement has the last word. */
static bool
wants_profile(const ApContact *ct)
{
	return ct->is_new || ct->ident_dirty != 0 || ct->payload_dirty;
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

static void
write_inserts(ApTenant *t, int64 user_id, ApContact **batch, int n)
{
	const ApBinding *b = t->binding;

	Oid			types[1 + AP_NIDENTITY];
	Datum		values[1 + AP_NIDENTITY];
	uint64		i;
	int			f;

	types[0] = INT8OID;
	values[0] = Int64GetDatum(user_id);
	for (f = 0; f < AP_NIDENTITY; f++)
		types[1 + f] = TEXTARRAYOID;
	identity_arrays(batch, n, false, values + 1);
	if (ap_spi_run(b, AP_Q_IMPORT_INSERT, 1 + AP_NIDENTITY, types, values,
				   NULL, false) != (uint64) n)
		elog(ERROR, "activepipe: inserting new contacts returned a wrong count");
	for (i = 0; i < (uint64) n; i++)
	{
		bool		isnull;

		batch[i]->id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
												   SPI_tuptable->tupdesc, 1, &isnull));
	}
}

static void
write_updates(ApTenant *t, int64 user_id, ApContact **batch, int n)
{
	const ApBinding *b = t->binding;

	Oid			types[2 + AP_NIDENTITY];
	Datum		values[2 + AP_NIDENTITY];
	int			f;

	types[0] = INT8OID;
	types[1] = INT8ARRAYOID;
	values[0] = Int64GetDatum(user_id);
	values[1] = id_array(batch, n);
	for (f = 0; f < AP_NIDENTITY; f++)
		types[2 + f] = TEXTARRAYOID;
	identity_arrays(batch, n, true, values + 2);
	ap_spi_run(b, t->overwrite ? AP_Q_IMPORT_UPDATE : AP_Q_IMPORT_FILL,
			   2 + AP_NIDENTITY, types, values, NULL, false);
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
write_profiles(ApTenant *t, int64 user_id, ApContact **batch, int n)
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
		values[0] = Int64GetDatum(user_id);
		values[1] = id_array(batch, kept);
		values[2] = PointerGetDatum(make_array(d, NULL, kept, JSONBOID, -1, false, TYPALIGN_INT));
		ap_spi_run(t->binding, AP_Q_IMPORT_PROFILES_UPSERT, 3, types, values, NULL, false);
	}
	ap_tenant_drop_payloads(t);
}

/* Run writer over every contact that wants it, WRITE_BATCH at a time. */
static void
write_pass(ApTenant *t, int64 user_id, ApWants wants,
		   void (*writer) (ApTenant *, int64, ApContact **, int))
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
		if (c < t->ncontacts && wants(&t->contacts[c]))
			batch[n++] = &t->contacts[c];
		if (n == 0 || (n < WRITE_BATCH && c < t->ncontacts))
			continue;
		old = MemoryContextSwitchTo(cxt);
		writer(t, user_id, batch, n);
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

void
ap_import_write(ApTenant *t, int64 user_id)
{
	write_pass(t, user_id, wants_insert, write_inserts);
	write_pass(t, user_id, wants_update, write_updates);
	write_pass(t, user_id, wants_profile, write_profiles);
}
