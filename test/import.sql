-- CSV import (issue 5): activepipe_import_preview / _plan / _commit on the
-- fixtures of test/fixtures/import (see setup.psql there for how they are
-- loaded and for the standard tenant they are written against).
--
-- Part 1 runs every importable fixture the same way on a fresh tenant of
-- its own -- preview, plan, commit, commit again -- and checks the rules
-- that hold for every file: the count invariants, preview = plan = commit,
-- the conflict/skip rows, one event per commit with the same counts,
-- preview and plan write nothing, the second commit writes nothing, and
-- no other tenant is ever read or written.  Part 2 checks what each
-- fixture is about: match order, phone formats, fill-blanks and
-- overwrite, conflicts, ambiguous keys, repeats within a file, skips and
-- tenant isolation.  Parsing and encodings are in test/import_format.sql.
BEGIN;
\ir fixtures/import/setup.psql

SELECT plan(339);

SELECT is((SELECT count(*)::int FROM import_fixture), 22,
	'all 22 fixtures of test/fixtures/import are loaded (run from the repository root)');

-- The shadow tenant shares every email and number with the others.
SELECT pg_temp.seed(960000, shadow => true);
CREATE TEMP TABLE shadow_before AS SELECT pg_temp.snap(960000) AS snap;

/*
 * Part 1: one run per importable fixture, on tenant 960001, 960002, ...
 * (alphabetical).  Each call runs in a subtransaction of its own (the
 * BEGIN ... EXCEPTION blocks), so an error is recorded instead of ending
 * the test, and a row rewritten by the second commit gets a new xmin.
 */
CREATE TEMP TABLE import_run (
	name text PRIMARY KEY,
	uid bigint NOT NULL,
	snap0 text, events0 bigint,		-- as seeded
	preview jsonb, preview_err text,
	snap1 text, events1 bigint,		-- after preview and plan
	commit1 jsonb, commit1_err text,
	snap2 text, events2 bigint,		-- after the first commit
	commit2 jsonb, commit2_err text,
	snap3 text, events3 bigint		-- after the second commit
);
CREATE TEMP TABLE import_plan (name text, line int, action text, contact_id bigint,
	matched_by text, reason text, conflicts jsonb, reason_code text, field text);
CREATE TEMP TABLE import_plan_after (name text, line int, action text, contact_id bigint,
	matched_by text, reason text);

DO $run$
DECLARE
	f record;
	r import_run;
BEGIN
	FOR f IN SELECT name, row_number() OVER (ORDER BY name) AS k FROM import_fixture
		WHERE name NOT IN (SELECT name FROM import_bad_fixture) ORDER BY name
	LOOP
		r := NULL;
		r.name := f.name;
		r.uid := 960000 + f.k;
		PERFORM pg_temp.seed(r.uid);
		r.snap0 := pg_temp.snap(r.uid);
		r.events0 := pg_temp.events(r.uid);
		BEGIN
			r.preview := public.activepipe_import_preview(r.uid, pg_temp.csv(f.name));
			INSERT INTO import_plan SELECT f.name, p.line, p.action, p.contact_id, p.matched_by, p.reason, p.conflicts, p.reason_code, p.field
				FROM public.activepipe_import_plan(r.uid, pg_temp.csv(f.name)) p;
		EXCEPTION WHEN OTHERS THEN
			r.preview_err := SQLSTATE || ' ' || SQLERRM;
		END;
		r.snap1 := pg_temp.snap(r.uid);
		r.events1 := pg_temp.events(r.uid);
		BEGIN
			r.commit1 := public.activepipe_import_commit(r.uid, pg_temp.csv(f.name), false,
				f.name || '.csv');
		EXCEPTION WHEN OTHERS THEN
			r.commit1_err := SQLSTATE || ' ' || SQLERRM;
		END;
		r.snap2 := pg_temp.snap(r.uid);
		r.events2 := pg_temp.events(r.uid);
		BEGIN
			INSERT INTO import_plan_after SELECT f.name, p.line, p.action, p.contact_id, p.matched_by, p.reason
				FROM public.activepipe_import_plan(r.uid, pg_temp.csv(f.name)) p;
		EXCEPTION WHEN OTHERS THEN
			NULL;		-- shows as rows missing from the checks below
		END;
		BEGIN
			r.commit2 := public.activepipe_import_commit(r.uid, pg_temp.csv(f.name), false,
				f.name || '.csv');
		EXCEPTION WHEN OTHERS THEN
			r.commit2_err := SQLSTATE || ' ' || SQLERRM;
		END;
		r.snap3 := pg_temp.snap(r.uid);
		r.events3 := pg_temp.events(r.uid);
		INSERT INTO import_run SELECT r.*;
	END LOOP;
