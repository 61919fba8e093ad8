/*
 * queries.c
 *	  Every SQL statement activepipe sends through SPI (executed by spi.c).
 *
 * Keeping the texts in one place lets a reader (and the scale-out tests,
 * through activepipe_statements()) see at a glance that each statement is
 * fully schema-qualified, operators included, so no search_path can
 * redirect it; that each one touching a tenant table filters on the
 * tenant column, so Citus can route it to one shard; and that none puts a
 * volatile function or a parameter inside an ON CONFLICT clause, which a
 * distributed table refuses.
 */
#include "activepipe.h"

#include "funcapi.h"
#include "utils/builtins.h"

#define EQ " OPERATOR(pg_catalog.=) "
#define KEY_FILTER " AND ci.integration_key" EQ "'" AP_INTEGRATION_KEY "'"

/* c.<col>::text for each identity field (its payload key when unbound). */
static void
identity_columns(StringInfo s, const ApBinding *b, bool payload_joined)
{
	int			f;

	for (f = 0; f < AP_NIDENTITY; f++)
	{
		if (b->col[f])
			appendStringInfo(s, ", c.%s::pg_catalog.text", b->col[f]);
		else if (payload_joined)
			appendStringInfo(s, ", ci.payload_json OPERATOR(pg_catalog.->>) '%s'",
							 ap_contract[f].name);
		else
			appendStringInfoString(s, ", NULL::pg_catalog.text");
	}
}

/* The LEFT JOIN of a contact to its profile, pinned to the tenant. */
static void
profile_join(StringInfo s, const ApBinding *b)
{
	appendStringInfo(s,
					 " LEFT JOIN %s.contact_integrations ci"
					 " ON ci.user_id" EQ "$1 AND ci.contact_id" EQ "c.%s" KEY_FILTER,
					 b->ext_schema, b->id_col);
}

static void
contact_rows(StringInfo s, const ApBinding *b)
{
	appendStringInfo(s, "SELECT c.%s::pg_catalog.int8", b->id_col);
	identity_columns(s, b, false);
	appendStringInfo(s, ", ci.payload_json, ci.last_exported_at, ci.last_imported_at,"
					 " ci.id IS NOT NULL, ci.ctid FROM %s c", b->table);
	profile_join(s, b);
	appendStringInfo(s, " WHERE c.%s" EQ "$1 AND c.%s" EQ "ANY ($2) ORDER BY c.%s",
					 b->user_col, b->id_col, b->id_col);
}

static void
contact_count(StringInfo s, const ApBinding *b)
{
	appendStringInfo(s,
					 "SELECT pg_catalog.count(*) FROM %s c"
					 " WHERE c.%s" EQ "$1 AND c.%s" EQ "ANY ($2)",
					 b->table, b->user_col, b->id_col);
}

/*
 * The card's write.  The timestamp comes in as a value (EXCLUDED), and the
 * conflict target alone pins the row to the tenant: Citus refuses volatile
 * functions in DO UPDATE SET and parameters anywhere in ON CONFLICT.
 */
static void
profile_upsert(StringInfo s, const ApBinding *b)
{
	appendStringInfo(s,
					 "INSERT INTO %s.contact_integrations AS ci"
					 " (user_id, contact_id, integration_key, payload_json, updated_at)"
					 " VALUES ($1, $2, '" AP_INTEGRATION_KEY "', $3, pg_catalog.now())"
					 " ON CONFLICT (user_id, contact_id, integration_key) DO UPDATE"
					 " SET payload_json = EXCLUDED.payload_json,"
					 " updated_at = EXCLUDED.updated_at",
					 b->ext_schema);
}

static void
profile_clear(StringInfo s, const ApBinding *b)
{
	appendStringInfo(s,
					 "UPDATE %s.contact_integrations ci"
					 " SET payload_json = '{}'::pg_catalog.jsonb"
					 " WHERE ci.user_id" EQ "$1 AND ci.contact_id" EQ "$2" KEY_FILTER,
					 b->ext_schema);
}

/*
 * Stamping last_exported_at: an UPDATE for contacts that have a profile
 * (skipping rows stamped already in this transaction), and an INSERT of
 * the profiles that are missing.  The export holds the tenant lock and
 * read after taking it, so in READ COMMITTED no activepipe call can have
 * created those rows meanwhile, and a plain INSERT costs about a third
 * less than an upsert.  Under a transaction snapshot (REPEATABLE READ,
 * SERIALIZABLE) the read may predate a profile made since: the upsert form
 * then turns that into a retryable serialization failure instead of a
 * unique violation.  last_exported_at is in no index, so the updates stay
 * HOT where the page has room.
 */
