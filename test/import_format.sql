-- CSV import (issue 5), the file format: strict parse errors (SQLSTATE
-- 22P04, the line in the detail, nothing written), the tolerated variants
-- (BOM, CRLF and CR line ends, semicolon and tab delimiters, quoted line
-- breaks, header spellings, extra and missing columns, bad numbers), and
-- the bytea overloads (UTF-8 with and without BOM, UTF-16LE/BE with BOM,
-- the Windows-1252 fallback, NUL bytes).  Fixtures: test/fixtures/import,
-- loaded by setup.psql there; the standard tenant is described there too.
BEGIN;
\ir fixtures/import/setup.psql

SELECT plan(103);

SELECT pg_temp.seed(970001);
CREATE TEMP TABLE before_errors AS SELECT pg_temp.snap(970001) AS snap;

/*
 * 1. Strict errors: every bad fixture fails preview, plan and commit with
 * 22P04 and names its line in the detail.
 */
SELECT throws_ok(format('SELECT public.activepipe_import_preview(970001, pg_temp.csv(%L))', name),
	'22P04', NULL, name || '.csv: preview fails with 22P04 (bad_copy_file_format)')
FROM import_bad_fixture ORDER BY name;
SELECT matches(pg_temp.err(format('SELECT public.activepipe_import_preview(970001, pg_temp.csv(%L))', name)),
	format('^22P04 \| .+ \| Line %s\M', line), name || '.csv: the detail names line ' || line)
FROM import_bad_fixture ORDER BY name;
SELECT throws_ok(format('SELECT * FROM public.activepipe_import_plan(970001, pg_temp.csv(%L))', name),
	'22P04', NULL, name || '.csv: plan fails with 22P04')
FROM import_bad_fixture ORDER BY name;
SELECT throws_ok(format('SELECT public.activepipe_import_commit(970001, pg_temp.csv(%L))', name),
	'22P04', NULL, name || '.csv: commit fails with 22P04')
FROM import_bad_fixture ORDER BY name;
SELECT throws_ok(format('SELECT public.activepipe_import_commit(970001, pg_temp.raw(%L))', name),
	'22P04', NULL, name || '.csv: the bytea commit fails with 22P04 as well')
FROM import_bad_fixture ORDER BY name;
SELECT is(pg_temp.snap(970001), (SELECT snap FROM before_errors), 'failed commits wrote no contact or profile');
SELECT is(pg_temp.events(970001), 0::bigint, 'failed commits logged no event');
SELECT is((SELECT count(*)::int FROM public.contacts WHERE email LIKE 'tm_@example.com'), 0,
	'too_many_fields.csv: the valid rows before the bad line are not imported either');

-- what each message says
SELECT results_eq($$SELECT name, split_part(pg_temp.err(format('SELECT public.activepipe_import_preview(970001, pg_temp.csv(%L))', name)), ' | ', 2)
		FROM import_bad_fixture ORDER BY name$$,
	$$VALUES ('duplicate_header', 'duplicate column "firstname" in the header'),
		('empty', 'the file is empty'),
		('misplaced_quote', 'misplaced quote'),
		('no_key_header', 'the header has no email, mobile or phone column'),
		('too_many_fields', 'a row has more fields than the header'),
		('unterminated_quote', 'unterminated quoted field')$$,
	'each strict error says what is wrong');
SELECT is(split_part(pg_temp.err($$SELECT public.activepipe_import_preview(970001, pg_temp.csv('too_many_fields'))$$), ' | ', 3),
	'Line 5: 4 fields, the header has 3.',
	'too_many_fields.csv: line 5 counts the two lines of the quoted field on line 2');
SELECT matches(pg_temp.err($$SELECT public.activepipe_import_preview(970001, E'\n\n  \n')$$), '^22P04 ',
	'a file of blank lines is empty');
