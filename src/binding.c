/*
 * binding.c
 *	  The contacts binding: which application table holds contacts and
 *	  which of its columns carries each ActivePipe identity/address field.
 *
 * The extension owns no contacts table.  Its contacts_binding table holds
 * at most one row; with none, the reference Ulysses schema applies.  The
 * binding is read and checked once per call, so a wrong configuration is
 * reported by name before any work is done.
 */
#include "activepipe.h"

#include "access/htup_details.h"
#include "access/relation.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "nodes/nodeFuncs.h"
#include "parser/parse_coerce.h"
#include "rewrite/rewriteHandler.h"
#include "utils/fmgroids.h"
#include "utils/builtins.h"
#include "utils/rel.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

char *
ap_extension_schema(FunctionCallInfo fcinfo)
{
	Oid			nsp = get_func_namespace(fcinfo->flinfo->fn_oid);
	char	   *name = get_namespace_name(nsp);

	if (name == NULL)
		elog(ERROR, "activepipe: schema of function %u not found",
			 fcinfo->flinfo->fn_oid);
	return name;
}

/* Value of column i of the binding row, or the default when no row. */
static char *
binding_value(HeapTuple tup, TupleDesc desc, int attno, const char *dflt)
{
	if (tup == NULL)
		return dflt ? pstrdup(dflt) : NULL;
	return SPI_getvalue(tup, desc, attno);
}

static Oid
check_table(const char *schema, const char *table)
{
	Oid			nsp = get_namespace_oid(schema, true);
	Oid			relid = OidIsValid(nsp) ? get_relname_relid(table, nsp) : InvalidOid;

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("activepipe contacts table \"%s.%s\" does not exist",
						schema, table),
				 errhint("Create it, or point the contacts_binding table of the activepipe extension at the table that holds contacts.")));
	return relid;
}

static char *
check_column(Oid relid, const char *schema, const char *table,
			 const char *column, const char *role, AttrNumber *attnum)
{
	*attnum = get_attnum(relid, column);
	if (*attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("activepipe contacts binding: column \"%s\" (%s) does not exist in \"%s.%s\"",
						column, role, schema, table),
				 errhint("Fix the column name in the contacts_binding table, or set it to NULL to keep the field in the payload.")));
	return pstrdup(quote_identifier(column));
}

/*
 * An identity field's column must hold text (text, varchar, char, or a
 * domain or extension type of the string category such as citext) for an
 * import to write the file's text into it; cards and exports, which only
 * read it as text, take any type.  Returns the column's length limit in
 * characters (0: none), or -1 when it is not of a string type.
 */
static int32
text_column_limit(Oid relid, AttrNumber attnum)
{
	Oid			type;
	int32		typmod;
	Oid			collation;
	Oid			base;

	get_atttypetypmodcoll(relid, attnum, &type, &typmod, &collation);
	base = getBaseTypeAndTypmod(type, &typmod);
	if (TypeCategory(base) != TYPCATEGORY_STRING)
		return -1;
	if ((base == VARCHAROID || base == BPCHAROID) && typmod > VARHDRSZ)
		return typmod - VARHDRSZ;
	return 0;
}

/* For an import: refuse identity fields bound to columns that are not text. */
void
ap_binding_require_text(const ApBinding *b)
{
	int			f;

	for (f = 0; f < AP_NIDENTITY; f++)
		if (b->col[f] != NULL && b->maxlen[f] < 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("activepipe contacts binding: column %s (%s) is of type %s, not text",
							b->col[f], ap_contract[f].name,
							format_type_be(get_atttype(b->relid, b->attnum[f]))),
					 errdetail("An import writes the file's text into the contacts table's identity columns."),
					 errhint("Bind the field to a text or varchar column, or set it to NULL in contacts_binding to keep it in the payload.")));
}

/*
 * This library serves the objects of its own version only.  Between
 * installing a new package and ALTER EXTENSION ... UPDATE, the database
 * still has the old objects: say so plainly instead of failing on a
 * missing table halfway through a call.
 */