static void
exported_at_update(StringInfo s, const ApBinding *b)
{
	appendStringInfo(s,
					 "UPDATE %s.contact_integrations ci"
					 " SET last_exported_at = pg_catalog.now()"
					 " FROM pg_catalog.unnest($2::pg_catalog.int8[]) AS u(id)"
					 " WHERE ci.user_id" EQ "$1 AND ci.contact_id" EQ "u.id" KEY_FILTER
					 " AND (ci.last_exported_at IS NULL"
					 " OR ci.last_exported_at OPERATOR(pg_catalog.<>) pg_catalog.now())",
					 b->ext_schema);
}

/*
 * The fast form of the update: by the row versions the export read, a TID
 * scan instead of an index probe per contact, each tid paired with the
 * contact it was read for.  A row changed since is left unstamped here,
 * and the caller then runs exported_at_update.
 */
static void
exported_at_tid(StringInfo s, const ApBinding *b)
{
	appendStringInfo(s,
					 "UPDATE %s.contact_integrations ci"
					 " SET last_exported_at = pg_catalog.now()"
					 " FROM ROWS FROM (pg_catalog.unnest($2::pg_catalog.tid[]),"
					 " pg_catalog.unnest($3::pg_catalog.int8[])) AS u(t, id)"
					 " WHERE ci.ctid" EQ "u.t AND ci.user_id" EQ "$1"
					 " AND ci.contact_id" EQ "u.id" KEY_FILTER
					 " AND (ci.last_exported_at IS NULL"
					 " OR ci.last_exported_at OPERATOR(pg_catalog.<>) pg_catalog.now())",
					 b->ext_schema);
}

static void
exported_at_insert(StringInfo s, const ApBinding *b, bool upsert)
{
	appendStringInfo(s,
					 "INSERT INTO %s.contact_integrations"
					 " (user_id, contact_id, integration_key, last_exported_at)"
					 " SELECT $1, u.id, '" AP_INTEGRATION_KEY "', pg_catalog.now()"
					 " FROM pg_catalog.unnest($2::pg_catalog.int8[]) AS u(id)",
					 b->ext_schema);
	if (upsert)
		appendStringInfoString(s,
							   " ON CONFLICT (user_id, contact_id, integration_key) DO UPDATE"
							   " SET last_exported_at = EXCLUDED.last_exported_at");
}

static void
exported_at(StringInfo s, const ApBinding *b)
{
	exported_at_insert(s, b, false);
}

static void
exported_at_upsert(StringInfo s, const ApBinding *b)
{
	exported_at_insert(s, b, true);
}

/* A new event id: unique across the nodes of a cluster (activepipe_next_id). */
static void
event_id(StringInfo s, const ApBinding *b)
{
	appendStringInfo(s,
					 "SELECT %s.activepipe_next_id('%s.integration_events_id_seq'::pg_catalog.regclass)",
					 b->ext_schema, b->ext_schema);
}

static void
event_insert(StringInfo s, const ApBinding *b)
{
	appendStringInfo(s,
					 "INSERT INTO %s.integration_events"
					 " (user_id, id, integration_key, event_type, filename, total_rows,"
					 " new_count, updated_count, conflict_count, skipped_count, summary)"
					 " VALUES ($1, $2, '" AP_INTEGRATION_KEY "', $3, $4, $5, $6, $7, $8, $9, $10)",
					 b->ext_schema);
}

/*
 * The tenant lock: a row lock on the tenant's row of tenant_locks, made on
 * first use.  ON CONFLICT DO UPDATE locks the existing row even when its
 * WHERE is false, so nothing is written once the row exists.  The table is
 * distributed with contacts on Citus, so every node that runs a call for
 * the tenant meets the same lock, which an advisory lock (node-local)
 * would not give.
 */
static void
tenant_lock(StringInfo s, const ApBinding *b)
{
	appendStringInfo(s,
					 "INSERT INTO %s.tenant_locks AS l (user_id) VALUES ($1)"
					 " ON CONFLICT (user_id) DO UPDATE SET locked_at = EXCLUDED.locked_at"
					 " WHERE false",
					 b->ext_schema);
}

/*
 * The import's read of every contact of the tenant.  With every identity
 * field bound, profiles are located by import_profile_tids; otherwise the
 * contacts come joined with their profiles, whose payload holds the
 * unbound fields.
 */