SELECT matches(pg_temp.err($$SELECT public.activepipe_import_preview(970001, E'\uFEFF')$$), '^22P04 ',
	'a file of just a BOM is empty');

/*
 * 2. Tolerated variants: each file committed on a tenant of its own.
 */
CREATE TEMP TABLE fmt (name text PRIMARY KEY, uid bigint, plan jsonb, s jsonb);
DO $fmt$
DECLARE
	f record;
	u bigint;
BEGIN
	FOR f IN SELECT name, row_number() OVER (ORDER BY name) AS k FROM import_fixture
		WHERE name IN ('bom', 'crlf', 'cr_only', 'semicolon', 'tab', 'quoted_newlines',
			'extra_missing_columns', 'bad_numbers') LOOP
		u := 971000 + f.k;
		PERFORM pg_temp.seed(u);
		INSERT INTO fmt VALUES (f.name, u,
			(SELECT jsonb_agg(jsonb_build_array(p.line, p.action, p.contact_id - u * 100, p.matched_by, p.reason)
				ORDER BY p.line) FROM public.activepipe_import_plan(u, pg_temp.csv(f.name)) p),
			pg_temp.try(format('SELECT public.activepipe_import_commit(%s, pg_temp.csv(%L))', u, f.name)));
	END LOOP;
END
$fmt$;
-- a contact of a format fixture's tenant, by email
CREATE FUNCTION pg_temp.fc(f text, em text) RETURNS public.contacts LANGUAGE sql STABLE AS $f$
	SELECT c.* FROM public.contacts c JOIN fmt ON fmt.uid = c.user_id WHERE fmt.name = f AND c.email = em
$f$;
CREATE FUNCTION pg_temp.fp(f text, em text) RETURNS jsonb LANGUAGE sql STABLE AS $f$
	SELECT ci.payload_json FROM public.contact_integrations ci JOIN public.contacts c ON c.id = ci.contact_id
		JOIN fmt ON fmt.uid = c.user_id WHERE fmt.name = f AND c.email = em
$f$;

SELECT is(s->'error', NULL, name || '.csv: imports without error') FROM fmt ORDER BY name;

-- bom.csv: a UTF-8 BOM before "Email", headers as people type them
SELECT is(plan, '[[2, "update", 1, "email", null], [3, "new", null, null, null]]',
	'bom.csv: the BOM is no part of the first header ("Email" matches)') FROM fmt WHERE name = 'bom';
SELECT is(s->'ignored_columns', '[]', 'bom.csv: "Email", "First Name", "Last Name" are contract columns') FROM fmt WHERE name = 'bom';
SELECT is(((pg_temp.fc('bom', 'zoe@example.com')).first_name, (pg_temp.fc('bom', 'zoe@example.com')).last_name)::text,
	'(Zoë,Ünal)', 'bom.csv: UTF-8 names arrive intact');
SELECT is(pg_temp.fp('bom', 'ann@example.com'), '{"status": "active"}', 'bom.csv: the last column is read');

-- crlf.csv and cr_only.csv
SELECT is(plan, '[[2, "unchanged", 1, "email", null], [4, "new", null, null, null], [5, "new", null, null, null]]',
	'crlf.csv: CRLF lines, a blank line counted, a quoted CRLF spans lines 5-6') FROM fmt WHERE name = 'crlf';
SELECT is((pg_temp.fc('crlf', 'crlf.one@example.com')).last_name, 'Quinn', 'crlf.csv: no CR left on the last field');
SELECT is((pg_temp.fc('crlf', 'crlf.two@example.com')).last_name, E'Lee\r\nRoss',
	'crlf.csv: a quoted field keeps its line break as written');
SELECT is(plan, '[[2, "unchanged", 1, "email", null], [4, "new", null, null, null], [5, "new", null, null, null]]',
	'cr_only.csv: CR-only lines (old Mac Excel) are lines') FROM fmt WHERE name = 'cr_only';
