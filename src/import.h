/*
 * import.h
 *	  Internal structures of the CSV import: the tenant's contacts and their
 *	  match-key index (match.c), per-row merging (merge.c), the batched
 *	  writes of a commit (import_write.c) and the driver (import.c).
 */
#ifndef ACTIVEPIPE_IMPORT_H
#define ACTIVEPIPE_IMPORT_H

#include "activepipe.h"

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
 * A contact as the import sees it: as read from the database, then as the
 * rows of the file change it.  Strings live in the import's memory.
 */
typedef struct ApContact
{
	int64		id;				/* 0 until a new contact is inserted */
	const char *ident[AP_NIDENTITY];	/* NULL when blank */
	uint32		ilen[AP_NIDENTITY];
	Jsonb	   *payload;		/* as read; NULL when the contact has no profile */
	struct ApPending *pending;	/* integration edits not yet applied */
	uint16		ident_dirty;	/* bit per identity field changed */
	bool		payload_dirty;
	bool		is_new;
} ApContact;

/* Open-addressing hash from a key string to the contacts holding it. */
typedef struct ApKeyEntry
{
	uint32		hash;
	uint32		len;
	const char *key;			/* NULL: empty slot */
	int32		contact;		/* index of the lowest-id contact */
	int32		last_contact;	/* index of the last contact added */
	int32		count;			/* distinct contacts holding the key */
} ApKeyEntry;

typedef struct ApKeyIndex
{
	ApKeyEntry *slots;
	uint32		mask;
	uint32		used;
} ApKeyIndex;

/* The tenant: contacts (existing, then new) and the email/phone indexes. */
typedef struct ApTenant
{
	ApContact  *contacts;
	int32		ncontacts;
	int32		capacity;
	int32		nexisting;		/* contacts[0..nexisting) are sorted by id */
	ApKeyIndex	email;
	ApKeyIndex	phone;			/* phone and mobile columns together */
	MemoryContext cxt;
	const ApBinding *binding;
	bool		overwrite;		/* identity writes replace, not fill blanks */
} ApTenant;

extern void ap_tenant_load(ApTenant *t, const ApBinding *b, int64 user_id,
						   const ap_phone_region *region);
extern int32 ap_tenant_new_contact(ApTenant *t);
extern char *ap_tenant_copy(ApTenant *t, const void *src, size_t len);
extern void *ap_tenant_alloc(ApTenant *t, size_t len);

/* Pending integration edits of a contact (pending.c). */
typedef struct ApPending ApPending;
extern void ap_pending_edits(const ApPending *p, ApFieldEdit *out);
extern ApPending *ap_pending_merge(ApTenant *t, const ApPending *old,
								   const ApFieldEdit *edits);
extern void ap_tenant_index_contact(ApTenant *t, int32 c,
									const ap_phone_region *region);
extern void ap_tenant_index_keys(ApTenant *t, int32 c, uint16 mask,
								 const ap_phone_region *region);
extern ApKeyEntry *ap_key_find(ApKeyIndex *ix, const char *key, size_t len);

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
							 StringInfo reason);

extern void ap_import_write(ApTenant *t, int64 user_id);

#endif							/* ACTIVEPIPE_IMPORT_H */
