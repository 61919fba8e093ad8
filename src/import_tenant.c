/*
 * import_tenant.c
 *	  The tenant's contacts as an import sees them, and their match-key
 *	  index: which contacts hold each normalised email and each canonical
 *	  phone number now.  Contacts arrive from a full read of the tenant
 *	  (ap_tenant_scan) or from the probes of import_probe.c; rows of the
 *	  file then create and change them in memory.
 *
 * Only the contacts of the importing user are ever read: every statement
 * filters on the tenant column (see queries.c).
 */
#include "activepipe.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/snapmgr.h"

#include "import.h"
#include "normalize.h"

#define SH_PREFIX apkeys
#define SH_ELEMENT_TYPE ApKeyEntry
#define SH_KEY_TYPE ApKeyStr
#define SH_KEY key
#define SH_HASH_KEY(tb, k) ap_key_hash((k).s, (k).len)
#define SH_EQUAL(tb, a, b) ((a).len == (b).len && memcmp((a).s, (b).s, (a).len) == 0)
#define SH_STORE_HASH
#define SH_GET_HASH(tb, a) ((a)->key.hash)
#define SH_SCOPE extern
#define SH_DEFINE
#include "lib/simplehash.h"

/* A contact id and where something about it is: an index, or a tid. */
typedef struct IdEntry
{
	int64		id;
	int32		contact;		/* apids: index into the tenant */
	ItemPointerData tid;		/* profmap: where its profile is */
	char		status;
} IdEntry;

#define ID_HASH(key) murmurhash32((uint32) ((uint64) (key) ^ ((uint64) (key) >> 32)))

#define SH_PREFIX apids
#define SH_ELEMENT_TYPE IdEntry
#define SH_KEY_TYPE int64
#define SH_KEY id
#define SH_HASH_KEY(tb, key) ID_HASH(key)
#define SH_EQUAL(tb, a, b) ((a) == (b))
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

/*
 * The file's keys, for a filtered scan: 64-bit hashes only, 16 bytes a slot.
 * Two keys with one hash keep a contact that could not match; the filter
 * only ever keeps too many, never too few.
 */
typedef struct FileKey
{
	uint64		hash;
	char		status;
} FileKey;

#define SH_PREFIX apfkeys
#define SH_ELEMENT_TYPE FileKey
#define SH_KEY_TYPE uint64
#define SH_KEY hash
#define SH_HASH_KEY(tb, key) ((uint32) (key))
#define SH_EQUAL(tb, a, b) ((a) == (b))
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

uint32
ap_key_hash(const char *key, size_t len)
{
	return hash_bytes((const unsigned char *) key, len);
}

void
ap_tenant_init(ApTenant *t, const ApBinding *b, int64 user_id,
			   const ap_phone_region *region, bool overwrite,
			   MemoryContext cxt)
{
	memset(t, 0, sizeof(*t));
	t->cxt = cxt;
	t->binding = b;
	t->user_id = user_id;
	t->region = region;
	t->overwrite = overwrite;
	t->capacity = 1024;
	t->contacts = MemoryContextAllocHuge(cxt, sizeof(ApContact) * t->capacity);
	t->email = apkeys_create(cxt, 1024, t);
	t->phone = apkeys_create(cxt, 1024, t);

	/* kept from one chunk to the next, like the chunk's own memory */
	t->paycxt = AllocSetContextCreate(cxt, "activepipe import payloads",
									  1024 * 1024, 1024 * 1024,
									  ALLOCSET_DEFAULT_MAXSIZE);

	/*
	 * Every read of the import runs in one snapshot, taken now: after the
	 * tenant lock, so it sees what the last import of the tenant wrote, and
	 * for the whole import, so the tids read now still name the rows the
	 * chunks read later.  ap_tenant_done pops it.
	 */
	CommandCounterIncrement();
	PushActiveSnapshot(GetTransactionSnapshot());
}

/*
 * The many small blocks that live as long as the import -- a contact's
 * identity fields, a key, pending edits, four or more per contact -- are
 * cut from 256 kB blocks with no header each: against a generation
 * context (24 bytes a chunk, and slack) this keeps a file of 50,000 new
 * contacts at 3.0x instead of 3.7x its size in peak memory
 * (test/scripts/memory.sh).  Nothing is given back before the import
 * ends: a block a row replaces stays (its size follows the row's).
 */