SELECT is(((pg_temp.fc('cr_only', 'cr.one@example.com')).last_name, (pg_temp.fc('cr_only', 'cr.two@example.com')).last_name)::text,
	'(Quinn,Ross)', 'cr_only.csv: no CR left on the last field');

-- semicolon.csv and tab.csv: the delimiter comes from the header line
SELECT is(pg_temp.fp('semicolon', 'ann@example.com'), '{"maxprice": 1250000, "locations": "Bondi, NSW"}',
	'semicolon.csv: commas are data; "1,250,000" is a number');
SELECT is(((pg_temp.fc('semicolon', 'semi@example.com')).last_name, pg_temp.fp('semicolon', 'semi@example.com'))::text,
	'("Colon; Jr","{""maxprice"": 900000, ""locations"": ""Manly; Dee Why""}")',
	'semicolon.csv: quoted semicolons are data');
SELECT is(s->'ignored_columns', '[]', 'tab.csv: "first name", "last name" are contract columns') FROM fmt WHERE name = 'tab';
SELECT is(pg_temp.fp('tab', 'ann@example.com'), '{"minprice": 750000, "locations": "Bondi, NSW"}',
	'tab.csv: tab-delimited, commas are data');
SELECT is(jsonb_build_array((pg_temp.fc('tab', 'tab@example.com')).first_name, pg_temp.fp('tab', 'tab@example.com')),
	'["Mary Ann", {"locations": "Coogee\tBeach"}]', 'tab.csv: inner spaces kept, a quoted tab is data');

-- quoted_newlines.csv: line numbers count the lines a quoted field spans
SELECT is(plan, '[[2, "new", null, null, null], [4, "new", null, null, null], [7, "skip", null, null, "no match key"], [9, "new", null, null, null]]',
	'quoted_newlines.csv: rows begin on lines 2, 4, 7 and 9') FROM fmt WHERE name = 'quoted_newlines';
SELECT is(s->'rows', '[{"line": 7, "action": "skip", "contact_id": null, "matched_by": null, "reason": "no match key", "reason_code": "no_match_key", "field": null, "conflicts": null}]',
	'quoted_newlines.csv: the summary reports the skipped row at its physical line') FROM fmt WHERE name = 'quoted_newlines';
SELECT is((pg_temp.fc('quoted_newlines', 'q1@example.com')).street_address, E'Unit 4\n1 Long Rd',
	'quoted_newlines.csv: a two-line address is stored as written');
SELECT is(((pg_temp.fc('quoted_newlines', 'q2@example.com')).first_name, pg_temp.fp('quoted_newlines', 'q2@example.com'))::text,
	E'("Two\nLine\nName","{""locations"": ""Bondi, NSW""}")', 'quoted_newlines.csv: the fields after a three-line field are read');

-- extra_missing_columns.csv
SELECT is(s->'ignored_columns', '["Notes", "Internal ID"]', 'extra_missing_columns.csv: unknown headers are listed in ignored_columns')
FROM fmt WHERE name = 'extra_missing_columns';
SELECT is(pg_temp.fp('extra_missing_columns', 'gus@example.com'),
	'{"status": "unsubscribed", "minbeds": 2, "tags": ["old"], "custom_key": "keep"}',
	'extra_missing_columns.csv: "Status" replaces, a blank "Source" cell clears, absent columns and unknown keys stay');
SELECT is(((pg_temp.fc('extra_missing_columns', 'gus@example.com')).first_name, (pg_temp.fc('extra_missing_columns', 'gus@example.com')).mobile)::text,
	'(Gus,"0400 000 009")', 'extra_missing_columns.csv: identity columns missing from the file are untouched');
SELECT is(pg_temp.fp('extra_missing_columns', 'cara@example.com'), '{"source": "referral", "status": "active"}',
	'extra_missing_columns.csv: a short row leaves the fields it lacks ("Source") untouched');

