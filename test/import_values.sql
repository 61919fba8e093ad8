-- Whether an imported row changes a stored payload, value by value.  The
-- import decides "update" or "unchanged" without building the new payload
-- (payload.c: ap_payload_edits_change); this checks every answer against
-- what the commit then does to the row, compared by jsonb equality in SQL,
-- and against the answer the rule asks for: numbers by value, strings
-- byte for byte after trimming, tags element by element in order, blank
-- cells clearing, bad numbers kept as text.
BEGIN;
SELECT plan(5);

INSERT INTO users (id) VALUES (88);

CREATE TEMP TABLE value_case (
	n int PRIMARY KEY,
	stored jsonb,				-- NULL: the contact has no profile
	col text,
	cell text,
	expected text
);
INSERT INTO value_case VALUES
	(1, '{"minbeds": 3}', 'minbeds', '3', 'unchanged'),
	(2, '{"minbeds": 3}', 'minbeds', '3.0', 'unchanged'),
	(3, '{"minbeds": 3}', 'minbeds', ' 3 ', 'unchanged'),
	(4, '{"minbeds": 3}', 'minbeds', '4', 'update'),
	(5, '{"minbeds": "3"}', 'minbeds', '3', 'update'),
	(6, '{"minprice": 750000}', 'minprice', '$750,000', 'unchanged'),
	(7, '{"minbeds": "lots"}', 'minbeds', 'lots', 'unchanged'),
	(8, '{"minbeds": "lots"}', 'minbeds', 'many', 'update'),
	(9, '{"minbeds": 3}', 'minbeds', '', 'update'),
	(10, '{"status": "x"}', 'minbeds', '', 'unchanged'),
	(11, '{"tags": ["a", "b"]}', 'tags', 'a;b', 'unchanged'),
	(12, '{"tags": ["a", "b"]}', 'tags', 'a; b ;a', 'unchanged'),
	(13, '{"tags": ["a", "b"]}', 'tags', 'b;a', 'update'),
	(14, '{"tags": ["a", "b"]}', 'tags', 'A;b', 'update'),
	(15, '{"tags": ["a", "b"]}', 'tags', 'a', 'update'),
	(16, '{"tags": ["a"]}', 'tags', 'a;b', 'update'),
	(17, '{"tags": "a"}', 'tags', 'a', 'update'),
	(18, '{"tags": ["a"]}', 'tags', ' ; ', 'update'),
	(19, '{"status": "Active"}', 'status', 'Active', 'unchanged'),
	(20, '{"status": "Active"}', 'status', ' Active ', 'unchanged'),
	(21, '{"status": "Active"}', 'status', 'active', 'update'),
	(22, '{"status": 1}', 'status', '1', 'update'),
	(23, '{"status": "Active"}', 'status', '', 'update'),
	(24, '{}', 'status', '', 'unchanged'),
	(25, NULL, 'status', '', 'unchanged'),
	(26, NULL, 'status', 'Active', 'update'),
	(27, '{"other": 1, "status": "A"}', 'status', 'A', 'unchanged'),
	(28, '{"other": 1}', 'status', 'A', 'update'),
	(29, '{"locations": "Bondi; Manly"}', 'locations', 'Bondi; Manly', 'unchanged'),
	(30, '{"maxlandsize": 1200.5}', 'maxlandsize', '1,200.50', 'unchanged');

-- one contact per case, with its profile
INSERT INTO contacts (id, user_id, first_name, email)
SELECT 8800 + n, 88, 'V', 'v' || n || '@x.com' FROM value_case;
INSERT INTO contact_integrations (user_id, contact_id, integration_key, payload_json)
SELECT 88, 8800 + n, 'activepipe', stored FROM value_case WHERE stored IS NOT NULL;

CREATE TEMP TABLE value_run AS
SELECT v.n, v.expected,
	(SELECT p.action FROM activepipe_import_plan(88,
		'email,' || v.col || E'\n' || 'v' || v.n || '@x.com,"' || v.cell || E'"\n') p) AS planned
FROM value_case v;

CREATE TEMP TABLE before_commit AS
SELECT contact_id, payload_json, xmin::text AS x FROM contact_integrations WHERE user_id = 88;

-- each case committed on its own (a file has each column once)
SELECT lives_ok(
	$$SELECT count(activepipe_import_commit(88,
		'email,' || col || E'\n' || 'v' || n || '@x.com,"' || cell || E'"\n'))
	    FROM (SELECT * FROM value_case ORDER BY n) v$$,
	'the commit of every case runs');

SELECT results_eq(
	$$SELECT n, planned FROM value_run ORDER BY n$$,
	$$SELECT n, expected FROM value_case ORDER BY n$$,
	'each row is classified as the rule says');

-- the oracle: the commit changed the stored payload exactly for "update"
SELECT results_eq(
	$$SELECT v.n, CASE WHEN b.payload_json IS NOT DISTINCT FROM a.payload_json
	                     THEN 'unchanged' ELSE 'update' END
	    FROM value_case v
	    LEFT JOIN before_commit b ON b.contact_id = 8800 + v.n
	    LEFT JOIN contact_integrations a ON a.user_id = 88 AND a.contact_id = 8800 + v.n
	   ORDER BY v.n$$,
	$$SELECT n, planned FROM value_run ORDER BY n$$,
	'the classification agrees with what the commit did to each payload');

-- rows that repeat a contact compare with what the earlier rows decided
SELECT results_eq(
	$$SELECT line, action FROM activepipe_import_plan(88,
		E'email,minbeds,tags\nv1@x.com,4,a\nv1@x.com,4.0,a\nv1@x.com,3,a\nv1@x.com,3,\nv1@x.com,3,\n')$$,
	$$VALUES (2, 'update'), (3, 'unchanged'), (4, 'update'), (5, 'update'), (6, 'unchanged')$$,
	'a repeated contact: each row is compared with the state the rows before it left');

SELECT is(
	(SELECT count(*)::int FROM contact_integrations a JOIN before_commit b USING (contact_id)
	  WHERE a.user_id = 88 AND a.xmin::text <> b.x
	    AND a.payload_json IS NOT DISTINCT FROM b.payload_json),
	0, 'no profile whose payload did not change was rewritten');

SELECT * FROM finish();
ROLLBACK;
