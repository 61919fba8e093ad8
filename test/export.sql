-- CSV export (issues 3 and 4): activepipe_export, activepipe_export_rows,
-- activepipe_export_summary, the cap, last_exported_at and the event log.
BEGIN;
SELECT plan(63);

SET LOCAL TimeZone = 'UTC';

-- 'SQLSTATE | message | hint' of a statement, or 'no error'
CREATE FUNCTION pg_temp.err(sql text) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE
	st text;
	msg text;
	hint text;
BEGIN
	EXECUTE sql;
	RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT;
	RETURN st || ' | ' || msg || ' | ' || coalesce(hint, '');
END
$f$;

-- one RFC 4180 cell: quoted only when it holds a comma, a quote, CR or LF
CREATE FUNCTION pg_temp.csv(v text) RETURNS text LANGUAGE sql IMMUTABLE AS $f$
	SELECT CASE WHEN v IS NULL THEN ''
		WHEN v ~ E'[,"\r\n]' THEN '"' || replace(v, '"', '""') || '"'
		ELSE v END
$f$;

-- the lines of a document (split on CRLF only)
CREATE FUNCTION pg_temp.lines(doc text) RETURNS SETOF text LANGUAGE sql IMMUTABLE AS $f$
	SELECT l FROM unnest(string_to_array(doc, E'\r\n')) WITH ORDINALITY u(l, n)
	WHERE n < array_length(string_to_array(doc, E'\r\n'), 1) ORDER BY n
$f$;

CREATE FUNCTION pg_temp.events(uid bigint) RETURNS int LANGUAGE sql AS $f$
	SELECT count(*)::int FROM public.integration_events WHERE user_id = uid
$f$;

CREATE TEMP TABLE expect (name text PRIMARY KEY, doc text);
INSERT INTO expect VALUES ('header',
	'firstname,lastname,email,phone,mobile,streetaddress,city,state,postcode,country,status,sms_status,subscribed_at,unsubscribed_at,unsubscribed_reason,source,modified_at,latest_interaction,buyertype,locations,propertytype,category,minbeds,maxbeds,minbaths,maxbaths,minprice,maxprice,minparking,maxparking,minlandsize,maxlandsize,minbuildingsize,maxbuildingsize,listingtype,tags' || E'\r\n');
INSERT INTO expect VALUES ('ann',
	'Ann,Lee,ann@example.com,0412 345 678,0412 345 678,1 George St,Sydney,NSW,2000,Australia,active,,,,,"Said ""hi""",,,,"Bondi, Coogee",,,3,,,2.5,1250000,1250000,,,,,,,,Beach;pool' || E'\r\n');
INSERT INTO expect VALUES ('bob',
	'"Bob, Jr","O""Brien",bob@example.com,(02) 9876 5432,,"Unit 4' || E'\n' || '22 Pitt St",Sydney,,,,,,,,,,,,,,,,,,,,,,,,,,,,,' || E'\r\n');

INSERT INTO public.users (id, email) VALUES (7101, 'agent1@example.com'), (7102, 'agent2@example.com');
INSERT INTO public.contacts (id, user_id, first_name, last_name, email, phone, mobile,
	street_address, city, state, postcode, country) VALUES
	(710101, 7101, 'Ann', 'Lee', 'ann@example.com', '0412 345 678', NULL,
	 '1 George St', 'Sydney', 'NSW', '2000', 'Australia'),
	(710102, 7101, 'Bob, Jr', 'O"Brien', 'bob@example.com', '(02) 9876 5432', '',
	 E'Unit 4\n22 Pitt St', 'Sydney', NULL, NULL, NULL),
	(710103, 7101, 'Cat', 'Ho', 'cat@example.com', '0412 000 111', '0400 111 222', NULL, NULL, NULL, NULL, NULL),
	(710104, 7101, 'Dan', 'Kiwi', NULL, '+64 21 123 4567', NULL, NULL, NULL, NULL, NULL, NULL),
	(710105, 7101, '=HYPERLINK("x")', '-Eve', '@eve', '+61 412 345 678', NULL, NULL, E'\tTabcity', NULL, NULL, NULL),
	(710106, 7101, 'Fay', 'Blank', NULL, '0412 999 888', '   ', NULL, NULL, NULL, NULL, NULL),
	(710107, 7101, 'Zoë', 'Müller', NULL, NULL, NULL, NULL, 'Köln', NULL, NULL, NULL),
	(710201, 7102, 'Ann', 'Lee', 'ann@example.com', '0412 345 678', NULL, NULL, NULL, NULL, NULL, NULL);