#define ARENA_BLOCK (256 * 1024)

void *
ap_tenant_alloc(ApTenant *t, size_t len)
{
	size_t		need = MAXALIGN(len);
	void	   *p;

	if (need > t->arena_left)
	{
		size_t		size = Max(need, ARENA_BLOCK);

		t->arena = MemoryContextAllocHuge(t->cxt, size);
		t->arena_left = size;
	}
	p = t->arena;
	t->arena += need;
	t->arena_left -= need;
	return p;
}

int32
ap_tenant_new_contact(ApTenant *t)
{
	if (t->ncontacts >= t->capacity)
	{
		/* by half: the array is a large part of a new-contacts file's memory */
		t->capacity += t->capacity / 2;
		t->contacts = repalloc_huge(t->contacts, sizeof(ApContact) * t->capacity);
	}
	memset(&t->contacts[t->ncontacts], 0, sizeof(ApContact));
	return t->ncontacts++;
}

/*
 * Pack val[f] (len[f] bytes; NULL: empty) into a new identity block for ct.
 * flags holds the AP_IDENT_BLANK and AP_IDENT_NULL bits.  The old block
 * stays valid (the caller re-keys from it).
 */
void
ap_contact_set_ident(ApTenant *t, ApContact *ct, const char *const *val,
					 const uint32 *len, uint32 flags)
{
	size_t		total = 0;
	size_t		hdr;
	bool		wide;
	char	   *block;
	char	   *data;
	int			f;

	for (f = 0; f < AP_NIDENTITY; f++)
		total += val[f] ? len[f] : 0;
	wide = total > PG_UINT16_MAX;
	hdr = sizeof(uint32) + (wide ? sizeof(uint32) : sizeof(uint16)) * AP_NIDENTITY;
	block = ap_tenant_alloc(t, hdr + total);
	*(uint32 *) block = flags | (wide ? AP_IDENT_WIDE : 0);
	data = block + hdr;
	total = 0;
	for (f = 0; f < AP_NIDENTITY; f++)
	{
		if (val[f])
		{
			memcpy(data + total, val[f], len[f]);
			total += len[f];
		}
		if (wide)
			((uint32 *) (block + sizeof(uint32)))[f] = (uint32) total;
		else
			((uint16 *) (block + sizeof(uint32)))[f] = (uint16) total;
	}
	/* the first block a row replaces is kept: an undo restores it */
	if (ct->ident != NULL && !ct->is_new && ct->orig_ident == NULL)
		ct->orig_ident = ct->ident;
	ct->ident = block;
}

/*
 * The match keys an identity block holds: its email key and its distinct
 * phone keys (a number in both phone and mobile is one key).  Keys are
 * written into ck's buffers.
 */
typedef struct ContactKeys
{
	ApKeyStr	email;
	ApKeyStr	phone[2];
	int			nphones;
	char		pbuf[2][AP_PHONE_KEY_SIZE];
	char		ebuf[256];
} ContactKeys;

/*
 * The match key of value s (len bytes) of key field f, in buf (at least
 * AP_PHONE_KEY_SIZE bytes, and len + 1 for an email); its length, 0 when
 * the value has none.
 */
static size_t
field_key(const ApTenant *t, int f, const char *s, size_t len, char *buf)
{
	if (f == AP_F_EMAIL)
		return ap_email_key(s, len, buf, len + 1);
	return ap_phone_key(s, len, t->region, buf);
}

static void
contact_keys(const ApTenant *t, const void *ident, ContactKeys *ck)
{
	const char *s;
	uint32		len;
	int			f;

	ck->email.len = 0;
	ck->nphones = 0;
	if ((s = ap_ident_block(ident, AP_F_EMAIL, &len)) != NULL)
	{
		char	   *buf = len < sizeof(ck->ebuf) ? ck->ebuf : palloc(len + 1);

		ck->email.s = buf;
		ck->email.len = (uint32) field_key(t, AP_F_EMAIL, s, len, buf);
	}
	for (f = AP_F_PHONE; f <= AP_F_MOBILE; f++)
	{
		char	   *k = ck->pbuf[ck->nphones];
		size_t		n;

		if ((s = ap_ident_block(ident, f, &len)) == NULL ||
			(n = field_key(t, f, s, len, k)) == 0)
			continue;
		if (ck->nphones == 1 && ck->phone[0].len == n &&
			memcmp(ck->phone[0].s, k, n) == 0)
			continue;
		ck->phone[ck->nphones].s = k;
		ck->phone[ck->nphones++].len = (uint32) n;
	}
}