static void
tenant_keys(StringInfo s, const ApBinding *b)
{
	bool		joined = ap_binding_has_payload_ident(b);

	appendStringInfo(s, "SELECT c.%s::pg_catalog.int8", b->id_col);
	identity_columns(s, b, joined);
	appendStringInfo(s, ", %s FROM %s c", joined ? "ci.ctid" : "NULL::pg_catalog.tid",
					 b->table);
	if (joined)
		profile_join(s, b);
	appendStringInfo(s, " WHERE c.%s" EQ "$1", b->user_col);
}

/*
 * The probes: the contacts of the tenant whose key, computed by the same
 * expression as the match index (activepipe_match_indexes), is among $2,
 * with their profiles (AP_PROBE_NATTS columns): the join reads the
 * profile's row anyway, and a chunk then needs no read of it by tid.
 */
static void
probe(StringInfo s, const ApBinding *b, int f)
{
	appendStringInfo(s, "SELECT c.%s::pg_catalog.int8", b->id_col);
	identity_columns(s, b, true);
	appendStringInfo(s, ", ci.ctid, ci.payload_json, ci.last_imported_at, ci.updated_at"
					 " FROM %s c", b->table);
	profile_join(s, b);
	appendStringInfo(s, " WHERE c.%s" EQ "$1 AND ", b->user_col);
	ap_append_key_expr(s, b, f, "c.", f == AP_F_MOBILE ? b->probe_region[0] :
					   f == AP_F_PHONE ? b->probe_region[1] : NULL);
	appendStringInfoString(s, EQ "ANY ($2::pg_catalog.text[])");
}

static void
probe_email(StringInfo s, const ApBinding *b)
{
	probe(s, b, AP_F_EMAIL);
}

static void
probe_mobile(StringInfo s, const ApBinding *b)
{
	probe(s, b, AP_F_MOBILE);
}

static void
probe_phone(StringInfo s, const ApBinding *b)
{
	probe(s, b, AP_F_PHONE);
}

/*
 * How many contacts the tenant has, counted up to $2 only: what the
 * import's choice between scan and probes needs when the planner has no
 * statistics to estimate it (a Citus shell table, a table never analysed).
 * The count stops where probing would cost as much as the scan it saves.
 */
static void
tenant_size(StringInfo s, const ApBinding *b)
{
	appendStringInfo(s,
					 "SELECT pg_catalog.count(*) FROM (SELECT 1 FROM %s c"
					 " WHERE c.%s" EQ "$1 LIMIT $2) s",
					 b->table, b->user_col);
}

/*
 * Where the tenant's profiles are: the import reads a payload only when a
 * row matches its contact, by tid, in the snapshot this was read in.
 */
static void
import_profile_tids(StringInfo s, const ApBinding *b)
{
	appendStringInfo(s,
					 "SELECT ci.contact_id, ci.ctid"
					 " FROM %s.contact_integrations ci"
					 " WHERE ci.user_id" EQ "$1" KEY_FILTER,
					 b->ext_schema);
}

static void
import_profiles(StringInfo s, const ApBinding *b)
{
	appendStringInfo(s,
					 "SELECT ci.ctid, ci.contact_id, ci.payload_json,"
					 " ci.last_imported_at, ci.updated_at"
					 " FROM %s.contact_integrations ci"
					 " WHERE ci.ctid" EQ "ANY ($2::pg_catalog.tid[])"
					 " AND ci.user_id" EQ "$1" KEY_FILTER,
					 b->ext_schema);
}

/* The same by contact id, for profiles whose tid found nothing. */
static void
import_profiles_by_id(StringInfo s, const ApBinding *b)
{
	appendStringInfo(s,
					 "SELECT ci.ctid, ci.contact_id, ci.payload_json,"
					 " ci.last_imported_at, ci.updated_at"
					 " FROM %s.contact_integrations ci"
					 " WHERE ci.user_id" EQ "$1"
					 " AND ci.contact_id" EQ "ANY ($2::pg_catalog.int8[])" KEY_FILTER,
					 b->ext_schema);
}

/*
 * Ids for the contacts a commit creates, drawn from the id column's own
 * sequence before they are inserted, so each row of the file knows its
 * contact whatever order an INSERT returns rows in.
 */
static void
contact_ids(StringInfo s, const ApBinding *b)
{
	appendStringInfoString(s,
						   "SELECT pg_catalog.nextval($1::pg_catalog.regclass)"
						   " FROM pg_catalog.generate_series(1, $2)");
}

/*
 * FROM ROWS FROM (lead, unnest($first..)) AS u(names, f0..f9): the lead
 * unnests, then one text[] per identity field.
 */