CREATE TEMP TABLE setup AS SELECT
	public.activepipe_card_save(7101, 710101, $${"status": "active", "source": "Said \"hi\"",
		"locations": "Bondi, Coogee", "minbeds": "3", "maxbaths": "2.5",
		"minprice": "$1,250,000", "maxprice": "1 250 000", "tags": "Beach;pool"}$$) AS a,
	public.activepipe_card_save(7101, 710105, $${"status": "=1+1", "source": "+12",
		"locations": "@home", "category": "-"}$$) AS b;

-- 1. The document --------------------------------------------------------------
CREATE TEMP TABLE d1 AS SELECT public.activepipe_export(7101, ARRAY[710102, 710101]::bigint[]) AS doc;

SELECT is((SELECT split_part(doc, E'\r\n', 1) || E'\r\n' FROM d1), (SELECT doc FROM expect WHERE name = 'header'),
	'header: the 36 contract headers in contract order, byte-exact');
SELECT is((SELECT doc FROM d1),
	(SELECT string_agg(doc, '' ORDER BY ord) FROM expect
		JOIN (VALUES ('header', 1), ('ann', 2), ('bob', 3)) o(name, ord) USING (name)),
	'document byte-exact: rows ascending by id, quoting of commas, quotes and newlines, CRLF');
SELECT is((SELECT right(doc, 2) FROM d1), E'\r\n', 'the document ends with CRLF');
SELECT is((SELECT (length(doc) - length(replace(doc, E'\r\n', ''))) / 2 FROM d1), 3,
	'one CRLF per record (header + 2 rows)');
SELECT is((SELECT length(doc) - length(replace(doc, E'\n', '')) FROM d1), 4,
	'the only bare LF is the one inside a quoted cell');
SELECT ok(position(convert_to('Zoë,Müller', 'UTF8') IN convert_to(public.activepipe_export(7101, ARRAY[710107]::bigint[]), 'UTF8')) > 0,
	'non-ASCII text is exported as UTF-8');

-- the 8B two-argument call keeps working and equals the 1.1 defaults
SELECT is(public.activepipe_export(7101, ARRAY[710101]::bigint[]),
	public.activepipe_export(7101, ARRAY[710101]::bigint[], NULL, false),
	'activepipe_export(user, ids) equals activepipe_export(user, ids, NULL, false)');

-- 2. Ordering, duplicates, empty ----------------------------------------------
SELECT is(ARRAY(SELECT split_part(l, ',', 1) FROM pg_temp.lines(public.activepipe_export(7101,
		ARRAY[710107, 710103, 710101, 710104, 710102]::bigint[])) l),
	ARRAY['firstname', 'Ann', '"Bob', 'Cat', 'Dan', 'Zoë'], 'rows come in ascending contact id, whatever the array order');
SELECT is(public.activepipe_export(7101, ARRAY[710101, 710101, 710101]::bigint[]),
	(SELECT string_agg(doc, '' ORDER BY name DESC) FROM expect WHERE name IN ('header', 'ann')),
	'a duplicated id is exported once');
CREATE TEMP TABLE ev0 AS SELECT pg_temp.events(7101) AS n;
SELECT is(public.activepipe_export(7101, ARRAY[]::bigint[], 'empty.csv'), (SELECT doc FROM expect WHERE name = 'header'),
	'an empty array gives the header only');
