/*
 * import_probe.c
 *	  How an import finds the contacts its rows can match.
 *
 * A row can only match a contact that holds one of its keys, so the
 * contacts to read are those that share a key with the file.  Two ways to
 * read them:
 *
 *	  scan	 read every contact of the tenant once (ap_tenant_scan): cheap
 *			 per contact, but a 20-row file pays for a 100,000-contact
 *			 tenant;
 *	  probe	 for each chunk of rows, read the contacts holding the chunk's
 *			 keys through the match indexes the DBA created from
 *			 activepipe_match_indexes(): the cost follows the file.
 *
 * Both give the same answer: a key's holders are all read before any row
 * looks the key up, and a contact read once is never read again (the rows
 * may have changed it).  Probing needs an index for every key column the
 * file's keys are looked up in, for the phone region in force; payload-held
 * key fields have none, so such imports scan.  activepipe.match_strategy
 * forces either way; "auto" probes when the file's keys are few next to
 * the tenant's contacts, as the planner's statistics estimate them.
 */
#include "activepipe.h"

#include <math.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "catalog/index.h"
#include "catalog/pg_am.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_statistic.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/syscache.h"

#include "import.h"

int			ap_match_strategy = AP_STRATEGY_AUTO;

/*
 * An index lookup costs about this many contacts of a full read (measured
 * by make bench: a probe key ~4 us, a scanned contact ~1.5 us, with the
 * probes' fixed costs).
 */
#define PROBE_COST 4.0

/* The key fields and their index names, by ApMatchKey - 1. */
static const char *const index_suffix[3] = {"email", "mobile", "phone"};

/*
 * The key expression of field f, as the match index holds it and the
 * probes name it.  Keys are compared byte for byte (COLLATE "C"): they are
 * normalised already, so the column's collation has nothing to add, and
 * under an ICU or glibc locale it doubles the cost of an index descent
 * (an ICU index: 0.54 ms against 0.28 ms for the bench's 59-key email
 * probe).
 */
void
ap_append_key_expr(StringInfo s, const ApBinding *b, int f, const char *prefix,
				   const char *region_literal)
{
	if (f == AP_F_EMAIL)
		appendStringInfo(s, "%s.activepipe_email_key(%s%s::pg_catalog.text)",
						 b->ext_schema, prefix, b->col[f]);
	else
		appendStringInfo(s, "%s.activepipe_phone_key(%s%s::pg_catalog.text, %s::pg_catalog.text)",
						 b->ext_schema, prefix, b->col[f],
						 region_literal ? region_literal :
						 quote_literal_cstr(ap_default_region()->code));
	appendStringInfoString(s, " COLLATE pg_catalog.\"C\"");
}

static Oid
key_function(const ApBinding *b, const char *name, int nargs)
{
	Oid			args[2] = {TEXTOID, TEXTOID};
	char	   *schema = get_namespace_name(b->ext_nsp);

	return LookupFuncName(list_make2(makeString(schema), makeString((char *) name)),
						  nargs, args, false);
}

/* The expression an index keeps for its key, under relabelling casts. */
static Node *
strip_relabel(Node *n)
{
	while (n && IsA(n, RelabelType))
		n = (Node *) ((RelabelType *) n)->arg;
	return n;
}

/*
 * The column under the cast to text that the key expression puts on it: a
 * relabelling for text, varchar and domains over them, one call of
 * text(bpchar) for char(n).  Nothing else: an index on another expression
 * (a trim, a cast through another type) is not the one the probes name.
 */
static Node *
strip_cast(Node *n)
{
	n = strip_relabel(n);
	if (n && IsA(n, FuncExpr) && ((FuncExpr *) n)->funcid == F_TEXT_BPCHAR)
		n = strip_relabel(linitial(((FuncExpr *) n)->args));
	return n;
}

/*
 * Whether expr is fn(column) (region NULL) or fn(column, 'region') with a
 * literal naming region; *literal gets the literal as SQL.
 */
