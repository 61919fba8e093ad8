/*
 * activepipe.h
 *	  Declarations shared by the backend glue of activepipe: settings, the
 *	  contacts binding, SQL texts, payload conversion, export and events.
 *
 * The pure parsing and normalising code lives in src/lib (no backend
 * headers); everything declared here runs inside the server.
 */
#ifndef ACTIVEPIPE_H
#define ACTIVEPIPE_H

#include "postgres.h"

/*
 * PostgreSQL 15 or later: InitMaterializedSRF and MarkGUCPrefixReserved
 * are 15's, SPI_execute_plan_extended 14's.  The Makefile refuses an older
 * pg_config before compiling anything; this stops builds that bypass it
 * with one clear line instead of a page of implicit declarations.  The
 * minimum is PG_MIN_MAJOR in the Makefile; test/scripts/versions.sh checks
 * that this, META.json, debian/pgversions and the docs agree with it.
 */
#if PG_VERSION_NUM < 150000
#error "activepipe needs PostgreSQL 15 or later"
#endif

/* PostgreSQL 16 moved the varlena macros (VARDATA_ANY, ...) to varatt.h */
#if PG_VERSION_NUM >= 160000
#include "varatt.h"
#endif

#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/jsonb.h"

#include "contract.h"
#include "phone.h"

#define AP_INTEGRATION_KEY "activepipe"

/* Conflicts and skips a summary lists (the report and the plan have all). */
#define AP_SUMMARY_ROWS 1000

/* Settings (activepipe.c) */
extern int	ap_export_cap;
extern bool ap_stamp_exports;
extern int	ap_history_days;

/*
 * Calls that take the tenant lock and then read must take their snapshot
 * after it: refuse REPEATABLE READ and SERIALIZABLE (import.c).
 */
extern void ap_refuse_xact_snapshot(const char *what);
extern const ap_phone_region *ap_default_region(void);

/*
 * Where contacts live (binding.c).  All names are already quoted for SQL
 * text; col[f] is NULL when field f has no column and lives in the
 * payload instead.
 */
typedef struct ApBinding
{
	char	   *ext_schema;		/* quoted schema of the extension */
	Oid			ext_nsp;
	char	   *table;			/* quoted, schema-qualified contacts table */
	Oid			relid;
	char	   *id_col;
	char	   *user_col;
	AttrNumber	id_attnum;
	AttrNumber	user_attnum;
	char	   *col[AP_NIDENTITY];
	AttrNumber	attnum[AP_NIDENTITY];	/* 0 when in the payload */
	uint16		bound;			/* identity fields that have a column */
	/* phone-key regions of the probe statements, as the indexes spell them */
	char	   *probe_region[2];	/* mobile, phone */
	/* characters a varchar(n)/char(n) column holds; 0: no limit; -1: the
	 * column is not of a string type (an import refuses it) */
	int32		maxlen[AP_NIDENTITY];
	/* the id column's sequence: see ap_binding_id_sequence */
	Oid			id_seq;
	bool		id_always;
	bool		id_seq_known;
	/* the contacts table is distributed by Citus (ap_query_cursor_options) */
	bool		distributed;
	/* an import's match indexes have their keys' statistics (the same) */
	bool		probes_analysed;
} ApBinding;

/* Load and check the binding; call inside SPI_connect. */
extern ApBinding *ap_binding_load(FunctionCallInfo fcinfo);
extern char *ap_extension_schema(FunctionCallInfo fcinfo);
extern bool ap_binding_has_payload_ident(const ApBinding *b);
extern void ap_binding_require_text(const ApBinding *b);
extern Oid	ap_binding_id_sequence(const ApBinding *b, bool *always);

/*
 * Every SQL statement the extension sends through SPI is built here
 * (queries.c), so that one place shows that each one is schema-qualified
 * and filters on the tenant column; spi.c runs them.
 */
