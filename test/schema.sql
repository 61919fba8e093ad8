-- Objects of the installed extension (issue 2 storage, issue 4 event log):
-- tables, columns, keys, indexes, pg_dump registration, privileges and
-- the SQL API's signatures.
BEGIN;
SELECT plan(100);

-- the extension itself
SELECT has_extension('activepipe');
SELECT is((SELECT extversion FROM pg_extension WHERE extname = 'activepipe'), '1.2',
	'a fresh CREATE EXTENSION installs 1.2');
SELECT is((SELECT extrelocatable FROM pg_extension WHERE extname = 'activepipe'), false,
	'the extension is not relocatable');

-- contact_integrations (Phase 8B storage)
SELECT has_table('public', 'contact_integrations', 'contact_integrations exists');
SELECT columns_are('public', 'contact_integrations', ARRAY[
	'id', 'user_id', 'contact_id', 'integration_key', 'external_id', 'payload_json',
	'last_exported_at', 'last_imported_at', 'created_at', 'updated_at'],
	'contact_integrations has exactly the contract columns');
SELECT col_type_is('public', 'contact_integrations', 'id', 'bigint', 'id is bigint');
SELECT col_type_is('public', 'contact_integrations', 'user_id', 'bigint', 'user_id is bigint');
SELECT col_type_is('public', 'contact_integrations', 'contact_id', 'bigint', 'contact_id is bigint');
SELECT col_type_is('public', 'contact_integrations', 'integration_key', 'text', 'integration_key is text');
SELECT col_type_is('public', 'contact_integrations', 'external_id', 'text', 'external_id is text');
SELECT col_type_is('public', 'contact_integrations', 'payload_json', 'jsonb', 'payload_json is jsonb');
SELECT col_type_is('public', 'contact_integrations', 'last_exported_at', 'timestamp with time zone', 'last_exported_at is timestamptz');
SELECT col_type_is('public', 'contact_integrations', 'last_imported_at', 'timestamp with time zone', 'last_imported_at is timestamptz');
SELECT col_type_is('public', 'contact_integrations', 'created_at', 'timestamp with time zone', 'created_at is timestamptz');
SELECT col_type_is('public', 'contact_integrations', 'updated_at', 'timestamp with time zone', 'updated_at is timestamptz');
SELECT col_not_null('public', 'contact_integrations', 'user_id', 'user_id is NOT NULL');
SELECT col_not_null('public', 'contact_integrations', 'contact_id', 'contact_id is NOT NULL');
SELECT col_not_null('public', 'contact_integrations', 'integration_key', 'integration_key is NOT NULL');
SELECT col_is_null('public', 'contact_integrations', 'external_id', 'external_id is nullable (reserved)');
SELECT col_is_null('public', 'contact_integrations', 'last_exported_at', 'last_exported_at is nullable');
SELECT col_is_null('public', 'contact_integrations', 'last_imported_at', 'last_imported_at is nullable');
SELECT col_default_is('public', 'contact_integrations', 'integration_key', 'activepipe',
	'integration_key defaults to activepipe');
SELECT col_has_default('public', 'contact_integrations', 'id', 'id has a default (its sequence)');
SELECT col_has_default('public', 'contact_integrations', 'created_at', 'created_at has a default');
SELECT col_has_default('public', 'contact_integrations', 'updated_at', 'updated_at has a default');

-- keys: primary key (user_id, id), unique (user_id, contact_id, integration_key)
SELECT col_is_pk('public', 'contact_integrations', ARRAY['user_id', 'id'],
	'primary key is (user_id, id)');
SELECT col_is_unique('public', 'contact_integrations', ARRAY['user_id', 'contact_id', 'integration_key'],
	'unique (user_id, contact_id, integration_key)');
SELECT is_empty($$
	SELECT con.conrelid::regclass::text || '.' || con.conname
	FROM pg_constraint con
	JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = con.conrelid
		AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
	JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'activepipe'
	WHERE con.contype IN ('p', 'u', 'x')
	  AND con.conrelid <> 'public.contacts_binding'::regclass
	  AND NOT EXISTS (SELECT 1 FROM unnest(con.conkey) k
		JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k
		WHERE a.attname = 'user_id')
	$$, 'every unique constraint of a tenant table includes user_id');

