-- Files longer than one chunk.  The import matches and merges rows 1024
-- at a time, or fewer once their cells pass 256 kB, reading the payloads of the contacts a chunk matches and
-- dropping them after it (import.c: process_chunk).  These rows repeat
-- contacts across the chunk boundary, reuse a key a row of an earlier
-- chunk filled in, and repeat new people created in an earlier chunk;
-- every row must be classified as if the file were one piece.
BEGIN;
SELECT plan(23);

INSERT INTO users (id) VALUES (91);
INSERT INTO contacts (id, user_id, first_name, email)
SELECT 910000 + i, 91, 'C', 'c' || i || '@x.com' FROM generate_series(0, 2999) i;
INSERT INTO contacts (id, user_id, first_name, mobile) VALUES (909999, 91, 'B', '0412 999 000');
INSERT INTO contacts (id, user_id, first_name, email)
SELECT 920000 + i, 91, 'D', 'd' || i || '@x.com' FROM generate_series(0, 9) i;
INSERT INTO contact_integrations (user_id, contact_id, integration_key, payload_json)
SELECT 91, 920000 + i, 'activepipe', '{"minbeds": 1}' FROM generate_series(0, 9) i;
-- every other contact has a profile already
INSERT INTO contact_integrations (user_id, contact_id, integration_key, payload_json)
SELECT 91, 910000 + i, 'activepipe', '{"minbeds": 1, "status": "kept"}'
  FROM generate_series(0, 2998, 2) i;

-- rows (lines from 2): A 3000 updates, N1 1000 new people, B by mobile
-- (fills its email) -- all in the first chunk; then C the 3000 contacts
-- of A again, B by the filled email, N2 the 1000 new people again, and
-- D 10 contacts that only the second chunk names, with their stored value.
CREATE TEMP TABLE chunk_rows (n int, email text, mobile text, minbeds text, expect text, by text);
INSERT INTO chunk_rows
SELECT i, 'c' || i || '@x.com', '', '2', 'update', 'email' FROM generate_series(0, 2999) i;
INSERT INTO chunk_rows
SELECT 3000 + j, 'n' || j || '@x.com', '', '7', 'new', NULL FROM generate_series(0, 999) j;
INSERT INTO chunk_rows VALUES (4000, 'b@x.com', '+61 412 999 000', '5', 'update', 'mobile');
INSERT INTO chunk_rows
SELECT 4001 + i, 'C' || i || '@X.COM', '', CASE WHEN i % 3 = 0 THEN '2' ELSE '3' END,
	CASE WHEN i % 3 = 0 THEN 'unchanged' ELSE 'update' END, 'email'
  FROM generate_series(0, 2999) i;
INSERT INTO chunk_rows VALUES (7001, ' B@X.com ', '', '5', 'unchanged', 'email');
INSERT INTO chunk_rows
SELECT 7002 + j, 'n' || j || '@x.com', '', CASE WHEN j % 2 = 0 THEN '7' ELSE '8' END,
	CASE WHEN j % 2 = 0 THEN 'unchanged' ELSE 'update' END, 'email'
  FROM generate_series(0, 999) j;
INSERT INTO chunk_rows
SELECT 8002 + i, 'd' || i || '@x.com', '', '1.0', 'unchanged', 'email' FROM generate_series(0, 9) i;

CREATE TEMP TABLE chunk_file AS
SELECT E'email,mobile,minbeds\n' ||
	string_agg(email || ',' || mobile || ',' || minbeds, E'\n' ORDER BY n) || E'\n' AS csv
  FROM chunk_rows;

SELECT is((SELECT count(*)::int FROM chunk_rows), 8012, 'the file has 8012 rows: two chunks');

SELECT results_eq(
	$$SELECT p.line, p.action, p.matched_by
	    FROM activepipe_import_plan(91, (SELECT csv FROM chunk_file)) p ORDER BY p.line$$,
	$$SELECT n + 2, expect, by FROM chunk_rows ORDER BY n$$,
	'every row is classified as in one piece: across the chunk boundary too');

-- The same rows with a 1000-byte cell each in a column the import
-- ignores: chunks end at 256 kB of cells (about 250 of these rows), and
-- the commit below runs on this file.
CREATE TEMP TABLE chunk_file_long AS
SELECT E'email,mobile,minbeds,notes\n' ||
	string_agg(email || ',' || mobile || ',' || minbeds || ',' || repeat('n', 1000), E'\n' ORDER BY n)
	|| E'\n' AS csv
  FROM chunk_rows;

SELECT results_eq(
	$$SELECT * FROM activepipe_import_plan(91, (SELECT csv FROM chunk_file_long)) p ORDER BY p.line$$,
	$$SELECT * FROM activepipe_import_plan(91, (SELECT csv FROM chunk_file)) p ORDER BY p.line$$,
	'long rows in about 31 chunks: the plan is the plan of the same rows in 8');