static void
identity_unnest(StringInfo s, int first, const char *lead, const char *names)
{
	int			f;

	appendStringInfo(s, " FROM ROWS FROM (%s", lead);
	for (f = 0; f < AP_NIDENTITY; f++)
		appendStringInfo(s, ", pg_catalog.unnest($%d::pg_catalog.text[])", first + f);
	appendStringInfo(s, ") AS u(%s", names);
	for (f = 0; f < AP_NIDENTITY; f++)
		appendStringInfo(s, ", f%d", f);
	appendStringInfoChar(s, ')');
}

/*
 * Batched identity updates: $2 ids, then one text[] per identity field
 * (NULL element: leave the column).  Only bound columns are listed.  The
 * fill-blanks form re-checks blankness in SQL with the same characters as
 * the import ($13), so a value the application wrote since the import read
 * the contact is never overwritten.  Returns the ids updated: a contact
 * deleted meanwhile is missing.
 */
static void
import_update_sql(StringInfo s, const ApBinding *b, bool fill_blanks)
{
	int			f;
	bool		first = true;

	appendStringInfo(s, "UPDATE %s c SET ", b->table);
	for (f = 0; f < AP_NIDENTITY; f++)
	{
		const char *col = b->col[f];

		if (!col)
			continue;
		appendStringInfoString(s, first ? "" : ", ");
		if (fill_blanks)
			appendStringInfo(s, "%s = CASE WHEN pg_catalog.btrim(c.%s::pg_catalog.text, $%d)"
							 " OPERATOR(pg_catalog.<>) '' THEN c.%s ELSE COALESCE(u.f%d, c.%s) END",
							 col, col, 3 + AP_NIDENTITY, col, f, col);
		else
			appendStringInfo(s, "%s = COALESCE(u.f%d, c.%s)", col, f, col);
		first = false;
	}
	if (first)					/* nothing bound: a harmless no-op SET */
		appendStringInfo(s, "%s = c.%s", b->id_col, b->id_col);
	identity_unnest(s, 3, "pg_catalog.unnest($2::pg_catalog.int8[])", "id");
	appendStringInfo(s, " WHERE c.%s" EQ "$1 AND c.%s" EQ "u.id RETURNING c.%s::pg_catalog.int8",
					 b->user_col, b->id_col, b->id_col);
}

static void
import_update(StringInfo s, const ApBinding *b)
{
	import_update_sql(s, b, false);
}

static void
import_fill(StringInfo s, const ApBinding *b)
{
	import_update_sql(s, b, true);
}

/*
 * Batched inserts of new contacts with their pre-assigned ids: $2 ids,
 * $3..$12 one text[] per identity field.
 */
static void
import_insert(StringInfo s, const ApBinding *b)
{
	bool		always = false;
	int			f;

	(void) ap_binding_id_sequence(b, &always);
	appendStringInfo(s, "INSERT INTO %s (%s, %s", b->table, b->id_col, b->user_col);
	for (f = 0; f < AP_NIDENTITY; f++)
		if (b->col[f])
			appendStringInfo(s, ", %s", b->col[f]);
	appendStringInfo(s, ")%s SELECT u.id, $1", always ? " OVERRIDING SYSTEM VALUE" : "");
	for (f = 0; f < AP_NIDENTITY; f++)
		if (b->col[f])
			appendStringInfo(s, ", u.f%d", f);
	identity_unnest(s, 3, "pg_catalog.unnest($2::pg_catalog.int8[])", "id");
	appendStringInfo(s, " RETURNING %s::pg_catalog.int8", b->id_col);
}

/*
 * Batched payload writes, stamping last_imported_at.  Only contacts that
 * still exist get a profile (the join, which also pins every row to the
 * tenant, and locks the contact against a delete until the commit ends),
 * and the ids written come back: a contact deleted since the import read
 * it is reported, never given a new profile.
 */
static void
import_profiles_upsert(StringInfo s, const ApBinding *b)
{
	appendStringInfo(s,
					 "INSERT INTO %s.contact_integrations AS ci"
					 " (user_id, contact_id, integration_key, payload_json, last_imported_at, updated_at)"
					 " SELECT $1, u.id, '" AP_INTEGRATION_KEY "', u.p, pg_catalog.now(), pg_catalog.now()"
					 " FROM ROWS FROM (pg_catalog.unnest($2::pg_catalog.int8[]),"
					 " pg_catalog.unnest($3::pg_catalog.jsonb[])) AS u(id, p)"
					 " JOIN %s c ON c.%s" EQ "$1 AND c.%s" EQ "u.id FOR KEY SHARE OF c"
					 " ON CONFLICT (user_id, contact_id, integration_key) DO UPDATE"
					 " SET payload_json = EXCLUDED.payload_json,"
					 " last_imported_at = EXCLUDED.last_imported_at,"
					 " updated_at = EXCLUDED.updated_at"
					 " RETURNING ci.contact_id, ci.ctid",
					 b->ext_schema, b->table, b->user_col, b->id_col);
}