typedef enum ApQuery
{
	AP_Q_CONTACT_ROWS,			/* $1 user, $2 ids[]: contact + profile rows */
	AP_Q_CONTACT_COUNT,			/* $1 user, $2 ids[]: how many are the tenant's */
	AP_Q_PROFILE_UPSERT,		/* $1 user, $2 contact, $3 payload */
	AP_Q_PROFILE_CLEAR,			/* $1 user, $2 contact */
	AP_Q_EXPORTED_AT,			/* $1 user, $2 ids[] without a profile yet */
	AP_Q_EXPORTED_AT_UPSERT,	/* the same under a transaction snapshot */
	AP_Q_EXPORTED_AT_UPDATE,	/* $1 user, $2 ids[] with a profile */
	AP_Q_EXPORTED_AT_TID,		/* $1 user, $2 tids[], $3 their contacts' ids[] */
	AP_Q_EVENT_ID,				/* a new integration_events id */
	AP_Q_EVENT_INSERT,			/* $1 user, $2 id, $3 type, $4 filename, $5..$9 counts, $10 summary */
	AP_Q_TENANT_LOCK,			/* $1 user: the tenant's row lock */
	AP_Q_TENANT_KEYS,			/* $1 user: id, identity fields, profile ctid */
	AP_Q_IMPORT_PROFILE_TIDS,	/* $1 user: contact_id, ctid of each profile */
	AP_Q_IMPORT_PROFILES,		/* $1 user, $2 tids[]: ctid, contact_id, payload */
	AP_Q_IMPORT_PROFILES_BY_ID, /* $1 user, $2 ids[]: ctid, contact_id, payload */
	AP_Q_PROBE_EMAIL,			/* $1 user, $2 keys[]: contacts holding them */
	AP_Q_PROBE_MOBILE,
	AP_Q_PROBE_PHONE,
	AP_Q_TENANT_SIZE,			/* $1 user, $2 limit: contacts, counted up to it */
	AP_Q_CONTACT_IDS,			/* $1 sequence, $2 n: ids for new contacts */
	AP_Q_IMPORT_INSERT,			/* batched new contacts */
	AP_Q_IMPORT_UPDATE,			/* batched identity updates (overwrite) */
	AP_Q_IMPORT_FILL,			/* batched identity fill-blanks */
	AP_Q_IMPORT_PROFILES_UPSERT,	/* batched payload writes */
	AP_Q_HISTORY_HEADER,		/* $1 user, $2 event, $3 header */
	AP_Q_HISTORY_ROWS,			/* $1 user, $2 event, $3.. a chunk's rows */
	AP_Q_HISTORY_CONTACTS,		/* $1 user, $2 event, $3.. contacts written */
	AP_Q_HISTORY_ROW_HASHES,	/* $1 user, $2 ids[]: id, hash of the whole row */
	AP_Q_EXPORT_CONTACTS,		/* $1 user, $2 event, $3 ids[] */
	AP_Q_EVENT_FIND,			/* $1 user, $2 event: type, kept, undone_by */
	AP_Q_REPORT_ROWS,			/* $1 user, $2 event: the kept rows */
	AP_Q_REPORT_HEADER,			/* $1 user, $2 event: the file's header */
	AP_Q_EXPORT_REPORT,			/* $1 user, $2 event: the ids an export sent */
	AP_Q_UNDO_LOCK,				/* $1 user, $2 event, $3 ids[] or NULL: lock the contacts */
	AP_Q_UNDO_CONTACTS,			/* $1 user, $2 event, $3 ids[] or NULL: then and now */
	AP_Q_UNDO_DELETE_CONTACTS,	/* $1 user, $2 ids[] */
	AP_Q_UNDO_DELETE_PROFILES,	/* $1 user, $2 ids[] */
	AP_Q_UNDO_COLUMNS,			/* $1 user, $2 ids[], $3 masks[], $4.. values */
	AP_Q_UNDO_PROFILES,			/* $1 user, $2 ids[], $3 payloads, $4, $5 times */
	AP_Q_UNDO_DONE,				/* $1 user, $2 event, $3 the undo, $4 ids[] it left */
	AP_Q_BINDING,				/* the contacts_binding row */
	AP_NQUERIES
} ApQuery;

extern void ap_lock_tenant(const ApBinding *b, int64 user_id);
extern char *ap_query_text(const ApBinding *b, ApQuery q);
extern const char *ap_query_name(ApQuery q);
extern char *ap_binding_query_text(const char *ext_schema);
extern int	ap_query_cursor_options(const ApBinding *b, ApQuery q);

/*
 * The match-key expression of identity field f (email, mobile or phone)
 * over column prefix||column, as the match indexes hold it; region_literal
 * is the phone key's region as spelled in SQL (NULL: the default region).
 */
extern void ap_append_key_expr(StringInfo s, const ApBinding *b, int f,
							   const char *prefix, const char *region_literal);

/* Execute a statement with parameters; returns SPI_processed. */
extern uint64 ap_spi_run(const ApBinding *b, ApQuery q, int nargs,
						 Oid *types, Datum *values, const char *nulls,
						 bool read_only);

extern Portal ap_spi_cursor(const ApBinding *b, ApQuery q, int nargs,
						   Oid *types, Datum *values, const char *nulls);
extern void ap_dest_init(DestReceiver *dest,
						 bool (*receive) (TupleTableSlot *slot, DestReceiver *self),
						 void (*startup) (DestReceiver *self, int operation,
										  TupleDesc desc));
extern void ap_spi_stream(const ApBinding *b, ApQuery q, int nargs,
						  Oid *types, Datum *values, DestReceiver *dest,
						  bool read_only);

/* Rows of the import's contact reads: id, identity fields, profile ctid. */
#define AP_CONTACT_KEYS_NATTS (2 + AP_NIDENTITY)
/* The probes' rows: those, then the profile's payload and two timestamps. */
#define AP_PROBE_NATTS (AP_CONTACT_KEYS_NATTS + 3)

/* Columns of AP_Q_CONTACT_ROWS, 1-based for SPI. */
#define AP_COL_ID 1
#define AP_COL_FIRST_FIELD 2	/* identity fields 2..11 */
#define AP_COL_PAYLOAD (AP_COL_FIRST_FIELD + AP_NIDENTITY)
#define AP_COL_EXPORTED (AP_COL_PAYLOAD + 1)
#define AP_COL_IMPORTED (AP_COL_PAYLOAD + 2)
#define AP_COL_HAS_PROFILE (AP_COL_PAYLOAD + 3)
#define AP_COL_CTID (AP_COL_PAYLOAD + 4)
#define AP_CONTACT_ROW_NATTS AP_COL_CTID