SELECT is(
	(SELECT count(DISTINCT p.contact_id)::int
	   FROM activepipe_import_plan(91, (SELECT csv FROM chunk_file)) p
	  WHERE p.line BETWEEN 4003 AND 7002),
	3000, 'the rows of the second chunk that repeat the first find the same 3000 contacts');

CREATE TEMP TABLE chunk_preview AS
SELECT activepipe_import_preview(91, (SELECT csv FROM chunk_file)) - 'rows' - 'encoding' AS s;

SELECT is((SELECT s FROM chunk_preview),
	'{"new": 1000, "matched": 7012, "skipped": 0, "updated": 5501, "conflicts": 0, "overwrite": false,
	  "unchanged": 1511, "total_rows": 8012, "rows_omitted": 0, "ignored_columns": [], "ignored_columns_total": 0}'::jsonb,
	'preview counts');

SELECT is(
	(SELECT activepipe_import_preview(91, (SELECT csv FROM chunk_file_long)) - 'rows' - 'encoding'),
	(SELECT s || '{"ignored_columns": ["notes"], "ignored_columns_total": 1}' FROM chunk_preview),
	'the long rows'' preview counts are the same (and name the ignored column)');

SELECT is(
	(SELECT activepipe_import_commit(91, (SELECT csv FROM chunk_file_long)) - 'rows' - 'encoding'
	   - 'event_id' - 'ignored_columns' - 'ignored_columns_total'),
	(SELECT s - 'ignored_columns' - 'ignored_columns_total' FROM chunk_preview),
	'commit counts of the long rows equal the preview''s');

-- each chunk is one row of import_rows; its rows' cells, and the first
-- row of the next chunk, which would have taken it past 256 kB
CREATE TEMP TABLE chunk_bytes AS
SELECT row_number() OVER (ORDER BY r.chunk) AS k, r.line[1] AS first_line,
	(SELECT sum(octet_length(c.email || c.mobile || c.minbeds) + 1000)
	   FROM chunk_rows c WHERE c.n + 2 = ANY (r.line)) AS bytes
  FROM import_rows r WHERE r.user_id = 91;
SELECT cmp_ok((SELECT count(*)::int FROM chunk_bytes), '>=', 31,
	'the long rows'' commit ran in chunks of 256 kB of cells at most: 31 or more');
SELECT is(
	(SELECT count(*)::int FROM chunk_bytes a
	   JOIN chunk_bytes nx ON nx.k = a.k + 1
	   JOIN chunk_rows c ON c.n + 2 = nx.first_line
	  WHERE a.bytes > 262144
	     OR a.bytes + octet_length(c.email || c.mobile || c.minbeds) + 1000 <= 262144),
	0, 'each chunk ended before the row that would have taken it past 256 kB');

SELECT results_eq(
	$$SELECT (ci.payload_json ->> 'minbeds')::int, count(*)::int
	    FROM contact_integrations ci JOIN contacts c ON c.id = ci.contact_id
	   WHERE ci.user_id = 91 AND c.first_name = 'C'
	   GROUP BY 1 ORDER BY 1$$,
	$$VALUES (2, 1000), (3, 2000)$$,
	'the last row of each contact wins, across chunks');

SELECT is(
	(SELECT count(*)::int FROM contact_integrations
	  WHERE user_id = 91 AND payload_json ->> 'status' = 'kept'),
	1500, 'the fields no row names are kept in every payload that had them');

SELECT results_eq(
	$$SELECT count(*)::int, min(ci.payload_json ->> 'minbeds'), max(ci.payload_json ->> 'minbeds')
	    FROM contacts c JOIN contact_integrations ci ON ci.contact_id = c.id AND ci.user_id = 91
	   WHERE c.user_id = 91 AND c.email LIKE 'n%@x.com'$$,
	$$VALUES (1000, '7', '8')$$,
	'the new people are created once, then updated by their repeats');

SELECT results_eq(
	$$SELECT c.email, ci.payload_json FROM contacts c
	    JOIN contact_integrations ci ON ci.contact_id = c.id AND ci.user_id = 91
	   WHERE c.id = 909999$$,
	$$VALUES ('b@x.com', '{"minbeds": 5}'::jsonb)$$,
	'the email filled in the first chunk found the contact in the second');

SELECT is(
	(SELECT count(*)::int FROM contact_integrations
	  WHERE user_id = 91 AND contact_id BETWEEN 920000 AND 920009 AND last_imported_at IS NULL),
	10, 'profiles the second chunk leaves as stored are not written');

-- Undone, every profile the commit above wrote, chunk by chunk and again
-- for the contacts the second chunk repeats, is as before.
CREATE TEMP TABLE chunk_event AS
SELECT max(id) AS id FROM integration_events WHERE user_id = 91 AND event_type = 'import';
SELECT is(
	(SELECT (activepipe_import_undo(91, (SELECT id FROM chunk_event)) ->> 'conflicts')::int), 0,
	'the commit is undone with no conflict');
SELECT results_eq(
	$$SELECT count(*)::int, count(*) FILTER (WHERE payload_json ->> 'status' = 'kept')::int,
	         count(*) FILTER (WHERE last_imported_at IS NOT NULL)::int
	    FROM contact_integrations WHERE user_id = 91$$,
	$$VALUES (1510, 1500, 0)$$,
	'... every profile as before, each written by one chunk or both');