/* The kept report of a commit: its header row (import_history.c). */
static void
history_header(StringInfo s, const ApBinding *b)
{
	appendStringInfo(s,
					 "INSERT INTO %s.import_history (user_id, event_id, header)"
					 " VALUES ($1, $2, $3)",
					 b->ext_schema);
}

/* A chunk's rows of the report: one row, an array per column. */
static void
history_rows(StringInfo s, const ApBinding *b)
{
	appendStringInfo(s,
					 "INSERT INTO %s.import_rows (user_id, event_id, chunk, line,"
					 " action, contact_id, matched_by, reason_code, field, reason,"
					 " changes, conflicts, cells)"
					 " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
					 b->ext_schema);
}

/*
 * What an undo needs of a batch of contacts the commit wrote: one row, an
 * array per column.  A contact written again by a later batch is kept
 * again; undo reads its records in batch order.
 */
static void
history_contacts(StringInfo s, const ApBinding *b)
{
	appendStringInfo(s,
					 "INSERT INTO %s.import_contacts (user_id, event_id, chunk, contact_id,"
					 " created, had_profile, imported_at, updated_at, before, after_hash,"
					 " row_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
					 b->ext_schema);
}

/*
 * The row hashes of the contacts a batch created, as the batch left them,
 * by their ids (import_contacts.row_hash): computed in the statement, so
 * on Citus by the worker that stores the row (activepipe_row_image_hash),
 * and over c.*, the whole row even where a column is named c.  The row is
 * passed as ROW(c.*), an anonymous record: passed as the contacts row type
 * (c.* alone, or cast to record, which keeps that type), a function of the
 * same name over that type, made by a role that may create in the
 * extension's schema, would be the better match and could hash every row
 * alike.  In the INSERT above, a lookup per element gated on "created" (a
 * LATERAL join, then aggregated) cost 0.8 ms a batch of 1,000; this costs
 * the created contacts' index probes.
 */
static void
history_row_hashes(StringInfo s, const ApBinding *b)
{
	appendStringInfo(s,
					 "SELECT c.%s::pg_catalog.int8, %s.activepipe_row_image_hash(ROW(c.*))"
					 " FROM %s c WHERE c.%s" EQ "$1 AND c.%s" EQ "ANY ($2::pg_catalog.int8[])",
					 b->id_col, b->ext_schema, b->table, b->user_col, b->id_col);
}

/* Which contacts an export sent (activepipe_export_report). */
static void
export_contacts(StringInfo s, const ApBinding *b)
{
	appendStringInfo(s,
					 "INSERT INTO %s.export_contacts (user_id, event_id, contact_ids)"
					 " VALUES ($1, $2, $3)",
					 b->ext_schema);
}

/*
 * An event of the tenant, and what is kept of it: its type, whether its
 * import report is kept (and not being pruned), the undo that undid it,
 * whether its export list is kept.
 */
static void
event_find(StringInfo s, const ApBinding *b)
{
	appendStringInfo(s,
					 "SELECT e.event_type, h.event_id IS NOT NULL AND NOT h.pruning,"
					 " h.undone_by, x.event_id IS NOT NULL, h.undo_pending"
					 " FROM %s.integration_events e"
					 " LEFT JOIN %s.import_history h ON h.user_id" EQ "$1 AND h.event_id" EQ "e.id"
					 " LEFT JOIN %s.export_contacts x ON x.user_id" EQ "$1 AND x.event_id" EQ "e.id"
					 " WHERE e.user_id" EQ "$1 AND e.id" EQ "$2",
					 b->ext_schema, b->ext_schema, b->ext_schema);
}

static void
report_rows(StringInfo s, const ApBinding *b)
{
	appendStringInfo(s,
					 "SELECT u.line, u.action, u.contact_id, u.matched_by, u.reason,"
					 " u.changes, u.conflicts, u.reason_code, u.field, u.cells"
					 " FROM %s.import_rows r CROSS JOIN LATERAL ROWS FROM ("
					 "pg_catalog.unnest(r.line), pg_catalog.unnest(r.action),"
					 " pg_catalog.unnest(r.contact_id), pg_catalog.unnest(r.matched_by),"
					 " pg_catalog.unnest(r.reason_code), pg_catalog.unnest(r.field),"
					 " pg_catalog.unnest(r.reason), pg_catalog.unnest(r.changes),"
					 " pg_catalog.unnest(r.conflicts), pg_catalog.unnest(r.cells))"
					 " AS u(line, action, contact_id, matched_by, reason_code, field,"
					 " reason, changes, conflicts, cells)"
					 " WHERE r.user_id" EQ "$1 AND r.event_id" EQ "$2"
					 " ORDER BY u.line",
					 b->ext_schema);
}