/*
 * A contact as the 36 contract values in text form (payload.c); val[f] is
 * NULL when the field is absent.
 */
typedef struct ApValues
{
	const char *val[AP_NFIELDS];
	int			len[AP_NFIELDS];
} ApValues;

extern void ap_values_from_row(const ApBinding *b, const Datum *values,
							   const bool *nulls, ApValues *out);
extern void ap_payload_to_values(const ApBinding *b, Jsonb *payload,
								 ApValues *out);
extern void ap_values_export_mobile(ApValues *v);

/* Push a string key, value or element onto a jsonb being built. */
extern void ap_push_string(JsonbParseState **st, JsonbIteratorToken tok,
						   const char *s, size_t len);

/*
 * Building payloads (payload.c).  An ApFieldEdit says what a save or an
 * import does to one field: leave it, clear it, or set it from text
 * (normalised as the field's kind says; blank text clears).
 */
typedef enum ApEditKind
{
	AP_EDIT_KEEP = 0,
	AP_EDIT_CLEAR,
	AP_EDIT_TEXT
} ApEditKind;

typedef struct ApFieldEdit
{
	ApEditKind	kind;
	const char *text;
	size_t		len;
} ApFieldEdit;

/*
 * Apply edits[AP_NFIELDS] to a payload (old may be NULL).  A bad range
 * number sets its bit in *bad_mask; it is stored as the original text when
 * keep_bad, else left out.  Returns the new payload, or NULL when it
 * equals the old one (or, with no old one, when it is empty).
 */
extern Jsonb *ap_payload_apply(Jsonb *old, const ApFieldEdit *edits,
							   bool keep_bad, uint64 *bad_mask);

/*
 * Would applying edits change the payload as pending[AP_NFIELDS] (NULL:
 * none) already edits it?  The answer ap_payload_apply (keep_bad) gives,
 * without building anything; bad range numbers set *bad_mask as it does.
 * With changed_mask, every field is compared and the changed ones set
 * their bits, and those past the identity fields described in changes
 * (when not NULL) as JSON text: "field":{"old":...,"new":...},
 * comma-separated; without, the comparison stops at the first change.
 */
extern bool ap_payload_edits_change(Jsonb *payload, const ApFieldEdit *pending,
									const ApFieldEdit *edits, uint64 *bad_mask,
									uint64 *changed_mask, StringInfo changes);
extern JsonbValue *ap_payload_field(Jsonb *payload, const ApFieldEdit *pending,
									int f, JsonbValue *buf);
extern Jsonb *ap_payload_restore(Jsonb *payload, Jsonb *before);
extern void ap_push_value(JsonbParseState **st, const JsonbValue *v);
extern void *ap_varlena_copy(MemoryContext cxt, const void *v);
extern void ap_text_begin(StringInfo out);
extern text *ap_text_end(StringInfo out);
extern void ap_buffer_init(StringInfo s, MemoryContext cxt);
extern void ap_buffer_shrink(StringInfo s, int limit);
/* what a buffer kept across values may keep of one large value */
#define AP_KEPT_BUFFER_MAX (1024 * 1024)
extern void ap_json_string(StringInfo out, const char *s, uint32 len);
extern void ap_json_key(StringInfo out, int f, bool first);
extern void ap_json_value(StringInfo out, const JsonbValue *v);
extern void ap_json_change(StringInfo out, bool first, int f,
						   const JsonbValue *old, const JsonbValue *new);
extern Datum ap_changes_jsonb(const text *changes);

/* Exporter (export.c), used by the card's single-contact path too. */
extern void ap_append_csv_header(StringInfo buf);
extern void ap_append_csv_row(StringInfo buf, const ApValues *v,
							  bool escape_formulas);
extern void ap_append_csv_cell(StringInfo buf, const char *s, int len,
							   bool escape_formulas);

/* Events (events.c): an id drawn first, then the row. */
typedef struct ApEventCounts
{
	int64		total_rows;
	int64		new_count;
	int64		updated_count;
	int64		conflict_count;
	int64		skipped_count;
} ApEventCounts;

extern int64 ap_event_id(const ApBinding *b);
extern void ap_event_log(const ApBinding *b, int64 user_id, int64 event_id,
						 const char *event_type, text *filename,
						 const ApEventCounts *counts, Jsonb *summary);

/* Arrays of ids: sorted, de-duplicated, NULL-free (export.c). */
extern int	ap_cmp_int64(const void *a, const void *b);
extern int64 *ap_sorted_unique_ids(ArrayType *arr, int *n, int *requested);
extern ArrayType *ap_ids_array(const int64 *ids, int n);

/* Errors that must read the same for another tenant's and a missing id. */
extern void ap_contact_not_found(int64 contact_id) pg_attribute_noreturn();

#endif							/* ACTIVEPIPE_H */