static void
check_objects(Oid nsp)
{
	if (!OidIsValid(get_relname_relid("tenant_locks", nsp)))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the activepipe library is version 1.2 but the extension's objects in this database are older"),
				 errhint("Run ALTER EXTENSION activepipe UPDATE.")));
}

/*
 * On Citus, with the contacts table distributed, every table of the
 * extension that holds tenant rows must be distributed with it: one left
 * local keeps a copy per node, and the tenant lock, taken on whichever node
 * runs a call, would no longer hold across nodes.  Once the placement is
 * found right for a contacts table, this backend does not look again
 * (placement does not go back); until then, every call looks.  Returns
 * whether the contacts table is distributed.
 */
static bool
check_citus_placement(const ApBinding *b)
{
	static Oid	placed = InvalidOid;
	char	   *sql;
	bool		distributed;
	bool		isnull;

	if (placed == b->relid)
		return true;
	if (!OidIsValid(get_relname_relid("pg_dist_partition", PG_CATALOG_NAMESPACE)))
		return false;
	sql = psprintf("SELECT d.logicalrelid IS NOT NULL,"
				   " (SELECT pg_catalog.string_agg(c.relname::pg_catalog.text, ', ' ORDER BY c.relname)"
				   " FROM pg_catalog.pg_class c"
				   " WHERE c.relnamespace OPERATOR(pg_catalog.=) %u::pg_catalog.oid"
				   " AND c.relname OPERATOR(pg_catalog.=) ANY (ARRAY['contact_integrations',"
				   " 'integration_events', 'tenant_locks', 'import_history', 'import_rows',"
				   " 'import_contacts', 'export_contacts'])"
				   " AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition p"
				   " WHERE p.logicalrelid OPERATOR(pg_catalog.=) c.oid"
				   " AND p.colocationid OPERATOR(pg_catalog.=) d.colocationid))"
				   " FROM (SELECT NULL) x LEFT JOIN pg_catalog.pg_dist_partition d"
				   " ON d.logicalrelid OPERATOR(pg_catalog.=) %u::pg_catalog.oid"
				   " AND d.partmethod OPERATOR(pg_catalog.=) 'h'",
				   b->ext_nsp, b->relid);
	if (SPI_execute(sql, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "activepipe: reading the Citus placement failed");
	distributed = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
											 1, &isnull));
	if (!distributed)
		return false;			/* contacts not distributed (yet): look again next time */
	(void) SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
	if (!isnull)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("activepipe tables are not distributed with the contacts table %s: %s",
						b->table, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2)),
				 errdetail("On Citus, every activepipe table that holds tenant rows must be distributed by user_id and colocated with the contacts table; otherwise the tenant lock does not hold across nodes."),
				 errhint("Distribute them as docs/scaling.md says: create_distributed_table(..., 'user_id', colocate_with := 'contacts').")));
	placed = b->relid;
	return true;
}

bool
ap_binding_has_payload_ident(const ApBinding *b)
{
	return b->bound != (1 << AP_NIDENTITY) - 1;
}

static char
attidentity(Oid relid, AttrNumber attnum)
{
	HeapTuple	tup = SearchSysCache2(ATTNUM, ObjectIdGetDatum(relid),
									  Int16GetDatum(attnum));
	char		result = '\0';

	if (HeapTupleIsValid(tup))
	{
		result = ((Form_pg_attribute) GETSTRUCT(tup))->attidentity;
		ReleaseSysCache(tup);
	}
	return result;
}

/*
 * The sequence a column default of the form nextval('seq') names, for an
 * id column whose sequence was made by hand (not OWNED BY it); InvalidOid
 * for any other default.
 */
