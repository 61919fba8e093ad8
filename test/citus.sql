-- What Citus needs, read off the catalog and the statement texts (the real
-- cluster is test/citus/, make test-citus): every unique index and primary
-- key of the extension's tenant tables includes user_id; every statement
-- the extension sends through SPI (all of them are listed by
-- activepipe_statements()) is pinned to one tenant; none puts a parameter
-- or a volatile function inside ON CONFLICT, which a distributed table
-- refuses.
BEGIN;
SELECT plan(8);

SELECT is(
	(SELECT count(*)::int FROM pg_index i
	  JOIN pg_class c ON c.oid = i.indrelid
	 WHERE c.relname IN ('contact_integrations', 'integration_events', 'tenant_locks',
	                     'import_history', 'import_rows', 'import_contacts', 'export_contacts')
	   AND c.relnamespace = (SELECT extnamespace FROM pg_extension WHERE extname = 'activepipe')
	   AND i.indisunique),
	8, 'eight unique indexes on tenant tables (seven primary keys, one unique)');

SELECT is_empty(
	$$SELECT c.relname, ic.relname
	    FROM pg_index i
	    JOIN pg_class c ON c.oid = i.indrelid
	    JOIN pg_class ic ON ic.oid = i.indexrelid
	    JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'
	     AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'activepipe')
	   WHERE c.relname <> 'contacts_binding'
	     AND i.indisunique
	     AND NOT EXISTS (SELECT 1 FROM pg_attribute a
	                      WHERE a.attrelid = c.oid AND a.attname = 'user_id'
	                        AND a.attnum = ANY (i.indkey))$$,
	'every unique index and primary key includes user_id');

SELECT is(
	(SELECT count(*)::int FROM activepipe_statements()),
	41, 'activepipe_statements() lists all forty-one statements');

-- SELECT, UPDATE, DELETE and upserts filter on the tenant column with $1
SELECT is_empty(
	$$SELECT name FROM activepipe_statements()
	   WHERE name NOT IN ('binding', 'event_id', 'contact_ids')
	     AND statement !~ '^INSERT'
	     AND statement !~ 'user_id OPERATOR\(pg_catalog\.=\) \$1'$$,
	'every read, update and delete of a tenant table filters user_id = $1');

-- INSERTs write the tenant column from $1
SELECT is_empty(
	$$SELECT name FROM activepipe_statements()
	   WHERE statement ~ '^INSERT'
	     AND statement !~ '^INSERT INTO [a-z_."]+ (AS [a-z]+ )?\((id, )?user_id[,)].*(VALUES \(\$1[,)]|SELECT (u\.id, )?\$1,)'$$,
	'inserts set user_id from $1');

-- the statements that read no tenant table: the configuration and two sequences
SELECT is(
	(SELECT string_agg(name, ',' ORDER BY name) FROM activepipe_statements()
	  WHERE statement !~ '(FROM|JOIN|INTO|UPDATE) [a-z_."]+\.(contacts|contact_integrations|integration_events|tenant_locks|import_history|import_rows|import_contacts|export_contacts)\M'),
	'binding,contact_ids,event_id', 'only the binding and the id statements read no tenant table');
SELECT is(
	(SELECT statement ~ 'contacts_binding' AND statement !~ '\$1'
	   FROM activepipe_statements() WHERE name = 'binding'),
	true, 'the one statement on a table without a tenant reads the configuration table');

-- ON CONFLICT: no parameter, and DO UPDATE SET takes values from EXCLUDED
SELECT is_empty(
	$$SELECT name FROM activepipe_statements()
	   WHERE statement ~ 'ON CONFLICT'
	     AND (substring(statement from 'ON CONFLICT.*$') ~ '\$[0-9]'
	          OR substring(statement from 'DO UPDATE SET.*$') ~ 'now\(\)')$$,
	'no parameter and no volatile function inside an ON CONFLICT clause');

SELECT * FROM finish();
ROLLBACK;