-- indexes: exactly the four a query uses
SELECT indexes_are('public', 'contact_integrations', ARRAY[
	'contact_integrations_pkey', 'contact_integrations_contact_key',
	'contact_integrations_user_key_idx', 'contact_integrations_external_idx'],
	'contact_integrations has only the pkey, the unique key and the two lookup indexes');
SELECT has_index('public', 'contact_integrations', 'contact_integrations_user_key_idx',
	ARRAY['user_id', 'integration_key'], 'index on (user_id, integration_key)');
SELECT has_index('public', 'contact_integrations', 'contact_integrations_external_idx',
	ARRAY['user_id', 'integration_key', 'external_id'], 'index on (user_id, integration_key, external_id)');
SELECT is((SELECT pg_get_expr(indpred, indrelid) FROM pg_index
	WHERE indexrelid = 'public.contact_integrations_external_idx'::regclass),
	'(external_id IS NOT NULL)', 'the external_id index is partial: WHERE external_id IS NOT NULL');
SELECT is((SELECT indpred IS NULL AND NOT indisunique FROM pg_index
	WHERE indexrelid = 'public.contact_integrations_user_key_idx'::regclass),
	true, 'the (user_id, integration_key) index is plain: not partial, not unique');
SELECT is((SELECT count(*)::int FROM pg_index i
	WHERE i.indrelid = 'public.contact_integrations'::regclass
	  AND (SELECT array_agg(a.attname::text ORDER BY k.n)
		FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, n)
		JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum)
		= ARRAY['user_id', 'contact_id']), 0,
	'no separate (user_id, contact_id) index duplicating the unique key');

-- integration_events (1.1)
SELECT has_table('public', 'integration_events', 'integration_events exists');
SELECT columns_are('public', 'integration_events', ARRAY[
	'id', 'user_id', 'integration_key', 'event_type', 'filename', 'total_rows',
	'new_count', 'updated_count', 'conflict_count', 'skipped_count', 'summary', 'created_at'],
	'integration_events has exactly the contract columns');
SELECT col_is_pk('public', 'integration_events', ARRAY['user_id', 'id'],
	'integration_events primary key is (user_id, id)');
SELECT col_type_is('public', 'integration_events', 'summary', 'jsonb', 'summary is jsonb');
SELECT col_is_null('public', 'integration_events', 'filename', 'filename is nullable');
SELECT col_default_is('public', 'integration_events', 'integration_key', 'activepipe',
	'event integration_key defaults to activepipe');
SELECT throws_ok($$INSERT INTO public.integration_events (user_id, event_type) VALUES (1, 'bogus')$$,
	'23514', NULL, 'event_type is import, export or undo only');
SELECT lives_ok($$INSERT INTO public.integration_events (user_id, event_type) VALUES (1, 'import'), (1, 'export'), (1, 'undo')$$,
	'event_type import, export and undo are accepted');

-- ids: drawn per node, unique across a cluster (activepipe_next_id)
SELECT is(pg_get_expr(d.adbin, d.adrelid),
	'activepipe_next_id(''' || c.relname || '_id_seq''::regclass)',
	c.relname || '.id defaults to activepipe_next_id of its own sequence')
FROM pg_attrdef d JOIN pg_class c ON c.oid = d.adrelid
JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum AND a.attname = 'id'
WHERE c.relname IN ('contact_integrations', 'integration_events') ORDER BY c.relname;
SELECT is(public.activepipe_next_id('public.integration_events_id_seq') + 1,
	public.activepipe_next_id('public.integration_events_id_seq'),
	'on a server without Citus, activepipe_next_id is the sequence itself');

-- the tenant lock table and the kept history (1.2)
SELECT col_is_pk('public', 'tenant_locks', ARRAY['user_id'], 'tenant_locks is keyed by the tenant');
SELECT col_is_pk('public', 'import_history', ARRAY['user_id', 'event_id'], 'import_history is keyed by (user_id, event_id)');
SELECT col_is_pk('public', 'import_rows', ARRAY['user_id', 'event_id', 'chunk'], 'import_rows is keyed by (user_id, event_id, chunk): a chunk of data rows');
SELECT col_is_pk('public', 'import_contacts', ARRAY['user_id', 'event_id', 'chunk'], 'import_contacts is keyed by (user_id, event_id, chunk): a write batch''s contacts');
SELECT col_is_pk('public', 'export_contacts', ARRAY['user_id', 'event_id'], 'export_contacts is keyed by (user_id, event_id)');
SELECT throws_ok($$INSERT INTO public.integration_events (user_id, event_type, summary)
	VALUES (1, 'export', jsonb_build_object('rows', repeat('x', 20000)))$$,
	'23514', NULL, 'the summary is bounded in size');

