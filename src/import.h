/*
 * import.h
 *	  Internal structures of the CSV import: the tenant's contacts and their
 *	  match-key index (match.c), per-row merging (merge.c), the batched
 *	  writes of a commit (import_write.c) and the driver (import.c).
 */
#ifndef ACTIVEPIPE_IMPORT_H
#define ACTIVEPIPE_IMPORT_H

#include "activepipe.h"

#include "storage/itemptr.h"

typedef enum ApMatchKey
{
	AP_MATCH_NONE = 0,
	AP_MATCH_EMAIL,
	AP_MATCH_MOBILE,
	AP_MATCH_PHONE
} ApMatchKey;

/* "email", "mobile", "phone" by ApMatchKey; NULL for AP_MATCH_NONE */
extern const char *const ap_match_names[];

typedef enum ApAction
{
	AP_ACT_NEW = 0,
	AP_ACT_UPDATE,
	AP_ACT_UNCHANGED,
	AP_ACT_CONFLICT,
	AP_ACT_SKIP
} ApAction;

/*
 * A contact's identity fields are packed into one block: where each field
 * ends, then the bytes; an empty field is blank.  The ends are uint16, or
 * uint32 in the rare contact whose fields pass 64kB (ident_wide).  One
 * small block per contact instead of ten strings and ten lengths keeps a
 * large tenant small.
 */
/*
 * A contact as the import sees it: as read from the database, then as the
 * rows of the file change it.  Everything lives in the import's memory.
 */
typedef struct ApContact
{
	int64		id;				/* 0 until a new contact is inserted */
	void	   *ident;			/* packed fields; NULL while all are blank */
	Jsonb	   *payload;		/* while resident: as read, NULL when none */
	ItemPointerData profile;	/* where the profile is; invalid when none */
	struct ApPending *pending;	/* integration edits not yet applied */
	uint16		ident_dirty;	/* bit per identity field changed */
	bool		ident_wide;		/* ident has uint32 ends */
	bool		payload_dirty;
	bool		is_new;
	bool		resident;		/* payload read for the current chunk */
} ApContact;

/* Field f of a contact, or NULL when blank. */
static inline const char *
ap_ident(const ApContact *ct, int f, uint32 *len)
{
	uint32		start;
	const char *data;

	if (ct->ident == NULL)
		return NULL;
	if (likely(!ct->ident_wide))
	{
		const uint16 *end = (const uint16 *) ct->ident;

		start = f > 0 ? end[f - 1] : 0;
		*len = end[f] - start;
		data = (const char *) (end + AP_NIDENTITY);
	}
	else
	{
		const uint32 *end = (const uint32 *) ct->ident;

		start = f > 0 ? end[f - 1] : 0;
		*len = end[f] - start;
		data = (const char *) (end + AP_NIDENTITY);
	}
	return *len > 0 ? data + start : NULL;
}

/*
 * A key of the index: the normalised key and who holds it.  Slots stay
 * 16 bytes, so a large tenant's index is small and probes touch little.
 */
typedef struct ApKeyRec
{
	int32		count;			/* distinct contacts holding the key */
	int32		last_contact;	/* index of the last contact added */
	uint32		len;
	char		key[FLEXIBLE_ARRAY_MEMBER];
} ApKeyRec;

/* Open-addressing hash from a key string to the contacts holding it. */
typedef struct ApKeyEntry
{
	uint32		hash;
	int32		contact;		/* index of the lowest-id contact */
	ApKeyRec   *rec;			/* NULL: empty slot */
} ApKeyEntry;

typedef struct ApKeyIndex
{
	ApKeyEntry *slots;
	uint32		size;
	uint32		used;
} ApKeyIndex;

/* A profile a chunk reads, and whose it is. */
typedef struct ApWanted
{
	ItemPointerData tid;
	bool		found;			/* its row was read */
	int32		contact;
	int64		id;				/* the contact's */
} ApWanted;

/* The touched bits: one per key hash, modulo 65536 (index_add sets them). */
#define AP_TOUCHED_WORDS 1024
#define AP_TOUCHED_WORD(hash) (((hash) >> 6) & (AP_TOUCHED_WORDS - 1))
#define AP_TOUCHED_BIT(hash) (UINT64CONST(1) << ((hash) & 63))