END
$run$;

-- the uid of a fixture's tenant, and its contact n
CREATE FUNCTION pg_temp.uid(f text) RETURNS bigint LANGUAGE sql STABLE AS $f$
	SELECT uid FROM import_run WHERE name = f
$f$;
CREATE FUNCTION pg_temp.c(f text, n int) RETURNS bigint LANGUAGE sql STABLE AS $f$
	SELECT pg_temp.uid(f) * 100 + n
$f$;
-- a fixture's plan (before the commit) with contact ids as seed numbers
-- (n of the standard tenant; NULL for contacts the file creates)
CREATE FUNCTION pg_temp.plan_of(f text)
RETURNS TABLE (line int, action text, n bigint, matched_by text, reason text)
LANGUAGE sql STABLE AS $f$
	SELECT p.line, p.action, p.contact_id - pg_temp.uid(f) * 100, p.matched_by, p.reason
	FROM import_plan p WHERE p.name = f ORDER BY p.line
$f$;

SELECT is((SELECT count(*)::int FROM import_run), 16, 'part 1 ran all 16 importable fixtures');

-- 1a. no call failed
SELECT is(preview_err, NULL, name || ': preview and plan run without error') FROM import_run ORDER BY name;
SELECT is(commit1_err, NULL, name || ': commit runs without error') FROM import_run ORDER BY name;

-- 1b. the invariants
SELECT ok((preview->>'total_rows')::int = (preview->>'matched')::int + (preview->>'new')::int
		+ (preview->>'skipped')::int AND (preview->>'matched')::int = (preview->>'updated')::int
		+ (preview->>'unchanged')::int + (preview->>'conflicts')::int,
	name || ': total_rows = matched + new + skipped and matched = updated + unchanged + conflicts')
FROM import_run ORDER BY name;

-- 1c. plan = preview = commit
SELECT is((SELECT jsonb_build_object('total_rows', count(*),
			'matched', count(*) FILTER (WHERE p.action IN ('update', 'unchanged', 'conflict')),
			'new', count(*) FILTER (WHERE p.action = 'new'),
			'updated', count(*) FILTER (WHERE p.action = 'update'),
			'unchanged', count(*) FILTER (WHERE p.action = 'unchanged'),
			'conflicts', count(*) FILTER (WHERE p.action = 'conflict'),
			'skipped', count(*) FILTER (WHERE p.action = 'skip'))
		FROM import_plan p WHERE p.name = r.name),
	pg_temp.counts(r.preview), r.name || ': the plan, grouped by action, gives the preview''s counts')
FROM import_run r ORDER BY r.name;
SELECT is(pg_temp.counts(commit1), pg_temp.counts(preview), name || ': commit reports the preview''s counts')
FROM import_run ORDER BY name;
SELECT is(r.preview->'rows', (SELECT coalesce(jsonb_agg(jsonb_build_object('line', p.line,
			'action', p.action, 'contact_id', p.contact_id, 'matched_by', p.matched_by,
			'reason', p.reason, 'conflicts', p.conflicts, 'reason_code', p.reason_code,
			'field', p.field) ORDER BY p.line), '[]')
		FROM import_plan p WHERE p.name = r.name AND p.action IN ('conflict', 'skip')),
	r.name || ': the preview''s rows are the plan''s conflict and skip rows')
FROM import_run r ORDER BY r.name;
SELECT is((SELECT jsonb_agg(x - 'contact_id') FROM jsonb_array_elements(commit1->'rows') x),
	(SELECT jsonb_agg(x - 'contact_id') FROM jsonb_array_elements(preview->'rows') x),
	name || ': the commit''s rows are the preview''s')
FROM import_run ORDER BY name;
SELECT is(commit1->'overwrite', 'false', name || ': the summary says overwrite false') FROM import_run ORDER BY name;
-- action vocabulary; matched_by NULL exactly for new and skipped rows
SELECT is((SELECT count(*)::int FROM import_plan p WHERE p.name = r.name AND NOT (
		p.action IN ('new', 'update', 'unchanged', 'conflict', 'skip')
		AND (p.matched_by IS NULL) = (p.action IN ('new', 'skip'))
		AND (p.matched_by IS NULL OR p.matched_by IN ('email', 'mobile', 'phone'))
		AND (p.action NOT IN ('new', 'skip') OR p.contact_id IS NULL))), 0,
	r.name || ': plan rows use the action/matched_by vocabulary')
