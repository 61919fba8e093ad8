/*
 * queries.c
 *	  Every SQL statement activepipe sends through SPI, and the cache of
 *	  their prepared plans.
 *
 * Keeping the texts in one place lets a reader (and the scale-out test,
 * through activepipe_statements()) see at a glance that each statement is
 * fully schema-qualified, operators included, so no search_path can
 * redirect it, and that each one touching a tenant table filters on the
 * tenant column, so Citus can route it to one shard.
 */
#include "activepipe.h"

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/builtins.h"

#define EQ " OPERATOR(pg_catalog.=) "

static const char *const query_names[AP_NQUERIES] = {
	"contact_rows", "contact_count", "profile_upsert", "profile_clear", "exported_at",
	"exported_at_update", "exported_at_tid",
	"event_insert", "tenant_keys", "import_profiles", "import_update",
	"import_insert", "import_profiles_upsert", "tenant_lock", "import_fill",
	"import_profile_tids", "import_profiles_by_id"
};

/* c.<col>::text for an identity field, or NULL when it lives in the payload */
static void
append_field_columns(StringInfo s, const ApBinding *b, int nfields)
{
	int			f;

	for (f = 0; f < nfields; f++)
	{
		if (b->col[f])
			appendStringInfo(s, ", c.%s::pg_catalog.text", b->col[f]);
		else
			appendStringInfoString(s, ", NULL::pg_catalog.text");
	}
}