-- contacts_binding: at most one row
SELECT has_table('public', 'contacts_binding', 'contacts_binding exists');
SELECT throws_ok($$INSERT INTO public.contacts_binding (singleton) VALUES (true), (true)$$,
	'23505', NULL, 'contacts_binding holds at most one row');

-- pg_dump registration: tables AND their sequences
SELECT set_has(
	$$SELECT c::regclass::text FROM pg_extension, unnest(extconfig) c WHERE extname = 'activepipe'$$,
	$$VALUES ('contact_integrations'), ('contact_integrations_id_seq'),
		('integration_events'), ('integration_events_id_seq'), ('contacts_binding'),
		('import_history'), ('import_rows'), ('import_contacts'), ('export_contacts')$$,
	'tables and sequences are registered with pg_extension_config_dump');
SELECT is_empty($$
	SELECT c.oid::regclass::text
	FROM pg_depend d
	JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'activepipe'
	JOIN pg_class c ON c.oid = d.objid
	WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_extension'::regclass
	  AND d.deptype = 'e' AND c.relkind IN ('r', 'p', 'S')
	  AND c.oid <> ALL (e.extconfig)
	  AND c.oid <> 'public.tenant_locks'::regclass
	$$, 'every table and sequence of the extension but tenant_locks (rows made on demand) is registered for pg_dump');
SELECT is((SELECT count(*)::int FROM pg_extension, unnest(extconfig) WITH ORDINALITY c(oid, n)
	JOIN unnest(extcondition) WITH ORDINALITY w(cond, m) ON m = n
	WHERE extname = 'activepipe' AND c.oid IN ('public.contact_integrations'::regclass,
		'public.integration_events'::regclass) AND w.cond = ''), 2,
	'config dump of contact_integrations and integration_events keeps every row (empty condition)');

-- privileges: nothing for PUBLIC
SELECT is_empty($$
	SELECT c.oid::regclass::text
	FROM pg_depend d
	JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'activepipe'
	JOIN pg_class c ON c.oid = d.objid
	WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_extension'::regclass
	  AND d.deptype = 'e' AND c.relkind IN ('r', 'p', 'v')
	  AND has_table_privilege('public', c.oid, 'SELECT,INSERT,UPDATE,DELETE,TRUNCATE,REFERENCES,TRIGGER')
	$$, 'PUBLIC has no privilege on the extension''s tables');
SELECT is_empty($$
	SELECT c.oid::regclass::text
	FROM pg_depend d
	JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'activepipe'
	JOIN pg_class c ON c.oid = d.objid
	WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_extension'::regclass
	  AND d.deptype = 'e'
	  AND CASE WHEN c.relkind = 'S' THEN has_sequence_privilege('public', c.oid, 'USAGE,SELECT,UPDATE') END
	$$, 'PUBLIC has no privilege on the extension''s sequences');
SELECT is_empty($$
	SELECT p.oid::regprocedure::text
	FROM pg_depend d
	JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'activepipe'
	JOIN pg_proc p ON p.oid = d.objid
	WHERE d.classid = 'pg_proc'::regclass AND d.refclassid = 'pg_extension'::regclass
	  AND d.deptype = 'e'
	  AND has_function_privilege('public', p.oid, 'EXECUTE')
	  AND p.oid NOT IN ('public.activepipe_next_id(regclass)'::regprocedure,
	                    'public.activepipe_row_image_hash(record)'::regprocedure)
	$$, 'PUBLIC cannot execute any function of the extension (granted explicitly) but the id default and the row hash');
SELECT ok(has_function_privilege('public', 'public.activepipe_next_id(regclass)', 'EXECUTE'),
	'PUBLIC can execute activepipe_next_id, the id columns'' default (it checks USAGE on the sequence)');
