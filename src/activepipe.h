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

/* Settings (activepipe.c) */
extern int	ap_export_cap;
extern bool ap_stamp_exports;
extern const ap_phone_region *ap_default_region(void);

/*
 * Where contacts live (binding.c).  All names are already quoted for SQL
 * text; col[f] is NULL when field f has no column and lives in the
 * payload instead.
 */
typedef struct ApBinding
{
	char	   *ext_schema;		/* quoted schema of the extension */
	char	   *table;			/* quoted, schema-qualified contacts table */
	char	   *id_col;
	char	   *user_col;
	char	   *col[AP_NIDENTITY];
} ApBinding;

/* Load and check the binding; call inside SPI_connect. */
extern ApBinding *ap_binding_load(FunctionCallInfo fcinfo);
extern char *ap_extension_schema(FunctionCallInfo fcinfo);

/*
 * Every SQL statement the extension sends through SPI is built here
 * (queries.c), so that one place shows that each one is schema-qualified
 * and filters on the tenant column.
 */
typedef enum ApQuery
{
	AP_Q_CONTACT_ROWS,			/* $1 user, $2 ids[]: contact + profile rows */
	AP_Q_CONTACT_COUNT,			/* $1 user, $2 ids[]: how many are the tenant's */
	AP_Q_PROFILE_UPSERT,		/* $1 user, $2 contact, $3 payload */
	AP_Q_PROFILE_CLEAR,			/* $1 user, $2 contact */
	AP_Q_EXPORTED_AT,			/* $1 user, $2 ids[] without a profile yet */
	AP_Q_EXPORTED_AT_UPDATE,	/* $1 user, $2 ids[] with a profile */
	AP_Q_EXPORTED_AT_TID,		/* $1 user, $2 tids[] of those profiles */
	AP_Q_EVENT_INSERT,			/* $1 user, $2 type, $3 filename, $4..$8 counts, $9 summary */
	AP_Q_TENANT_KEYS,			/* $1 user: id and identity fields */
	AP_Q_IMPORT_PROFILES,		/* $1 user, $2 tids[]: ctid, contact_id, payload */
	AP_Q_IMPORT_UPDATE,			/* batched identity updates */
	AP_Q_IMPORT_INSERT,			/* batched new contacts */
	AP_Q_IMPORT_PROFILES_UPSERT,	/* batched payload upserts */
	AP_Q_TENANT_LOCK,			/* $1 user: transaction advisory lock */
	AP_Q_IMPORT_FILL,			/* batched identity fill-blanks */
	AP_Q_IMPORT_PROFILE_TIDS,	/* $1 user: contact_id, ctid of each profile */
	AP_Q_IMPORT_PROFILES_BY_ID, /* $1 user, $2 ids[]: ctid, contact_id, payload */
	AP_NQUERIES
} ApQuery;

extern void ap_lock_tenant(const ApBinding *b, int64 user_id);
extern char *ap_query_text(const ApBinding *b, ApQuery q);
extern char *ap_binding_query_text(const char *ext_schema);

/* Execute a statement with parameters; returns SPI_processed. */
extern uint64 ap_spi_run(const ApBinding *b, ApQuery q, int nargs,
						 Oid *types, Datum *values, const char *nulls,
						 bool read_only);

extern Portal ap_spi_cursor(const ApBinding *b, ApQuery q, int nargs,
						   Oid *types, Datum *values, const char *nulls);
extern void ap_spi_stream(const ApBinding *b, ApQuery q, int nargs,
						  Oid *types, Datum *values, DestReceiver *dest);

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

extern void ap_values_from_row(const ApBinding *b, HeapTuple tup,
							   TupleDesc desc, ApValues *out);
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
 */
extern bool ap_payload_edits_change(Jsonb *payload, const ApFieldEdit *pending,
									const ApFieldEdit *edits, uint64 *bad_mask);

/* Exporter (export.c), used by the card's single-contact path too. */
extern void ap_append_csv_header(StringInfo buf);
extern void ap_append_csv_row(StringInfo buf, const ApValues *v,
							  bool escape_formulas);

/* Events (events.c): returns the new event id. */
typedef struct ApEventCounts
{
	int64		total_rows;
	int64		new_count;
	int64		updated_count;
	int64		conflict_count;
	int64		skipped_count;
} ApEventCounts;

extern int64 ap_event_log(const ApBinding *b, int64 user_id,
						  const char *event_type, text *filename,
						  const ApEventCounts *counts, Jsonb *summary);

/* Arrays of ids: sorted, de-duplicated, NULL-free (export.c). */
extern int64 *ap_sorted_unique_ids(ArrayType *arr, int *n, int *requested);
extern ArrayType *ap_ids_array(const int64 *ids, int n);

/* Errors that must read the same for another tenant's and a missing id. */
extern void ap_contact_not_found(int64 contact_id) pg_attribute_noreturn();

#endif							/* ACTIVEPIPE_H */