static void
contact_keys_free(ContactKeys *ck)
{
	if (ck->email.len > 0 && ck->email.s != ck->ebuf)
		pfree((char *) ck->email.s);
}

/* Existing contacts before new ones; the lowest id, then the first made. */
static inline bool
precedes(const ApTenant *t, int32 a, int32 b)
{
	const ApContact *x = &t->contacts[a];
	const ApContact *y = &t->contacts[b];

	if (x->is_new != y->is_new)
		return !x->is_new;
	return x->is_new ? a < b : x->id < y->id;
}

StaticAssertDecl(SIZEOF_VOID_P != 8 || sizeof(ApKeyEntry) == 32,
				 "ApKeyEntry outgrew 32 bytes");

ApKeyEntry *
ap_key_find(apkeys_hash *ix, const char *key, uint32 len, uint32 hash)
{
	ApKeyStr	k = {key, len};
	ApKeyEntry *e = apkeys_lookup_hash(ix, k, hash);

	Assert(e == NULL || e->key.hash == hash);
	return e;
}

/* The entry of key, made (with no holder) when there is none. */
ApKeyEntry *
ap_key_entry(apkeys_hash *ix, const char *key, uint32 len, uint32 hash)
{
	ApKeyStr	k = {key, len};
	bool		found;
	ApKeyEntry *e = apkeys_insert_hash(ix, k, hash, &found);

	Assert(e->key.hash == hash);
	if (!found)
	{
		e->key.s = memcpy(ap_tenant_alloc((ApTenant *) ix->private_data, Max(len, 1)),
						  key, len);
		e->contact = -1;
		e->holders = NIL;
		e->probed = false;
	}
	return e;
}

static void
holder_add(ApTenant *t, ApKeyEntry *e, int32 c)
{
	MemoryContext old;

	if (e->contact < 0)
	{
		e->contact = c;
		return;
	}
	if (e->holders == NIL && e->contact == c)
		return;
	if (e->holders != NIL && list_member_int(e->holders, c))
		return;
	old = MemoryContextSwitchTo(t->cxt);
	if (e->holders == NIL)
		e->holders = list_make2_int(e->contact, c);
	else
		e->holders = lappend_int(e->holders, c);
	MemoryContextSwitchTo(old);
	if (precedes(t, c, e->contact))
		e->contact = c;
}

static void
holder_remove(ApTenant *t, ApKeyEntry *e, int32 c)
{
	ListCell   *lc;

	if (e->holders == NIL)
	{
		if (e->contact == c)
			e->contact = -1;
		return;
	}
	e->holders = list_delete_int(e->holders, c);
	if (list_length(e->holders) == 1)
	{
		e->contact = linitial_int(e->holders);
		list_free(e->holders);
		e->holders = NIL;
		return;
	}
	if (e->contact != c)
		return;
	e->contact = linitial_int(e->holders);
	foreach(lc, e->holders)
		if (precedes(t, lfirst_int(lc), e->contact))
			e->contact = lfirst_int(lc);
}

static void
key_hold(ApTenant *t, apkeys_hash *ix, const ApKeyStr *k, int32 c, bool add)
{
	uint32		hash = ap_key_hash(k->s, k->len);
	ApKeyEntry *e;

	if (add)
		holder_add(t, ap_key_entry(ix, k->s, k->len, hash), c);
	else if ((e = ap_key_find(ix, k->s, k->len, hash)) != NULL)
		holder_remove(t, e, c);
}

static bool
has_key(const ApKeyStr *keys, int n, const ApKeyStr *k)
{
	int			i;

	for (i = 0; i < n; i++)
		if (keys[i].len == k->len && memcmp(keys[i].s, k->s, k->len) == 0)
			return true;
	return false;
}

/*
 * Contact c's identity changed from old_ident (NULL: it just arrived) to
 * what it holds now: it stops holding the keys it lost and holds the keys
 * it gained, so later rows match it as they would if the rows before them
 * had been imported on their own.
 */
