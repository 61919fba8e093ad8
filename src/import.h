/*
 * import.h
 *	  The CSV import subsystem's one interface.  Its files:
 *
 *	  import.c			entry points (preview, plan, commit) and the driver:
 *						parse, chunk, match, merge, report
 *	  import_tenant.c	the tenant's contacts as the import sees them, the
 *						match-key index, the full read of a tenant ("scan")
 *						and the reads of payloads
 *	  import_probe.c	how candidates are found: scan, or "probe" through
 *						the match indexes for the keys of each chunk
 *	  import_merge.c	what one row does to its contact: the merge policy,
 *						conflicts, payload edits
 *	  import_pending.c	integration edits decided but not yet written
 *	  import_outcome.c	what each row did: reasons, the bounded summary, the
 *						plan's rows, value-level changes and conflicts
 *	  import_write.c	the batched writes of a commit
 *	  import_history.c	the kept report of a commit (import_rows,
 *						import_contacts)
 *	  import_upload.c	raw upload bytes to text
 */
#ifndef ACTIVEPIPE_IMPORT_H
#define ACTIVEPIPE_IMPORT_H

#include "activepipe.h"

#include "executor/tuptable.h"
#include "nodes/execnodes.h"
#include "nodes/pg_list.h"
#include "storage/itemptr.h"

#include "csv_reader.h"

/*
 * Rows are matched, merged and written this many at a time at most
 * (import.c; fewer when long rows fill its byte limit): a chunk's rows
 * dirty one contact each at most, so a commit writes a chunk's contacts in
 * one statement of each kind (import_write.c).
 */
#define AP_CHUNK_ROWS 1024

typedef enum ApMatchKey
{
	AP_MATCH_NONE = 0,
	AP_MATCH_EMAIL,
	AP_MATCH_MOBILE,
	AP_MATCH_PHONE
} ApMatchKey;

/* "email", "mobile", "phone" by ApMatchKey; NULL for AP_MATCH_NONE */
extern const char *const ap_match_names[];
/* the identity field each match key reads, by ApMatchKey - 1 */
extern const int ap_match_fields[3];

typedef enum ApAction
{
	AP_ACT_NEW = 0,
	AP_ACT_UPDATE,
	AP_ACT_UNCHANGED,
	AP_ACT_CONFLICT,
	AP_ACT_SKIP
} ApAction;

#define AP_NACTIONS 5
extern const char *const ap_action_names[];

/*
 * A contact's identity fields, packed into one block: a header word (a bit
 * per field that is blank, a bit per field that is SQL NULL, and whether
 * the ends are wide), where each field ends (uint16, or uint32 once the
 * fields pass 64 kB), then the bytes.  A blank field keeps its bytes, so
 * an undo can put back exactly what was there, but reads as NULL.
 */
#define AP_IDENT_WIDE 0x8000
#define AP_IDENT_BLANK(f) (((uint32) 1) << (f))
#define AP_IDENT_NULL(f) (((uint32) 1) << (16 + (f)))
#define AP_IDENT_ALL_NULL (((((uint32) 1) << AP_NIDENTITY) - 1) * (1 + (((uint32) 1) << 16)))

/* The blank and NULL bits of a block (NULL block: every field NULL). */
static inline uint32
ap_ident_flags(const void *block)
{
	return block ? *(const uint32 *) block & ~(uint32) AP_IDENT_WIDE : AP_IDENT_ALL_NULL;
}

static inline bool
ap_ident_is_null(const void *block, int f)
{
	return (ap_ident_flags(block) & AP_IDENT_NULL(f)) != 0;
}

static inline const char *
ap_ident_raw(const void *block, int f, uint32 *len)
{
	uint32		hdr;
	uint32		start;
	const char *data;

	if (block == NULL)
	{
		*len = 0;
		return NULL;
	}
	hdr = *(const uint32 *) block;
	if (likely(!(hdr & AP_IDENT_WIDE)))
	{
		const uint16 *end = (const uint16 *) ((const char *) block + sizeof(uint32));

		start = f > 0 ? end[f - 1] : 0;
		*len = end[f] - start;
		data = (const char *) (end + AP_NIDENTITY);
	}
	else
	{
		const uint32 *end = (const uint32 *) ((const char *) block + sizeof(uint32));

		start = f > 0 ? end[f - 1] : 0;
		*len = end[f] - start;
		data = (const char *) (end + AP_NIDENTITY);
	}
	return *len > 0 ? data + start : NULL;
}