FROM import_run r ORDER BY r.name;

-- 1d. preview and plan write nothing
SELECT ok(snap1 = snap0 AND events1 = events0,
	name || ': preview and plan write nothing (rows, xmin, ctid, events)')
FROM import_run ORDER BY name;

-- 1e. one event per commit, with the commit's counts
SELECT is(events2 - events1, 1::bigint, name || ': the commit logs one event') FROM import_run ORDER BY name;
SELECT is((SELECT jsonb_build_object('id', e.id, 'event_type', e.event_type, 'filename', e.filename,
			'total_rows', e.total_rows, 'new', e.new_count, 'updated', e.updated_count,
			'conflicts', e.conflict_count, 'skipped', e.skipped_count,
			'summary', pg_temp.counts(e.summary))
		FROM public.integration_events e WHERE e.user_id = r.uid ORDER BY e.id LIMIT 1),
	jsonb_build_object('id', r.commit1->'event_id', 'event_type', 'import', 'filename', r.name || '.csv',
		'total_rows', r.commit1->'total_rows', 'new', r.commit1->'new', 'updated', r.commit1->'updated',
		'conflicts', r.commit1->'conflicts', 'skipped', r.commit1->'skipped',
		'summary', pg_temp.counts(r.commit1)),
	r.name || ': the event row holds the commit''s event_id, filename and counts')
FROM import_run r ORDER BY r.name;

-- 1f. idempotency: the second commit of the same file
SELECT is(jsonb_build_object('err', commit2_err, 'new', commit2->'new', 'updated', commit2->'updated'),
	'{"err": null, "new": 0, "updated": 0}', name || ': a second commit reports new 0, updated 0')
FROM import_run ORDER BY name;
SELECT ok(snap3 = snap2, name || ': a second commit rewrites no contacts or contact_integrations row (xmin, ctid)')
FROM import_run ORDER BY name;
SELECT is(events3 - events2, 1::bigint, name || ': a second commit adds just its event') FROM import_run ORDER BY name;

-- 1g. last_imported_at: set on every contact a new or update row stored,
-- untouched on contacts no row of the file matched
SELECT is((SELECT count(*)::int FROM import_plan p
		JOIN import_plan_after a ON a.name = p.name AND a.line = p.line
		LEFT JOIN public.contact_integrations ci ON ci.user_id = r.uid AND ci.contact_id = a.contact_id
		WHERE p.name = r.name AND p.action IN ('new', 'update')
			AND (ci.last_imported_at IS NULL OR ci.last_imported_at <> now())), 0,
	r.name || ': last_imported_at is set for every stored row')
FROM import_run r ORDER BY r.name;
SELECT is((SELECT count(*)::int FROM public.contact_integrations ci WHERE ci.user_id = r.uid
		AND ci.last_imported_at IS NOT NULL AND ci.contact_id NOT IN
			(SELECT a.contact_id FROM import_plan_after a WHERE a.name = r.name AND a.contact_id IS NOT NULL)), 0,
	r.name || ': contacts the file does not match keep last_imported_at NULL')
FROM import_run r ORDER BY r.name;

-- 1h. tenants: every matched contact is the tenant's own
SELECT is((SELECT count(*)::int FROM import_plan p JOIN public.contacts c ON c.id = p.contact_id
		WHERE p.name = r.name AND c.user_id <> r.uid), 0,
	r.name || ': every contact matched belongs to the importing tenant')
FROM import_run r ORDER BY r.name;

/*
 * Part 2: what each fixture is about.
 */

-- match_order.csv: email beats mobile beats phone
SELECT results_eq($$SELECT line, action, n, matched_by FROM pg_temp.plan_of('match_order')$$,
	$$VALUES (2, 'update', 1::bigint, 'email'), (3, 'unchanged', 3::bigint, 'mobile'),
		(4, 'update', 2::bigint, 'phone'), (5, 'unchanged', 3::bigint, 'phone'),
		(6, 'unchanged', 1::bigint, 'phone')$$,
	'match order: email beats mobile (line 2: the mobile is Cara''s), mobile beats phone (line 3: the phone is Bob''s), phone last');
