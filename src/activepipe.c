/*
 * activepipe.c
 *	  Module entry point: settings (GUCs), and the small SQL functions that
 *	  expose the contract, the match-key normalisers and cluster-wide ids.
 */
#include "activepipe.h"

#include "access/htup_details.h"
#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "commands/sequence.h"
#include "funcapi.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "import.h"
#include "import_history.h"
#include "normalize.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

int			ap_export_cap = 5000;
bool		ap_stamp_exports = true;
int			ap_history_days = 90;
static char *ap_default_region_code = NULL;

static const struct config_enum_entry strategy_options[] = {
	{"auto", AP_STRATEGY_AUTO, false},
	{"scan", AP_STRATEGY_SCAN, false},
	{"probe", AP_STRATEGY_PROBE, false},
	{NULL, 0, false}
};

static bool
check_region(char **newval, void **extra, GucSource source)
{
	if (*newval == NULL || ap_phone_region_find(*newval) != NULL)
		return true;
	GUC_check_errdetail("Unknown phone region \"%s\".", *newval);
	GUC_check_errhint("Use an ISO 3166 code such as AU, NZ, GB or US.");
	return false;
}

void
_PG_init(void)
{
	DefineCustomIntVariable("activepipe.export_cap",
							"Most contacts one ActivePipe export may hold.",
							"Exports of more distinct contacts are refused.",
							&ap_export_cap,
							5000, 0, 10000000,
							PGC_USERSET, 0,
							NULL, NULL, NULL);
	DefineCustomBoolVariable("activepipe.stamp_exports",
							 "Whether exports set last_exported_at (benchmarking only).",
							 "Off measures CSV generation alone; it breaks the export contract, so only superusers may turn it off.",
							 &ap_stamp_exports,
							 true,
							 PGC_SUSET, GUC_NOT_IN_SAMPLE,
							 NULL, NULL, NULL);
	DefineCustomStringVariable("activepipe.default_region",
							   "Region whose trunk prefix and calling code apply to phone numbers written without one.",
							   NULL,
							   &ap_default_region_code,
							   "AU",
							   PGC_USERSET, 0,
							   check_region, NULL, NULL);
	DefineCustomEnumVariable("activepipe.match_strategy",
							 "How an import finds the contacts its rows can match.",
							 "auto probes the match indexes when the file's keys are few next to the tenant's contacts, else scans the tenant; scan and probe force one way.",
							 &ap_match_strategy,
							 AP_STRATEGY_AUTO, strategy_options,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);
	DefineCustomBoolVariable("activepipe.keep_history",
							 "Whether imports and exports keep their report (benchmarking only).",
							 "Off measures an import commit without its report; an import committed so cannot be reported or undone, so only superusers may turn it off.",
							 &ap_keep_history,
							 true,
							 PGC_SUSET, GUC_NOT_IN_SAMPLE,
							 NULL, NULL, NULL);
	DefineCustomIntVariable("activepipe.history_days",
							"Days the reports of imports and exports are kept by activepipe_prune_history.",
							"0 keeps them forever.",
							&ap_history_days,
							90, 0, 36500,
							PGC_USERSET, 0,
							NULL, NULL, NULL);
	MarkGUCPrefixReserved("activepipe");
}

const ap_phone_region *
ap_default_region(void)
{
	const ap_phone_region *r = NULL;

	if (ap_default_region_code)
		r = ap_phone_region_find(ap_default_region_code);
	return r ? r : ap_phone_region_find("AU");
}

static const char *
kind_name(ap_field_kind kind)
{
	switch (kind)
	{
		case AP_KIND_IDENTITY:
			return "identity";
		case AP_KIND_TEXT:
			return "text";
		case AP_KIND_RANGE:
			return "range";
		case AP_KIND_TAGS:
			return "tags";
	}
	return "unknown";
}

PG_FUNCTION_INFO_V1(activepipe_contract);
Datum
activepipe_contract(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			f;

	InitMaterializedSRF(fcinfo, 0);
	for (f = 0; f < AP_NFIELDS; f++)
	{
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};

		values[0] = Int32GetDatum(f + 1);
		values[1] = CStringGetTextDatum(ap_contract[f].name);
		values[2] = CStringGetTextDatum(kind_name(ap_contract[f].kind));
		if (ap_contract[f].default_column)
			values[3] = CStringGetTextDatum(ap_contract[f].default_column);
		else
			nulls[3] = true;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

static Datum
phone_key(FunctionCallInfo fcinfo, text *phone, const ap_phone_region *region)
{
	char		key[AP_PHONE_KEY_SIZE];
	size_t		n = ap_phone_key(VARDATA_ANY(phone), VARSIZE_ANY_EXHDR(phone),
								 region, key);

	if (n == 0)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text_with_len(key, n));
}

