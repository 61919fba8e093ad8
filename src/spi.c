/*
 * spi.c
 *	  Running the statements of queries.c: prepared plans kept across
 *	  calls, plain execution, cursors, rows streamed to a receiver, and the
 *	  tenant lock.
 */
#include "activepipe.h"

#include "catalog/pg_type.h"
#include "utils/memutils.h"

/*
 * Prepared plans, kept across calls with SPI_keepplan.  A plan is reused
 * while its text and options are unchanged; a changed binding (another
 * table, other columns, another schema, another probe region) gives a new
 * text and so a new plan.
 */
typedef struct ApPlanCache
{
	char	   *text;
	int			options;
	SPIPlanPtr	plan;
} ApPlanCache;

static ApPlanCache plan_cache[AP_NQUERIES];

static SPIPlanPtr
ap_plan(const ApBinding *b, ApQuery q, int nargs, Oid *types)
{
	ApPlanCache *pc = &plan_cache[q];
	char	   *sql = ap_query_text(b, q);
	SPIPlanPtr	plan;
	char	   *text;
	SPIPlanPtr	old_plan;
	char	   *old_text;
	int			options = ap_query_cursor_options(b, q);

	if (pc->plan && pc->options == options && strcmp(pc->text, sql) == 0)
		return pc->plan;
	plan = SPI_prepare_cursor(sql, nargs, types, options);
	if (plan == NULL)
		elog(ERROR, "activepipe: SPI_prepare failed for %s: %s",
			 ap_query_name(q), SPI_result_code_string(SPI_result));
	/* everything that can fail comes before the cache entry changes */
	text = MemoryContextStrdup(TopMemoryContext, sql);
	if (SPI_keepplan(plan) != 0)
	{
		pfree(text);
		elog(ERROR, "activepipe: SPI_keepplan failed for %s", ap_query_name(q));
	}
	old_plan = pc->plan;
	old_text = pc->text;
	pc->plan = plan;
	pc->text = text;
	pc->options = options;
	if (old_plan)
	{
		SPI_freeplan(old_plan);
		pfree(old_text);
	}
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
		elog(ERROR, "activepipe: %s failed: %s", ap_query_name(q),
			 SPI_result_code_string(rc));
	return SPI_processed;
}

/*
 * Take the tenant's transaction-scoped lock.  Import commits, undos, card
 * writes and exports of one user serialise on it; the statements that
 * follow read a fresh snapshot, so they see what the previous holder
 * wrote.
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
	 * Not read-only: the cursor then takes a fresh snapshot, so a call that
	 * waited for the tenant lock sees what the call before it wrote.
	 */
	Portal		portal = SPI_cursor_open(NULL, plan, values, nulls, false);

	if (portal == NULL)
		elog(ERROR, "activepipe: cursor for %s failed: %s", ap_query_name(q),
			 SPI_result_code_string(SPI_result));
	return portal;
}

static void
dest_startup(DestReceiver *self, int operation, TupleDesc desc)
{
}

static void
dest_nothing(DestReceiver *self)
{
}

/*
 * Make dest a receiver for ap_spi_stream: receive gets each row, startup
 * (NULL: none) the row type; not DestSPI, so no tuptable is built.
 */
void
ap_dest_init(DestReceiver *dest,
			 bool (*receive) (TupleTableSlot *slot, DestReceiver *self),
			 void (*startup) (DestReceiver *self, int operation, TupleDesc desc))
{
	dest->receiveSlot = receive;
	dest->rStartup = startup ? startup : dest_startup;
	dest->rShutdown = dest_nothing;
	dest->rDestroy = dest_nothing;
	dest->mydest = DestNone;
}

/*
 * Run q and hand its rows to dest as the executor makes them, with no
 * tuptable in between: the readers copy only what they keep, straight from
 * the executor's slot.  read_only runs in the active snapshot: the import
 * pushes one for all its reads (see ap_tenant_init), so tids read once
 * still name the same rows later.  Otherwise the statement takes a fresh
 * snapshot, as a call that waited for the tenant lock needs.
 */
void
ap_spi_stream(const ApBinding *b, ApQuery q, int nargs, Oid *types,
			  Datum *values, DestReceiver *dest, bool read_only)
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
	opts.read_only = read_only;
	opts.dest = dest;
	rc = SPI_execute_plan_extended(plan, &opts);
	MemoryContextSwitchTo(caller);	/* not SPI's procedure context */
	if (rc < 0)
		elog(ERROR, "activepipe: %s failed: %s", ap_query_name(q),
			 SPI_result_code_string(rc));
}