SELECT ok(has_function_privilege('public', 'public.activepipe_row_image_hash(record)', 'EXECUTE'),
	'PUBLIC can execute activepipe_row_image_hash, which the history''s statements call on every node (it hashes the row it is given)');
SELECT is((SELECT count(*)::int FROM pg_proc p, aclexplode(p.proacl) a
	WHERE p.oid IN ('public.activepipe_next_id(regclass)'::regprocedure,
	                'public.activepipe_row_image_hash(record)'::regprocedure)
	  AND a.grantee = 0 AND a.privilege_type = 'EXECUTE'), 2,
	'both are granted to PUBLIC explicitly, not by the default privileges a DBA may have revoked');
SELECT is((SELECT count(*)::int FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
	WHERE e.extname = 'activepipe' AND d.classid = 'pg_proc'::regclass
	  AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
	  AND d.objid IN ('public.activepipe_card(bigint,bigint)'::regprocedure,
		'public.activepipe_export(bigint,bigint[],text,boolean)'::regprocedure)), 2,
	'the privilege checks above do see the extension''s functions');
-- a role that was granted nothing cannot call the API
CREATE ROLE ap_test_nobody NOLOGIN;
SELECT is(has_function_privilege('ap_test_nobody', 'public.activepipe_card(bigint,bigint)', 'EXECUTE'), false,
	'a role without grants cannot execute activepipe_card');
SELECT is(has_table_privilege('ap_test_nobody', 'public.contact_integrations', 'SELECT'), false,
	'a role without grants cannot read contact_integrations');

-- the SQL API (exact names and signatures)
SELECT has_function('public', 'activepipe_card', ARRAY['bigint', 'bigint']);
SELECT function_returns('public', 'activepipe_card', ARRAY['bigint', 'bigint'], 'jsonb');
SELECT has_function('public', 'activepipe_card_save', ARRAY['bigint', 'bigint', 'jsonb']);
SELECT function_returns('public', 'activepipe_card_save', ARRAY['bigint', 'bigint', 'jsonb'], 'jsonb');
SELECT has_function('public', 'activepipe_card_clear', ARRAY['bigint', 'bigint']);
SELECT function_returns('public', 'activepipe_card_clear', ARRAY['bigint', 'bigint'], 'void');
SELECT has_function('public', 'activepipe_export', ARRAY['bigint', 'bigint[]', 'text', 'boolean']);
SELECT function_returns('public', 'activepipe_export', ARRAY['bigint', 'bigint[]', 'text', 'boolean'], 'text');
SELECT is((SELECT count(*)::int FROM pg_proc WHERE proname = 'activepipe_export'
	AND pronamespace = 'public'::regnamespace), 1,
	'one activepipe_export (a 2-argument overload would make 8B calls ambiguous)');
SELECT has_function('public', 'activepipe_export_summary', ARRAY['bigint', 'bigint[]']);
SELECT function_returns('public', 'activepipe_export_summary', ARRAY['bigint', 'bigint[]'], 'jsonb');
SELECT has_function('public', 'activepipe_export_rows', ARRAY['bigint', 'bigint[]']);
SELECT is((SELECT string_agg(a.name, ',' ORDER BY a.n) FROM pg_proc p,
	unnest(p.proargnames, p.proargmodes::text[]) WITH ORDINALITY a(name, mode, n)
	WHERE p.oid = 'public.activepipe_export_rows(bigint,bigint[])'::regprocedure AND a.mode = 't'),
	'firstname,lastname,email,phone,mobile,streetaddress,city,state,postcode,country,status,sms_status,subscribed_at,unsubscribed_at,unsubscribed_reason,source,modified_at,latest_interaction,buyertype,locations,propertytype,category,minbeds,maxbeds,minbaths,maxbaths,minprice,maxprice,minparking,maxparking,minlandsize,maxlandsize,minbuildingsize,maxbuildingsize,listingtype,tags',
	'activepipe_export_rows returns the 36 contract columns in contract order');
SELECT is_empty($$SELECT 1 FROM pg_proc p, unnest(p.proallargtypes, p.proargmodes::text[]) a(t, mode)
	WHERE p.oid = 'public.activepipe_export_rows(bigint,bigint[])'::regprocedure
	  AND a.mode = 't' AND a.t <> 'text'::regtype$$,
	'every activepipe_export_rows column is text');