SELECT is((SELECT array[phone, mobile] FROM public.contacts WHERE id = pg_temp.c('match_order', 1)),
	array['03 9000 0001', '0412 345 678'],
	'match order: the email match fills Ann''s blank phone and keeps her mobile');
SELECT is((SELECT mobile FROM public.contacts WHERE id = pg_temp.c('match_order', 2)), '0499 999 999',
	'match order: a mobile that matches nobody fills the blank mobile of the contact the phone matched');
SELECT is((SELECT row(first_name, last_name, email, phone, mobile)::text FROM public.contacts
		WHERE id = pg_temp.c('match_order', 3)),
	row('Cara', 'Diaz', 'cara@example.com', '03 9123 4567', '0423 111 222')::text,
	'match order: Cara is unchanged');
SELECT is((SELECT count(*)::int FROM public.contacts WHERE user_id = pg_temp.uid('match_order')), 10,
	'match order: no contact created');

-- phone_variants.csv: one canonical key for every way of writing a number
SELECT results_eq($$SELECT line, action, n, matched_by FROM pg_temp.plan_of('phone_variants')$$,
	$$VALUES (2, 'unchanged', 1::bigint, 'mobile'), (3, 'unchanged', 1::bigint, 'mobile'),
		(4, 'unchanged', 1::bigint, 'mobile'), (5, 'unchanged', 1::bigint, 'mobile'),
		(6, 'unchanged', 1::bigint, 'mobile'), (7, 'unchanged', 1::bigint, 'mobile'),
		(8, 'unchanged', 2::bigint, 'phone'), (9, 'unchanged', 2::bigint, 'phone')$$,
	'phone variants: "0412 345 678", "+61 412 345 678", "61412345678", "0011 61 412 345 678", "412345678", "+61 (0)412 345 678" all match Ann');
SELECT is((SELECT count(DISTINCT public.activepipe_phone_key(v))::int FROM unnest(ARRAY['0412 345 678',
		'+61 412 345 678', '61412345678', '0011 61 412 345 678', '412345678']) v), 1,
	'phone variants: the five spellings have one key');
SELECT is(pg_temp.counts((SELECT preview FROM import_run WHERE name = 'phone_variants')),
	'{"total_rows": 8, "matched": 8, "new": 0, "updated": 0, "unchanged": 8, "conflicts": 0, "skipped": 0}',
	'phone variants: 8 matched, none new; "ANN" and "ann" are no conflict with "Ann"');

-- fill_blanks.csv: fill-blanks by default, overwrite on request, a blank cell never erases
SELECT results_eq($$SELECT line, action, n, matched_by FROM pg_temp.plan_of('fill_blanks')$$,
	$$VALUES (2, 'update', 8::bigint, 'email'), (3, 'unchanged', 2::bigint, 'email')$$,
	'fill blanks: Fay is updated; Bob''s row of blank cells changes nothing');
