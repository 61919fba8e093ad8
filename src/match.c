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

#include "access/xact.h"
#include "executor/tuptable.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "import.h"
#include "normalize.h"

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
	size_t		need = MAXALIGN(len);
	char	   *p;

	if (need > arena.left)
	{
		size_t		sz = Max(need, ARENA_BLOCK);

		arena.block = MemoryContextAllocHuge(t->cxt, sz);
		arena.left = sz;
	}
	p = arena.block;
	arena.block += need;
	arena.left -= need;
	return p;
}

/* Give back the end of the last allocation, of which used bytes are kept. */
void
ap_tenant_trim(ApTenant *t, void *p, size_t size, size_t used)
{
	if ((char *) p + MAXALIGN(size) == arena.block)
	{
		arena.block = (char *) p + MAXALIGN(used);
		arena.left += MAXALIGN(size) - MAXALIGN(used);
	}
}

char *
ap_tenant_copy(ApTenant *t, const void *src, size_t len)
{
	char	   *p = ap_tenant_alloc(t, len);

	memcpy(p, src, len);
	return p;
}

/*
 * Sized for the keys the tenant holds at 60% full, growing past 75%: as
 * small as open addressing stays fast, since probing a large tenant's
 * index is mostly cache and TLB misses.  Slots are picked by multiplying
 * the hash, so the size need not be a power of two.
 */