SELECT has_function('public', 'activepipe_import_plan', ARRAY['bigint', 'text', 'boolean']);
SELECT is((SELECT string_agg(a.name, ',' ORDER BY a.n) FROM pg_proc p,
	unnest(p.proargnames, p.proargmodes::text[]) WITH ORDINALITY a(name, mode, n)
	WHERE p.oid = 'public.activepipe_import_plan(bigint,text,boolean)'::regprocedure AND a.mode = 't'),
	'line,action,contact_id,matched_by,reason,changes,conflicts,reason_code,field',
	'activepipe_import_plan returns the 1.1 columns, then changes, conflicts, reason_code and field');
SELECT is((SELECT string_agg(a.name, ',' ORDER BY a.n) FROM pg_proc p,
	unnest(p.proargnames, p.proargmodes::text[]) WITH ORDINALITY a(name, mode, n)
	WHERE p.oid = 'public.activepipe_import_report(bigint,bigint)'::regprocedure AND a.mode = 't'),
	'line,action,contact_id,matched_by,reason,changes,conflicts,reason_code,field',
	'activepipe_import_report returns the plan''s columns');
SELECT function_returns('public', 'activepipe_import_report_csv', ARRAY['bigint', 'bigint', 'boolean'], 'text');
SELECT function_returns('public', 'activepipe_import_undo', ARRAY['bigint', 'bigint'], 'jsonb');
SELECT function_returns('public', 'activepipe_import_undo_preview', ARRAY['bigint', 'bigint'], 'jsonb');
SELECT function_returns('public', 'activepipe_export_report', ARRAY['bigint', 'bigint'], 'setof bigint');
SELECT function_returns('public', 'activepipe_match_indexes', ARRAY['text'], 'setof text');
SELECT is((SELECT prokind FROM pg_proc WHERE oid = 'public.activepipe_prune_history(bigint,bigint)'::regprocedure),
	'p', 'activepipe_prune_history is a procedure (it commits between batches)');
SELECT volatility_is('public', 'activepipe_phone_key', ARRAY['text', 'text'], 'immutable');
SELECT volatility_is('public', 'activepipe_phone_key', ARRAY['text'], 'stable');
SELECT volatility_is('public', 'activepipe_email_key', ARRAY['text'], 'immutable');
SELECT volatility_is('public', 'activepipe_card_save', ARRAY['bigint', 'bigint', 'jsonb'], 'volatile');
SELECT volatility_is('public', 'activepipe_export', ARRAY['bigint', 'bigint[]', 'text', 'boolean'], 'volatile');

-- the contract in one ordered list
SELECT is((SELECT string_agg(header, ',' ORDER BY ordinal) FROM public.activepipe_contract()),
	'firstname,lastname,email,phone,mobile,streetaddress,city,state,postcode,country,status,sms_status,subscribed_at,unsubscribed_at,unsubscribed_reason,source,modified_at,latest_interaction,buyertype,locations,propertytype,category,minbeds,maxbeds,minbaths,maxbaths,minprice,maxprice,minparking,maxparking,minlandsize,maxlandsize,minbuildingsize,maxbuildingsize,listingtype,tags',
	'activepipe_contract() lists the 36 headers in contract order');
SELECT results_eq(
	$$SELECT kind, count(*)::int FROM public.activepipe_contract() GROUP BY kind ORDER BY kind$$,
	$$VALUES ('identity', 10), ('range', 12), ('tags', 1), ('text', 13)$$,
	'10 identity/address, 12 range, 1 tags and 13 text fields');

-- settings (defined once the module is loaded, as it now is)
SELECT is(current_setting('activepipe.export_cap'), '5000', 'activepipe.export_cap defaults to 5000');
SELECT is(current_setting('activepipe.default_region'), 'AU', 'activepipe.default_region defaults to AU');
SELECT is(current_setting('activepipe.match_strategy'), 'auto', 'activepipe.match_strategy defaults to auto');
SELECT is(current_setting('activepipe.keep_history'), 'on', 'activepipe.keep_history defaults to on');
SELECT is(current_setting('activepipe.history_days'), '90', 'activepipe.history_days defaults to 90');

SELECT * FROM finish();
ROLLBACK;