-- bad_numbers.csv
SELECT is(plan, '[[2, "update", 1, "email", "bad number in maxbeds kept as text; bad number in maxprice kept as text"], [3, "update", 2, "email", "bad number in minprice kept as text"], [4, "new", null, null, "bad number in minbeds kept as text"]]',
	'bad_numbers.csv: each bad number is named in its row''s reason') FROM fmt WHERE name = 'bad_numbers';
SELECT is(pg_temp.fp('bad_numbers', 'ann@example.com'), '{"minbeds": 3, "maxbeds": "three", "minprice": 450000, "maxprice": "1.2.3"}',
	'bad_numbers.csv: good numbers are numbers, bad ones kept as the text written');
SELECT is(pg_temp.fp('bad_numbers', 'bob@example.com'), '{"maxbeds": 2, "minprice": "abc"}', 'bad_numbers.csv: never dropped');
SELECT is(pg_temp.fp('bad_numbers', 'new.bad@example.com'), '{"minbeds": "x"}', 'bad_numbers.csv: on a new contact as well');
SELECT is(s->'rows', '[]', 'bad_numbers.csv: a bad number is neither a conflict nor a skip') FROM fmt WHERE name = 'bad_numbers';

/*
 * 3. The bytea overloads: raw uploads.
 */
-- bytea of text in UTF-16 with a BOM (surrogate pairs above U+FFFF)
CREATE FUNCTION pg_temp.utf16(t text, big_endian boolean) RETURNS bytea LANGUAGE plpgsql IMMUTABLE AS $f$
DECLARE
	res bytea := CASE WHEN big_endian THEN '\xfeff'::bytea ELSE '\xfffe'::bytea END;
	ch text;
	cp int;
	u int;
	h text;
BEGIN
	FOREACH ch IN ARRAY regexp_split_to_array(t, '') LOOP
		cp := ascii(ch);
		FOREACH u IN ARRAY CASE WHEN cp < 65536 THEN ARRAY[cp]
			ELSE ARRAY[55296 + ((cp - 65536) >> 10), 56320 + ((cp - 65536) & 1023)] END LOOP
			h := lpad(to_hex(u), 4, '0');
			res := res || decode(CASE WHEN big_endian THEN h ELSE substr(h, 3, 2) || substr(h, 1, 2) END, 'hex');
		END LOOP;
	END LOOP;
	RETURN res;
END
$f$;
CREATE TEMP TABLE bom_text AS SELECT ltrim(pg_temp.csv('bom'), U&'\FEFF') AS t;
SELECT pg_temp.seed(972001);
CREATE TEMP TABLE enc (label text PRIMARY KEY, raw bytea);
INSERT INTO enc SELECT 'UTF-8 with BOM', pg_temp.raw('bom');
INSERT INTO enc SELECT 'UTF-8 without BOM', convert_to(t, 'UTF8') FROM bom_text;
INSERT INTO enc SELECT 'UTF-16LE', pg_temp.utf16(t, false) FROM bom_text;
INSERT INTO enc SELECT 'UTF-16BE', pg_temp.utf16(t, true) FROM bom_text;
INSERT INTO enc SELECT 'WINDOWS-1252', convert_to(t, 'WIN1252') FROM bom_text;

SELECT is(substr(raw, 1, 4), '\xfffe4500'::bytea, 'the UTF-16LE upload starts with its BOM and "E" as 45 00') FROM enc WHERE label = 'UTF-16LE';
SELECT is(substr(raw, 1, 4), '\xfeff0045'::bytea, 'the UTF-16BE upload starts with its BOM and "E" as 00 45') FROM enc WHERE label = 'UTF-16BE';
SELECT is(pg_temp.try(format('SELECT public.activepipe_import_preview(972001, %L::bytea) - ''encoding''', raw)),
	public.activepipe_import_preview(972001, (SELECT t FROM bom_text)) - 'encoding',
	label || ': the bytea preview equals the text preview')