static void
report_header(StringInfo s, const ApBinding *b)
{
	appendStringInfo(s,
					 "SELECT h.header FROM %s.import_history h"
					 " WHERE h.user_id" EQ "$1 AND h.event_id" EQ "$2",
					 b->ext_schema);
}

static void
export_report(StringInfo s, const ApBinding *b)
{
	appendStringInfo(s,
					 "SELECT pg_catalog.unnest(x.contact_ids) FROM %s.export_contacts x"
					 " WHERE x.user_id" EQ "$1 AND x.event_id" EQ "$2",
					 b->ext_schema);
}

/*
 * The contacts of an undo: the import's ($1, $2), or those of $3 when set.
 * IN (SELECT unnest) rather than = ANY: a kept generic plan hashes the
 * subquery once, where it would scan the array for every row.
 */
#define UNDO_WHICH " WHERE ($3::pg_catalog.int8[] IS NULL" \
	" OR h.contact_id IN (SELECT pg_catalog.unnest($3::pg_catalog.int8[])))"

/*
 * The records of import ($1, $2) in import_contacts as h: one row per
 * contact and write batch, or (ids_only) just the contacts' ids.
 */
static void
undo_records(StringInfo s, const ApBinding *b, bool ids_only)
{
	if (ids_only)
		appendStringInfo(s, "(SELECT pg_catalog.unnest(k.contact_id) AS contact_id"
						 " FROM %s.import_contacts k", b->ext_schema);
	else
		appendStringInfo(s,
						 "(SELECT k.chunk, u.* FROM %s.import_contacts k CROSS JOIN LATERAL"
						 " ROWS FROM (pg_catalog.unnest(k.contact_id), pg_catalog.unnest(k.created),"
						 " pg_catalog.unnest(k.had_profile), pg_catalog.unnest(k.imported_at),"
						 " pg_catalog.unnest(k.updated_at), pg_catalog.unnest(k.before),"
						 " pg_catalog.unnest(k.after_hash), pg_catalog.unnest(k.row_hash))"
						 " AS u(contact_id, created, had_profile, imported_at, updated_at,"
						 " before, after_hash, row_hash)", b->ext_schema);
	appendStringInfoString(s, " WHERE k.user_id" EQ "$1 AND k.event_id" EQ "$2) h");
}

/*
 * What an undo reads: each contact its import wrote, as the import left it
 * (import_contacts) and as it is now (its bound columns, the hash of its
 * whole row for the contacts the import created, computed where the row
 * is stored as history_row_hashes computes it, and its profile).
 */
static void
undo_contacts(StringInfo s, const ApBinding *b)
{
	appendStringInfoString(s,
						   "SELECT h.contact_id, h.created, h.had_profile, h.imported_at,"
						   " h.updated_at, h.before::pg_catalog.jsonb, h.after_hash, h.row_hash");
	appendStringInfo(s, ", CASE WHEN h.created THEN %s.activepipe_row_image_hash(ROW(c.*)) END",
					 b->ext_schema);
	appendStringInfo(s, ", c.%s IS NOT NULL", b->id_col);
	identity_columns(s, b, false);
	appendStringInfoString(s, ", ci.payload_json FROM ");
	undo_records(s, b, false);
	appendStringInfo(s,
					 " LEFT JOIN %s c ON c.%s" EQ "$1 AND c.%s" EQ "h.contact_id"
					 " LEFT JOIN %s.contact_integrations ci ON ci.user_id" EQ "$1"
					 " AND ci.contact_id" EQ "h.contact_id" KEY_FILTER
					 UNDO_WHICH " ORDER BY h.contact_id, h.chunk",
					 b->table, b->user_col, b->id_col, b->ext_schema);
}

/*
 * Before an undo compares, it locks the contacts it may write: the
 * application writes contacts without the tenant lock, and an edit that
 * landed between the compare and the write would be overwritten.  NO KEY
 * UPDATE, as an UPDATE takes, so that rows of other tables referencing
 * these contacts can still be inserted meanwhile (a delete of a contact
 * the import created takes the stronger lock when it runs).
 */
static void
undo_lock(StringInfo s, const ApBinding *b)
{
	appendStringInfo(s,
					 "SELECT pg_catalog.count(*) FROM (SELECT 1 FROM %s c"
					 " WHERE c.%s" EQ "$1 AND c.%s" EQ "ANY (ARRAY("
					 "SELECT h.contact_id FROM ",
					 b->table, b->user_col, b->id_col);
	undo_records(s, b, true);
	appendStringInfoString(s, UNDO_WHICH ")) FOR NO KEY UPDATE OF c) l");
}