SELECT is((SELECT total_rows::int || ' ' || filename FROM public.integration_events
		WHERE user_id = 7101 ORDER BY id DESC LIMIT 1), '0 empty.csv',
	'an empty export still logs its event, with total_rows 0');
SELECT is(pg_temp.events(7101), (SELECT n + 1 FROM ev0), 'the empty export logged exactly one event');

-- 3. The mobile column: prefer mobile, then a mobile-number phone -------------
CREATE TEMP TABLE mob AS SELECT r.* FROM public.activepipe_export_rows(7101,
	ARRAY[710101, 710102, 710103, 710104, 710105, 710106, 710107]::bigint[]) r;
SELECT is((SELECT mobile FROM mob WHERE firstname = 'Ann'), '0412 345 678', 'blank mobile, AU mobile phone: the phone');
SELECT is((SELECT mobile FROM mob WHERE firstname = 'Bob, Jr'), NULL, 'empty mobile, landline phone: no mobile');
SELECT is((SELECT mobile || ' / ' || phone FROM mob WHERE firstname = 'Cat'), '0400 111 222 / 0412 000 111',
	'a contact''s own mobile wins over its phone');
SELECT is((SELECT mobile FROM mob WHERE firstname = 'Dan'), '+64 21 123 4567', 'an NZ mobile phone (+64 2x) moves to mobile');
SELECT is((SELECT mobile FROM mob WHERE lastname = '-Eve'), '+61 412 345 678', 'a +61 4xx phone moves to mobile');
SELECT is((SELECT mobile FROM mob WHERE firstname = 'Fay'), '0412 999 888',
	'a mobile of only spaces is blank: the mobile-number phone is exported');
SELECT is((SELECT mobile FROM mob WHERE firstname = 'Zoë'), NULL, 'no phone, no mobile: empty');

-- 4. last_exported_at -----------------------------------------------------------
UPDATE public.contact_integrations SET last_exported_at = '2020-01-01 00:00:00+00' WHERE user_id = 7101;
CREATE TEMP TABLE before_stamp AS SELECT contact_id, payload_json FROM public.contact_integrations WHERE user_id = 7101;
DELETE FROM public.contact_integrations WHERE user_id = 7101 AND contact_id = 710102;
SELECT lives_ok($$SELECT public.activepipe_export(7101, ARRAY[710101, 710102]::bigint[], 'stamp.csv')$$, 'export for stamping');
SELECT is((SELECT count(*)::int FROM public.contact_integrations
		WHERE user_id = 7101 AND contact_id IN (710101, 710102) AND integration_key = 'activepipe'
		  AND last_exported_at = now()), 2,
	'last_exported_at set for every exported contact (a stamped row updated, a missing row created)');
SELECT is((SELECT count(*)::int FROM public.contact_integrations
		WHERE user_id = 7101 AND contact_id NOT IN (710101, 710102) AND last_exported_at = now()), 0,
	'contacts not exported are not stamped');
SELECT is((SELECT payload_json FROM public.contact_integrations WHERE contact_id = 710101),
	(SELECT payload_json FROM before_stamp WHERE contact_id = 710101), 'export leaves the payload alone');
SELECT is(public.activepipe_card(7101, 710101)->'last_exported_at', to_jsonb(now()),
	'the card shows the new last_exported_at');

-- 5. export_rows equals export ------------------------------------------------
CREATE TEMP TABLE rows_doc AS
	SELECT string_agg(
		(SELECT string_agg(pg_temp.csv(j.value), ',' ORDER BY j.n)
			FROM json_each_text(row_to_json(r)) WITH ORDINALITY j(key, value, n)
			WHERE j.key <> 'ordinality'),
		E'\r\n' ORDER BY r.ordinality) || E'\r\n' AS body
	FROM public.activepipe_export_rows(7101,
		ARRAY[710107, 710106, 710105, 710104, 710103, 710102, 710101, 710101]::bigint[]) WITH ORDINALITY r;