void
ap_tenant_rekey(ApTenant *t, int32 c, const void *old_ident)
{
	ContactKeys was,
				now;
	int			i;

	contact_keys(t, old_ident, &was);
	contact_keys(t, t->contacts[c].ident, &now);
	if (was.email.len > 0 && !has_key(&now.email, now.email.len > 0, &was.email))
		key_hold(t, t->email, &was.email, c, false);
	if (now.email.len > 0 && !has_key(&was.email, was.email.len > 0, &now.email))
		key_hold(t, t->email, &now.email, c, true);
	for (i = 0; i < was.nphones; i++)
		if (!has_key(now.phone, now.nphones, &was.phone[i]))
			key_hold(t, t->phone, &was.phone[i], c, false);
	for (i = 0; i < now.nphones; i++)
		if (!has_key(was.phone, was.nphones, &now.phone[i]))
			key_hold(t, t->phone, &now.phone[i], c, true);
	contact_keys_free(&was);
	contact_keys_free(&now);
}

/*
 * The tenant reads hand their rows straight from the executor: no
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

/* Run a tenant statement, handing each row to row(); $1 is the tenant. */
void
ap_tenant_stream(ApTenant *t, ApQuery q, int nargs, Oid *types, Datum *values,
				 void (*row) (ApTenant *t, TupleTableSlot *slot))
{
	TenantReceiver r;

	memset(&r, 0, sizeof(r));
	ap_dest_init(&r.pub, receive_row, NULL);
	r.t = t;
	r.row = row;
	ap_spi_stream(t->binding, q, nargs, types, values, (DestReceiver *) &r, true);
}

/* One AP_Q_IMPORT_PROFILE_TIDS row: where a contact's profile is. */
static void
tid_row(ApTenant *t, TupleTableSlot *slot)
{
	bool		found;
	IdEntry    *e;

	if (slot->tts_isnull[0] || slot->tts_isnull[1])
		return;
	e = apids_insert(t->profiles, DatumGetInt64(slot->tts_values[0]), &found);
	ItemPointerCopy((ItemPointer) DatumGetPointer(slot->tts_values[1]), &e->tid);
}

/*
 * A contact row (id, the identity fields as text, the profile's ctid; a
 * probe's row has its profile after those, natts columns in all) becomes a
 * contact holding its keys.  Returns its index; a contact already read
 * (probes overlap) is left as the rows have made it.
 */
static int32
add_row(ApTenant *t, TupleTableSlot *slot, int natts)
{
	int64		id = DatumGetInt64(slot->tts_values[0]);
	const char *val[AP_NIDENTITY];
	uint32		len[AP_NIDENTITY];
	struct varlena *plain[AP_NIDENTITY];
	uint32		flags = 0;
	ApContact  *ct;
	int32		c;
	int			f;

	if (slot->tts_tupleDescriptor->natts != natts)
		elog(ERROR, "activepipe: unexpected contact row shape");
	if (t->by_id)
	{
		bool		found;
		IdEntry    *e = apids_insert(t->by_id, id, &found);

		if (found)
			return e->contact;
		e->contact = t->ncontacts;
	}
	c = ap_tenant_new_contact(t);
	ct = &t->contacts[c];
	ct->id = id;
	if (!slot->tts_isnull[1 + AP_NIDENTITY])
		ItemPointerCopy((ItemPointer) DatumGetPointer(slot->tts_values[1 + AP_NIDENTITY]),
						&ct->profile);
	else if (t->profiles != NULL)
	{
		IdEntry    *e = apids_lookup(t->profiles, id);

		if (e != NULL)
			ItemPointerCopy(&e->tid, &ct->profile);
	}
	for (f = 0; f < AP_NIDENTITY; f++)
	{
		struct varlena *v = (struct varlena *) DatumGetPointer(slot->tts_values[1 + f]);

		plain[f] = NULL;
		val[f] = NULL;
		len[f] = 0;
		if (slot->tts_isnull[1 + f])
		{
			flags |= AP_IDENT_BLANK(f) | AP_IDENT_NULL(f);
			continue;
		}
		plain[f] = pg_detoast_datum_packed(v);
		val[f] = VARDATA_ANY(plain[f]);
		len[f] = VARSIZE_ANY_EXHDR(plain[f]);
		if (ap_is_blank(val[f], len[f]))
			flags |= AP_IDENT_BLANK(f);
		if (plain[f] == v)
			plain[f] = NULL;
	}
	ap_contact_set_ident(t, ct, val, len, flags);
	for (f = 0; f < AP_NIDENTITY; f++)
		if (plain[f])
			pfree(plain[f]);
	ap_tenant_rekey(t, c, NULL);
	return c;
}