/* Field f of an identity block as the import compares it: NULL when blank. */
static inline const char *
ap_ident_block(const void *block, int f, uint32 *len)
{
	if (ap_ident_flags(block) & AP_IDENT_BLANK(f))
	{
		*len = 0;
		return NULL;
	}
	return ap_ident_raw(block, f, len);
}

/*
 * A contact as the import sees it: as read from the database, then as the
 * rows of the file change it.  Everything lives in the import's memory.
 */
typedef struct ApContact
{
	int64		id;				/* assigned when created by a commit */
	void	   *ident;			/* identity fields now */
	void	   *orig_ident;		/* as read, kept once a row changed them */
	Jsonb	   *payload;		/* while resident: as read, NULL when none */
	struct ApPending *pending;	/* integration edits not yet applied */
	ItemPointerData profile;	/* where the profile is; invalid when none */
	uint16		ident_dirty;	/* identity fields the import changed */
	bool		payload_dirty;
	bool		is_new;			/* made by this import */
	bool		inserted;		/* ... and written already (a commit) */
	bool		in_dirty;		/* listed in ApTenant.dirty */
	bool		resident;		/* payload read for the current chunk */
	bool		deleted;		/* its row vanished before the commit wrote */
} ApContact;

static inline const char *
ap_ident(const ApContact *ct, int f, uint32 *len)
{
	return ap_ident_block(ct->ident, f, len);
}

/*
 * The match-key index: a key (normalised email, or canonical phone) and
 * the contacts that hold it now.  A match finds "contact": the lowest id
 * among contacts read, then the first created.  When a row changes a key,
 * the contact leaves the old key's holders and joins the new one's.
 */
typedef struct ApKeyStr
{
	const char *s;
	uint32		len;
	uint32		hash;			/* in an index entry: of s, kept, so growing
								 * does not rehash; not compared */
} ApKeyStr;

/*
 * 32 bytes on 64-bit builds, the hash in the key's padding (40 without):
 * about 3 MB less of a 100k preview's peak memory (make bench: 79.6 MB
 * before, 75.9 to 77.2 MB after).  Only simplehash sets an entry's key,
 * hash included; ap_key_find and ap_key_entry check it in assert builds.
 */
typedef struct ApKeyEntry
{
	ApKeyStr	key;
	List	   *holders;		/* all holders (ints) when more than one */
	int32		contact;		/* -1: nobody holds it now */
	bool		probed;			/* its holders in the database were read */
	char		status;			/* simplehash's */
} ApKeyEntry;

#define SH_PREFIX apkeys
#define SH_ELEMENT_TYPE ApKeyEntry
#define SH_KEY_TYPE ApKeyStr
#define SH_SCOPE extern
#define SH_DECLARE
#include "lib/simplehash.h"

static inline int32
ap_key_count(const ApKeyEntry *e)
{
	return e->holders ? list_length(e->holders) : (e->contact >= 0 ? 1 : 0);
}

/* A profile a chunk reads, whose it is, and its timestamps as read. */
typedef struct ApWanted
{
	ItemPointerData tid;
	bool		found;			/* its row was read */
	bool		imported_null;
	bool		updated_null;
	int32		contact;
	int64		id;				/* the contact's */
	TimestampTz imported_at;	/* last_imported_at */
	TimestampTz updated_at;
} ApWanted;

typedef enum ApStrategy
{
	AP_STRATEGY_AUTO = 0,
	AP_STRATEGY_SCAN,
	AP_STRATEGY_PROBE
} ApStrategy;

/* The setting activepipe.match_strategy (activepipe.c) */
extern int	ap_match_strategy;

