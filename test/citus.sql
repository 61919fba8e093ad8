-- What Citus needs and this machine can check (issue 8): every unique
-- index and primary key of the extension's tenant tables includes user_id,
-- and every statement the extension sends through SPI (all of them are
-- listed by activepipe_statements()) is pinned to one tenant.
BEGIN;
SELECT plan(6);

SELECT is(
	(SELECT count(*)::int FROM pg_index i
	  JOIN pg_class c ON c.oid = i.indrelid
	 WHERE c.relname IN ('contact_integrations', 'integration_events')
	   AND c.relnamespace = (SELECT extnamespace FROM pg_extension WHERE extname = 'activepipe')
	   AND i.indisunique),
	3, 'three unique indexes on tenant tables (two primary keys, one unique)');

SELECT is_empty(
	$$SELECT c.relname, ic.relname
	    FROM pg_index i
	    JOIN pg_class c ON c.oid = i.indrelid
	    JOIN pg_class ic ON ic.oid = i.indexrelid
	   WHERE c.relname IN ('contact_integrations', 'integration_events')
	     AND i.indisunique
	     AND NOT EXISTS (SELECT 1 FROM pg_attribute a
	                      WHERE a.attrelid = c.oid AND a.attname = 'user_id'
	                        AND a.attnum = ANY (i.indkey))$$,
	'every unique index and primary key includes user_id');

SELECT is(
	(SELECT count(*)::int FROM activepipe_statements()),
	18, 'activepipe_statements() lists all eighteen statements');

-- SELECT, UPDATE and upserts filter on the tenant column with $1
SELECT is_empty(
	$$SELECT name FROM activepipe_statements()
	   WHERE name NOT IN ('binding', 'tenant_lock', 'event_insert', 'import_insert', 'exported_at')
	     AND statement !~ 'user_id OPERATOR\(pg_catalog\.=\) \$1'$$,
	'every statement on a tenant table filters user_id = $1');

-- plain INSERTs write the tenant column from $1
SELECT is_empty(
	$$SELECT name FROM activepipe_statements()
	   WHERE name IN ('event_insert', 'import_insert', 'exported_at')
	     AND statement !~ '^INSERT INTO [a-z_.]+ \(user_id, .*(VALUES \(\$1,|SELECT \$1,)'$$,
	'inserts set user_id from $1');

-- only the configuration read has no tenant: contacts_binding is a reference table
SELECT is(
	(SELECT statement ~ 'contacts_binding' AND statement !~ '\$1'
	   FROM activepipe_statements() WHERE name = 'binding'),
	true, 'the one statement without a tenant reads the configuration table');

SELECT * FROM finish();
ROLLBACK;