static bool
key_expr_matches(Node *expr, Oid fn, AttrNumber col,
				 const ap_phone_region *region, char **literal)
{
	FuncExpr   *fe = (FuncExpr *) strip_relabel(expr);
	Node	   *arg;
	Const	   *k;
	char	   *code;

	if (fe == NULL || !IsA(fe, FuncExpr) || fe->funcid != fn)
		return false;
	arg = strip_cast(linitial(fe->args));
	if (arg == NULL || !IsA(arg, Var) || ((Var *) arg)->varattno != col)
		return false;
	if (region == NULL)
		return list_length(fe->args) == 1;
	k = (Const *) strip_relabel(lsecond(fe->args));
	if (k == NULL || !IsA(k, Const) || k->constisnull || k->consttype != TEXTOID)
		return false;
	code = TextDatumGetCString(k->constvalue);
	if (ap_phone_region_find(code) != region)
		return false;
	*literal = quote_literal_cstr(code);
	return true;
}

/* What holds the name activepipe_match_indexes would give an index. */
typedef enum ApIndexName
{
	AP_NAME_FREE,				/* nothing, or the match index itself */
	AP_NAME_REPLACE,			/* one it wrote, unusable: drop it first */
	AP_NAME_TAKEN				/* another index, left alone */
} ApIndexName;

/*
 * The match index of key field f on the contacts table: a valid btree
 * index, no predicate, on (tenant column, key expression COLLATE "C") with
 * the phone key of region.  Returns its oid, or InvalidOid; *literal as
 * above, for the index found.  *name_state says what holds the name given
 * (when there is one): an index on that key as activepipe_match_indexes
 * writes them (not unique, no INCLUDE) but unusable, being invalid (a
 * failed CREATE INDEX CONCURRENTLY leaves one) or in another collation (an
 * earlier 1.2 build made it so), is to be replaced, since IF NOT EXISTS
 * would leave it in the way; any other index of that name (another
 * region's, a DBA's own) is not touched.
 */
static Oid
find_match_index(const ApBinding *b, Relation rel, int f,
				 const ap_phone_region *region, char **literal,
				 const char *name, ApIndexName *name_state)
{
	Oid			fn = f == AP_F_EMAIL ? key_function(b, "activepipe_email_key", 1) :
		key_function(b, "activepipe_phone_key", 2);
	List	   *indexes = RelationGetIndexList(rel);
	ListCell   *lc;
	Oid			found = InvalidOid;

	*name_state = AP_NAME_FREE;
	foreach(lc, indexes)
	{
		Relation	ir = index_open(lfirst_oid(lc), AccessShareLock);
		Form_pg_index ix = ir->rd_index;
		char	   *lit = NULL;
		bool		key = ir->rd_rel->relam == BTREE_AM_OID && ix->indnkeyatts >= 2 &&
			ix->indkey.values[0] == b->user_attnum && ix->indkey.values[1] == 0 &&
			RelationGetIndexPredicate(ir) == NIL &&
			key_expr_matches(linitial(RelationGetIndexExpressions(ir)), fn,
							 b->attnum[f], f == AP_F_EMAIL ? NULL : region, &lit);
		bool		usable = key && ix->indisvalid && ix->indisready && ix->indislive &&
			ir->rd_indcollation[1] == C_COLLATION_OID;

		if (usable && !OidIsValid(found))
		{
			found = RelationGetRelid(ir);
			*literal = lit;
		}
		/* the shape activepipe_match_indexes writes: not unique, no INCLUDE */
		if (name && strcmp(RelationGetRelationName(ir), name) == 0 && !usable)
			*name_state = key && !ix->indisunique && ix->indnatts == 2 ?
				AP_NAME_REPLACE : AP_NAME_TAKEN;
		index_close(ir, AccessShareLock);
	}
	list_free(indexes);
	return found;
}

/*
 * How many contacts the tenant has, as the statistics of the tenant column
 * estimate it (what the planner's equality estimate does); -1 when there
 * are none (never analysed, or a Citus shell table whose shards hold them).
 */