static void
contact_rows(StringInfo s, const ApBinding *b)
{
	appendStringInfo(s, "SELECT c.%s::pg_catalog.int8", b->id_col);
	append_field_columns(s, b, AP_NIDENTITY);
	appendStringInfo(s,
					 ", ci.payload_json, ci.last_exported_at, ci.last_imported_at,"
					 " ci.id IS NOT NULL, ci.ctid"
					 " FROM %s c LEFT JOIN %s.contact_integrations ci"
					 " ON ci.user_id" EQ "$1 AND ci.contact_id" EQ "c.%s"
					 " AND ci.integration_key" EQ "'" AP_INTEGRATION_KEY "'"
					 " WHERE c.%s" EQ "$1 AND c.%s" EQ "ANY ($2)"
					 " ORDER BY c.%s",
					 b->table, b->ext_schema, b->id_col,
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

static void
profile_upsert(StringInfo s, const ApBinding *b)
{
	appendStringInfo(s,
					 "INSERT INTO %s.contact_integrations AS ci"
					 " (user_id, contact_id, integration_key, payload_json)"
					 " VALUES ($1, $2, '" AP_INTEGRATION_KEY "', $3)"
					 " ON CONFLICT (user_id, contact_id, integration_key) DO UPDATE"
					 " SET payload_json = EXCLUDED.payload_json,"
					 " updated_at = pg_catalog.now()"
					 " WHERE ci.user_id" EQ "$1",
					 b->ext_schema);
}

static void
profile_clear(StringInfo s, const ApBinding *b)
{
	appendStringInfo(s,
					 "UPDATE %s.contact_integrations"
					 " SET payload_json = '{}'::pg_catalog.jsonb"
					 " WHERE user_id" EQ "$1 AND contact_id" EQ "$2"
					 " AND integration_key" EQ "'" AP_INTEGRATION_KEY "'",
					 b->ext_schema);
}

/*
 * Stamping last_exported_at takes two set-based statements: an UPDATE for
 * contacts that have a profile (skipping rows stamped already in this
 * transaction), and a plain INSERT of the profiles that are missing.  The
 * export holds the tenant lock and read after taking it, so no activepipe
 * call can have created those rows meanwhile; a plain INSERT costs about a
 * third less than an upsert's speculative insertion.  last_exported_at is
 * in no index, so the updates stay HOT where the page has room.
 */
static void
exported_at_update(StringInfo s, const ApBinding *b)
{
	appendStringInfo(s,
					 "UPDATE %s.contact_integrations ci"
					 " SET last_exported_at = pg_catalog.now()"
					 " FROM pg_catalog.unnest($2::pg_catalog.int8[]) AS u(id)"
					 " WHERE ci.user_id" EQ "$1 AND ci.contact_id" EQ "u.id"
					 " AND ci.integration_key" EQ "'" AP_INTEGRATION_KEY "'"
					 " AND (ci.last_exported_at IS NULL"
					 " OR ci.last_exported_at OPERATOR(pg_catalog.<>) pg_catalog.now())",
					 b->ext_schema);
}

/*
 * The fast form of the update: by the row versions the export read, a TID
 * scan instead of an index probe per contact.  A row changed since (only
 * a direct write outside activepipe can do that under the tenant lock) is
 * left unstamped here, and the caller then runs exported_at_update.
 */
static void
exported_at_tid(StringInfo s, const ApBinding *b)
{
	appendStringInfo(s,
					 "UPDATE %s.contact_integrations ci"
					 " SET last_exported_at = pg_catalog.now()"
					 " WHERE ci.ctid" EQ "ANY ($2::pg_catalog.tid[])"
					 " AND ci.user_id" EQ "$1"
					 " AND ci.integration_key" EQ "'" AP_INTEGRATION_KEY "'"
					 " AND (ci.last_exported_at IS NULL"
					 " OR ci.last_exported_at OPERATOR(pg_catalog.<>) pg_catalog.now())",
					 b->ext_schema);
}

static void
exported_at(StringInfo s, const ApBinding *b)
{
	appendStringInfo(s,
					 "INSERT INTO %s.contact_integrations"
					 " (user_id, contact_id, integration_key, last_exported_at)"
					 " SELECT $1, u.id, '" AP_INTEGRATION_KEY "', pg_catalog.now()"
					 " FROM pg_catalog.unnest($2::pg_catalog.int8[]) AS u(id)",
					 b->ext_schema);
}

static void
event_insert(StringInfo s, const ApBinding *b)
{
	appendStringInfo(s,
					 "INSERT INTO %s.integration_events"
					 " (user_id, integration_key, event_type, filename, total_rows,"
					 " new_count, updated_count, conflict_count, skipped_count, summary)"
					 " VALUES ($1, '" AP_INTEGRATION_KEY "', $2, $3, $4, $5, $6, $7, $8, $9)"
					 " RETURNING id",
					 b->ext_schema);
}

static void
tenant_keys(StringInfo s, const ApBinding *b)
{
	appendStringInfo(s, "SELECT c.%s::pg_catalog.int8", b->id_col);
	append_field_columns(s, b, AP_NIDENTITY);
	appendStringInfo(s, " FROM %s c WHERE c.%s" EQ "$1",
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
					 " WHERE ci.user_id" EQ "$1"
					 " AND ci.integration_key" EQ "'" AP_INTEGRATION_KEY "'",
					 b->ext_schema);
}

static void
import_profiles(StringInfo s, const ApBinding *b)
{
	appendStringInfo(s,
					 "SELECT ci.ctid, ci.contact_id, ci.payload_json"
					 " FROM %s.contact_integrations ci"
					 " WHERE ci.ctid" EQ "ANY ($2::pg_catalog.tid[])"
					 " AND ci.user_id" EQ "$1"
					 " AND ci.integration_key" EQ "'" AP_INTEGRATION_KEY "'",
					 b->ext_schema);
}

/* The same by contact id, for profiles whose tid found nothing. */
static void
import_profiles_by_id(StringInfo s, const ApBinding *b)
{
	appendStringInfo(s,
					 "SELECT ci.ctid, ci.contact_id, ci.payload_json"
					 " FROM %s.contact_integrations ci"
					 " WHERE ci.user_id" EQ "$1"
					 " AND ci.contact_id" EQ "ANY ($2::pg_catalog.int8[])"
					 " AND ci.integration_key" EQ "'" AP_INTEGRATION_KEY "'",
					 b->ext_schema);
}


/*
 * Batched identity updates: $2 ids, then one text[] per identity field
 * (NULL element: leave the column).  Only bound columns are listed.  The
 * fill-blanks form re-checks blankness in SQL, so a value the application
 * wrote since the import read the contact is never overwritten.
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
			appendStringInfo(s, "%s = CASE WHEN pg_catalog.btrim(c.%s::pg_catalog.text)"
							 " OPERATOR(pg_catalog.<>) '' THEN c.%s ELSE COALESCE(u.f%d, c.%s) END",
							 col, col, col, f, col);
		else
			appendStringInfo(s, "%s = COALESCE(u.f%d, c.%s)", col, f, col);
		first = false;
	}
	if (first)					/* nothing bound: a harmless no-op SET */
		appendStringInfo(s, "%s = c.%s", b->id_col, b->id_col);
	appendStringInfoString(s, " FROM ROWS FROM (pg_catalog.unnest($2::pg_catalog.int8[])");
	for (f = 0; f < AP_NIDENTITY; f++)
		appendStringInfo(s, ", pg_catalog.unnest($%d::pg_catalog.text[])", f + 3);
	appendStringInfoString(s, ") AS u(id");
	for (f = 0; f < AP_NIDENTITY; f++)
		appendStringInfo(s, ", f%d", f);
	appendStringInfo(s, ") WHERE c.%s" EQ "$1 AND c.%s" EQ "u.id",
					 b->user_col, b->id_col);
}

/*
 * Batched inserts of new contacts: $2..$11 one text[] per identity field;
 * returns the new ids in input order.
 */
static void
import_insert(StringInfo s, const ApBinding *b)
{
	int			f;

	appendStringInfo(s, "INSERT INTO %s (%s", b->table, b->user_col);
	for (f = 0; f < AP_NIDENTITY; f++)
		if (b->col[f])
			appendStringInfo(s, ", %s", b->col[f]);
	appendStringInfoString(s, ") SELECT $1");
	for (f = 0; f < AP_NIDENTITY; f++)
		if (b->col[f])
			appendStringInfo(s, ", u.f%d", f);
	appendStringInfoString(s, " FROM ROWS FROM (");
	for (f = 0; f < AP_NIDENTITY; f++)
		appendStringInfo(s, "%spg_catalog.unnest($%d::pg_catalog.text[])",
						 f ? ", " : "", f + 2);
	appendStringInfoString(s, ") WITH ORDINALITY AS u(");
	for (f = 0; f < AP_NIDENTITY; f++)
		appendStringInfo(s, "f%d, ", f);
	appendStringInfo(s, "n) ORDER BY u.n RETURNING %s::pg_catalog.int8",
					 b->id_col);
}

/* Batched payload upserts, stamping last_imported_at on every row. */
static void
import_profiles_upsert(StringInfo s, const ApBinding *b)
{
	appendStringInfo(s,
					 "INSERT INTO %s.contact_integrations AS ci"
					 " (user_id, contact_id, integration_key, payload_json, last_imported_at)"
					 " SELECT $1, u.id, '" AP_INTEGRATION_KEY "', u.p, pg_catalog.now()"
					 " FROM ROWS FROM (pg_catalog.unnest($2::pg_catalog.int8[]),"
					 " pg_catalog.unnest($3::pg_catalog.jsonb[])) AS u(id, p)"
					 " ON CONFLICT (user_id, contact_id, integration_key) DO UPDATE"
					 " SET payload_json = EXCLUDED.payload_json,"
					 " last_imported_at = EXCLUDED.last_imported_at,"
					 " updated_at = pg_catalog.now()"
					 " WHERE ci.user_id" EQ "$1",
					 b->ext_schema);
}

/*
 * Imports of one tenant serialise on a transaction-scoped advisory lock
 * keyed by the tenant (class id 'ap' in the high half); other tenants
 * take other keys and never wait.
 */
static void
tenant_lock(StringInfo s, const ApBinding *b)
{
	appendStringInfoString(s,
						   "SELECT pg_catalog.pg_advisory_xact_lock(24944, pg_catalog.hashint8($1))");
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

char *
ap_query_text(const ApBinding *b, ApQuery q)
{
	StringInfoData s;

	initStringInfo(&s);
	switch (q)
	{
		case AP_Q_CONTACT_ROWS:
			contact_rows(&s, b);
			break;
		case AP_Q_CONTACT_COUNT:
			contact_count(&s, b);
			break;
		case AP_Q_PROFILE_UPSERT:
			profile_upsert(&s, b);
			break;
		case AP_Q_PROFILE_CLEAR:
			profile_clear(&s, b);
			break;
		case AP_Q_EXPORTED_AT:
			exported_at(&s, b);
			break;
		case AP_Q_EXPORTED_AT_UPDATE:
			exported_at_update(&s, b);
			break;
		case AP_Q_EXPORTED_AT_TID:
			exported_at_tid(&s, b);
			break;
		case AP_Q_EVENT_INSERT:
			event_insert(&s, b);
			break;
		case AP_Q_TENANT_KEYS:
			tenant_keys(&s, b);
			break;
		case AP_Q_IMPORT_PROFILES:
			import_profiles(&s, b);
			break;
		case AP_Q_IMPORT_UPDATE:
			import_update_sql(&s, b, false);
			break;
		case AP_Q_IMPORT_FILL:
			import_update_sql(&s, b, true);
			break;
		case AP_Q_IMPORT_INSERT:
			import_insert(&s, b);
			break;
		case AP_Q_IMPORT_PROFILES_UPSERT:
			import_profiles_upsert(&s, b);
			break;
		case AP_Q_TENANT_LOCK:
			tenant_lock(&s, b);
			break;
		case AP_Q_IMPORT_PROFILE_TIDS:
			import_profile_tids(&s, b);
			break;
		case AP_Q_IMPORT_PROFILES_BY_ID:
			import_profiles_by_id(&s, b);
			break;
		case AP_NQUERIES:
			elog(ERROR, "activepipe: bad query number");
	}
	return s.data;
}

/*
 * Prepared plans, kept across calls with SPI_keepplan.  A plan is reused
 * while its text is unchanged; a changed binding (another table, other
 * columns, another schema) gives a new text and so a new plan.
 */
typedef struct ApPlanCache
{
	char	   *text;
	SPIPlanPtr	plan;
} ApPlanCache;

static ApPlanCache plan_cache[AP_NQUERIES];

static SPIPlanPtr
ap_plan(const ApBinding *b, ApQuery q, int nargs, Oid *types)
{
	ApPlanCache *pc = &plan_cache[q];
	char	   *sql = ap_query_text(b, q);
	SPIPlanPtr	plan;

	if (pc->plan && strcmp(pc->text, sql) == 0)
		return pc->plan;
	plan = SPI_prepare(sql, nargs, types);
	if (plan == NULL)
		elog(ERROR, "activepipe: SPI_prepare failed for %s: %s",
			 query_names[q], SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "activepipe: SPI_keepplan failed for %s", query_names[q]);
	if (pc->plan)
	{
		SPI_freeplan(pc->plan);
		pfree(pc->text);
	}
	pc->text = MemoryContextStrdup(TopMemoryContext, sql);
	pc->plan = plan;
	return plan;
}

uint64
ap_spi_run(const ApBinding *b, ApQuery q, int nargs, Oid *types,
		   Datum *values, const char *nulls, bool read_only)
{
	SPIPlanPtr	plan = ap_plan(b, q, nargs, types);
	MemoryContext caller = CurrentMemoryContext;
	int			rc = SPI_execute_plan(plan, values, nulls, read_only, 0);

	/* SPI returns in its procedure context; the caller's may be shorter */
	MemoryContextSwitchTo(caller);
	if (rc < 0)
		elog(ERROR, "activepipe: %s failed: %s", query_names[q],
			 SPI_result_code_string(rc));
	return SPI_processed;
}

/*
 * Take the tenant's transaction-scoped lock.  Import commits and card
 * writes of one user serialise on it; the statements that follow read a
 * fresh snapshot, so they see what the previous holder wrote.
 */
void
ap_lock_tenant(const ApBinding *b, int64 user_id)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(user_id)};

	ap_spi_run(b, AP_Q_TENANT_LOCK, 1, types, values, NULL, false);
}

