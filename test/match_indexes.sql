-- Index-backed matching (issue 14): the DDL of the match indexes, and the
-- choice between reading the whole tenant (scan) and reading the contacts
-- that share a key with the file through those indexes (probe).  The
-- answers of the two are compared on random files in
-- test/scripts/match_property.sh.
BEGIN;
SELECT plan(42);

INSERT INTO users (id) SELECT g FROM generate_series(1401, 1405) g;

-- the DDL, for the DBA to run (\gexec in psql)
SELECT results_eq($$SELECT * FROM activepipe_match_indexes()$$,
	ARRAY['CREATE INDEX CONCURRENTLY IF NOT EXISTS contacts_activepipe_email_idx ON public.contacts (user_id, (public.activepipe_email_key(email::pg_catalog.text) COLLATE pg_catalog."C"))',
	      'CREATE INDEX CONCURRENTLY IF NOT EXISTS contacts_activepipe_mobile_idx ON public.contacts (user_id, (public.activepipe_phone_key(mobile::pg_catalog.text, ''AU''::pg_catalog.text) COLLATE pg_catalog."C"))',
	      'CREATE INDEX CONCURRENTLY IF NOT EXISTS contacts_activepipe_phone_idx ON public.contacts (user_id, (public.activepipe_phone_key(phone::pg_catalog.text, ''AU''::pg_catalog.text) COLLATE pg_catalog."C"))'],
	'activepipe_match_indexes() gives the three statements for the bound table and the default region');
SELECT is((SELECT count(*)::int FROM activepipe_match_indexes('nz') s WHERE s LIKE '%''NZ''%'), 2,
	'a region argument names the phone keys'' region');
SELECT throws_ok($$SELECT * FROM activepipe_match_indexes('XX')$$, '22023', 'unknown phone region "XX"',
	'an unknown region: 22023');

-- an index of that name holding the key in the column's collation (as an
-- earlier 1.2 build made it): not a match index, so it is dropped and made
-- again, not left in the way of IF NOT EXISTS
CREATE INDEX contacts_activepipe_email_idx ON contacts (user_id, activepipe_email_key(email));
SELECT results_eq($$SELECT * FROM activepipe_match_indexes() LIMIT 2$$,
	ARRAY['DROP INDEX CONCURRENTLY IF EXISTS public.contacts_activepipe_email_idx',
	      'CREATE INDEX CONCURRENTLY IF NOT EXISTS contacts_activepipe_email_idx ON public.contacts (user_id, (public.activepipe_email_key(email::pg_catalog.text) COLLATE pg_catalog."C"))'],
	'an email index in the column''s collation: dropped, then made COLLATE "C"');
SET LOCAL activepipe.match_strategy = probe;
SELECT throws_ok($$SELECT activepipe_import_preview(1401, E'email\na@x.com\n')$$, '55000', NULL,
	'... and probe does not count it as a match index');
DROP INDEX contacts_activepipe_email_idx;

-- without the indexes, probe is refused and auto scans
SET LOCAL activepipe.match_strategy = probe;
SELECT throws_ok($$SELECT activepipe_import_preview(1401, E'email\na@x.com\n')$$, '55000',
	'activepipe.match_strategy is "probe" but the match indexes are missing',
	'probe without the indexes: 55000');
SELECT throws_matching($$SELECT activepipe_import_preview(1401, E'email\na@x.com\n')$$,
	'match indexes are missing', '... (message)');
SET LOCAL activepipe.match_strategy = auto;
SELECT lives_ok($$SELECT activepipe_import_preview(1401, E'email\na@x.com\n')$$, 'auto without the indexes: scans');

