/*
 * match.c
 *	  The tenant's contacts and their match-key index, built once per
 *	  import call: one pass over the tenant's contacts, one over its
 *	  ActivePipe profiles, keys hashed in memory.  Matching a row then
 *	  costs a few hash probes, so the import grows linearly with rows plus
 *	  tenant contacts.
 *
 * Only the contacts of the importing user are ever read: both queries
 * filter on the tenant column (see queries.c).
 */
#include "activepipe.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "miscadmin.h"
#include "utils/memutils.h"

#include "import.h"
#include "normalize.h"

#define LOAD_BATCH 10000
#define ARENA_BLOCK (256 * 1024)

/*
 * Bump allocation for the many small strings of a tenant: no per-chunk
 * header, freed with the import's memory context.
 */
typedef struct Arena
{
	char	   *block;
	size_t		left;
} Arena;

static Arena arena;

void *
ap_tenant_alloc(ApTenant *t, size_t len)
{
	char	   *p;

	if (len > arena.left)
	{
		size_t		sz = Max(len, ARENA_BLOCK);

		arena.block = MemoryContextAlloc(t->cxt, sz);
		arena.left = sz;
	}
	p = arena.block;
	arena.block += MAXALIGN(len);
	arena.left = (MAXALIGN(len) > arena.left) ? 0 : arena.left - MAXALIGN(len);
	return p;
}

char *
ap_tenant_copy(ApTenant *t, const void *src, size_t len)
{
	char	   *p = ap_tenant_alloc(t, len);

	memcpy(p, src, len);
	return p;
}

static void
index_init(ApKeyIndex *ix, MemoryContext cxt, uint32 expected)
{
	uint32		size = 1024;

	while (size < expected * 2)
		size <<= 1;
	ix->slots = MemoryContextAllocZero(cxt, sizeof(ApKeyEntry) * size);
	ix->mask = size - 1;
	ix->used = 0;
}

static ApKeyEntry *
probe(ApKeyIndex *ix, const char *key, uint32 len, uint32 hash)
{
	uint32		i = hash & ix->mask;

	for (;;)
	{
		ApKeyEntry *e = &ix->slots[i];

		if (e->key == NULL ||
			(e->hash == hash && e->len == len && memcmp(e->key, key, len) == 0))
			return e;
		i = (i + 1) & ix->mask;
	}
}

static void
index_grow(ApKeyIndex *ix)
{
	ApKeyEntry *old = ix->slots;
	uint32		oldsize = ix->mask + 1;
	uint32		i;

	ix->slots = MemoryContextAllocZero(GetMemoryChunkContext(old),
									   sizeof(ApKeyEntry) * oldsize * 2);
	ix->mask = oldsize * 2 - 1;
	for (i = 0; i < oldsize; i++)
	{
		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		if (old[i].key)
			*probe(ix, old[i].key, old[i].len, old[i].hash) = old[i];
	}
	pfree(old);
}

ApKeyEntry *
ap_key_find(ApKeyIndex *ix, const char *key, size_t len)
{
	ApKeyEntry *e = probe(ix, key, len, hash_bytes((const unsigned char *) key, len));

	return e->key ? e : NULL;
}

/* Record that contact c (of id) holds key; the lowest id wins ties. */
static void
index_add(ApTenant *t, ApKeyIndex *ix, const char *key, uint32 len, int32 c)
{
	uint32		hash = hash_bytes((const unsigned char *) key, len);
	ApKeyEntry *e;

	if (ix->used * 10 >= (ix->mask + 1) * 7)
		index_grow(ix);
	e = probe(ix, key, len, hash);
	if (e->key == NULL)
	{
		e->key = ap_tenant_copy(t, key, len);
		e->len = len;
		e->hash = hash;
		e->contact = c;
		e->last_contact = c;
		e->count = 1;
		ix->used++;
		return;
	}
	if (e->last_contact == c)
		return;					/* same contact, phone and mobile alike */
	e->last_contact = c;
	e->count++;
	/* new contacts (id 0) come after every existing one */
	if (t->contacts[c].id != 0 &&
		(t->contacts[e->contact].id == 0 || t->contacts[c].id < t->contacts[e->contact].id))
		e->contact = c;
}

/*
 * Index the keys of contact c held in the identity fields of mask (bits
 * by field number): all of them for a contact just read or created, only
 * the ones a row filled in for a matched contact, so that a key is never
 * counted twice for the same contact.
 */
void
ap_tenant_index_keys(ApTenant *t, int32 c, uint16 mask,
					 const ap_phone_region *region)
{
	ApContact  *ct = &t->contacts[c];
	char		key[AP_PHONE_KEY_SIZE];
	size_t		n;
	int			f;

	if (ct->ident[AP_F_EMAIL] && (mask & (1 << AP_F_EMAIL)))
	{
		char	   *ek = palloc(ct->ilen[AP_F_EMAIL] + 1);

		n = ap_email_key(ct->ident[AP_F_EMAIL], ct->ilen[AP_F_EMAIL], ek,
						 ct->ilen[AP_F_EMAIL] + 1);
		if (n > 0)
			index_add(t, &t->email, ek, n, c);
		pfree(ek);
	}
	for (f = AP_F_PHONE; f <= AP_F_MOBILE; f++)
	{
		int			other = (f == AP_F_PHONE) ? AP_F_MOBILE : AP_F_PHONE;
		char		okey[AP_PHONE_KEY_SIZE];
		size_t		on;

		if (!ct->ident[f] || !(mask & (1 << f)) ||
			(n = ap_phone_key(ct->ident[f], ct->ilen[f], region, key)) == 0)
			continue;
		/* the same number already indexed through the other column */
		if (ct->ident[other] && !(mask & (1 << other)) &&
			(on = ap_phone_key(ct->ident[other], ct->ilen[other], region, okey)) == n &&
			memcmp(key, okey, n) == 0)
			continue;
		index_add(t, &t->phone, key, n, c);
	}
}