-- Contacts with large payloads (3 kB each, of a field no row names): the
-- first chunk writes its profiles before the second chunk, whose rows
-- repeat 50 of its contacts, reads them again.
INSERT INTO users (id) VALUES (92);
INSERT INTO contacts (id, user_id, first_name, email)
SELECT 930000 + i, 92, 'E', 'e' || i || '@x.com' FROM generate_series(0, 1199) i;
INSERT INTO contact_integrations (user_id, contact_id, integration_key, payload_json)
SELECT 92, 930000 + i, 'activepipe', jsonb_build_object('status', 'kept', 'big', repeat('x', 3000))
  FROM generate_series(0, 1199) i;
-- the order of the writes: profiles, and each chunk's report
CREATE TEMP SEQUENCE write_seq;
CREATE TEMP TABLE write_log (what text, id bigint, seq bigint DEFAULT nextval('write_seq'));
CREATE FUNCTION pg_temp.log_profile() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO write_log (what, id) VALUES ('profile', NEW.contact_id); RETURN NULL; END $$;
CREATE FUNCTION pg_temp.log_chunk() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO write_log (what, id) VALUES ('chunk', NEW.chunk); RETURN NULL; END $$;
CREATE TRIGGER log_profile AFTER INSERT OR UPDATE ON contact_integrations
	FOR EACH ROW WHEN (NEW.user_id = 92) EXECUTE FUNCTION pg_temp.log_profile();
CREATE TRIGGER log_chunk AFTER INSERT ON import_rows
	FOR EACH ROW WHEN (NEW.user_id = 92) EXECUTE FUNCTION pg_temp.log_chunk();
CREATE TEMP TABLE big_before AS
SELECT contact_id, payload_json, last_imported_at FROM contact_integrations WHERE user_id = 92;
CREATE TEMP TABLE big_run AS
SELECT activepipe_import_commit(92, E'email,minbeds\n' ||
	(SELECT string_agg('e' || i || '@x.com,2', E'\n' ORDER BY i) FROM generate_series(0, 1199) i) || E'\n' ||
	(SELECT string_agg('e' || i || '@x.com,3', E'\n' ORDER BY i) FROM generate_series(0, 49) i) || E'\n') AS s;
DROP TRIGGER log_profile ON contact_integrations;
DROP TRIGGER log_chunk ON import_rows;
SELECT is((SELECT (s ->> 'updated')::int FROM big_run), 1250, 'large payloads: 1250 rows update');
SELECT results_eq(
	$$SELECT (SELECT count(*)::int FROM write_log p, write_log c
	           WHERE p.what = 'profile' AND c.what = 'chunk' AND p.seq < c.seq
	             AND c.seq = (SELECT min(seq) FROM write_log WHERE what = 'chunk')),
	         (SELECT count(*)::int FROM write_log WHERE what = 'profile' AND id = 930000)$$,
	$$VALUES (1024, 2)$$,
	'the first chunk''s 1024 profiles were written with its report, before the second chunk, and its first contact again by the second');
SELECT is((SELECT count(DISTINCT r.chunk)::int FROM import_rows r
	WHERE r.user_id = 92 AND r.event_id = (SELECT (s ->> 'event_id')::bigint FROM big_run)), 2,
	'... in two chunks');
SELECT results_eq(
	$$SELECT payload_json ->> 'minbeds', count(*)::int,
	         bool_and(payload_json ->> 'big' = repeat('x', 3000) AND payload_json ->> 'status' = 'kept'),
	         bool_and(last_imported_at IS NOT NULL)
	    FROM contact_integrations WHERE user_id = 92 GROUP BY 1 ORDER BY 1$$,
	$$VALUES ('2', 1150, true, true), ('3', 50, true, true)$$,
	'the second chunk read the profiles the first wrote: its repeats win, nothing else is lost');
SELECT results_eq(
	$$SELECT changes -> 'minbeds' FROM activepipe_import_report(92, (SELECT (s ->> 'event_id')::bigint FROM big_run))
	   WHERE line IN (2, 1202) ORDER BY line$$,
	$$VALUES ('{"old": null, "new": 2}'::jsonb), ('{"old": 2, "new": 3}'::jsonb)$$,
	'the report: a repeat changed what the first chunk wrote');
SELECT is(
	(SELECT (activepipe_import_undo(92, (SELECT (s ->> 'event_id')::bigint FROM big_run)) ->> 'restored')::int),
	1200, 'undone: 1200 contacts restored');
SELECT is(
	(SELECT count(*)::int FROM big_before b JOIN contact_integrations ci ON ci.user_id = 92 AND ci.contact_id = b.contact_id
	  WHERE ci.payload_json = b.payload_json AND ci.last_imported_at IS NOT DISTINCT FROM b.last_imported_at),
	1200, '... each profile exactly as before');

SELECT * FROM finish();
ROLLBACK;