/* The tenant: contacts (read, then new) and the email and phone indexes. */
typedef struct ApTenant
{
	ApContact  *contacts;
	int32		ncontacts;
	int32		capacity;
	apkeys_hash *email;
	apkeys_hash *phone;			/* phone and mobile columns together */
	struct apfkeys_hash *filekeys;	/* scan of a file with few keys: their hashes */
	struct apids_hash *by_id;	/* probe: contacts read, by id */
	struct apids_hash *profiles;	/* scan: profile tids, by contact id */
	MemoryContext cxt;			/* lives for the import */
	char	   *arena;			/* see ap_tenant_alloc */
	size_t		arena_left;
	MemoryContext pendcxt;		/* commit: pending edits, until written */
	MemoryContext paycxt;		/* the resident payloads */
	ApWanted   *wanted;			/* the profiles read, by contact */
	int32		nwanted;
	int32		wanted_cap;
	int32		reading;		/* wanted[reading..] are being read */
	int32	   *dirty;			/* contacts changed since the last write */
	int32		ndirty;
	int32		dirty_cap;
	int64		user_id;
	const ApBinding *binding;
	const ap_phone_region *region;
	ApStrategy	strategy;		/* SCAN or PROBE, decided per call */
	double		estimate;		/* the tenant's contacts per the statistics; -1: unknown */
	int32		ndeleted;		/* contacts found deleted when written */
	bool		overwrite;		/* identity writes replace, not fill blanks */
} ApTenant;

/* import_tenant.c */
extern void ap_tenant_init(ApTenant *t, const ApBinding *b, int64 user_id,
						   const ap_phone_region *region, bool overwrite,
						   MemoryContext cxt);
extern void ap_tenant_scan(ApTenant *t);
extern void ap_tenant_add_probed(ApTenant *t, TupleTableSlot *slot);
extern void ap_tenant_made_id(ApTenant *t, int32 c);
extern void ap_tenant_track_ids(ApTenant *t);
extern int32 ap_tenant_new_contact(ApTenant *t);
extern void *ap_tenant_alloc(ApTenant *t, size_t len);
extern void ap_tenant_payloads(ApTenant *t, const int32 *c, int n);
extern const ApWanted *ap_tenant_profile_read(const ApTenant *t, int32 c);
extern void ap_tenant_drop_payloads(ApTenant *t);
extern void ap_tenant_done(ApTenant *t);
extern void ap_tenant_file_keys_start(ApTenant *t);
extern uint32 ap_tenant_file_key(ApTenant *t, int f, const char *s, size_t len);
extern uint32 ap_tenant_file_key_count(const ApTenant *t);
extern void ap_tenant_file_keys_drop(ApTenant *t);
extern void ap_tenant_stream(ApTenant *t, ApQuery q, int nargs, Oid *types,
							 Datum *values,
							 void (*row) (ApTenant *t, TupleTableSlot *slot));
extern void ap_contact_set_ident(ApTenant *t, ApContact *ct,
								 const char *const *val, const uint32 *len,
								 uint32 flags);
extern void ap_tenant_rekey(ApTenant *t, int32 c, const void *old_ident);
extern ApKeyEntry *ap_key_find(apkeys_hash *ix, const char *key, uint32 len,
							   uint32 hash);
extern ApKeyEntry *ap_key_entry(apkeys_hash *ix, const char *key, uint32 len,
								uint32 hash);
extern uint32 ap_key_hash(const char *key, size_t len);

/* import_probe.c */
extern void ap_probe_setup(ApTenant *t, int64 rows, const bool *present);
extern void ap_probe_keys(ApTenant *t, const ApKeyStr *emails, int nemails,
						  const ApKeyStr *phones, int nphones);

/* Pending integration edits of a contact (import_pending.c). */
typedef struct ApPending ApPending;
extern void ap_pending_edits(const ApPending *p, ApFieldEdit *out);
extern uint64 ap_pending_changed(const ApPending *p);
extern ApPending *ap_pending_merge(ApTenant *t, const ApPending *old,
								   const ApFieldEdit *edits, uint64 changed);

/* The file's values of one row, trimmed; present[f] when its column exists. */
typedef struct ApRowValues
{
	bool		present[AP_NFIELDS];
	const char *val[AP_NFIELDS];	/* NULL when blank or absent */
	uint32		len[AP_NFIELDS];
} ApRowValues;

/* Why a row is what it is (bits of ApOutcome.why), most serious first. */
#define AP_WHY_NO_KEY		0x01	/* skip: no usable match key */
#define AP_WHY_TOO_LONG		0x02	/* skip: a value too long for its column */
#define AP_WHY_DELETED		0x04	/* skip: the contact vanished meanwhile */
#define AP_WHY_AMBIGUOUS	0x08	/* conflict: several contacts hold the key */
#define AP_WHY_CONFLICT		0x10	/* conflict: names (or email) differ */
#define AP_WHY_BAD_NUMBER	0x20	/* a range kept as text */