SELECT is((SELECT doc FROM expect WHERE name = 'header') || (SELECT body FROM rows_doc),
	public.activepipe_export(7101, ARRAY[710101, 710102, 710103, 710104, 710105, 710106, 710107]::bigint[]),
	'activepipe_export_rows, written as RFC 4180 CSV, is the activepipe_export document');
SELECT is((SELECT count(*)::int FROM public.activepipe_export_rows(7101, ARRAY[710102, 710101, 710102]::bigint[])), 2,
	'export_rows: a duplicated id is one row');
SELECT is(ARRAY(SELECT firstname FROM public.activepipe_export_rows(7101, ARRAY[710103, 710101, 710102]::bigint[])),
	ARRAY['Ann', 'Bob, Jr', 'Cat'], 'export_rows: ascending contact id');
SELECT is((SELECT minprice || '|' || tags || '|' || locations FROM public.activepipe_export_rows(7101, ARRAY[710101]::bigint[])),
	'1250000|Beach;pool|Bondi, Coogee', 'export_rows: ranges as numbers, tags joined with ;');
SELECT is((SELECT count(*)::int FROM public.activepipe_export_rows(7101, ARRAY[]::bigint[])), 0,
	'export_rows of an empty array: no rows');

-- 6. Events: exactly one per successful call ---------------------------------
CREATE TEMP TABLE ev1 AS SELECT pg_temp.events(7101) AS n, coalesce(max(id), 0) AS last_id
	FROM public.integration_events WHERE user_id = 7101;
SELECT lives_ok($$SELECT public.activepipe_export(7101, ARRAY[710103, 710101, 710103]::bigint[], 'contacts-2024.csv')$$,
	'an export with a filename');
SELECT is(pg_temp.events(7101), (SELECT n + 1 FROM ev1), 'that export logged exactly one event');
SELECT is((SELECT jsonb_build_object('integration_key', integration_key, 'event_type', event_type,
		'filename', filename, 'total_rows', total_rows, 'new_count', new_count,
		'updated_count', updated_count, 'conflict_count', conflict_count, 'skipped_count', skipped_count)
		FROM public.integration_events WHERE user_id = 7101 AND id > (SELECT last_id FROM ev1)),
	'{"integration_key": "activepipe", "event_type": "export", "filename": "contacts-2024.csv",
	  "total_rows": 2, "new_count": 0, "updated_count": 0, "conflict_count": 0, "skipped_count": 0}'::jsonb,
	'the event: export, the filename as given, total_rows = rows written');
SELECT ok((SELECT created_at = now() AND pg_column_size(summary) < 8192 FROM public.integration_events
		WHERE user_id = 7101 AND id > (SELECT last_id FROM ev1)), 'the event is stamped now, with a small summary');
SELECT lives_ok($$SELECT public.activepipe_export(7101, ARRAY[710101]::bigint[])$$, 'a two-argument export');
SELECT is((SELECT count(*)::int || ' ' || coalesce(max(filename), 'null') FROM public.integration_events
		WHERE user_id = 7101 AND id > (SELECT last_id FROM ev1) AND filename IS DISTINCT FROM 'contacts-2024.csv'),
	'1 null', 'the two-argument export logged one event, filename null');
SELECT lives_ok($$SELECT count(*) FROM public.activepipe_export_rows(7101, ARRAY[710101, 710102]::bigint[])$$,
	'an export_rows call');
SELECT is(pg_temp.events(7101), (SELECT n + 3 FROM ev1), 'export_rows logged exactly one event too');
SELECT is((SELECT total_rows::int FROM public.integration_events WHERE user_id = 7101 ORDER BY id DESC LIMIT 1), 2,
	'the export_rows event counts its rows');
SELECT is(pg_temp.events(7102), 0, 'no event was logged for the other tenant');

-- 7. The cap -------------------------------------------------------------------
CREATE TEMP TABLE ev2 AS SELECT pg_temp.events(7101) AS n;
DELETE FROM public.contact_integrations WHERE user_id = 7101 AND contact_id IN (710103, 710104, 710106);
UPDATE public.contact_integrations SET last_exported_at = '2020-01-01 00:00:00+00' WHERE user_id = 7101;
SET LOCAL activepipe.export_cap = 2;
SELECT throws_ok($$SELECT public.activepipe_export(7101, ARRAY[710101, 710103, 710104]::bigint[])$$,
	'54000', NULL, 'over the cap: error 54000');
