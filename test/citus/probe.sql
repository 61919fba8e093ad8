-- aptest.probe_scripts(uid): for every statement the extension sends
-- (activepipe_statements(), as built for the current binding), one line of
-- SQL that prepares it and executes it once for tenant uid, with
-- parameters that make it touch a row (contact uid * 100 + 3, which has a
-- profile in a std tenant), then rolls back.  run.sh runs these lines on
-- the coordinator and on a worker and compares the messages with the
-- plain node's: a statement Citus refuses shows here even when an earlier
-- statement of the same API call fails first.
--
-- aptest.probe_scripts(uid, true) does the same with every now() in an
-- ON CONFLICT ... DO UPDATE SET turned into EXCLUDED.updated_at, the first
-- thing Citus refuses there: what the statement would run into next.
\set ON_ERROR_STOP 1
CREATE FUNCTION aptest.probe_scripts(uid bigint, without_now boolean DEFAULT false)
RETURNS TABLE (name text, script text)
LANGUAGE plpgsql AS $f$
#variable_conflict use_column
DECLARE
	st record;
	types text[];
	vals text;
	stmt text;
BEGIN
	FOR st IN SELECT s.name, s.statement FROM activepipe_statements() s LOOP
		stmt := st.statement;
		IF without_now THEN
			CONTINUE WHEN position(' DO UPDATE SET ' IN stmt) = 0;
			stmt := split_part(stmt, ' DO UPDATE SET ', 1) || ' DO UPDATE SET '
				|| replace(split_part(stmt, ' DO UPDATE SET ', 2), 'pg_catalog.now()', 'EXCLUDED.updated_at');
		END IF;
		EXECUTE format('PREPARE aptest_probe AS %s', stmt);
		SELECT p.parameter_types::text[] INTO types
			FROM pg_prepared_statements p WHERE p.name = 'aptest_probe';
		DEALLOCATE aptest_probe;
		SELECT string_agg(CASE
				WHEN i = 1 THEN uid::text
				WHEN t = 'bigint' THEN (uid * 100 + 3)::text
				WHEN t = 'bigint[]' THEN format('ARRAY[%s]::bigint[]', uid * 100 + 3)
				WHEN t = 'text' THEN quote_literal('export')
				WHEN t = 'text[]' THEN 'ARRAY[''probe'']'
				WHEN t = 'jsonb' THEN '''{}''::jsonb'
				WHEN t = 'jsonb[]' THEN 'ARRAY[''{}''::jsonb]'
				WHEN t = 'json[]' THEN 'ARRAY[''{}''::json]'
				WHEN t = 'tid[]' THEN 'ARRAY[''(0,1)''::tid]'
				WHEN t = 'timestamp with time zone[]' THEN 'ARRAY[''2025-01-01''::timestamptz]'
				WHEN t = 'integer' THEN '1'
				WHEN t = 'integer[]' THEN 'ARRAY[1]'
				WHEN t = 'boolean[]' THEN 'ARRAY[true]'
				ELSE 'NULL' END, ', ' ORDER BY i)
			INTO vals
			FROM unnest(types) WITH ORDINALITY AS a(t, i);
		name := st.name;
		script := format('BEGIN; PREPARE aptest_probe AS %s; EXECUTE aptest_probe%s; ROLLBACK; DEALLOCATE ALL;',
			stmt, CASE WHEN vals IS NULL THEN '' ELSE '(' || vals || ')' END);
		RETURN NEXT;
	END LOOP;
END
$f$;