void
ap_tenant_file_keys_start(ApTenant *t)
{
	MemoryContext cxt = AllocSetContextCreate(t->cxt, "activepipe file keys",
											  ALLOCSET_DEFAULT_SIZES);

	t->filekeys = apfkeys_create(cxt, 256, NULL);
}

/* The 64-bit hash of the match key of value s of field f; false: none. */
static bool
file_key_hash(const ApTenant *t, int f, const char *s, size_t len, uint64 *hash)
{
	char		small[Max(AP_PHONE_KEY_SIZE, 256)];
	char	   *buf = len < sizeof(small) ? small : palloc(len + 1);
	size_t		n = field_key(t, f, s, len, buf);

	if (n > 0)
		*hash = hash_bytes_extended((const unsigned char *) buf, n, 0);
	if (buf != small)
		pfree(buf);
	return n > 0;
}

/*
 * Note a key of the file's field f (value s, trimmed) in t->filekeys;
 * returns how many distinct keys it holds.
 */
uint32
ap_tenant_file_key(ApTenant *t, int f, const char *s, size_t len)
{
	uint64		hash;
	bool		found;

	if (file_key_hash(t, f, s, len, &hash))
		(void) apfkeys_insert(t->filekeys, hash, &found);
	return t->filekeys->members;
}

uint32
ap_tenant_file_key_count(const ApTenant *t)
{
	return t->filekeys ? t->filekeys->members : 0;
}

/* The file's keys served their scan, or were too many for one. */
void
ap_tenant_file_keys_drop(ApTenant *t)
{
	if (t->filekeys)
		MemoryContextDelete(t->filekeys->ctx);
	t->filekeys = NULL;
}

/* Whether a contact row holds one of the file's keys. */
static bool
holds_file_key(ApTenant *t, TupleTableSlot *slot)
{
	int			k;

	for (k = 0; k < 3; k++)
	{
		int			f = ap_match_fields[k];
		text	   *v;
		uint64		hash;
		bool		hit;

		if (slot->tts_isnull[1 + f])
			continue;
		v = DatumGetTextPP(slot->tts_values[1 + f]);
		hit = file_key_hash(t, f, VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v), &hash) &&
			apfkeys_lookup(t->filekeys, hash) != NULL;
		if ((Pointer) v != DatumGetPointer(slot->tts_values[1 + f]))
			pfree(v);			/* detoasted: a contact left out keeps nothing */
		if (hit)
			return true;
	}
	return false;
}

/*
 * A contact of the scan.  When the file is small, only the contacts that
 * hold one of its keys are kept: no other can match a row, since a key a
 * row gives a contact is one of the row's own.
 */
static void
contact_row(ApTenant *t, TupleTableSlot *slot)
{
	if (t->filekeys != NULL && !holds_file_key(t, slot))
		return;
	add_row(t, slot, AP_CONTACT_KEYS_NATTS);
}

/*
 * Read the whole tenant: every contact with its keys.  Where profiles are
 * is read first (a hash by contact id, smaller than a join's copy of every
 * contact row), unless an identity field lives in the payload, when the
 * contacts come joined with their profiles.
 */
void
ap_tenant_scan(ApTenant *t)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(t->user_id)};

	/* a file with no key matches no contact */
	if (t->filekeys == NULL || t->filekeys->members > 0)
	{
		if (!ap_binding_has_payload_ident(t->binding))
		{
			t->profiles = apids_create(t->cxt, 4096, NULL);
			ap_tenant_stream(t, AP_Q_IMPORT_PROFILE_TIDS, 1, types, values, tid_row);
		}
		ap_tenant_stream(t, AP_Q_TENANT_KEYS, 1, types, values, contact_row);
	}
	if (t->profiles)
	{
		apids_destroy(t->profiles);
		t->profiles = NULL;
	}
	ap_tenant_file_keys_drop(t);
}

static int
cmp_wanted(const void *a, const void *b)
{
	return ItemPointerCompare((ItemPointer) &((const ApWanted *) a)->tid,
							  (ItemPointer) &((const ApWanted *) b)->tid);
}