-- the indexes, as the DBA makes them (CONCURRENTLY cannot run in this test's transaction)
CREATE FUNCTION pg_temp.make_match_indexes() RETURNS void LANGUAGE plpgsql AS $$
DECLARE s text;
BEGIN
	FOR s IN SELECT * FROM activepipe_match_indexes() LOOP
		EXECUTE replace(s, 'CONCURRENTLY ', '');
	END LOOP;
END $$;
SELECT pg_temp.make_match_indexes();
SELECT is_empty($$SELECT * FROM activepipe_match_indexes()$$, 'with the indexes made, nothing is left to create');
SELECT is((SELECT count(*)::int FROM activepipe_match_indexes('NZ')), 2,
	'indexes of another region do not count: the NZ phone keys are still to create');
SELECT is((SELECT string_agg(substring(s FROM 'EXISTS (\S+)'), ' ') FROM activepipe_match_indexes('NZ') s),
	'contacts_activepipe_mobile_nz_idx contacts_activepipe_phone_nz_idx',
	'... under names of their own: the AU indexes hold the plain names');
-- an index of a match index's name that the extension did not write (a
-- DBA's unique email index) is left alone, with a WARNING
ALTER INDEX contacts_activepipe_email_idx RENAME TO kept_email_idx;
CREATE UNIQUE INDEX contacts_activepipe_email_idx ON contacts (user_id, activepipe_email_key(email)) INCLUDE (first_name);
SELECT is_empty($$SELECT * FROM activepipe_match_indexes()$$,
	'a unique index of the email index''s name is not dropped (the match index exists under another name)');
DROP INDEX kept_email_idx;
SELECT is(ARRAY(SELECT * FROM activepipe_match_indexes()),
	ARRAY['CREATE INDEX CONCURRENTLY IF NOT EXISTS contacts_activepipe_email1_idx ON public.contacts (user_id, (public.activepipe_email_key(email::pg_catalog.text) COLLATE pg_catalog."C"))'],
	'... nor when the match index is missing: no DROP, and the new one takes the next name');
DROP INDEX contacts_activepipe_email_idx;
SELECT pg_temp.make_match_indexes();


-- a tenant, and a file: the same plan either way
INSERT INTO contacts (id, user_id, first_name, email, phone, mobile)
SELECT 140100 + g, 1401, 'N' || g, CASE WHEN g % 3 <> 0 THEN 'n' || (g % 500) || '@x.com' END,
	CASE WHEN g % 4 = 0 THEN '02 9' || lpad(g::text, 3, '0') || ' 0000' END,
	CASE WHEN g % 5 = 0 THEN '0412 ' || lpad((g % 700)::text, 3, '0') || ' 000' END
FROM generate_series(1, 2000) g;
INSERT INTO contact_integrations (user_id, contact_id, payload_json)
SELECT 1401, id, '{"status": "s"}' FROM contacts WHERE user_id = 1401 AND id % 2 = 0;
ANALYZE contacts;

-- the probe statements use them (the same expressions)
DO $$
DECLARE s text;
BEGIN
	SELECT statement INTO s FROM activepipe_statements() WHERE name = 'probe_email';
	EXECUTE 'PREPARE probe_email(bigint, text[]) AS ' || s;
	SELECT statement INTO s FROM activepipe_statements() WHERE name = 'probe_mobile';
	EXECUTE 'PREPARE probe_mobile(bigint, text[]) AS ' || s;
END $$;
CREATE FUNCTION pg_temp.explain(sql text) RETURNS SETOF text LANGUAGE plpgsql AS $$
BEGIN
	RETURN QUERY EXECUTE 'EXPLAIN (COSTS OFF) ' || sql;
END $$;
-- (on the tenant of 2,000 contacts, analysed: on a near-empty table the
-- planner may as well read the user_id index and filter)
SELECT ok((SELECT bool_or(l ~ 'contacts_activepipe_email_idx') FROM pg_temp.explain($$EXECUTE probe_email(1401, ARRAY['a@x.com'])$$) l),
	'the email probe reads contacts_activepipe_email_idx');
SELECT ok((SELECT bool_or(l ~ 'contacts_activepipe_mobile_idx') FROM pg_temp.explain($$EXECUTE probe_mobile(1401, ARRAY['+61412000000'])$$) l),
	'the mobile probe reads contacts_activepipe_mobile_idx');
CREATE TEMP TABLE f AS SELECT E'email,mobile,phone,firstname,status\n'
	'n7@x.com,,,N7,a\n'
	',0412 005 000,,N5,b\n'
	',,02 9008 0000,N8,c\n'
	'n7@x.com,0412 999 000,,Z,d\n'
	',0412 999 000,,N,e\n'
	'fresh@x.com,0412 005 000,,F,f\n'
	'fresh@x.com,,02 9012 0000,F,g\n' AS csv;
SET LOCAL activepipe.match_strategy = scan;
CREATE TEMP TABLE plans AS SELECT 'scan'::text AS strategy, p.* FROM f, activepipe_import_plan(1401, f.csv) p;
CREATE TEMP TABLE scan_summary AS SELECT activepipe_import_preview(1401, csv, true) AS summary FROM f;
SET LOCAL activepipe.match_strategy = probe;
INSERT INTO plans SELECT 'probe', p.* FROM f, activepipe_import_plan(1401, f.csv) p;
SELECT is((SELECT count(*)::int FROM plans WHERE strategy = 'probe'), 7, 'probe: a row per row of the file');
SELECT is_empty($$(SELECT line, action, contact_id, matched_by, reason, changes, conflicts, reason_code, field FROM plans WHERE strategy = 'scan'
	EXCEPT SELECT line, action, contact_id, matched_by, reason, changes, conflicts, reason_code, field FROM plans WHERE strategy = 'probe')
	UNION ALL (SELECT line, action, contact_id, matched_by, reason, changes, conflicts, reason_code, field FROM plans WHERE strategy = 'probe'
	EXCEPT SELECT line, action, contact_id, matched_by, reason, changes, conflicts, reason_code, field FROM plans WHERE strategy = 'scan')$$,
	'scan and probe give the same plan');
SELECT is((SELECT activepipe_import_preview(1401, csv, true) FROM f), (SELECT summary FROM scan_summary),
	'scan and probe give the same summary (overwrite)');

-- a row whose email an earlier row of its chunk took away is matched by
-- its mobile: the chunk's probe left that mobile unread (the row's email
-- matched then), so it is probed when the row comes
INSERT INTO contacts (id, user_id, first_name, email, mobile) VALUES
	(149901, 1402, 'A', 'a@m.com', '0412 100 001'), (149902, 1402, 'B', NULL, '0412 100 002');