static void
index_init(ApKeyIndex *ix, MemoryContext cxt, uint32 keys)
{
	ix->size = Max(1024, (uint32) (keys / 0.6) + 1);
	ix->slots = MemoryContextAllocExtended(cxt, sizeof(ApKeyEntry) * ix->size,
										   MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	ix->used = 0;
}

/* The home slot of hash: scaled, not masked, so any size will do. */
static inline uint32
home_slot(const ApKeyIndex *ix, uint32 hash)
{
	return (uint32) (((uint64) hash * ix->size) >> 32);
}

static ApKeyEntry *
probe(ApKeyIndex *ix, const char *key, uint32 len, uint32 hash)
{
	uint32		i = home_slot(ix, hash);

	for (;;)
	{
		ApKeyEntry *e = &ix->slots[i];

		if (e->rec == NULL ||
			(e->hash == hash && e->rec->len == len &&
			 memcmp(e->rec->key, key, len) == 0))
			return e;
		if (++i == ix->size)
			i = 0;
	}
}

static void
index_grow(ApKeyIndex *ix)
{
	ApKeyEntry *old = ix->slots;
	uint32		oldsize = ix->size;
	uint32		i;

	ix->size = oldsize * 2;
	ix->slots = MemoryContextAllocExtended(GetMemoryChunkContext(old),
										   sizeof(ApKeyEntry) * ix->size,
										   MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	for (i = 0; i < oldsize; i++)
	{
		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		if (old[i].rec)
			*probe(ix, old[i].rec->key, old[i].rec->len, old[i].hash) = old[i];
	}
	pfree(old);
}

uint32
ap_key_hash(const char *key, size_t len)
{
	return hash_bytes((const unsigned char *) key, len);
}

ApKeyEntry *
ap_key_find(ApKeyIndex *ix, const char *key, size_t len, uint32 hash)
{
	ApKeyEntry *e = probe(ix, key, len, hash);

	return e->rec ? e : NULL;
}

/* Record that contact c (of id) holds key; the lowest id wins ties. */
static void
index_add(ApTenant *t, ApKeyIndex *ix, const char *key, uint32 len,
		  uint32 hash, int32 c)
{
	ApKeyEntry *e;
	ApKeyRec   *r;

	if ((uint64) ix->used * 4 >= (uint64) ix->size * 3)
		index_grow(ix);
	t->touched[AP_TOUCHED_WORD(hash)] |= AP_TOUCHED_BIT(hash);
	e = probe(ix, key, len, hash);
	if (e->rec == NULL)
	{
		r = ap_tenant_alloc(t, offsetof(ApKeyRec, key) + len);
		r->count = 1;
		r->last_contact = c;
		r->len = len;
		memcpy(r->key, key, len);
		e->rec = r;
		e->hash = hash;
		e->contact = c;
		ix->used++;
		return;
	}
	r = e->rec;
	if (r->last_contact == c)
		return;					/* same contact, phone and mobile alike */
	r->last_contact = c;
	r->count++;
	/* new contacts (id 0) come after every existing one */
	if (t->contacts[c].id != 0 &&
		(t->contacts[e->contact].id == 0 || t->contacts[c].id < t->contacts[e->contact].id))
		e->contact = c;
}

/*
 * Keys waiting to enter the index.  Inserting into a large index is
 * mostly cache and TLB misses; a batch computes every key and its hash
 * first, prefetches the slots, then inserts, so the misses overlap.
 */
#define KEY_BATCH 96

typedef struct KeyBatch
{
	int			n;
	struct
	{
		ApKeyIndex *ix;
		int32		contact;
		uint32		hash;
		uint32		len;
		uint32		off;
	}			job[KEY_BATCH];
	StringInfoData keys;
} KeyBatch;

static void
batch_flush(ApTenant *t, KeyBatch *kb)
{
	int			i;

	for (i = 0; i < kb->n; i++)
	{
		ApKeyIndex *ix = kb->job[i].ix;

		__builtin_prefetch(&ix->slots[home_slot(ix, kb->job[i].hash)]);
	}
	for (i = 0; i < kb->n; i++)
		index_add(t, kb->job[i].ix, kb->keys.data + kb->job[i].off,
				  kb->job[i].len, kb->job[i].hash, kb->job[i].contact);
	kb->n = 0;
	resetStringInfo(&kb->keys);
}

static void
batch_add(ApTenant *t, KeyBatch *kb, ApKeyIndex *ix, const char *key,
		  uint32 len, int32 c)
{
	if (kb->n == KEY_BATCH)
		batch_flush(t, kb);
	kb->job[kb->n].ix = ix;
	kb->job[kb->n].contact = c;
	kb->job[kb->n].hash = ap_key_hash(key, len);
	kb->job[kb->n].len = len;
	kb->job[kb->n].off = kb->keys.len;
	appendBinaryStringInfo(&kb->keys, key, len);
	kb->n++;
}

/*
 * Queue the keys of contact c held in the identity fields of mask (bits
 * by field number): all of them for a contact just read or created, only
 * the ones a row filled in for a matched contact, so that a key is never
 * counted twice for the same contact.
 */
static void
collect_keys(ApTenant *t, KeyBatch *kb, int32 c, uint16 mask,
			 const ap_phone_region *region)
{
	ApContact  *ct = &t->contacts[c];
	char		key[AP_PHONE_KEY_SIZE];
	char		ebuf[256];
	const char *s;
	uint32		len;
	size_t		n;
	int			f;

	if ((mask & (1 << AP_F_EMAIL)) && (s = ap_ident(ct, AP_F_EMAIL, &len)) != NULL)
	{
		char	   *ek = len < sizeof(ebuf) ? ebuf : palloc(len + 1);

		n = ap_email_key(s, len, ek, len + 1);
		if (n > 0)
			batch_add(t, kb, &t->email, ek, n, c);
		if (ek != ebuf)
			pfree(ek);
	}
	for (f = AP_F_PHONE; f <= AP_F_MOBILE; f++)
	{
		int			other = (f == AP_F_PHONE) ? AP_F_MOBILE : AP_F_PHONE;
		char		okey[AP_PHONE_KEY_SIZE];
		const char *o;
		uint32		olen;
		size_t		on;

		if (!(mask & (1 << f)) || (s = ap_ident(ct, f, &len)) == NULL ||
			(n = ap_phone_key(s, len, region, key)) == 0)
			continue;
		/* the same number already indexed through the other column */
		if (!(mask & (1 << other)) && (o = ap_ident(ct, other, &olen)) != NULL &&
			(on = ap_phone_key(o, olen, region, okey)) == n &&
			memcmp(key, okey, n) == 0)
			continue;
		batch_add(t, kb, &t->phone, key, n, c);
	}
}

void
ap_tenant_index_keys(ApTenant *t, int32 c, uint16 mask,
					 const ap_phone_region *region)
{
	KeyBatch	kb;

	kb.n = 0;
	initStringInfo(&kb.keys);
	collect_keys(t, &kb, c, mask, region);
	batch_flush(t, &kb);
	pfree(kb.keys.data);
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

void
ap_contact_set_ident(ApTenant *t, ApContact *ct, const char *const *val,
					 const uint32 *len)
{
	size_t		total = 0;
	size_t		hdr;
	char	   *block;
	char	   *data;
	int			f;

	for (f = 0; f < AP_NIDENTITY; f++)
		total += val[f] ? len[f] : 0;
	if (total == 0)
	{
		ct->ident = NULL;
		return;
	}
	ct->ident_wide = total > PG_UINT16_MAX;
	hdr = (ct->ident_wide ? sizeof(uint32) : sizeof(uint16)) * AP_NIDENTITY;
	block = ap_tenant_alloc(t, hdr + total);
	data = block + hdr;
	total = 0;
	for (f = 0; f < AP_NIDENTITY; f++)
	{
		if (val[f])
		{
			memcpy(data + total, val[f], len[f]);
			total += len[f];
		}
		if (ct->ident_wide)
			((uint32 *) block)[f] = (uint32) total;
		else
			((uint16 *) block)[f] = (uint16) total;
	}
	ct->ident = block;
}

/*
 * The tenant scans hand their rows straight from the executor: no
 * tuptable, one copy of what is kept.
 */
typedef struct TenantReceiver
{
	DestReceiver pub;
	ApTenant   *t;
	void		(*row) (ApTenant *t, TupleTableSlot *slot);
} TenantReceiver;

static bool
receive_row(TupleTableSlot *slot, DestReceiver *self)
{
	TenantReceiver *r = (TenantReceiver *) self;
	MemoryContext old = MemoryContextSwitchTo(r->t->cxt);

	CHECK_FOR_INTERRUPTS();
	slot_getallattrs(slot);
	r->row(r->t, slot);
	MemoryContextSwitchTo(old);
	return true;
}

static void
receive_startup(DestReceiver *self, int operation, TupleDesc desc)
{
}

static void
receive_nothing(DestReceiver *self)
{
}

/*
 * Where each profile of the tenant is, by contact id: read before the
 * contacts, looked up as each contact arrives (a hash join, without the
 * executor's copy of every contact row).
 */
typedef struct ProfileEntry
{
	int64		contact;
	ItemPointerData tid;
	char		status;			/* simplehash's */
} ProfileEntry;

#define SH_PREFIX profmap
#define SH_ELEMENT_TYPE ProfileEntry
#define SH_KEY_TYPE int64
#define SH_KEY contact
#define SH_HASH_KEY(tb, key) murmurhash32((uint32) ((uint64) (key) ^ ((uint64) (key) >> 32)))
#define SH_EQUAL(tb, a, b) ((a) == (b))
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

/* One AP_Q_IMPORT_PROFILE_TIDS row: where a contact's profile is. */
static void
tid_row(ApTenant *t, TupleTableSlot *slot)
{
	bool		found;
	ProfileEntry *e;

	if (slot->tts_isnull[0] || slot->tts_isnull[1])
		return;
	e = profmap_insert(t->profiles, DatumGetInt64(slot->tts_values[0]), &found);
	ItemPointerCopy((ItemPointer) DatumGetPointer(slot->tts_values[1]), &e->tid);
}

/* Text of a datum without a copy when it is plain; NULL when blank. */
static const char *
datum_text(Datum d, uint32 *len, void **to_free)
{
	struct varlena *v = (struct varlena *) DatumGetPointer(d);
	struct varlena *plain = pg_detoast_datum_packed(v);
	const char *s = VARDATA_ANY(plain);
	size_t		n = VARSIZE_ANY_EXHDR(plain);

	*to_free = (plain != v) ? plain : NULL;
	if (ap_is_blank(s, n))
		return NULL;
	*len = (uint32) n;
	return s;
}

/* One AP_Q_TENANT_KEYS row: a new contact. */
static void
contact_row(ApTenant *t, TupleTableSlot *slot)
{
	int32		c = ap_tenant_new_contact(t);
	ApContact  *ct = &t->contacts[c];
	const char *val[AP_NIDENTITY];
	uint32		len[AP_NIDENTITY];
	void	   *to_free[AP_NIDENTITY];
	ProfileEntry *e;
	int			f;

	if (slot->tts_tupleDescriptor->natts != 1 + AP_NIDENTITY)
		elog(ERROR, "activepipe: unexpected tenant row shape");
	ct->id = DatumGetInt64(slot->tts_values[0]);
	if ((e = profmap_lookup(t->profiles, ct->id)) != NULL)
		ItemPointerCopy(&e->tid, &ct->profile);
	for (f = 0; f < AP_NIDENTITY; f++)
	{
		to_free[f] = NULL;
		val[f] = slot->tts_isnull[1 + f] ? NULL :
			datum_text(slot->tts_values[1 + f], &len[f], &to_free[f]);
	}
	ap_contact_set_ident(t, ct, val, len);
	for (f = 0; f < AP_NIDENTITY; f++)
		if (to_free[f])
			pfree(to_free[f]);
	/* the most keys each index will hold, to size it */
	t->nkeys[0] += val[AP_F_EMAIL] != NULL;
	t->nkeys[1] += (val[AP_F_PHONE] != NULL) + (val[AP_F_MOBILE] != NULL);
}

static int
cmp_wanted(const void *a, const void *b)
{
	return ItemPointerCompare((ItemPointer) &((const ApWanted *) a)->tid,
							  (ItemPointer) &((const ApWanted *) b)->tid);
}

/* Keep the payload of slot column 3 for the contact of w. */
static void
keep_payload(ApTenant *t, ApWanted *w, TupleTableSlot *slot)
{
	ApContact  *ct = &t->contacts[w->contact];
	Jsonb	   *jb = DatumGetJsonbP(slot->tts_values[2]);

	ct->payload = MemoryContextAlloc(t->paycxt, VARSIZE(jb));
	memcpy(ct->payload, jb, VARSIZE(jb));
	if ((Pointer) jb != DatumGetPointer(slot->tts_values[2]))
		pfree(jb);
	ItemPointerCopy((ItemPointer) DatumGetPointer(slot->tts_values[0]), &ct->profile);
	w->found = true;
}

/* One AP_Q_IMPORT_PROFILES row: ctid, contact_id, payload at a tid asked for. */
static void
profile_row(ApTenant *t, TupleTableSlot *slot)
{
	ApWanted   *w;

	if (slot->tts_isnull[0] || slot->tts_isnull[1] || slot->tts_isnull[2])
		return;
	w = bsearch(DatumGetPointer(slot->tts_values[0]), t->wanted, t->nwanted,
				sizeof(ApWanted), cmp_wanted);
	/* a tid that now holds another row is not the profile asked for */
	if (w != NULL && w->id == DatumGetInt64(slot->tts_values[1]))
		keep_payload(t, w, slot);
}

static int
cmp_wanted_id(const void *a, const void *b)
{
	int64		x = ((const ApWanted *) a)->id;
	int64		y = ((const ApWanted *) b)->id;

	return (x > y) - (x < y);
}

/* One AP_Q_IMPORT_PROFILES_BY_ID row: the same, found by contact id. */
static void
profile_id_row(ApTenant *t, TupleTableSlot *slot)
{
	ApWanted	key;
	ApWanted   *w;

	if (slot->tts_isnull[0] || slot->tts_isnull[1] || slot->tts_isnull[2])
		return;
	key.id = DatumGetInt64(slot->tts_values[1]);
	w = bsearch(&key, t->wanted, t->nwanted, sizeof(ApWanted), cmp_wanted_id);
	if (w != NULL)
		keep_payload(t, w, slot);
}


/* Run a tenant query, handing each row to row(); $1 is the tenant. */
static void
scan_tenant(ApTenant *t, ApQuery q, int nargs, Oid *types, Datum *values,
			void (*row) (ApTenant *t, TupleTableSlot *slot))
{
	TenantReceiver r;

	memset(&r, 0, sizeof(r));
	r.pub.receiveSlot = receive_row;
	r.pub.rStartup = receive_startup;
	r.pub.rShutdown = receive_nothing;
	r.pub.rDestroy = receive_nothing;
	r.pub.mydest = DestNone;	/* anything but DestSPI: no tuptable */
	r.t = t;
	r.row = row;
	ap_spi_stream(t->binding, q, nargs, types, values, (DestReceiver *) &r);
}

/*
 * The profiles a tid did not find, by contact id.  In the import's one
 * snapshot a tid read at the start still finds its row; this is for a read
 * that runs in another (a shard's, under Citus), where the row may have
 * moved since: its payload must not be taken for none.
 */
static void
payloads_by_id(ApTenant *t)
{
	Oid			types[2] = {INT8OID, INT8ARRAYOID};
	Datum		values[2];
	Datum	   *ids;
	int			n = 0;
	int			i;

	for (i = 0; i < t->nwanted; i++)
		if (!t->wanted[i].found)
			t->wanted[n++] = t->wanted[i];
	t->nwanted = n;
	if (n == 0)
		return;
	qsort(t->wanted, n, sizeof(ApWanted), cmp_wanted_id);
	ids = palloc(sizeof(Datum) * n);
	for (i = 0; i < n; i++)
		ids[i] = Int64GetDatum(t->wanted[i].id);
	values[0] = Int64GetDatum(t->user_id);
	values[1] = PointerGetDatum(construct_array(ids, n, INT8OID, 8,
												FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	scan_tenant(t, AP_Q_IMPORT_PROFILES_BY_ID, 2, types, values, profile_id_row);
	pfree(ids);
}

/*
 * Read the payloads of contacts c[0..n) that have a profile not read yet,
 * by tid, in one statement.  They stay until ap_tenant_drop_payloads.
 */
void
ap_tenant_payloads(ApTenant *t, const int32 *c, int n)
{
	Oid			types[2] = {INT8OID, TIDARRAYOID};
	Datum		values[2];
	Datum	   *tids;
	int			i;

	t->nwanted = 0;
	for (i = 0; i < n; i++)
	{
		ApContact  *ct = &t->contacts[c[i]];

		if (!ItemPointerIsValid(&ct->profile) || ct->resident)
			continue;
		ct->resident = true;
		if (t->nresident == t->resident_cap)
		{
			t->resident_cap = Max(t->resident_cap * 2, 1024);
			t->resident = t->resident ?
				repalloc(t->resident, sizeof(int32) * t->resident_cap) :
				MemoryContextAlloc(t->cxt, sizeof(int32) * t->resident_cap);
			t->wanted = t->wanted ?
				repalloc(t->wanted, sizeof(ApWanted) * t->resident_cap) :
				MemoryContextAlloc(t->cxt, sizeof(ApWanted) * t->resident_cap);
		}
		t->resident[t->nresident++] = c[i];
		t->wanted[t->nwanted].tid = ct->profile;
		t->wanted[t->nwanted].id = ct->id;
		t->wanted[t->nwanted].found = false;
		t->wanted[t->nwanted++].contact = c[i];
	}
	if (t->nwanted == 0)
		return;
	/* sorted, the rows the statement returns find their contact quickly */
	qsort(t->wanted, t->nwanted, sizeof(ApWanted), cmp_wanted);
	tids = palloc(sizeof(Datum) * t->nwanted);
	for (i = 0; i < t->nwanted; i++)
		tids[i] = PointerGetDatum(&t->wanted[i].tid);
	values[0] = Int64GetDatum(t->user_id);
	values[1] = PointerGetDatum(construct_array(tids, t->nwanted, TIDOID,
												sizeof(ItemPointerData), false,
												TYPALIGN_SHORT));
	scan_tenant(t, AP_Q_IMPORT_PROFILES, 2, types, values, profile_row);
	pfree(tids);
	payloads_by_id(t);
}

/* Forget the payloads read so far (the import keeps its pending edits). */
void
ap_tenant_drop_payloads(ApTenant *t)
{
	int			i;

	for (i = 0; i < t->nresident; i++)
	{
		ApContact  *ct = &t->contacts[t->resident[i]];

		ct->resident = false;
		ct->payload = NULL;
	}
	t->nresident = 0;
	MemoryContextReset(t->paycxt);
}

void
ap_tenant_load(ApTenant *t, const ApBinding *b, int64 user_id,
			   const ap_phone_region *region)
{
	Oid			types[1];
	Datum		values[1];
	KeyBatch   *kb;
	int32		c;
	MemoryContext old;

	arena.block = NULL;
	arena.left = 0;
	t->capacity = 16384;
	t->ncontacts = 0;
	t->contacts = MemoryContextAllocHuge(t->cxt, sizeof(ApContact) * t->capacity);
	t->binding = b;
	t->user_id = user_id;
	/* kept from one chunk to the next, like the chunk's own memory */
	t->paycxt = AllocSetContextCreate(t->cxt, "activepipe import payloads",
									  1024 * 1024, 1024 * 1024,
									  ALLOCSET_DEFAULT_MAXSIZE);
	types[0] = INT8OID;
	values[0] = Int64GetDatum(user_id);

	/*
	 * Every read of the import runs in one snapshot, taken now: after the
	 * tenant lock, so it sees what the last import of the tenant wrote, and
	 * for the whole import, so the tids read here still name the rows the
	 * chunks read later.  ap_tenant_done pops it.
	 */
	CommandCounterIncrement();
	PushActiveSnapshot(GetTransactionSnapshot());
	t->profiles = profmap_create(CurrentMemoryContext, 4096, NULL);
	scan_tenant(t, AP_Q_IMPORT_PROFILE_TIDS, 1, types, values, tid_row);
	scan_tenant(t, AP_Q_TENANT_KEYS, 1, types, values, contact_row);
	t->nexisting = t->ncontacts;
	profmap_destroy(t->profiles);
	t->profiles = NULL;

	index_init(&t->email, t->cxt, t->nkeys[0]);
	index_init(&t->phone, t->cxt, t->nkeys[1]);
	old = MemoryContextSwitchTo(t->cxt);
	kb = palloc(sizeof(KeyBatch));
	kb->n = 0;
	initStringInfo(&kb->keys);
	for (c = 0; c < t->nexisting; c++)
	{
		if ((c & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
		collect_keys(t, kb, c, 0xFFFF, region);
	}
	batch_flush(t, kb);
	pfree(kb->keys.data);
	pfree(kb);
	MemoryContextSwitchTo(old);
}

/* The import has read all it reads: drop its snapshot. */
void
ap_tenant_done(ApTenant *t)
{
	ap_tenant_drop_payloads(t);
	PopActiveSnapshot();
}