/*
 * Keep the payload of slot column p (0-based) for the contact of w, the
 * profile's timestamps (columns p + 1 and p + 2) and its tid (column tid).
 */
static void
keep_payload(ApTenant *t, ApWanted *w, TupleTableSlot *slot, int tid, int p)
{
	ApContact  *ct = &t->contacts[w->contact];
	Jsonb	   *jb = DatumGetJsonbP(slot->tts_values[p]);

	w->imported_null = slot->tts_isnull[p + 1];
	w->imported_at = w->imported_null ? 0 : DatumGetTimestampTz(slot->tts_values[p + 1]);
	w->updated_null = slot->tts_isnull[p + 2];
	w->updated_at = w->updated_null ? 0 : DatumGetTimestampTz(slot->tts_values[p + 2]);

	ct->payload = ap_varlena_copy(t->paycxt, jb);
	if ((Pointer) jb != DatumGetPointer(slot->tts_values[p]))
		pfree(jb);
	ItemPointerCopy((ItemPointer) DatumGetPointer(slot->tts_values[tid]), &ct->profile);
	w->found = true;
}

/* One AP_Q_IMPORT_PROFILES row: ctid, contact_id, payload at a tid asked for. */
static void
profile_row(ApTenant *t, TupleTableSlot *slot)
{
	ApWanted   *w;

	if (slot->tts_isnull[0] || slot->tts_isnull[1] || slot->tts_isnull[2])
		return;
	w = bsearch(DatumGetPointer(slot->tts_values[0]), t->wanted + t->reading,
				t->nwanted - t->reading, sizeof(ApWanted), cmp_wanted);
	/* a tid that now holds another row is not the profile asked for */
	if (w != NULL && w->id == DatumGetInt64(slot->tts_values[1]))
		keep_payload(t, w, slot, 0, 2);
}

static int
cmp_wanted_id(const void *a, const void *b)
{
	int64		x = ((const ApWanted *) a)->id;
	int64		y = ((const ApWanted *) b)->id;

	return (x > y) - (x < y);
}

static int
cmp_wanted_contact(const void *a, const void *b)
{
	int32		x = ((const ApWanted *) a)->contact;
	int32		y = ((const ApWanted *) b)->contact;

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
	w = bsearch(&key, t->wanted + t->reading, t->nwanted - t->reading,
				sizeof(ApWanted), cmp_wanted_id);
	if (w != NULL)
		keep_payload(t, w, slot, 0, 2);
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
	ApWanted   *seg = t->wanted + t->reading;
	int			nseg = t->nwanted - t->reading;
	int64	   *ids = palloc(sizeof(int64) * nseg);
	int			n = 0;
	int			i;

	qsort(seg, nseg, sizeof(ApWanted), cmp_wanted_id);
	for (i = 0; i < nseg; i++)
		if (!seg[i].found)
			ids[n++] = seg[i].id;
	if (n == 0)
		return;
	values[0] = Int64GetDatum(t->user_id);
	values[1] = PointerGetDatum(ap_ids_array(ids, n));
	ap_tenant_stream(t, AP_Q_IMPORT_PROFILES_BY_ID, 2, types, values, profile_id_row);
	pfree(ids);
}

/* Make room for n more resident profiles. */
static void
wanted_reserve(ApTenant *t, int n)
{
	int32		cap = t->wanted_cap;

	if (t->nwanted + n <= cap)
		return;
	while (cap < t->nwanted + n)
		cap = Max(cap * 2, 1024);
	t->wanted = t->wanted ? repalloc(t->wanted, sizeof(ApWanted) * cap) :
		MemoryContextAlloc(t->cxt, sizeof(ApWanted) * cap);
	t->wanted_cap = cap;
}

/*
 * A probe's row (AP_PROBE_NATTS columns): the contact, and when it is read
 * for the first time, its profile as the probe's join found it, resident
 * as ap_tenant_payloads would have made it.  A contact read before is
 * left to ap_tenant_payloads: the rows may have changed it, and a commit
 * its profile.  Each contact added has the highest index yet, so wanted
 * stays sorted by contact.
 */