Portal
ap_spi_cursor(const ApBinding *b, ApQuery q, int nargs, Oid *types,
			  Datum *values, const char *nulls)
{
	SPIPlanPtr	plan = ap_plan(b, q, nargs, types);
	/*
	 * Not read-only: the cursor then takes a fresh snapshot, so an import
	 * that waited for the tenant lock sees what the commit before it wrote.
	 */
	Portal		portal = SPI_cursor_open(NULL, plan, values, nulls, false);

	if (portal == NULL)
		elog(ERROR, "activepipe: cursor for %s failed: %s", query_names[q],
			 SPI_result_code_string(SPI_result));
	return portal;
}

/*
 * Run q and hand its rows to dest as the executor makes them, with no
 * tuptable in between: the tenant scans read every contact of a user and
 * copy only what they keep, straight from the executor's slot.  Read-only,
 * in the active snapshot: the import pushes one for all its reads (see
 * ap_tenant_load), so tids read once still name the same rows later.
 */
void
ap_spi_stream(const ApBinding *b, ApQuery q, int nargs, Oid *types,
			  Datum *values, DestReceiver *dest)
{
	SPIPlanPtr	plan = ap_plan(b, q, nargs, types);
	MemoryContext caller = CurrentMemoryContext;
	ParamListInfo params = makeParamList(nargs);
	SPIExecuteOptions opts;
	int			i;
	int			rc;

	for (i = 0; i < nargs; i++)
	{
		params->params[i].value = values[i];
		params->params[i].isnull = false;
		params->params[i].pflags = PARAM_FLAG_CONST;
		params->params[i].ptype = types[i];
	}
	memset(&opts, 0, sizeof(opts));
	opts.params = params;
	opts.read_only = true;
	opts.dest = dest;
	rc = SPI_execute_plan_extended(plan, &opts);
	MemoryContextSwitchTo(caller);	/* not SPI's procedure context */
	if (rc < 0)
		elog(ERROR, "activepipe: %s failed: %s", query_names[q],
			 SPI_result_code_string(rc));
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
		put_statement(rsinfo, query_names[q], ap_query_text(b, (ApQuery) q));
	put_statement(rsinfo, "binding", ap_binding_query_text(b->ext_schema));
	SPI_finish();
	return (Datum) 0;
}