void
ap_tenant_index_contact(ApTenant *t, int32 c, const ap_phone_region *region)
{
	ap_tenant_index_keys(t, c, 0xFFFF, region);
}

int32
ap_tenant_new_contact(ApTenant *t)
{
	if (t->ncontacts >= t->capacity)
	{
		t->capacity *= 2;
		t->contacts = repalloc_huge(t->contacts, sizeof(ApContact) * t->capacity);
	}
	memset(&t->contacts[t->ncontacts], 0, sizeof(ApContact));
	return t->ncontacts++;
}

static int
cmp_contact(const void *a, const void *b)
{
	int64		x = ((const ApContact *) a)->id;
	int64		y = ((const ApContact *) b)->id;

	return (x > y) - (x < y);
}

/* Read one batch of AP_Q_TENANT_KEYS rows into new contacts. */
static void
load_contact_batch(ApTenant *t)
{
	TupleDesc	desc = SPI_tuptable->tupdesc;
	uint64		i;
	int			f;
	Datum		values[1 + AP_NIDENTITY];
	bool		nulls[1 + AP_NIDENTITY];

	if (desc->natts != 1 + AP_NIDENTITY)
		elog(ERROR, "activepipe: unexpected tenant row shape");
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		int32		c = ap_tenant_new_contact(t);
		ApContact  *ct = &t->contacts[c];

		CHECK_FOR_INTERRUPTS();
		heap_deform_tuple(tup, desc, values, nulls);	/* once, not per column */
		ct->id = DatumGetInt64(values[0]);
		for (f = 0; f < AP_NIDENTITY; f++)
		{
			Datum		d = values[1 + f];
			text	   *tx;
			const char *s;
			size_t		len;

			if (nulls[1 + f])
				continue;
			tx = DatumGetTextPP(d);
			s = VARDATA_ANY(tx);
			len = VARSIZE_ANY_EXHDR(tx);
			if (ap_is_blank(s, len))
				continue;
			ct->ident[f] = ap_tenant_copy(t, s, len);
			ct->ilen[f] = len;
		}
	}
}

static ApContact *
find_existing(ApTenant *t, int64 id)
{
	ApContact	key;

	key.id = id;
	return bsearch(&key, t->contacts, t->nexisting, sizeof(ApContact), cmp_contact);
}

static void
load_profile_batch(ApTenant *t)
{
	TupleDesc	desc = SPI_tuptable->tupdesc;
	uint64		i;

	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		bool		isnull;
		ApContact  *ct = find_existing(t, DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull)));
		Jsonb	   *jb;

		CHECK_FOR_INTERRUPTS();
		if (ct == NULL)
			continue;			/* a profile whose contact is gone */
		jb = DatumGetJsonbP(SPI_getbinval(tup, desc, 2, &isnull));
		ct->payload = (Jsonb *) ap_tenant_copy(t, jb, VARSIZE(jb));
	}
}

/* Run a tenant query through a cursor, a batch at a time. */
static void
scan_tenant(const ApBinding *b, ApQuery q, int64 user_id, ApTenant *t,
			void (*batch) (ApTenant *t))
{
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	Portal		portal;
	MemoryContext old;

	values[0] = Int64GetDatum(user_id);
	portal = ap_spi_cursor(b, q, 1, types, values, NULL);
	for (;;)
	{
		SPI_cursor_fetch(portal, true, LOAD_BATCH);
		if (SPI_processed == 0)
			break;
		old = MemoryContextSwitchTo(t->cxt);
		batch(t);
		MemoryContextSwitchTo(old);
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
}

void
ap_tenant_load(ApTenant *t, const ApBinding *b, int64 user_id,
			   const ap_phone_region *region)
{
	int32		c;
	MemoryContext old;

	arena.block = NULL;
	arena.left = 0;
	t->capacity = 1024;
	t->ncontacts = 0;
	t->contacts = MemoryContextAllocHuge(t->cxt, sizeof(ApContact) * t->capacity);
	scan_tenant(b, AP_Q_TENANT_KEYS, user_id, t, load_contact_batch);
	t->nexisting = t->ncontacts;
	qsort(t->contacts, t->nexisting, sizeof(ApContact), cmp_contact);
	scan_tenant(b, AP_Q_IMPORT_PROFILES, user_id, t, load_profile_batch);

	index_init(&t->email, t->cxt, t->nexisting);
	index_init(&t->phone, t->cxt, t->nexisting * 2);
	old = MemoryContextSwitchTo(t->cxt);
	for (c = 0; c < t->nexisting; c++)
	{
		CHECK_FOR_INTERRUPTS();
		ap_tenant_index_contact(t, c, region);
	}
	MemoryContextSwitchTo(old);
}
