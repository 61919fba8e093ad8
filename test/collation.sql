-- A contacts table whose identity columns compare case-insensitively: an
-- ICU nondeterministic collation on email, first name and mobile, citext
-- on the last name.  Matching must not change with the column's notion of
-- equal (the keys are normalised by activepipe, compared byte by byte),
-- scan and probe must agree, blank keeps its one definition (a value the
-- collation calls equal to '' is not blank), and undo must see an edit
-- that only changes case.
BEGIN;
SELECT plan(14);

CREATE EXTENSION IF NOT EXISTS citext;
CREATE COLLATION pg_temp.ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
CREATE SCHEMA ap_test_ci;
CREATE TABLE ap_test_ci.people (
	id bigserial PRIMARY KEY,
	owner bigint NOT NULL,
	given text COLLATE pg_temp.ci, family citext, mail text COLLATE pg_temp.ci,
	tel text, cell text COLLATE pg_temp.ci, town text,
	note text COLLATE pg_temp.ci DEFAULT 'hello'	-- not bound: only the row hash sees it
);
INSERT INTO public.contacts_binding (table_schema, table_name, id_column, user_id_column,
	firstname, lastname, email, phone, mobile, streetaddress, city, state, postcode, country)
	VALUES ('ap_test_ci', 'people', 'id', 'owner',
	'given', 'family', 'mail', 'tel', 'cell', NULL, 'town', NULL, NULL, NULL);
INSERT INTO ap_test_ci.people (id, owner, given, family, mail, cell) VALUES
	(1, 81, 'Ann', 'Lee', 'Ann@X.com', '0412 000 111'),
	(2, 81, 'ann', 'LEE', 'ANN@x.COM', NULL),
	(3, 81, 'Bob', 'Ray', 'bob@x.com', NULL),
	(4, 81, E'\u200b', 'Zed', 'zed@x.com', NULL),
	(5, 82, 'Ann', 'Lee', 'ann@x.com', NULL);
DO $$ BEGIN PERFORM setval('ap_test_ci.people_id_seq', 100); END $$;

SELECT is(E'\u200b' COLLATE pg_temp.ci = '', true,
	'the collation calls a zero-width space equal to the empty string');

CREATE TEMP TABLE f AS SELECT E'email,firstname,lastname,mobile\n'
	'ann@x.com,Ann,Lee,\n'
	'ANN@X.COM,ANN,,\n'
	'bob@X.com,BOB,Ray,0412000111\n'
	'zed@x.com,Zee,Zed,\n'
	'new@x.com,New,,0412 000 111\n' AS body;

-- scan, then probe through match indexes made for this table
SET LOCAL activepipe.match_strategy = scan;
CREATE TEMP TABLE by_scan AS
	SELECT p.* FROM f, activepipe_import_plan(81, f.body) p;
CREATE FUNCTION pg_temp.make_match_indexes() RETURNS void LANGUAGE plpgsql AS $$
DECLARE s text;
BEGIN
	FOR s IN SELECT * FROM activepipe_match_indexes() LOOP
		EXECUTE replace(s, 'CONCURRENTLY ', '');
	END LOOP;
END $$;
SELECT pg_temp.make_match_indexes();
ANALYZE ap_test_ci.people;
SET LOCAL activepipe.match_strategy = probe;
CREATE TEMP TABLE by_probe AS
	SELECT p.* FROM f, activepipe_import_plan(81, f.body) p;
SELECT is((SELECT count(*)::int FROM by_probe), 5, 'probe: a plan row per data row');
SELECT is_empty($$SELECT line, action, contact_id, matched_by, reason, changes::text FROM by_scan
	EXCEPT SELECT line, action, contact_id, matched_by, reason, changes::text FROM by_probe$$,
	'scan and probe give the same plan over case-insensitive columns');