static Oid
default_sequence(Oid relid, AttrNumber attnum)
{
	Relation	rel = relation_open(relid, AccessShareLock);
	Node	   *expr = build_column_default(rel, attnum);
	Oid			seq = InvalidOid;

	relation_close(rel, AccessShareLock);
	if (expr && IsA(expr, FuncExpr) && ((FuncExpr *) expr)->funcid == F_NEXTVAL &&
		list_length(((FuncExpr *) expr)->args) == 1)
	{
		Node	   *arg = strip_implicit_coercions(linitial(((FuncExpr *) expr)->args));

		if (IsA(arg, Const) && !((Const *) arg)->constisnull &&
			((Const *) arg)->consttype == REGCLASSOID)
			seq = DatumGetObjectId(((Const *) arg)->constvalue);
	}
	return seq;
}

/*
 * The sequence of the contacts id column (serial or identity, or the one
 * its default's nextval names), from which a commit draws the ids of the
 * contacts it creates; *always when the column is GENERATED ALWAYS (the
 * insert then overrides it).  Looked up on first use and kept in the
 * binding.
 */
Oid
ap_binding_id_sequence(const ApBinding *cb, bool *always)
{
	ApBinding  *b = (ApBinding *) cb;	/* fills its cache fields only */
	List	   *seqs;
	ListCell   *lc;

	if (!b->id_seq_known)
	{
		seqs = getOwnedSequences(b->relid);
		foreach(lc, seqs)
		{
			Oid			table;
			int32		col;

			if ((sequenceIsOwned(lfirst_oid(lc), DEPENDENCY_AUTO, &table, &col) ||
				 sequenceIsOwned(lfirst_oid(lc), DEPENDENCY_INTERNAL, &table, &col)) &&
				table == b->relid && col == b->id_attnum)
				b->id_seq = lfirst_oid(lc);
		}
		if (!OidIsValid(b->id_seq))
			b->id_seq = default_sequence(b->relid, b->id_attnum);
		b->id_always = attidentity(b->relid, b->id_attnum) == ATTRIBUTE_IDENTITY_ALWAYS;
		b->id_seq_known = true;
	}
	*always = b->id_always;
	return b->id_seq;
}

ApBinding *
ap_binding_load(FunctionCallInfo fcinfo)
{
	ApBinding  *b = palloc0(sizeof(ApBinding));
	char	   *schema = ap_extension_schema(fcinfo);
	HeapTuple	tup = NULL;
	TupleDesc	desc = NULL;
	char	   *tschema,
			   *tname;
	Oid			relid;
	int			f;

	b->ext_schema = pstrdup(quote_identifier(schema));
	b->ext_nsp = get_namespace_oid(schema, false);
	check_objects(b->ext_nsp);
	if (ap_spi_run(b, AP_Q_BINDING, 0, NULL, NULL, NULL, true) > 0)
	{
		tup = SPI_tuptable->vals[0];
		desc = SPI_tuptable->tupdesc;
	}

	tschema = binding_value(tup, desc, 1, "public");
	tname = binding_value(tup, desc, 2, "contacts");
	relid = check_table(tschema, tname);
	b->relid = relid;
	b->table = quote_qualified_identifier(tschema, tname);
	b->id_col = check_column(relid, tschema, tname,
							 binding_value(tup, desc, 3, "id"), "contact id",
							 &b->id_attnum);
	b->user_col = check_column(relid, tschema, tname,
							   binding_value(tup, desc, 4, "user_id"), "tenant",
							   &b->user_attnum);
	for (f = 0; f < AP_NIDENTITY; f++)
	{
		char	   *col = binding_value(tup, desc, 5 + f,
										ap_contract[f].default_column);

		b->col[f] = col ? check_column(relid, tschema, tname, col,
									   ap_contract[f].name, &b->attnum[f]) : NULL;
		if (col)
		{
			b->bound |= (uint16) (1 << f);
			b->maxlen[f] = text_column_limit(relid, b->attnum[f]);
		}
	}
	b->distributed = check_citus_placement(b);
	if (SPI_tuptable)
		SPI_freetuptable(SPI_tuptable);
	return b;
}