static void
undo_delete_contacts(StringInfo s, const ApBinding *b)
{
	appendStringInfo(s,
					 "DELETE FROM %s c WHERE c.%s" EQ "$1"
					 " AND c.%s" EQ "ANY ($2::pg_catalog.int8[])",
					 b->table, b->user_col, b->id_col);
}

static void
undo_delete_profiles(StringInfo s, const ApBinding *b)
{
	appendStringInfo(s,
					 "DELETE FROM %s.contact_integrations ci WHERE ci.user_id" EQ "$1"
					 " AND ci.contact_id" EQ "ANY ($2::pg_catalog.int8[])" KEY_FILTER,
					 b->ext_schema);
}

/*
 * Bound columns put back: $2 ids, $3 a mask per contact of the fields to
 * set, $4..$13 their values (NULL is a value here).
 */
static void
undo_columns(StringInfo s, const ApBinding *b)
{
	int			f;
	bool		first = true;

	appendStringInfo(s, "UPDATE %s c SET ", b->table);
	for (f = 0; f < AP_NIDENTITY; f++)
	{
		if (!b->col[f])
			continue;
		appendStringInfo(s, "%s%s = CASE WHEN u.m OPERATOR(pg_catalog.&) %d"
						 " OPERATOR(pg_catalog.<>) 0 THEN u.f%d ELSE c.%s END",
						 first ? "" : ", ", b->col[f], 1 << f, f, b->col[f]);
		first = false;
	}
	if (first)
		appendStringInfo(s, "%s = c.%s", b->id_col, b->id_col);
	identity_unnest(s, 4, "pg_catalog.unnest($2::pg_catalog.int8[]),"
					" pg_catalog.unnest($3::pg_catalog.int4[])", "id, m");
	appendStringInfo(s, " WHERE c.%s" EQ "$1 AND c.%s" EQ "u.id",
					 b->user_col, b->id_col);
}

static void
undo_profiles(StringInfo s, const ApBinding *b)
{
	appendStringInfo(s,
					 "UPDATE %s.contact_integrations ci"
					 " SET payload_json = u.p, last_imported_at = u.li, updated_at = u.ua"
					 " FROM ROWS FROM (pg_catalog.unnest($2::pg_catalog.int8[]),"
					 " pg_catalog.unnest($3::pg_catalog.jsonb[]),"
					 " pg_catalog.unnest($4::pg_catalog.timestamptz[]),"
					 " pg_catalog.unnest($5::pg_catalog.timestamptz[])) AS u(id, p, li, ua)"
					 " WHERE ci.user_id" EQ "$1 AND ci.contact_id" EQ "u.id" KEY_FILTER,
					 b->ext_schema);
}

/* $3 the undo event (the first one stays), $4 the contacts it left. */
static void
undo_done(StringInfo s, const ApBinding *b)
{
	appendStringInfo(s,
					 "UPDATE %s.import_history h"
					 " SET undone_by = COALESCE(h.undone_by, $3), undo_pending = $4"
					 " WHERE h.user_id" EQ "$1 AND h.event_id" EQ "$2",
					 b->ext_schema);
}

/*
 * The one statement that is not about a tenant: reading the extension's
 * own configuration (contacts_binding, a reference table under Citus).
 */
char *
ap_binding_query_text(const char *ext_schema)
{
	return psprintf("SELECT table_schema, table_name, id_column, user_id_column,"
					" firstname, lastname, email, phone, mobile, streetaddress,"
					" city, state, postcode, country FROM %s.contacts_binding",
					ext_schema);
}

/* The configuration: a kept plan like the others, read on every call. */
static void
binding(StringInfo s, const ApBinding *b)
{
	appendStringInfoString(s, ap_binding_query_text(b->ext_schema));
}

typedef struct ApStatement
{
	const char *name;
	void		(*build) (StringInfo s, const ApBinding *b);
	int			cursor_options; /* for SPI_prepare_cursor */
	bool		needs_key_stats;	/* a generic plan only once the match
									 * indexes have statistics (see
									 * ap_query_cursor_options) */
} ApStatement;