SET LOCAL activepipe.match_strategy = probe;
CREATE TEMP TABLE moved AS SELECT E'email,mobile\nmoved@m.com,0412 100 001\na@m.com,0412 100 002\n' AS csv;
SELECT results_eq($$SELECT line, action, contact_id, matched_by FROM moved, activepipe_import_plan(1402, csv, true) ORDER BY line$$,
	$$VALUES (2, 'update'::text, 149901::bigint, 'mobile'::text), (3, 'update', 149902, 'mobile')$$,
	'probe: a row whose email an earlier row moved away matches by its mobile');
SET LOCAL activepipe.match_strategy = scan;
SELECT results_eq($$SELECT line, action, contact_id, matched_by FROM moved, activepipe_import_plan(1402, csv, true) ORDER BY line$$,
	$$VALUES (2, 'update'::text, 149901::bigint, 'mobile'::text), (3, 'update', 149902, 'mobile')$$,
	'... as the scan does');
SET LOCAL activepipe.match_strategy = probe;

-- another index on a match index's key (a region spelt otherwise, the
-- column's collation) does not lead the probe away from the match index
CREATE INDEX dba_mobile_idx ON contacts (user_id, activepipe_phone_key(mobile, 'au'));
SET LOCAL activepipe.match_strategy = probe;
-- whether a preview of csv for tenant 1401 scans index ix
CREATE FUNCTION pg_temp.preview_reads(ix regclass, csv text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE before bigint := pg_stat_get_xact_numscans(ix);
BEGIN
	PERFORM activepipe_import_preview(1401, csv);
	RETURN pg_stat_get_xact_numscans(ix) > before;
END $$;
SELECT ok(pg_temp.preview_reads('contacts_activepipe_mobile_idx', E'mobile\n0412 005 000\n'),
	'probe with a second index on the mobile key reads the mobile match index');
DROP INDEX dba_mobile_idx;

-- a phone key an earlier row of the chunk made known (its holder read for
-- that row's email) but never probed: probed when a row needs it, so the
-- contact that holds it only in the database is found too (ambiguous)
INSERT INTO contacts (id, user_id, first_name, email, mobile) VALUES
	(149911, 1403, 'A', 'a@m.com', '0412 200 001'), (149912, 1403, 'B', NULL, '0412 200 002'),
	(149913, 1403, 'C', 'c@m.com', '0412 200 002');
CREATE TEMP TABLE known AS SELECT E'email,mobile\nmoved@m.com,0412 200 001\nc@m.com,\na@m.com,0412 200 002\n' AS csv;
CREATE TEMP TABLE known_plans AS SELECT 'probe'::text AS strategy, line, action, contact_id, matched_by, reason_code
	FROM known, activepipe_import_plan(1403, csv, true);
SET LOCAL activepipe.match_strategy = scan;
INSERT INTO known_plans SELECT 'scan', line, action, contact_id, matched_by, reason_code
	FROM known, activepipe_import_plan(1403, csv, true);
SET LOCAL activepipe.match_strategy = probe;
SELECT is((SELECT action || '/' || reason_code FROM known_plans WHERE strategy = 'probe' AND line = 4), 'conflict/ambiguous',
	'probe: a mobile two contacts hold, one read for an earlier row, one only in the database: ambiguous');
SELECT is_empty($$SELECT line, action, contact_id, matched_by, reason_code FROM known_plans WHERE strategy = 'probe'
	EXCEPT SELECT line, action, contact_id, matched_by, reason_code FROM known_plans WHERE strategy = 'scan'$$,
	'... as the scan says');

-- a contact a commit made, which gains a mobile in a later chunk (from a
-- row that matched it by email, so the mobile was not probed): a third
-- chunk's row of that mobile probes it and finds the contact in the
-- database, where the first chunk's write put it; it is the contact the
-- import made, not another holder of the mobile (which would make the row
-- ambiguous)
-- (its commits draw 10,000 ids: past the ids this file gave by hand)
SELECT setval(pg_get_serial_sequence('contacts', 'id'), (SELECT max(id) FROM contacts)) > 0 AS seq_past_given_ids \gset
CREATE TEMP TABLE grown AS SELECT E'email,mobile,firstname\n'
	|| E'grown@m.com,,Gia\n' || (SELECT string_agg('f' || g || E'@m.com,,F\n', '') FROM generate_series(1, 1023) g)
	|| E'grown@m.com,0412 300 003,Gia\n' || (SELECT string_agg('g' || g || E'@m.com,,G\n', '') FROM generate_series(1, 1023) g)
	|| E',0412 300 003,Gia\n' AS csv;
CREATE FUNCTION pg_temp.commit_summary(strategy text, ov boolean DEFAULT false) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE r jsonb;
BEGIN
	PERFORM set_config('activepipe.match_strategy', strategy, true);
	r := (SELECT activepipe_import_commit(1404, csv, ov) - 'event_id' - 'rows' FROM grown);
	RAISE EXCEPTION USING ERRCODE = 'P0099';
EXCEPTION WHEN SQLSTATE 'P0099' THEN
	RETURN r;
END $$;
SELECT is(pg_temp.commit_summary('probe'), pg_temp.commit_summary('scan'),
	'a mobile a made contact gained in a later chunk: the probe finds that contact, as the scan does');
SELECT is(pg_temp.commit_summary('probe') ->> 'unchanged', '1', '... and the third chunk''s row is unchanged, no conflict');
SELECT is(pg_temp.commit_summary('probe', true), pg_temp.commit_summary('scan', true),
	'... with overwrite too (the row is not lost as a contact deleted)');

-- auto: a small file against a tenant the statistics know probes
SET LOCAL activepipe.match_strategy = auto;
CREATE TEMP TABLE scans AS SELECT pg_stat_get_xact_numscans('contacts_activepipe_email_idx'::regclass) AS n;
SELECT lives_ok($$SELECT activepipe_import_preview(1401, E'email\nn7@x.com\n')$$, 'auto, one row against 2,000 contacts');
SELECT cmp_ok(pg_stat_get_xact_numscans('contacts_activepipe_email_idx'::regclass), '>', (SELECT n FROM scans),
	'... probes: the email index is scanned');
UPDATE scans SET n = pg_stat_get_xact_numscans('contacts_activepipe_email_idx'::regclass);
SELECT lives_ok(format('SELECT activepipe_import_preview(1401, %L)',
	(SELECT E'email\n' || string_agg('k' || g || '@x.com', E'\n') FROM generate_series(1, 3000) g)),
	'auto, 3,000 rows against 2,000 contacts');
SELECT is(pg_stat_get_xact_numscans('contacts_activepipe_email_idx'::regclass), (SELECT n FROM scans),
	'... scans the tenant: the index is not used');

-- a key field kept in the payload has no index: probe is refused, auto scans
INSERT INTO contacts_binding (mobile) VALUES (NULL);
SELECT is((SELECT coalesce(string_agg(s, ' '), '') ~ 'mobile' FROM activepipe_match_indexes() s), false,
	'an unbound field gets no index statement');
SET LOCAL activepipe.match_strategy = probe;
SELECT throws_ok($$SELECT activepipe_import_preview(1401, E'email,mobile\na@x.com,0412 000 001\n')$$, '55000', NULL,
	'probe with a payload-held key in the file: 55000');
SELECT lives_ok($$SELECT activepipe_import_preview(1401, E'email,firstname\na@x.com,A\n')$$,
	'... a file without that key probes fine');
DELETE FROM contacts_binding;

-- a char(n) email column (its key expression casts it by a call of
-- text(bpchar)): the index made is found, so nothing is left to create and
-- probes run; an index of another table holding the name the mobile index
-- would get: the mobile index is named for its region instead
CREATE TABLE public.people (id bigserial PRIMARY KEY, user_id bigint NOT NULL, first_name text, last_name text,
	email char(80), phone text, mobile text, street_address text, city text, state text, postcode text, country text);
CREATE INDEX people_activepipe_mobile_idx ON contacts (id);
INSERT INTO contacts_binding (table_name) VALUES ('people');
SELECT is((SELECT string_agg(substring(s FROM 'EXISTS (\S+)'), ' ') FROM activepipe_match_indexes() s),
	'people_activepipe_email_idx people_activepipe_mobile_au_idx people_activepipe_phone_idx',
	'a name another table''s index holds: the mobile index is named for its region');
SELECT pg_temp.make_match_indexes();
SELECT is_empty($$SELECT * FROM activepipe_match_indexes()$$, 'a char(80) email column: its index is found, nothing left to create');
SET LOCAL activepipe.match_strategy = probe;
SELECT ok(pg_temp.preview_reads('people_activepipe_email_idx', E'email\na@x.com\n'), '... and probed through it');
-- an index of the email index's name on another expression (a cast
-- through name, which cuts at 63 bytes) is not the match index: the
-- email index gets a numbered name
DROP INDEX people_activepipe_email_idx;
CREATE INDEX people_activepipe_email_idx ON people (user_id, (activepipe_email_key(email::name::text) COLLATE "C"));
SELECT is(ARRAY(SELECT * FROM activepipe_match_indexes()),
	ARRAY['CREATE INDEX CONCURRENTLY IF NOT EXISTS people_activepipe_email1_idx ON public.people (user_id, (public.activepipe_email_key(email::pg_catalog.text) COLLATE pg_catalog."C"))'],
	'an index on activepipe_email_key(email::name::text) is not taken for the match index');
SELECT pg_temp.make_match_indexes();
SELECT is_empty($$SELECT * FROM activepipe_match_indexes()$$, '... and once that one is made, nothing is left');
DELETE FROM contacts_binding;
DROP INDEX people_activepipe_mobile_idx;
DROP TABLE public.people;

-- a long table name: the three index names stay distinct (clipped at a
-- character boundary so each suffix fits in 63 bytes)
CREATE TABLE public."Kontakte_für_die_Immobilienverwaltung_Großraum_München_Süd" (
	id bigserial PRIMARY KEY, user_id bigint NOT NULL, first_name text, last_name text,
	email text, phone text, mobile text, street_address text, city text, state text,
	postcode text, country text);
INSERT INTO contacts_binding (table_name) VALUES ('Kontakte_für_die_Immobilienverwaltung_Großraum_München_Süd');
SELECT is((SELECT count(DISTINCT substring(s FROM 'EXISTS ("[^"]+"|\S+)'))::int FROM activepipe_match_indexes() s), 3,
	'a 60-character table name: three distinct index names');
SELECT pg_temp.make_match_indexes();
SELECT is_empty($$SELECT * FROM activepipe_match_indexes()$$, '... all three made, nothing left to create');
DELETE FROM contacts_binding;

-- the key functions an index holds are immutable; the setting-reading one is not
SELECT is((SELECT provolatile FROM pg_proc WHERE oid = 'activepipe_phone_key(text,text)'::regprocedure), 'i',
	'activepipe_phone_key(text, text) is IMMUTABLE');
SELECT throws_ok($$CREATE INDEX ON contacts (activepipe_phone_key(mobile))$$, '42P17', NULL,
	'an index on the one-argument phone key is refused (it reads a setting)');

SELECT * FROM finish();
ROLLBACK;