SELECT matches(pg_temp.err($$SELECT public.activepipe_export(7101, ARRAY[710101, 710103, 710104]::bigint[])$$),
	'^54000 \| .* \| .*activepipe\.export_cap', 'the cap error''s hint names the setting activepipe.export_cap');
SELECT throws_ok($$SELECT * FROM public.activepipe_export_rows(7101, ARRAY[710101, 710103, 710104]::bigint[])$$,
	'54000', NULL, 'export_rows over the cap: error 54000');
SELECT is(pg_temp.events(7101), (SELECT n FROM ev2), 'a refused export logs no event');
SELECT is((SELECT count(*)::int FROM public.contact_integrations
		WHERE user_id = 7101 AND (contact_id IN (710103, 710104) OR last_exported_at <> '2020-01-01 00:00:00+00')), 0,
	'a refused export stamps nothing and creates no row');
SELECT is((SELECT count(*)::int FROM pg_temp.lines(public.activepipe_export(7101, ARRAY[710103, 710104, 710103, 710104]::bigint[]))), 3,
	'the cap counts distinct contacts: 2 ids written 4 times fit a cap of 2');
SELECT is(public.activepipe_export_summary(7101, ARRAY[710101, 710103, 710104]::bigint[]),
	'{"requested": 3, "exportable": 3, "not_found": 0, "duplicates": 0, "cap": 2, "within_cap": false}'::jsonb,
	'export_summary reports the cap and within_cap false');
SET LOCAL activepipe.export_cap = 0;
SELECT is(public.activepipe_export(7101, ARRAY[]::bigint[]), (SELECT doc FROM expect WHERE name = 'header'),
	'a cap of 0 still allows the empty export');
SET LOCAL activepipe.export_cap = 5000;

-- 8. Another tenant's id reads like a nonexistent one; nothing written ---------
CREATE TEMP TABLE ev3 AS SELECT pg_temp.events(7101) AS n, pg_temp.events(7102) AS m;
UPDATE public.contact_integrations SET last_exported_at = '2020-01-01 00:00:00+00' WHERE user_id = 7101;
SELECT throws_ok($$SELECT public.activepipe_export(7101, ARRAY[710101, 710201]::bigint[])$$,
	'P0002', NULL, 'another tenant''s id in the array: error P0002');
SELECT throws_ok($$SELECT public.activepipe_export(7101, ARRAY[710101, 799999]::bigint[])$$,
	'P0002', NULL, 'a nonexistent id in the array: error P0002');
SELECT is(regexp_replace(pg_temp.err($$SELECT public.activepipe_export(7101, ARRAY[710101, 710201]::bigint[])$$), '710201', '<id>', 'g'),
	regexp_replace(pg_temp.err($$SELECT public.activepipe_export(7101, ARRAY[710101, 799999]::bigint[])$$), '799999', '<id>', 'g'),
	'the error for another tenant''s id reads exactly like the one for a nonexistent id');
SELECT is(regexp_replace(pg_temp.err($$SELECT * FROM public.activepipe_export_rows(7101, ARRAY[710201]::bigint[])$$), '710201', '<id>', 'g'),
	regexp_replace(pg_temp.err($$SELECT * FROM public.activepipe_export_rows(7101, ARRAY[799999]::bigint[])$$), '799999', '<id>', 'g'),
	'export_rows: the same error for another tenant''s id and a nonexistent id');
SELECT matches(pg_temp.err($$SELECT public.activepipe_export(7101, ARRAY[710201, 710101]::bigint[])$$),
	'^P0002 \| [^|]*710201', 'the error names the offending id');