/*
 * What one row did.  Reasons are kept as bits and field masks, and turned
 * into text only for the rows that are shown.
 */
typedef struct ApOutcome
{
	int32		line;
	uint8		action;			/* ApAction */
	uint8		matched_by;		/* ApMatchKey */
	uint8		why;			/* AP_WHY_* */
	int32		contact;		/* index into the tenant, -1 none */
	int32		ambiguous;		/* contacts sharing the key */
	uint16		conflict_mask;	/* identity fields that differ */
	uint16		long_mask;		/* identity fields too long for their column */
	uint64		bad_mask;		/* range fields kept as text */
	Jsonb	   *conflicts;		/* {field: {file, stored}}, conflicts only */
	text	   *changes;		/* {field: [old, new]} as JSON, when asked for */
} ApOutcome;

/* import_merge.c */
typedef struct ApMergeResult
{
	ApAction	action;
	uint8		why;
	int32		ambiguous;
	uint16		conflict_mask;
	uint64		bad_mask;
	uint16		ident_changed;	/* identity fields this row changed */
	uint64		payload_changed;	/* payload fields it changed (when asked) */
	StringInfo	payload_changes;	/* and how, as ap_payload_edits_change
									 * describes them (NULL: not asked) */
} ApMergeResult;

extern int32 ap_merge_pick_holder(const ApTenant *t, List *holders,
								  const ApRowValues *rv);
extern void ap_merge_row(ApTenant *t, int32 c, const ApRowValues *rv,
						 ApMatchKey matched_by, int32 holders, bool created,
						 StringInfo changes, ApMergeResult *res);
extern Jsonb *ap_conflict_values(const ApContact *ct, const ApRowValues *rv,
								 uint16 mask);
extern text *ap_change_values(MemoryContext cxt, const ApContact *ct,
							  const void *old_ident, const ApMergeResult *res);
extern bool ap_same_identity(int f, const char *a, size_t alen,
							 const char *b, size_t blen,
							 const ap_phone_region *region);

/* import_outcome.c: reasons, the summary, the plan's rows */

#define AP_EVENT_IGNORED_MAX 2048	/* bytes of ignored names in an event */
#define AP_EVENT_NAME_MAX 64
#define AP_PLAN_NATTS 9

/* A conflict or skip kept for the summary. */
typedef struct ApShownRow
{
	int32		line;
	uint8		action;
	uint8		matched_by;
	bool		has_contact;
	int64		contact_id;
	char	   *reason;
	const char *code;
	const char *field;
	Jsonb	   *conflicts;
} ApShownRow;

typedef struct ApSummary
{
	int64		counts[AP_NACTIONS];
	int64		total;
	ApShownRow *shown;			/* the first AP_SUMMARY_ROWS */
	int32		nshown;
	int64		omitted;		/* conflicts and skips past those */
	MemoryContext cxt;
} ApSummary;

/* What the summary says about the file and the call. */
typedef struct ApSummaryHead
{
	bool		overwrite;
	const char *encoding;
	List	   *ignored;		/* names of ignored columns (char *) */
	int64		event_id;		/* 0: none (preview) */
} ApSummaryHead;

extern const char *ap_reason_code(const ApOutcome *o);
extern const char *ap_reason_field(const ApOutcome *o);
extern char *ap_reason_text(const ApOutcome *o);
extern void ap_summary_init(ApSummary *s, MemoryContext cxt);
extern void ap_summary_add(ApSummary *s, const ApOutcome *o, int64 contact_id,
						   bool has_contact);
extern Jsonb *ap_summary_jsonb(const ApSummary *s, const ApSummaryHead *h,
							   bool for_event);
extern void ap_plan_put(ReturnSetInfo *rsinfo, const ApOutcome *o,
						int64 contact_id, bool has_contact);

/* import_write.c */
struct ApHistory;
extern void ap_import_write(ApTenant *t, struct ApHistory *h);
extern void ap_assign_ids(ApTenant *t, int32 from);
extern void ap_tenant_note_dirty(ApTenant *t, int32 c);

/* import_upload.c: raw upload bytes to text in the database encoding */
extern char *ap_decode_upload(bytea *raw, size_t *outlen, const char **encoding);

#endif							/* ACTIVEPIPE_IMPORT_H */