FROM enc ORDER BY label;
SELECT is(pg_temp.try(format('SELECT public.activepipe_import_preview(972001, %L::bytea)', raw))->>'encoding',
	CASE WHEN label LIKE 'UTF-8%' THEN 'UTF-8' ELSE label END, label || ': the summary names the encoding')
FROM enc ORDER BY label;
SELECT is((public.activepipe_import_preview(972001, (SELECT t FROM bom_text)))->>'encoding',
	(SELECT CASE WHEN e = 'UTF8' THEN 'UTF-8' ELSE e END
		FROM (SELECT pg_encoding_to_char(encoding)::text AS e FROM pg_database WHERE datname = current_database()) d),
	'text overload: the summary names the database encoding, spelt like the bytea ones ("UTF-8")');

-- commit each encoding on a tenant of its own; the names arrive as Zoë Ünal
CREATE TEMP TABLE enc_commit AS
	SELECT label, 972100 + row_number() OVER (ORDER BY label) AS uid FROM enc;
SELECT pg_temp.seed(uid) FROM enc_commit;
SELECT is(pg_temp.try(format('SELECT public.activepipe_import_commit(%s, %L::bytea, false, %L)', e.uid, x.raw, e.label))->'error',
	NULL, e.label || ': the bytea commit succeeds')
FROM enc_commit e JOIN enc x USING (label) ORDER BY label;
SELECT is((SELECT row(c.first_name, c.last_name)::text FROM public.contacts c
		WHERE c.user_id = e.uid AND c.email = 'zoe@example.com'), '(Zoë,Ünal)',
	e.label || ': non-ASCII names are decoded')
FROM enc_commit e ORDER BY label;
SELECT is((SELECT filename FROM public.integration_events ev WHERE ev.user_id = e.uid), e.label,
	e.label || ': the event carries the filename')
FROM enc_commit e WHERE label = 'UTF-16LE';

SELECT is(pg_temp.try(format('SELECT public.activepipe_import_preview(972001, %L::bytea)->''rows''',
		pg_temp.utf16(E'email,firstname\r\nzoe@example.com,Zoë \U0001F600\r\n,nokey\r\n', false))),
	'[{"line": 3, "action": "skip", "contact_id": null, "matched_by": null, "reason": "no match key", "reason_code": "no_match_key", "field": null, "conflicts": null}]',
	'UTF-16LE: CRLF lines and a surrogate pair decode, lines count as in the text');

-- bytes that are no text
SELECT throws_ok($$SELECT public.activepipe_import_preview(972001, '\x656d61696c0a616e6e406578616d706c652e636f6d0a0061'::bytea)$$,
	'22021', NULL, 'a NUL byte is an error (22021 character_not_in_repertoire)');
SELECT matches(pg_temp.err($$SELECT public.activepipe_import_preview(972001, '\x656d61696c0a616e6e406578616d706c652e636f6d0a0061'::bytea)$$),
	'^22021 \| .+ \| Line 3\M', 'a NUL byte: the detail names its line');
SELECT throws_ok($$SELECT public.activepipe_import_commit(972001, '\xfffe65006d00610069006c000a00'::bytea || '\x0000'::bytea)$$,
	'22021', NULL, 'a NUL character in UTF-16 is an error (22021)');
SELECT throws_ok($$SELECT public.activepipe_import_preview(972001, '\xefbbbf656d61696c0a61e94078'::bytea)$$,
	'22021', NULL, 'invalid UTF-8 after a UTF-8 BOM is an error (22021), not Windows-1252');
SELECT throws_ok($$SELECT public.activepipe_import_preview(972001, '\xfffe65006d0061'::bytea)$$,
	'22021', NULL, 'an odd number of UTF-16 bytes is an error (22021)');
SELECT is(pg_temp.events(972001), 0::bigint, 'failed bytea commits logged nothing');

SELECT * FROM finish();
ROLLBACK;