static double
tenant_estimate(const ApBinding *b, Relation rel, int64 user_id)
{
	double		reltuples = rel->rd_rel->reltuples;
	Oid			type = get_atttype(b->relid, b->user_attnum);
	HeapTuple	stats;
	Form_pg_statistic st;
	AttStatsSlot sslot;
	double		ndistinct;
	double		mcvsum = 0;
	double		sel = -1;
	int			i;

	if (reltuples <= 0 || (type != INT8OID && type != INT4OID && type != INT2OID))
		return -1;
	stats = SearchSysCache3(STATRELATTINH, ObjectIdGetDatum(b->relid),
							Int16GetDatum(b->user_attnum), BoolGetDatum(false));
	if (!HeapTupleIsValid(stats))
		return -1;
	st = (Form_pg_statistic) GETSTRUCT(stats);
	ndistinct = st->stadistinct < 0 ? -st->stadistinct * reltuples : st->stadistinct;
	if (get_attstatsslot(&sslot, stats, STATISTIC_KIND_MCV, InvalidOid,
						 ATTSTATSSLOT_VALUES | ATTSTATSSLOT_NUMBERS))
	{
		for (i = 0; i < sslot.nvalues; i++)
		{
			int64		v = type == INT8OID ? DatumGetInt64(sslot.values[i]) :
				type == INT4OID ? DatumGetInt32(sslot.values[i]) :
				DatumGetInt16(sslot.values[i]);

			mcvsum += sslot.numbers[i];
			if (v == user_id)
				sel = sslot.numbers[i];
		}
		if (sel < 0 && ndistinct > sslot.nvalues)
			sel = (1.0 - st->stanullfrac - mcvsum) / (ndistinct - sslot.nvalues);
		free_attstatsslot(&sslot);
	}
	else if (ndistinct > 0)
		sel = (1.0 - st->stanullfrac) / ndistinct;
	ReleaseSysCache(stats);
	return sel < 0 ? -1 : Max(sel * reltuples, 1.0);
}

/*
 * Whether the tenant holds at least bound contacts, counted (up to bound)
 * when the statistics cannot estimate it: on Citus the table the extension
 * names is a shell whose rows live in shards, and it has no statistics.
 * Counting stops at bound, so it costs less than the probes it decides on.
 */
static bool
tenant_at_least(const ApTenant *t, double estimate, double bound)
{
	Oid			types[2] = {INT8OID, INT8OID};
	Datum		values[2];

	if (estimate >= 0)
		return estimate >= bound;
	bound = Min(bound, (double) PG_INT64_MAX / 2);
	values[0] = Int64GetDatum(t->user_id);
	values[1] = Int64GetDatum((int64) bound);
	ap_spi_run(t->binding, AP_Q_TENANT_SIZE, 2, types, values, NULL, true);
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
									   1, &(bool){false})) >= (int64) bound;
}

/*
 * The name activepipe_match_indexes gives key field k's index: the table's
 * name, clipped at a character boundary so that the suffix always fits in
 * NAMEDATALEN (three names cut at the same byte would collide); with
 * region, the region's code too, and with n > 0, n (where other relations
 * hold the names before it).
 */
static char *
index_name(Relation rel, int k, const ap_phone_region *region, int n)
{
	const char *table = RelationGetRelationName(rel);
	char		code[8] = "";
	char		number[12] = "";
	char		suffix[48];
	int			keep;
	char	   *c;

	if (region)
		snprintf(code, sizeof(code), "_%s", region->code);
	for (c = code; *c; c++)
		*c = pg_tolower((unsigned char) *c);
	if (n > 0)
		snprintf(number, sizeof(number), "%d", n);
	snprintf(suffix, sizeof(suffix), "_activepipe_%s%s%s_idx", index_suffix[k], code, number);
	keep = pg_mbcliplen(table, strlen(table), NAMEDATALEN - 1 - (int) strlen(suffix));
	return psprintf("%.*s%s", keep, table, suffix);
}

/*
 * Decide how this import finds its candidates (t->strategy), and for
 * probes, note the indexes' regions in the binding.  rows is an upper
 * bound of the file's rows; present marks the key fields the file has.
 */