/* activepipe_phone_key(phone): in the region activepipe.default_region says. */
PG_FUNCTION_INFO_V1(activepipe_phone_key);
Datum
activepipe_phone_key(PG_FUNCTION_ARGS)
{
	return phone_key(fcinfo, PG_GETARG_TEXT_PP(0), ap_default_region());
}

/*
 * activepipe_phone_key(phone, region): depends on its arguments only, so
 * it is IMMUTABLE and a match index can hold it.
 */
PG_FUNCTION_INFO_V1(activepipe_phone_key_region);
Datum
activepipe_phone_key_region(PG_FUNCTION_ARGS)
{
	char	   *code = text_to_cstring(PG_GETARG_TEXT_PP(1));
	const ap_phone_region *region = ap_phone_region_find(code);

	if (region == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown phone region \"%s\"", code),
				 errhint("Use an ISO 3166 code such as AU, NZ, GB or US.")));
	return phone_key(fcinfo, PG_GETARG_TEXT_PP(0), region);
}

PG_FUNCTION_INFO_V1(activepipe_email_key);
Datum
activepipe_email_key(PG_FUNCTION_ARGS)
{
	text	   *email = PG_GETARG_TEXT_PP(0);
	size_t		len = VARSIZE_ANY_EXHDR(email);
	char	   *key = palloc(len + 1);
	size_t		n;

	n = ap_email_key(VARDATA_ANY(email), len, key, len + 1);
	if (n == 0)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text_with_len(key, n));
}

/*
 * The Citus group of this node (0 on the coordinator and on a server
 * without Citus), read once per transaction from pg_dist_local_group.
 */
static int32
node_group(void)
{
	static LocalTransactionId cached_lxid = InvalidLocalTransactionId;
	static int32 cached_group = 0;
	Oid			relid;

	if (MyProc->lxid == cached_lxid)
		return cached_group;
	cached_group = 0;
	relid = get_relname_relid("pg_dist_local_group", PG_CATALOG_NAMESPACE);
	if (OidIsValid(relid))
	{
		Relation	rel = table_open(relid, AccessShareLock);
		TableScanDesc scan = table_beginscan_catalog(rel, 0, NULL);
		HeapTuple	tup = heap_getnext(scan, ForwardScanDirection);
		bool		isnull = true;
		Datum		d = 0;

		if (HeapTupleIsValid(tup))
			d = heap_getattr(tup, 1, RelationGetDescr(rel), &isnull);
		cached_group = isnull ? 0 : DatumGetInt32(d);
		table_endscan(scan);
		table_close(rel, AccessShareLock);
	}
	cached_lxid = MyProc->lxid;
	return cached_group;
}

#define AP_ID_NODE_SHIFT 48

/*
 * activepipe_next_id(seq regclass): the next id of one of the extension's
 * tables, unique across the nodes of a cluster however a call is routed.
 * Each node draws from its own copy of the sequence (Citus gives
 * extension-owned sequences no per-node ranges), and the node's Citus
 * group goes in the high 15 bits (below the sign bit).  On a single server and on a Citus
 * coordinator (group 0) the ids are the sequence's own, as before.
 */
PG_FUNCTION_INFO_V1(activepipe_next_id);
Datum
activepipe_next_id(PG_FUNCTION_ARGS)
{
	int64		v = nextval_internal(PG_GETARG_OID(0), true);
	int32		group = node_group();

	if (v <= 0 || v >= (INT64CONST(1) << AP_ID_NODE_SHIFT) ||
		group < 0 || group >= (1 << (63 - AP_ID_NODE_SHIFT)))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("activepipe id out of range: sequence value " INT64_FORMAT " on node group %d",
						v, group),
				 errdetail("Ids are the node's group in the high 15 bits and a sequence value below 2^48.")));
	PG_RETURN_INT64(((int64) group << AP_ID_NODE_SHIFT) | v);
}