SELECT ok(pg_temp.err($$SELECT public.activepipe_export(7101, ARRAY[710201]::bigint[])$$) !~* '(ann|lee|\m7102\M)',
	'the error leaks nothing of the other tenant''s contact');
SELECT is(ARRAY[pg_temp.events(7101), pg_temp.events(7102)], (SELECT ARRAY[n, m] FROM ev3),
	'failed exports log no event');
SELECT is((SELECT count(*)::int FROM public.contact_integrations
		WHERE (user_id = 7101 AND last_exported_at <> '2020-01-01 00:00:00+00') OR contact_id = 710201
		   OR user_id = 7102), 0,
	'failed exports stamp nothing and create no row, for either tenant');

-- 9. export_summary --------------------------------------------------------------
CREATE TEMP TABLE ev4 AS SELECT pg_temp.events(7101) AS n, (SELECT count(*) FROM public.contact_integrations) AS r;
SELECT is(public.activepipe_export_summary(7101, ARRAY[710101, 710102, 710201, 799999]::bigint[]),
	'{"requested": 4, "exportable": 2, "not_found": 2, "duplicates": 0, "cap": 5000, "within_cap": true}'::jsonb,
	'export_summary: requested, exportable, not_found (another tenant''s id counts as not found), cap, within_cap');
SELECT is(public.activepipe_export_summary(7101, ARRAY[]::bigint[]),
	'{"requested": 0, "exportable": 0, "not_found": 0, "duplicates": 0, "cap": 5000, "within_cap": true}'::jsonb,
	'export_summary of an empty array');
SELECT is(ARRAY[pg_temp.events(7101), (SELECT count(*)::int FROM public.contact_integrations)],
	(SELECT ARRAY[n, r::int] FROM ev4), 'export_summary writes nothing');

-- 10. escape_formulas -------------------------------------------------------------
SELECT is((SELECT l FROM pg_temp.lines(public.activepipe_export(7101, ARRAY[710105]::bigint[], NULL, true)) l OFFSET 1),
	$$"'=HYPERLINK(""x"")","'-Eve","'@eve",+61 412 345 678,+61 412 345 678,,"'	Tabcity",,,,"'=1+1",,,,,"'+12",,,,"'@home",,"'-",,,,,,,,,,,,,,$$,
	'escape_formulas on: cells starting with = + - @ or tab are neutralised; +61 412 345 678 left alone');
SELECT is((SELECT l FROM pg_temp.lines(public.activepipe_export(7101, ARRAY[710105]::bigint[], NULL, false)) l OFFSET 1),
	$$"=HYPERLINK(""x"")",-Eve,@eve,+61 412 345 678,+61 412 345 678,,	Tabcity,,,,=1+1,,,,,+12,,,,@home,,-,,,,,,,,,,,,,,$$,
	'escape_formulas off: cells are written as they are');
SELECT is(public.activepipe_export(7101, ARRAY[710101, 710102]::bigint[], NULL, true),
	public.activepipe_export(7101, ARRAY[710101, 710102]::bigint[]),
	'escape_formulas changes nothing in a document without formula-like cells');

-- 11. Schema-qualified: an empty search_path ------------------------------------
SET LOCAL search_path = '';
CREATE TEMP TABLE sp AS SELECT
	public.activepipe_export(7101, ARRAY[710101, 710102]::bigint[]) AS doc,
	(SELECT count(*) FROM public.activepipe_export_rows(7101, ARRAY[710101]::bigint[])) AS nrows,
	public.activepipe_export_summary(7101, ARRAY[710101]::bigint[]) AS summary;
RESET search_path;
SELECT is((SELECT doc FROM sp), (SELECT string_agg(doc, '' ORDER BY name DESC) FROM expect WHERE name IN ('header', 'ann')) ||
	(SELECT doc FROM expect WHERE name = 'bob'), 'export works with search_path = ''''');
SELECT is((SELECT nrows::int || ' ' || (summary->>'exportable') FROM sp), '1 1',
	'export_rows and export_summary work with search_path = ''''');

SELECT * FROM finish();
ROLLBACK;