/* The tenant: contacts (existing, then new) and the email/phone indexes. */
typedef struct ApTenant
{
	ApContact  *contacts;
	int32		ncontacts;
	int32		capacity;
	int32		nexisting;		/* contacts[0..nexisting) were read */
	ApKeyIndex	email;
	ApKeyIndex	phone;			/* phone and mobile columns together */
	uint32		nkeys[2];		/* email, phone values read: index sizes */
	struct profmap_hash *profiles;	/* while loading: profile tids by contact */
	MemoryContext cxt;
	MemoryContext paycxt;		/* the resident payloads */
	int32	   *resident;		/* contacts whose payloads are read */
	int32		nresident;
	int32		resident_cap;
	ApWanted   *wanted;			/* the profiles being read, by tid */
	int32		nwanted;
	int64		user_id;
	uint64		touched[AP_TOUCHED_WORDS];	/* key hashes whose entry changed */
	const ApBinding *binding;
	bool		overwrite;		/* identity writes replace, not fill blanks */
} ApTenant;

extern void ap_tenant_load(ApTenant *t, const ApBinding *b, int64 user_id,
						   const ap_phone_region *region);
extern int32 ap_tenant_new_contact(ApTenant *t);
extern void ap_tenant_payloads(ApTenant *t, const int32 *c, int n);
extern void ap_tenant_drop_payloads(ApTenant *t);
extern void ap_tenant_done(ApTenant *t);
extern char *ap_tenant_copy(ApTenant *t, const void *src, size_t len);
extern void *ap_tenant_alloc(ApTenant *t, size_t len);
extern void ap_tenant_trim(ApTenant *t, void *p, size_t size, size_t used);

/* Pending integration edits of a contact (pending.c). */
typedef struct ApPending ApPending;
extern void ap_pending_edits(const ApPending *p, ApFieldEdit *out);
extern ApPending *ap_pending_merge(ApTenant *t, const ApPending *old,
								   const ApFieldEdit *edits);
extern void ap_tenant_index_contact(ApTenant *t, int32 c,
									const ap_phone_region *region);
extern void ap_tenant_index_keys(ApTenant *t, int32 c, uint16 mask,
								 const ap_phone_region *region);
extern ApKeyEntry *ap_key_find(ApKeyIndex *ix, const char *key, size_t len,
							   uint32 hash);
extern uint32 ap_key_hash(const char *key, size_t len);

/* Whether an entry of hash changed since the bits were last cleared. */
static inline bool
ap_key_touched(const ApTenant *t, uint32 hash)
{
	return (t->touched[AP_TOUCHED_WORD(hash)] & AP_TOUCHED_BIT(hash)) != 0;
}
extern void ap_contact_set_ident(ApTenant *t, ApContact *ct,
								 const char *const *val, const uint32 *len);

/* The file's values of one row, trimmed; present[f] when its column exists. */
typedef struct ApRowValues
{
	bool		present[AP_NFIELDS];
	const char *val[AP_NFIELDS];	/* NULL when blank or absent */
	uint32		len[AP_NFIELDS];
} ApRowValues;

/* Outcome of one row. */
typedef struct ApRowResult
{
	int32		line;
	uint8		action;			/* ApAction */
	uint8		matched_by;		/* ApMatchKey */
	int32		contact;		/* index into the tenant, -1 none */
	char	   *reason;			/* NULL when none */
} ApRowResult;

extern ApAction ap_merge_row(ApTenant *t, int32 c, const ApRowValues *rv,
							 ApMatchKey matched_by, int32 ambiguous,
							 bool overwrite, bool created,
							 const ap_phone_region *region,
							 StringInfo reason, uint16 *ident_changed);

extern void ap_import_write(ApTenant *t, int64 user_id);

/*
 * Raw upload bytes to text in the database encoding (upload.c); names the
 * encoding found.  Bytes that do not decode are an ERROR.
 */
extern char *ap_decode_upload(bytea *raw, size_t *outlen, const char **encoding);

#endif							/* ACTIVEPIPE_IMPORT_H */