void
ap_probe_setup(ApTenant *t, int64 rows, const bool *present)
{
	ApBinding  *b = (ApBinding *) t->binding;	/* sets probe fields only */
	Relation	rel = relation_open(b->relid, AccessShareLock);
	bool		usable = true;
	bool		analysed = true;
	double		lookups = 0;
	int			k;

	t->estimate = tenant_estimate(b, rel, t->user_id);

	for (k = 0; k < 3 && ap_match_strategy != AP_STRATEGY_SCAN; k++)
	{
		int			f = ap_match_fields[k];
		bool		needed = k == 0 ? present[AP_F_EMAIL] :
			present[AP_F_MOBILE] || present[AP_F_PHONE];
		char	   *literal = NULL;
		ApIndexName name_state;
		Oid			ix;

		if (!needed)
			continue;
		lookups += rows * (k == 0 ? 1 : present[AP_F_MOBILE] + present[AP_F_PHONE]);
		if (b->col[f] == NULL ||
			!OidIsValid(ix = find_match_index(b, rel, f, t->region, &literal, NULL, &name_state)))
		{
			usable = false;
			continue;
		}
		if (k > 0)
			b->probe_region[k - 1] = literal;
		/* its key's statistics: ANALYZE after the index was made */
		if (!SearchSysCacheExists3(STATRELATTINH, ObjectIdGetDatum(ix),
								   Int16GetDatum(2), BoolGetDatum(false)))
			analysed = false;
	}
	b->probes_analysed = usable && analysed;
	if (ap_match_strategy == AP_STRATEGY_PROBE && !usable)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("activepipe.match_strategy is \"probe\" but the match indexes are missing"),
				 errdetail("Probing needs an index on each key column the file is matched on, its key COLLATE \"C\", for phone region %s; fields kept in the payload have none.",
						   t->region->code),
				 errhint("Create them with SELECT * FROM activepipe_match_indexes() \\gexec, or set activepipe.match_strategy to auto.")));
	if (ap_match_strategy == AP_STRATEGY_SCAN || !usable)
		t->strategy = AP_STRATEGY_SCAN;
	else if (ap_match_strategy == AP_STRATEGY_PROBE)
		t->strategy = AP_STRATEGY_PROBE;
	else
		t->strategy = tenant_at_least(t, t->estimate,
									  ceil(lookups * PROBE_COST) + 1) ?
			AP_STRATEGY_PROBE : AP_STRATEGY_SCAN;
	relation_close(rel, AccessShareLock);
	elog(DEBUG1, "activepipe: import of at most " INT64_FORMAT " rows finds candidates by %s",
		 rows, t->strategy == AP_STRATEGY_PROBE ? "probe" : "scan");
}

/* Run probe q for the keys, as text[]; nothing when there are none. */
static void
run_probe(ApTenant *t, ApQuery q, Datum *keys, int n)
{
	Oid			types[2] = {INT8OID, TEXTARRAYOID};
	Datum		values[2];

	if (n == 0)
		return;
	values[0] = Int64GetDatum(t->user_id);
	values[1] = PointerGetDatum(construct_array(keys, n, TEXTOID, -1, false,
												TYPALIGN_INT));
	ap_tenant_stream(t, q, 2, types, values, ap_tenant_add_probed);
}

/* Keep the keys of ks not probed yet as text datums; mark them probed. */
static int
unprobed(apkeys_hash *ix, const ApKeyStr *ks, int n, Datum *out)
{
	int			m = 0;
	int			i;

	for (i = 0; i < n; i++)
	{
		ApKeyEntry *e = ap_key_entry(ix, ks[i].s, ks[i].len,
									 ap_key_hash(ks[i].s, ks[i].len));

		if (e->probed)
			continue;
		e->probed = true;
		out[m++] = PointerGetDatum(cstring_to_text_with_len(ks[i].s, ks[i].len));
	}
	return m;
}

/*
 * Read the contacts holding any of the keys (a chunk's) that no probe has
 * asked for yet.
 */
void
ap_probe_keys(ApTenant *t, const ApKeyStr *emails, int nemails,
			  const ApKeyStr *phones, int nphones)
{
	Datum	   *keys = palloc(sizeof(Datum) * Max(Max(nemails, nphones), 1));
	int			n;

	n = unprobed(t->email, emails, nemails, keys);
	run_probe(t, AP_Q_PROBE_EMAIL, keys, n);
	n = unprobed(t->phone, phones, nphones, keys);
	if (t->binding->col[AP_F_MOBILE])
		run_probe(t, AP_Q_PROBE_MOBILE, keys, n);
	if (t->binding->col[AP_F_PHONE])
		run_probe(t, AP_Q_PROBE_PHONE, keys, n);
	pfree(keys);
}