SELECT is((SELECT row(first_name, last_name, street_address, city, state, postcode, country)::text
		FROM public.contacts WHERE id = pg_temp.c('fill_blanks', 8)),
	row('Fay', 'Gold', '1 Main St', 'Perth', 'NSW', '2000', 'Australia')::text,
	'fill blanks: NULL and '''' fields take the file''s values; city Perth stays; a blank cell leaves country');
SELECT is((SELECT row(first_name, last_name, email, phone)::text FROM public.contacts
		WHERE id = pg_temp.c('fill_blanks', 2)),
	row('Bob', 'Ray', 'bob@example.com', '(02) 9876 5432')::text,
	'fill blanks: blank cells erase nothing');

SELECT pg_temp.seed(969001);
CREATE TEMP TABLE ow AS
	SELECT pg_temp.try($$SELECT public.activepipe_import_commit(969001, pg_temp.csv('fill_blanks'), true)$$) AS s;
SELECT is(pg_temp.counts(s) || jsonb_build_object('overwrite', s->'overwrite', 'error', s->'error'),
	'{"total_rows": 2, "matched": 2, "new": 0, "updated": 1, "unchanged": 1, "conflicts": 0, "skipped": 0, "overwrite": true, "error": null}',
	'overwrite: counts, and the summary says overwrite true') FROM ow;
SELECT is((SELECT row(first_name, last_name, street_address, city, state, postcode, country)::text
		FROM public.contacts WHERE id = 96900108),
	row('Fay', 'Gold', '1 Main St', 'Sydney', 'NSW', '2000', 'Australia')::text,
	'overwrite: every non-blank value replaces (city Sydney); a blank cell still keeps country');
SELECT is((SELECT row(first_name, last_name, email, phone)::text FROM public.contacts WHERE id = 96900102),
	row('Bob', 'Ray', 'bob@example.com', '(02) 9876 5432')::text,
	'overwrite: blank cells erase nothing');
CREATE TEMP TABLE ow_snap AS SELECT pg_temp.snap(969001) AS snap;
SELECT is(pg_temp.err($q$DO $x$ BEGIN PERFORM public.activepipe_import_commit(969001, pg_temp.csv('fill_blanks'), true);
		IF (SELECT snap FROM ow_snap) <> pg_temp.snap(969001) THEN RAISE EXCEPTION 'rewritten'; END IF;
	END $x$ $q$), 'no error', 'overwrite: importing the file again writes nothing');
SELECT is(jsonb_build_object('new', s->'new', 'updated', s->'updated'),
	'{"new": 0, "updated": 0}', 'overwrite: and previews new 0, updated 0')
FROM (SELECT public.activepipe_import_preview(969001, pg_temp.csv('fill_blanks'), true) AS s) x;

-- conflicts.csv: names (and the email on a phone match) that differ
SELECT results_eq($$SELECT line, action, n, matched_by, reason FROM pg_temp.plan_of('conflicts')$$,
	$$VALUES (2, 'conflict', 1::bigint, 'email', 'conflict: firstname differs'),
		(3, 'conflict', 2::bigint, 'email', 'conflict: firstname, lastname differ'),
		(4, 'conflict', 3::bigint, 'mobile', 'conflict: email differs'),
		(5, 'unchanged', 2::bigint, 'phone', NULL),
		(6, 'unchanged', 10::bigint, 'email', NULL),
		(7, 'conflict', 3::bigint, 'mobile', 'conflict: firstname, lastname, email differ')$$,
	'conflicts: the differing fields are named; case, outer and inner spaces are no conflict');
SELECT is((SELECT row(first_name, last_name, city)::text FROM public.contacts WHERE id = pg_temp.c('conflicts', 1)),
	row('Ann', 'Lee', NULL)::text, 'conflicts: a conflict row writes no identity field, not even a blank city');
SELECT is((SELECT payload_json FROM public.contact_integrations WHERE contact_id = pg_temp.c('conflicts', 1)),
	'{"status": "subscribed", "minbeds": 3}', 'conflicts: a conflict row still stores its integration fields');
SELECT isnt((SELECT last_imported_at FROM public.contact_integrations WHERE contact_id = pg_temp.c('conflicts', 1)),
	NULL, 'conflicts: and stamps last_imported_at');
SELECT is((SELECT string_agg(row(first_name, last_name, email)::text, ' ' ORDER BY id) FROM public.contacts
		WHERE id IN (pg_temp.c('conflicts', 2), pg_temp.c('conflicts', 3))),
	'(Bob,Ray,bob@example.com) (Cara,Diaz,cara@example.com)', 'conflicts: Bob and Cara keep their names and email');
SELECT is((SELECT payload_json FROM public.contact_integrations WHERE contact_id = pg_temp.c('conflicts', 3)),
	'{"source": "referral"}', 'conflicts: blank integration cells leave Cara''s profile as it was');
SELECT is((SELECT jsonb_agg(x->>'reason') FROM import_run, jsonb_array_elements(commit1->'rows') x
		WHERE name = 'conflicts'),
	'["conflict: firstname differs", "conflict: firstname, lastname differ", "conflict: email differs", "conflict: firstname, lastname, email differ"]',
	'conflicts: the summary lists every conflict with its reason');

SELECT pg_temp.seed(969002);
CREATE TEMP TABLE ow2 AS
	SELECT pg_temp.try($$SELECT public.activepipe_import_commit(969002, pg_temp.csv('conflicts'), true)$$) AS s;
SELECT is((SELECT jsonb_build_object('error', s->'error', 'conflicts', s->'conflicts') FROM ow2),
	'{"error": null, "conflicts": 0}', 'overwrite: no conflicts, the file wins');
SELECT is((SELECT row(first_name, last_name, city)::text FROM public.contacts WHERE id = 96900201),
	row('Anne', 'Lee', 'Brisbane')::text, 'overwrite: Ann becomes Anne, city Brisbane');

-- ambiguous.csv: a key several contacts share
SELECT results_eq($$SELECT line, action, n, matched_by, reason FROM pg_temp.plan_of('ambiguous')$$,
	$$VALUES (2, 'conflict', 4::bigint, 'email', 'ambiguous: 2 contacts share this email'),
		(3, 'conflict', 6::bigint, 'mobile', 'ambiguous: 2 contacts share this mobile'),
		(4, 'conflict', 6::bigint, 'phone', 'ambiguous: 2 contacts share this phone'),
		(5, 'conflict', 4::bigint, 'email', 'ambiguous: 2 contacts share this email; conflict: firstname differs')$$,
	'ambiguous: the lowest id is picked and reported as a conflict (phone and mobile columns are one index)');
SELECT is((SELECT count(*)::int FROM public.contact_integrations WHERE contact_id = pg_temp.c('ambiguous', 4)), 0,
	'ambiguous: which contact the row means is unknown, so not even its integration fields are written');
SELECT is((SELECT count(*)::int FROM public.contact_integrations WHERE contact_id = pg_temp.c('ambiguous', 5)), 0,
	'ambiguous: the other contact is not written');
SELECT is((SELECT first_name FROM public.contacts WHERE id = pg_temp.c('ambiguous', 4)), 'Dan',
	'ambiguous: and no identity field is written');
-- the names on the row single out one of the contacts that share a key
SELECT results_eq(format($$SELECT line, action, contact_id - %s, matched_by, reason FROM activepipe_import_plan(%s,
		E'email,firstname,lastname,status\ndup@example.com,Dee,,vip\ndup@example.com,dan,NG,vip\ndup@example.com,,Ng,vip\ndup@example.com,Zed,,vip\n')$$,
		pg_temp.uid('ambiguous') * 100, pg_temp.uid('ambiguous')),
	$$VALUES (2, 'update', 5::bigint, 'email', NULL), (3, 'update', 4::bigint, 'email', NULL),
		(4, 'conflict', 4::bigint, 'email', 'ambiguous: 2 contacts share this email'),
		(5, 'conflict', 4::bigint, 'email', 'ambiguous: 2 contacts share this email; conflict: firstname differs')$$,
	'ambiguous: a shared key matches the one holder whose names agree with the row (Dee, Dan); names that fit both or neither leave it ambiguous');
SELECT is((activepipe_import_commit(pg_temp.uid('ambiguous'), E'email,firstname,status\ndup@example.com,Dee,vip\n') ->> 'updated')::int, 1,
	'ambiguous: ... and a commit writes to that holder');
SELECT is((SELECT payload_json ->> 'status' FROM public.contact_integrations WHERE contact_id = pg_temp.c('ambiguous', 5)), 'vip',
	'ambiguous: ... Dee''s profile, not Dan''s');

-- repeats.csv: rows of the same person resolve to one contact
SELECT results_eq($$SELECT line, action, n, matched_by FROM pg_temp.plan_of('repeats') WHERE line <= 6 OR line = 8$$,
	$$VALUES (2, 'new', NULL::bigint, NULL), (3, 'unchanged', NULL::bigint, 'email'),
		(4, 'unchanged', NULL::bigint, 'mobile'), (5, 'new', NULL::bigint, NULL),
		(6, 'update', NULL::bigint, 'email'), (8, 'update', 2::bigint, 'email')$$,
	'repeats: later rows of a new person match the contact the first row creates (contact_id NULL: not inserted yet)');
SELECT is((SELECT row(first_name, last_name, mobile)::text FROM public.contacts
		WHERE user_id = pg_temp.uid('repeats') AND email = 'new.person@example.com'),
	row('Nia', 'Park', '0455 000 111')::text, 'repeats: one contact for new.person@example.com');
SELECT is((SELECT row(first_name, last_name, mobile)::text FROM public.contacts
		WHERE user_id = pg_temp.uid('repeats') AND email = 'solo@example.com'),
	row('Sol', 'Ode', '0466 000 222')::text, 'repeats: the second row of a new person fills its blanks');
SELECT results_eq($$SELECT line, action, n, matched_by FROM pg_temp.plan_of('repeats') WHERE line IN (7, 9)$$,
	$$VALUES (7, 'unchanged', NULL::bigint, 'mobile'), (9, 'unchanged', 2::bigint, 'mobile')$$,
	'repeats: a number an earlier row gave a contact finds that contact (a new one on line 7, Bob on line 9)');
SELECT is((SELECT count(*)::int FROM public.contacts WHERE user_id = pg_temp.uid('repeats')), 12,
	'repeats: 8 rows of 3 people add exactly 2 contacts');

-- skips.csv: rows without a usable key
SELECT results_eq($$SELECT line, action, n, matched_by, reason FROM pg_temp.plan_of('skips') WHERE line <> 7$$,
	$$VALUES (2, 'skip', NULL::bigint, NULL, 'no match key'), (3, 'skip', NULL::bigint, NULL, 'no match key'),
		(6, 'skip', NULL::bigint, NULL, 'no match key'), (8, 'unchanged', 1::bigint, 'email', NULL)$$,
	'skips: no key, unusable numbers and a blank email are skipped; blank rows and lines are not rows');
SELECT results_eq($$SELECT line, action, reason FROM pg_temp.plan_of('skips') WHERE line = 7$$,
	$$VALUES (7, 'skip', 'no match key')$$,
	'skips: a row with a value only in an ignored column is skipped, not dropped as blank');
SELECT is((SELECT jsonb_agg(x ORDER BY (x->>'line')::int) FROM import_run, jsonb_array_elements(commit1->'rows') x
		WHERE name = 'skips' AND x->>'line' <> '7'),
	'[{"line": 2, "action": "skip", "contact_id": null, "matched_by": null, "reason": "no match key",
	   "reason_code": "no_match_key", "field": null, "conflicts": null},
	  {"line": 3, "action": "skip", "contact_id": null, "matched_by": null, "reason": "no match key",
	   "reason_code": "no_match_key", "field": null, "conflicts": null},
	  {"line": 6, "action": "skip", "contact_id": null, "matched_by": null, "reason": "no match key",
	   "reason_code": "no_match_key", "field": null, "conflicts": null}]',
	'skips: the summary lists skipped rows with their line');
SELECT is((SELECT count(*)::int FROM public.contacts WHERE user_id = pg_temp.uid('skips')), 10,
	'skips: a skipped row creates nothing');

-- cross_tenant.csv and the shadow tenant: another tenant is invisible
SELECT results_eq($$SELECT line, action, n, matched_by, reason FROM pg_temp.plan_of('cross_tenant')$$,
	$$VALUES (2, 'new', NULL::bigint, NULL, NULL), (3, 'update', 1::bigint, 'email', NULL),
		(4, 'conflict', 4::bigint, 'email', 'ambiguous: 2 contacts share this email'),
		(5, 'unchanged', 1::bigint, 'mobile', NULL)$$,
	'tenants: an email and a number only another tenant has are new here; shared ones match only the own contacts and count only them');
SELECT is((SELECT count(*)::int FROM public.contacts WHERE email = 'shadow.only@example.com'), 2,
	'tenants: the new contact is made in the importing tenant, next to the other tenant''s');
SELECT is((SELECT snap FROM shadow_before), pg_temp.snap(960000),
	'tenants: after every import above, the other tenant''s contacts and profiles are byte for byte and version for version unchanged');
SELECT is((SELECT count(*)::int FROM public.integration_events WHERE user_id = 960000), 0,
	'tenants: and it has no events');
SELECT results_eq($$SELECT line, action, contact_id, matched_by FROM public.activepipe_import_plan(960000,
		pg_temp.csv('cross_tenant'))$$,
	$$VALUES (2, 'conflict', 96000011::bigint, 'email'), (3, 'conflict', 96000001::bigint, 'email'),
		(4, 'conflict', 96000004::bigint, 'email'), (5, 'conflict', 96000001::bigint, 'mobile')$$,
	'tenants: the other tenant, planning the same file, matches only its own contacts (whose names differ)');

-- commit argument checks
SELECT throws_ok($$SELECT public.activepipe_import_commit(960001, NULL::text)$$, '22004', NULL,
	'commit: a NULL csv is an error (22004)');
SELECT throws_ok($$SELECT public.activepipe_import_commit(960001, 'email', NULL)$$, '22004', NULL,
	'commit: a NULL overwrite is an error (22004)');
SELECT is(public.activepipe_import_preview(960001, NULL::text), NULL, 'preview is STRICT');

SELECT * FROM finish();
ROLLBACK;