void
ap_tenant_add_probed(ApTenant *t, TupleTableSlot *slot)
{
	int32		first = t->ncontacts;
	int32		c = add_row(t, slot, AP_PROBE_NATTS);
	ApContact  *ct = &t->contacts[c];
	ApWanted   *w;

	if (c < first || slot->tts_isnull[AP_CONTACT_KEYS_NATTS] || ct->resident)
		return;
	wanted_reserve(t, 1);
	w = &t->wanted[t->nwanted++];
	w->contact = c;
	w->id = ct->id;
	w->tid = ct->profile;
	ct->resident = true;
	keep_payload(t, w, slot, AP_CONTACT_KEYS_NATTS - 1, AP_CONTACT_KEYS_NATTS);
}

/*
 * Read the payloads of contacts c[0..n) that have a profile not read yet,
 * by tid, in one statement.  They stay, with the profile's timestamps as
 * read (ap_tenant_profile_read), until ap_tenant_drop_payloads.
 */
void
ap_tenant_payloads(ApTenant *t, const int32 *c, int n)
{
	Oid			types[2] = {INT8OID, TIDARRAYOID};
	Datum		values[2];
	Datum	   *tids;
	ApWanted   *seg;
	int			nseg;
	int			i;

	wanted_reserve(t, n);
	t->reading = t->nwanted;
	for (i = 0; i < n; i++)
	{
		ApContact  *ct = &t->contacts[c[i]];
		ApWanted   *w = &t->wanted[t->nwanted];

		if (!ItemPointerIsValid(&ct->profile) || ct->resident)
			continue;
		ct->resident = true;
		w->tid = ct->profile;
		w->id = ct->id;
		w->found = false;
		w->contact = c[i];
		t->nwanted++;
	}
	seg = t->wanted + t->reading;
	nseg = t->nwanted - t->reading;
	if (nseg == 0)
		return;
	/* sorted, the rows the statement returns find their contact quickly */
	qsort(seg, nseg, sizeof(ApWanted), cmp_wanted);
	tids = palloc(sizeof(Datum) * nseg);
	for (i = 0; i < nseg; i++)
		tids[i] = PointerGetDatum(&seg[i].tid);
	values[0] = Int64GetDatum(t->user_id);
	values[1] = PointerGetDatum(construct_array(tids, nseg, TIDOID,
												sizeof(ItemPointerData), false,
												TYPALIGN_SHORT));
	ap_tenant_stream(t, AP_Q_IMPORT_PROFILES, 2, types, values, profile_row);
	pfree(tids);
	payloads_by_id(t);
	qsort(t->wanted, t->nwanted, sizeof(ApWanted), cmp_wanted_contact);
}

/*
 * The profile of contact c as read since the payloads were last dropped,
 * or NULL when none was read.
 */
const ApWanted *
ap_tenant_profile_read(const ApTenant *t, int32 c)
{
	ApWanted	key;
	const ApWanted *w;

	key.contact = c;
	w = bsearch(&key, t->wanted, t->nwanted, sizeof(ApWanted), cmp_wanted_contact);
	return w && w->found ? w : NULL;
}

/* Forget the payloads read so far (the import keeps its pending edits). */
void
ap_tenant_drop_payloads(ApTenant *t)
{
	int			i;

	for (i = 0; i < t->nwanted; i++)
	{
		ApContact  *ct = &t->contacts[t->wanted[i].contact];

		ct->resident = false;
		ct->payload = NULL;
	}
	t->nwanted = 0;
	MemoryContextReset(t->paycxt);
}

/* Probes find contacts more than once: keep those read by id. */
void
ap_tenant_track_ids(ApTenant *t)
{
	t->by_id = apids_create(t->cxt, 1024, NULL);
}

/*
 * Contact c, made by the import, has its id now.  Once written, a later
 * probe finds it in the database (the import's snapshot sees its own
 * writes): it must find it as c, not read it as a contact of its own.
 * A probe asks for it through a key it gained after the chunk that made it
 * probed its keys: a phone key the row that matched it by email filled in.
 */
void
ap_tenant_made_id(ApTenant *t, int32 c)
{
	bool		found;

	if (t->by_id != NULL)
		apids_insert(t->by_id, t->contacts[c].id, &found)->contact = c;
}

/* The import has read all it reads: drop its snapshot. */
void
ap_tenant_done(ApTenant *t)
{
	ap_tenant_drop_payloads(t);
	PopActiveSnapshot();
}