/*
 * What holds name, for field f's match index: find_match_index's answer,
 * or taken when a relation of that name that is not one of the table's
 * indexes holds it (an index of another table: IF NOT EXISTS would skip).
 */
static ApIndexName
name_held(const ApBinding *b, Relation rel, int f, const ap_phone_region *region,
		  const char *name)
{
	char	   *literal = NULL;
	ApIndexName name_state;

	(void) find_match_index(b, rel, f, region, &literal, name, &name_state);
	if (name_state == AP_NAME_FREE &&
		OidIsValid(get_relname_relid(name, RelationGetNamespace(rel))))
		name_state = AP_NAME_TAKEN;
	return name_state;
}

static void
put_text(ReturnSetInfo *rsinfo, const char *text)
{
	Datum		value = CStringGetTextDatum(text);
	bool		isnull = false;

	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &value, &isnull);
}

/* The CREATE INDEX statement of field f's match index, named name. */
static char *
create_statement(const ApBinding *b, int f, const char *name,
				 const ap_phone_region *region)
{
	StringInfoData s;

	initStringInfo(&s);
	appendStringInfo(&s, "CREATE INDEX CONCURRENTLY IF NOT EXISTS %s ON %s (%s, (",
					 quote_identifier(name), b->table, b->user_col);
	ap_append_key_expr(&s, b, f, "", quote_literal_cstr(region->code));
	appendStringInfoString(&s, "))");
	return s.data;
}

/*
 * activepipe_match_indexes(region text DEFAULT NULL) RETURNS SETOF text:
 * the statements that create the match indexes on the bound contacts
 * table, for the DBA to run (CREATE INDEX CONCURRENTLY cannot run inside a
 * function): in psql, SELECT * FROM activepipe_match_indexes() \gexec.
 * Indexes already there are left out; one of the name to give that is
 * unusable is dropped first (find_match_index), and one that is not the
 * extension's to drop is left with a WARNING.
 */
PG_FUNCTION_INFO_V1(activepipe_match_indexes);
Datum
activepipe_match_indexes(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	const ap_phone_region *region = ap_default_region();
	ApBinding  *b;
	Relation	rel;
	int			k;

	if (!PG_ARGISNULL(0))
	{
		char	   *code = text_to_cstring(PG_GETARG_TEXT_PP(0));

		if ((region = ap_phone_region_find(code)) == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown phone region \"%s\"", code),
					 errhint("Use an ISO 3166 code such as AU, NZ, GB or US.")));
	}
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	SPI_connect();
	b = ap_binding_load(fcinfo);
	rel = relation_open(b->relid, AccessShareLock);
	for (k = 0; k < 3; k++)
	{
		int			f = ap_match_fields[k];
		char	   *name = NULL;
		char	   *literal = NULL;
		ApIndexName name_state;
		int			n;

		if (b->col[f] == NULL ||
			OidIsValid(find_match_index(b, rel, f, region, &literal, NULL, &name_state)))
			continue;
		/*
		 * Where other relations (another region's index, another table's)
		 * hold the name, the region's code and then a number go in it.
		 */
		for (n = 0; n < 10; n++)
		{
			name = k == 0 ? index_name(rel, k, NULL, n) :
				index_name(rel, k, n > 0 ? region : NULL, n > 1 ? n : 0);
			if ((name_state = name_held(b, rel, f, region, name)) != AP_NAME_TAKEN)
				break;
		}
		if (name_state == AP_NAME_TAKEN)
		{
			ereport(WARNING,
					(errcode(ERRCODE_DUPLICATE_OBJECT),
					 errmsg("no free name for the %s match index", index_suffix[k]),
					 errdetail("Other relations hold \"%s\" and the names this function tries before it.",
							   name),
					 errhint("Rename or drop one of them, then run activepipe_match_indexes() again.")));
			continue;
		}
		if (name_state == AP_NAME_REPLACE)
			put_text(rsinfo, psprintf("DROP INDEX CONCURRENTLY IF EXISTS %s",
									  quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
																 name)));
		put_text(rsinfo, create_statement(b, f, name, region));
	}
	relation_close(rel, AccessShareLock);
	SPI_finish();
	return (Datum) 0;
}