/* By ApQuery. */
static const ApStatement statements[AP_NQUERIES] = {
	/*
	 * The export reads it through a cursor, in batches, to the end: planned
	 * for the first rows, it walks the contacts' primary key in id order and
	 * fetches each profile by its key, 0.2 s for a 100k tenant where the
	 * cheapest total-cost plan (hash join, then sort) took 0.4 s.  The card
	 * reads one contact with it, which that plan suits as well.
	 */
	{"contact_rows", contact_rows, CURSOR_OPT_FAST_PLAN},
	{"contact_count", contact_count},
	{"profile_upsert", profile_upsert},
	{"profile_clear", profile_clear},
	{"exported_at", exported_at},
	{"exported_at_upsert", exported_at_upsert},
	{"exported_at_update", exported_at_update},
	{"exported_at_tid", exported_at_tid},
	{"event_id", event_id},
	{"event_insert", event_insert},
	{"tenant_lock", tenant_lock},
	{"tenant_keys", tenant_keys},
	{"import_profile_tids", import_profile_tids},

	/*
	 * One plan fits every call of these: an index or TID scan per array
	 * element, whatever the array holds.  Custom plans were chosen for
	 * them whenever the first calls had small arrays, and planning each
	 * probe (0.2 to 0.5 ms) then cost a 1-row preview half its time.
	 * (Not always: ap_query_cursor_options.)
	 */
	{"import_profiles", import_profiles, CURSOR_OPT_GENERIC_PLAN},
	{"import_profiles_by_id", import_profiles_by_id},
	{"probe_email", probe_email, CURSOR_OPT_GENERIC_PLAN, true},
	{"probe_mobile", probe_mobile, CURSOR_OPT_GENERIC_PLAN, true},
	{"probe_phone", probe_phone, CURSOR_OPT_GENERIC_PLAN, true},
	{"tenant_size", tenant_size},
	{"contact_ids", contact_ids},
	{"import_insert", import_insert},
	{"import_update", import_update},
	{"import_fill", import_fill},
	{"import_profiles_upsert", import_profiles_upsert},
	{"history_header", history_header},
	{"history_rows", history_rows},
	{"history_contacts", history_contacts},
	{"history_row_hashes", history_row_hashes},
	{"export_contacts", export_contacts},
	{"event_find", event_find},
	{"report_rows", report_rows},
	{"report_header", report_header},
	{"export_report", export_report},
	{"undo_lock", undo_lock},
	{"undo_contacts", undo_contacts},
	{"undo_delete_contacts", undo_delete_contacts},
	{"undo_delete_profiles", undo_delete_profiles},
	{"undo_columns", undo_columns},
	{"undo_profiles", undo_profiles},
	{"undo_done", undo_done},
	{"binding", binding},
};

const char *
ap_query_name(ApQuery q)
{
	return statements[q].name;
}

/*
 * The options to prepare statement q with for binding b: its own, but
 * custom plans where a generic one would not do.  Citus cannot route a
 * generic plan of a join by a parameter ("could not create distributed
 * plan").  A probe's generic plan made before the match indexes' keys have
 * statistics takes a probe for a third of the tenant and reads every
 * profile, and ANALYZE does not always replace a kept plan.  (A DBA's
 * plan_cache_mode other than auto still decides first.)
 */
int
ap_query_cursor_options(const ApBinding *b, ApQuery q)
{
	const ApStatement *st = &statements[q];

	if ((st->cursor_options & CURSOR_OPT_GENERIC_PLAN) &&
		(b->distributed || (st->needs_key_stats && !b->probes_analysed)))
		return (st->cursor_options & ~CURSOR_OPT_GENERIC_PLAN) | CURSOR_OPT_CUSTOM_PLAN;
	return st->cursor_options;
}

char *
ap_query_text(const ApBinding *b, ApQuery q)
{
	StringInfoData s;

	if (q < 0 || q >= AP_NQUERIES)
		elog(ERROR, "activepipe: bad query number %d", (int) q);
	initStringInfo(&s);
	statements[q].build(&s, b);
	return s.data;
}

/*
 * activepipe_statements(): every statement above as the current binding
 * makes it, so tests and DBAs can read exactly what the extension runs.
 */
static void
put_statement(ReturnSetInfo *rsinfo, const char *name, const char *sql)
{
	Datum		values[2];
	bool		nulls[2] = {false, false};

	values[0] = CStringGetTextDatum(name);
	values[1] = CStringGetTextDatum(sql);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

PG_FUNCTION_INFO_V1(activepipe_statements);
Datum
activepipe_statements(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ApBinding  *b;
	int			q;

	InitMaterializedSRF(fcinfo, 0);
	SPI_connect();
	b = ap_binding_load(fcinfo);
	for (q = 0; q < AP_NQUERIES; q++)
		put_statement(rsinfo, statements[q].name, ap_query_text(b, (ApQuery) q));
	SPI_finish();
	return (Datum) 0;
}