SELECT results_eq($$SELECT line, action, contact_id, reason FROM by_probe ORDER BY line$$,
	$$VALUES (2, 'conflict', 1::bigint, 'ambiguous: 2 contacts share this email'),
		(3, 'conflict', 1::bigint, 'ambiguous: 2 contacts share this email'),
		(4, 'update', 3::bigint, NULL),
		(5, 'conflict', 4::bigint, 'conflict: firstname differs'),
		(6, 'conflict', 1::bigint, 'ambiguous: 2 contacts share this mobile; conflict: firstname, email differ')$$,
	'emails differing only in case share one key; tenant 82''s ann@x.com is not a candidate; a zero-width first name is not blank');

-- commit, fill blanks: the SQL re-check keeps the zero-width name
CREATE TEMP TABLE before AS SELECT id, t::text AS img FROM ap_test_ci.people t;
CREATE TEMP TABLE c1 AS SELECT activepipe_import_commit(81, body) AS s FROM f;
SELECT is((SELECT s->>'updated' FROM c1), '1', 'the commit updates Bob only');
SELECT is((SELECT cell COLLATE "C" FROM ap_test_ci.people WHERE id = 3), '0412000111', 'Bob''s blank mobile is filled');
SELECT is((SELECT given COLLATE "C" FROM ap_test_ci.people WHERE id = 3), 'Bob',
	'fill blanks: Bob''s first name stays as stored (BOB is equal under the collation, and not blank)');
SELECT is((SELECT given COLLATE "C" FROM ap_test_ci.people WHERE id = 4), E'\u200b', 'the zero-width first name is left as it was');

-- overwrite: the case-only change is written and kept as a change
CREATE TEMP TABLE c2 AS SELECT activepipe_import_commit(81, E'email,firstname,city\nbob@x.com,BOB,Perth\nnew@y.com,New,Hobart\n', true) AS s;
SELECT is((SELECT (given || '/' || town) COLLATE "C" FROM ap_test_ci.people WHERE id = 3), 'BOB/Perth',
	'overwrite writes a first name that differs only in case');
SELECT ok((SELECT (r.changes->'firstname') = '{"old": "Bob", "new": "BOB"}'::jsonb
	FROM activepipe_import_report(81, (SELECT (s->>'event_id')::bigint FROM c2)) r WHERE r.line = 2),
	'the report keeps the case-only change with both values');

-- an application edit that only changes case is a change since the import
UPDATE ap_test_ci.people SET given = 'Bob' WHERE id = 3;
UPDATE ap_test_ci.people SET note = 'HELLO' WHERE mail = 'new@y.com';
SELECT is((SELECT activepipe_import_undo_preview(81, (s->>'event_id')::bigint)->'rows' FROM c2),
	('[{"action": "conflict", "reason": "changed since import", "contact_id": 3},'
	 ' {"action": "conflict", "reason": "changed since import", "contact_id": '
	 || (SELECT id FROM ap_test_ci.people WHERE mail = 'new@y.com') || '}]')::jsonb,
	'undo sees case-only edits as changes since the import (a bound column of an updated contact; an unbound column of a created one)');

-- put the edits back: undo restores byte for byte, newest first
UPDATE ap_test_ci.people SET given = 'BOB' WHERE id = 3;
UPDATE ap_test_ci.people SET note = 'hello' WHERE mail = 'new@y.com';
SELECT is((SELECT activepipe_import_undo(81, (s->>'event_id')::bigint)->>'conflicts' FROM c2), '0',
	'with the edits put back, the second import undoes without conflicts');
SELECT is((SELECT activepipe_import_undo(81, (s->>'event_id')::bigint)->>'conflicts' FROM c1), '0',
	'then the first');
SELECT is_empty($$(SELECT id, t::text COLLATE "C" FROM ap_test_ci.people t EXCEPT SELECT id, img COLLATE "C" FROM before)
	UNION ALL (SELECT id, img COLLATE "C" FROM before EXCEPT SELECT id, t::text COLLATE "C" FROM ap_test_ci.people t)$$,
	'every row is byte for byte as before both imports, and no other row is there or missing');

SELECT * FROM finish();
ROLLBACK;
