-- The ActivePipe card API (issue 3): activepipe_card, activepipe_card_save
-- and activepipe_card_clear, on the reference Ulysses schema.
BEGIN;
SELECT plan(79);

INSERT INTO public.users (id, email) VALUES (7001, 'agent1@example.com'), (7002, 'agent2@example.com');
INSERT INTO public.contacts (id, user_id, first_name, last_name, email, phone, mobile,
	street_address, city, state, postcode, country) VALUES
	(700101, 7001, 'Ann', 'Lee', 'ann@example.com', '0412 345 678', NULL,
	 '1 George St', 'Sydney', 'NSW', '2000', 'Australia'),
	(700102, 7001, 'Bob', 'Ng', 'bob@example.com', NULL, NULL, NULL, NULL, NULL, NULL, NULL),
	(700103, 7001, 'Cat', 'Ho', 'cat@example.com', NULL, '0400 111 222', NULL, 'Perth', 'WA', NULL, NULL),
	(700104, 7001, 'Dan', 'Yu', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
	(700105, 7001, 'Eve', 'Poa', 'poa@example.com', NULL, NULL, NULL, NULL, NULL, NULL, NULL);

CREATE TEMP TABLE contract_keys AS
	SELECT header, kind, ordinal FROM public.activepipe_contract();

-- 1. A contact without a contact_integrations row ---------------------------
CREATE TEMP TABLE c0 AS SELECT public.activepipe_card(7001, 700101) AS card;

SELECT is((SELECT card->'has_profile' FROM c0), 'false'::jsonb, 'no row: has_profile is false');
SELECT is((SELECT card->'contact_id' FROM c0), '700101'::jsonb, 'card carries contact_id as a number');
SELECT is((SELECT card->'last_exported_at' FROM c0), 'null'::jsonb, 'no row: last_exported_at is null');
SELECT is((SELECT card->'last_imported_at' FROM c0), 'null'::jsonb, 'no row: last_imported_at is null');
SELECT is((SELECT array_agg(k ORDER BY k) FROM c0, jsonb_object_keys(card->'fields') k),
	(SELECT array_agg(header ORDER BY header) FROM contract_keys),
	'fields holds exactly the 36 contract keys');
SELECT is((SELECT jsonb_object_agg(k, card->'fields'->k) FROM c0,
		unnest(ARRAY['firstname', 'lastname', 'email', 'phone', 'mobile', 'streetaddress',
			'city', 'state', 'postcode', 'country']) k),
	'{"firstname": "Ann", "lastname": "Lee", "email": "ann@example.com", "phone": "0412 345 678",
	  "mobile": null, "streetaddress": "1 George St", "city": "Sydney", "state": "NSW",
	  "postcode": "2000", "country": "Australia"}'::jsonb,
	'identity/address values come from the contact');
SELECT is((SELECT count(*)::int FROM c0, contract_keys
	WHERE kind <> 'identity' AND card->'fields'->header <> 'null'::jsonb), 0,
	'no row: every integration field is null');
SELECT is((SELECT count(*)::int FROM public.contact_integrations WHERE user_id = 7001), 0,
	'reading a card writes nothing');

-- a row of another integration is not an ActivePipe profile
INSERT INTO public.contact_integrations (user_id, contact_id, integration_key, payload_json)
	VALUES (7001, 700104, 'otherapp', '{"status": "other", "minbeds": 9}');
CREATE TEMP TABLE c4 AS SELECT public.activepipe_card(7001, 700104) AS card;
SELECT is((SELECT card->'has_profile' FROM c4), 'false'::jsonb,
	'a contact with only another integration''s row has no ActivePipe profile');
SELECT is((SELECT jsonb_build_array(card->'fields'->'status', card->'fields'->'minbeds') FROM c4), '[null, null]'::jsonb,
	'another integration''s payload does not show on the ActivePipe card');
DELETE FROM public.contact_integrations WHERE contact_id = 700104;

-- 2. Save and reload every field kind -----------------------------------------
CREATE TEMP TABLE s1 AS SELECT public.activepipe_card_save(7001, 700101, $${
	"status": "  active  ",
	"source": "Open home",
	"buyertype": " Investor ",
	"minbeds": " 3 ",
	"maxbeds": 4,
	"minbaths": "2.5",
	"maxbaths": "2.50",
	"minprice": "$1,250,000",
	"maxprice": "1 250 000",
	"minparking": "0",
	"minlandsize": "$400",
	"tags": "Beach; pool ;beach;;Pool; City "
}$$::jsonb) AS card;

SELECT is((SELECT payload_json FROM public.contact_integrations
		WHERE user_id = 7001 AND contact_id = 700101 AND integration_key = 'activepipe'),
	$${"status": "active", "source": "Open home", "buyertype": "Investor",
	   "minbeds": 3, "maxbeds": 4, "minbaths": 2.5, "maxbaths": 2.5,
	   "minprice": 1250000, "maxprice": 1250000, "minparking": 0, "minlandsize": 400,
	   "tags": ["Beach", "pool", "City"]}$$::jsonb,
	'save: text trimmed, ranges as JSON numbers ($1,250,000 and 1 250 000 included), tags de-duplicated');
SELECT is((SELECT jsonb_typeof(payload_json->'minprice') FROM public.contact_integrations
		WHERE contact_id = 700101), 'number', 'a range is stored as a JSON number, not a string');
SELECT is((SELECT card->'has_profile' FROM s1), 'true'::jsonb, 'after save: has_profile is true');
SELECT is((SELECT card FROM s1), public.activepipe_card(7001, 700101),
	'card_save returns the card that activepipe_card reloads');
SELECT is((SELECT card->'fields'->'tags' FROM s1), '["Beach", "pool", "City"]'::jsonb,
	'card shows tags as a JSON array, first spelling and order kept');
SELECT is((SELECT card->'fields'->'minprice' FROM s1), '1250000'::jsonb, 'card shows a range as a number');
SELECT is((SELECT card->'fields'->'minbaths' FROM s1), '2.5'::jsonb, 'card shows 2.5 as 2.5');
SELECT is((SELECT card->'fields'->'status' FROM s1), '"active"'::jsonb, 'card shows trimmed text');
SELECT is((SELECT card->'fields'->'firstname' FROM s1), '"Ann"'::jsonb, 'identity fields still come from the contact');
SELECT is((SELECT card->'fields'->'listingtype' FROM s1), 'null'::jsonb, 'a field never saved is null');
SELECT is((SELECT jsonb_array_length(card->'warnings') FROM s1), 0, 'min <= max everywhere: no warning');
SELECT is((SELECT count(*)::int FROM public.contact_integrations WHERE user_id = 7001), 1,
	'save wrote one row');
SELECT is((SELECT first_name || '|' || email || '|' || phone FROM public.contacts WHERE id = 700101),
	'Ann|ann@example.com|0412 345 678', 'save leaves the contact alone');

-- tags given as a JSON array
SELECT is(public.activepipe_card_save(7001, 700101,
		'{"tags": [" Sea view ", "garden", "SEA VIEW", "", "Garden"]}')->'fields'->'tags',
	'["Sea view", "garden"]'::jsonb, 'tags as a JSON array: trimmed, blanks dropped, de-duplicated');
-- keys absent stay as they were
SELECT is((SELECT payload_json FROM public.contact_integrations WHERE contact_id = 700101),
	$${"status": "active", "source": "Open home", "buyertype": "Investor",
	   "minbeds": 3, "maxbeds": 4, "minbaths": 2.5, "maxbaths": 2.5,
	   "minprice": 1250000, "maxprice": 1250000, "minparking": 0, "minlandsize": 400,
	   "tags": ["Sea view", "garden"]}$$::jsonb,
	'only the key present (tags) changed; absent keys kept');
-- a JSON number for a range
SELECT is(public.activepipe_card_save(7001, 700101, '{"maxlandsize": 1200.50}')->'fields'->'maxlandsize',
	'1200.5'::jsonb, 'a range given as a JSON number is stored as a number');
-- null and "" clear
CREATE TEMP TABLE s2 AS SELECT public.activepipe_card_save(7001, 700101,
	'{"status": null, "minbeds": null, "source": "", "tags": "", "maxprice": "", "buyertype": "   "}') AS card;
SELECT is((SELECT card->'fields' FROM s2) - ARRAY(SELECT header FROM contract_keys WHERE kind = 'identity'),
	(SELECT jsonb_object_agg(k.header, coalesce(ci.payload_json->k.header, 'null'::jsonb))
		FROM contract_keys k, public.contact_integrations ci
		WHERE k.kind <> 'identity' AND ci.contact_id = 700101),
	'the card''s integration fields are the payload''s values, null where absent');
SELECT is((SELECT payload_json FROM public.contact_integrations WHERE contact_id = 700101),
	'{"maxbeds": 4, "minbaths": 2.5, "maxbaths": 2.5, "minprice": 1250000, "minparking": 0,
	  "minlandsize": 400, "maxlandsize": 1200.5}'::jsonb,
	'null, "" and blank clear their fields (keys removed); the rest stays');
SELECT is((SELECT card->'fields'->'status' FROM (SELECT public.activepipe_card(7001, 700101) AS card) x),
	'null'::jsonb, 'a cleared field reads back as null');

-- 3. Errors write nothing -----------------------------------------------------
CREATE TEMP TABLE before_err AS
	SELECT payload_json, updated_at FROM public.contact_integrations WHERE contact_id = 700101;

SELECT throws_ok($$SELECT public.activepipe_card_save(7001, 700101, '{"status": "new", "bogus": "x"}')$$,
	'22023', NULL, 'an unknown key is an error (22023)');
SELECT throws_like($$SELECT public.activepipe_card_save(7001, 700101, '{"bogus": "x"}')$$,
	'%bogus%', 'the unknown-key error names the key');
SELECT throws_ok($$SELECT public.activepipe_card_save(7001, 700101, '{"status": "new", "email": "x@example.com"}')$$,
	'22023', NULL, 'an identity key is an error (22023)');
SELECT throws_like($$SELECT public.activepipe_card_save(7001, 700101, '{"email": "x@example.com"}')$$,
	'%email%', 'the identity-key error names the key');
SELECT throws_ok($$SELECT public.activepipe_card_save(7001, 700101, '{"firstname": "Zed"}')$$,
	'22023', NULL, 'firstname is an identity key too');
SELECT throws_ok($$SELECT public.activepipe_card_save(7001, 700101, '{"status": {"a": 1}}')$$,
	'22023', NULL, 'an object value is an error');
SELECT throws_ok($$SELECT public.activepipe_card_save(7001, 700101, '{"tags": ["ok", 1]}')$$,
	'22023', NULL, 'a tags array of non-strings is an error');
SELECT throws_ok($$SELECT public.activepipe_card_save(7001, 700101, '["status"]')$$,
	'22023', NULL, 'fields must be an object');
SELECT is((SELECT payload_json FROM public.contact_integrations WHERE contact_id = 700101),
	(SELECT payload_json FROM before_err), 'after the errors the payload is unchanged');
SELECT is((SELECT count(*)::int FROM public.contact_integrations WHERE contact_id = 700101), 1,
	'after the errors there is still exactly one row');
SELECT throws_ok($$SELECT public.activepipe_card_save(7001, 700102, '{"status": "new", "email": "b@example.com"}')$$,
	'22023', NULL, 'identity key on a contact without a row');
SELECT throws_ok($$SELECT public.activepipe_card_save(7001, 700102, '{"status": "new", "nope": 1}')$$,
	'22023', NULL, 'unknown key on a contact without a row');
SELECT is((SELECT count(*)::int FROM public.contact_integrations WHERE contact_id = 700102), 0,
	'a failed save on a contact without a row creates no row');
SELECT throws_ok($$SELECT public.activepipe_card_save(7001, 799999, '{"status": "new"}')$$,
	'P0002', NULL, 'save on a nonexistent contact is P0002');

-- 4. min > max: saved, with a warning ---------------------------------------
CREATE TEMP TABLE w AS SELECT public.activepipe_card_save(7001, 700101,
	'{"minbeds": 5, "maxbeds": "2", "minprice": "900000", "maxprice": "900,000"}') AS card;
SELECT is((SELECT jsonb_array_length(card->'warnings') FROM w), 1, 'min > max gives one warning');
SELECT matches((SELECT card->'warnings'->>0 FROM w), 'minbeds.*maxbeds',
	'the warning names minbeds and maxbeds');
SELECT is((SELECT jsonb_build_array(payload_json->'minbeds', payload_json->'maxbeds') FROM public.contact_integrations WHERE contact_id = 700101),
	'[5, 2]'::jsonb, 'min > max is saved anyway');
SELECT is(jsonb_array_length(public.activepipe_card(7001, 700101)->'warnings'), 1,
	'the reloaded card reports the warning too');

-- 5. Range values that are not numbers: kept as text, with a warning ---------
-- An import keeps a price of "POA" as text.  The card shows it; a form that
-- posts the card's fields back must save, not fail with 22P02.
SELECT is(public.activepipe_import_commit(7001,
		E'email,minprice,maxprice,minbeds\npoa@example.com,POA,$1.2m,2\n')->'updated',
	'1'::jsonb, 'import: a price of POA');
CREATE TEMP TABLE poa AS SELECT public.activepipe_card(7001, 700105) AS card;
SELECT is((SELECT jsonb_build_array(card->'fields'->'minprice', card->'fields'->'maxprice') FROM poa),
	'["POA", 1200000]'::jsonb, 'the card shows the imported text, and $1.2m as 1200000');
SELECT is((SELECT card->'warnings' FROM poa), '["minprice is not a number"]'::jsonb,
	'the card warns that minprice is not a number');
CREATE TEMP TABLE poa_before AS SELECT payload_json, updated_at FROM public.contact_integrations
	WHERE contact_id = 700105 AND integration_key = 'activepipe';
SELECT lives_ok($$SELECT public.activepipe_card_save(7001, 700105,
		(SELECT card->'fields' FROM poa) - ARRAY(SELECT header FROM contract_keys WHERE kind = 'identity'))$$,
	'posting the card''s fields back saves');
SELECT is((SELECT row(payload_json, updated_at)::text FROM public.contact_integrations
		WHERE contact_id = 700105 AND integration_key = 'activepipe'),
	(SELECT row(payload_json, updated_at)::text FROM poa_before),
	'saving the card back changes nothing and writes nothing');
SELECT is(public.activepipe_card(7001, 700105), (SELECT card FROM poa),
	'the card after saving it back is the card before');
SELECT lives_ok($$SELECT public.activepipe_card_save(7001, 700105, (SELECT card->'fields' FROM poa))$$,
	'posting back every field the card shows, the contact''s own included, saves');
SELECT is(public.activepipe_card(7001, 700105), (SELECT card FROM poa),
	'... and changes nothing');
SELECT throws_ok($$SELECT public.activepipe_card_save(7001, 700105,
		jsonb_set((SELECT card->'fields' FROM poa), '{email}', '"changed@example.com"'))$$, '22023',
	'ActivePipe field "email" belongs to the contact, not the card',
	'a changed contact field is still refused: it is edited on the contact');

CREATE TEMP TABLE txt AS SELECT public.activepipe_card_save(7001, 700105, $${
	"minbeds": "three", "maxbeds": " 3+ ", "minbaths": "-2", "maxbaths": "1,25",
	"minparking": "12abc", "maxparking": -1}$$::jsonb) AS card;
SELECT is((SELECT jsonb_build_array(payload_json->'minbeds', payload_json->'maxbeds',
			payload_json->'minbaths', payload_json->'maxbaths', payload_json->'minparking',
			payload_json->'maxparking', payload_json->'minprice')
		FROM public.contact_integrations WHERE contact_id = 700105 AND integration_key = 'activepipe'),
	'["three", "3+", "-2", "1,25", "12abc", "-1", "POA"]'::jsonb,
	'a save keeps values that are not numbers as trimmed text, as import does');
SELECT is((SELECT card->'warnings' FROM txt),
	'["minbeds is not a number", "maxbeds is not a number", "minbaths is not a number",
	  "maxbaths is not a number", "minprice is not a number", "minparking is not a number",
	  "maxparking is not a number"]'::jsonb,
	'one warning per range field holding text, in contract order');

-- the usual ways of writing a price are numbers
CREATE TEMP TABLE prices AS SELECT public.activepipe_card_save(7001, 700105, $${
	"minprice": "$850K", "maxprice": "1.2M", "minlandsize": "850k", "maxlandsize": "1,250,000",
	"minbuildingsize": "$1.2m", "maxbuildingsize": "0.5k", "minparking": "", "maxparking": null}$$::jsonb) AS card;
SELECT is((SELECT jsonb_build_array(card->'fields'->'minprice', card->'fields'->'maxprice',
			card->'fields'->'minlandsize', card->'fields'->'maxlandsize',
			card->'fields'->'minbuildingsize', card->'fields'->'maxbuildingsize') FROM prices),
	'[850000, 1200000, 850000, 1250000, 1200000, 500]'::jsonb,
	'$850K, 1.2M, 850k, 1,250,000, $1.2m and 0.5k are numbers');
SELECT is((SELECT count(*)::int FROM public.contact_integrations,
			jsonb_each(payload_json) e(k, v)
		WHERE contact_id = 700105 AND integration_key = 'activepipe'
			AND k IN ('minprice', 'maxprice', 'minlandsize', 'maxlandsize', 'minbuildingsize', 'maxbuildingsize')
			AND jsonb_typeof(v) = 'number'), 6, 'and are stored as JSON numbers');
SELECT is((SELECT card->'warnings' FROM prices),
	'["minbeds is not a number", "maxbeds is not a number", "minbaths is not a number",
	  "maxbaths is not a number", "minbuildingsize is greater than maxbuildingsize"]'::jsonb,
	'price warnings gone; min > max compared once both are numbers');

-- whoever wrote the text, the card warns about it
UPDATE public.contact_integrations
	SET payload_json = '{"minbeds": "lots", "maxbeds": 2, "minprice": true, "maxprice": 5, "maxlandsize": [1]}'
	WHERE contact_id = 700105 AND integration_key = 'activepipe';
SELECT is(public.activepipe_card(7001, 700105)->'warnings',
	'["minbeds is not a number", "minprice is not a number", "maxlandsize is not a number"]'::jsonb,
	'the card warns about any range value that is not a number, whoever wrote it');

-- 6. Clear --------------------------------------------------------------------
CREATE TEMP TABLE setup_clear AS
	SELECT public.activepipe_card_save(7001, 700103, '{"status": "lead", "minbeds": 2, "tags": "a;b"}');
UPDATE public.contact_integrations
	SET last_exported_at = '2024-01-02 03:04:05+00', last_imported_at = '2024-02-03 04:05:06+00',
		created_at = '2023-05-06 07:08:09+00'
	WHERE contact_id = 700103 AND integration_key = 'activepipe';
INSERT INTO public.contact_integrations (user_id, contact_id, integration_key, payload_json, last_exported_at)
	VALUES (7001, 700103, 'otherapp', '{"status": "x", "score": 9}', '2022-01-01 00:00:00+00');
CREATE TEMP TABLE contact_before AS SELECT * FROM public.contacts WHERE id = 700103;

SELECT lives_ok($$SELECT public.activepipe_card_clear(7001, 700103)$$, 'card_clear runs');
SELECT is((SELECT payload_json FROM public.contact_integrations
		WHERE contact_id = 700103 AND integration_key = 'activepipe'), '{}'::jsonb,
	'card_clear empties the payload');
SELECT is((SELECT ARRAY[last_exported_at, last_imported_at, created_at] FROM public.contact_integrations
		WHERE contact_id = 700103 AND integration_key = 'activepipe'),
	ARRAY['2024-01-02 03:04:05+00', '2024-02-03 04:05:06+00', '2023-05-06 07:08:09+00']::timestamptz[],
	'card_clear keeps the row''s timestamps');
SELECT is((SELECT row(c.*)::text FROM public.contacts c WHERE id = 700103),
	(SELECT row(b.*)::text FROM contact_before b), 'card_clear leaves the contact untouched');
SELECT is((SELECT payload_json::text || ' ' || last_exported_at::text FROM public.contact_integrations
		WHERE contact_id = 700103 AND integration_key = 'otherapp'),
	(SELECT '{"score": 9, "status": "x"} ' || '2022-01-01 00:00:00+00'::timestamptz::text),
	'card_clear leaves the contact''s other integrations alone');
SELECT is((SELECT count(*)::int FROM public.contact_integrations WHERE contact_id = 700103), 2,
	'card_clear deletes no row');
CREATE TEMP TABLE cleared AS SELECT public.activepipe_card(7001, 700103) AS card;
SELECT is((SELECT count(*)::int FROM cleared, contract_keys
	WHERE kind <> 'identity' AND card->'fields'->header <> 'null'::jsonb), 0,
	'after clear every integration field reads null');
SELECT is((SELECT (card->'fields'->>'firstname') || '|' || (card->'fields'->>'mobile') FROM cleared),
	'Cat|0400 111 222', 'after clear the identity fields still read from the contact');
SELECT is((SELECT card->'last_exported_at' FROM cleared), to_jsonb('2024-01-02 03:04:05+00'::timestamptz),
	'the card shows the row''s last_exported_at (as to_jsonb(timestamptz) writes it)');
SELECT is((SELECT card->'last_imported_at' FROM cleared), to_jsonb('2024-02-03 04:05:06+00'::timestamptz),
	'the card shows the row''s last_imported_at');
SELECT lives_ok($$SELECT public.activepipe_card_clear(7001, 700102)$$, 'card_clear on a contact without a row');
SELECT is((SELECT count(*)::int FROM public.contact_integrations WHERE contact_id = 700102), 0,
	'card_clear on a contact without a row creates none');

-- 7. Schema-qualified: an empty or hostile search_path changes nothing ------
SET LOCAL search_path = '';
CREATE TEMP TABLE sp AS SELECT
	public.activepipe_card(7001, 700102) AS c,
	public.activepipe_card_save(7001, 700102, '{"status": "from empty path"}') AS s;
SELECT public.activepipe_card_clear(7001, 700103);
RESET search_path;
SELECT is((SELECT c->'fields'->>'email' FROM sp), 'bob@example.com', 'card works with search_path = ''''');
SELECT is((SELECT payload_json FROM public.contact_integrations WHERE contact_id = 700102),
	'{"status": "from empty path"}'::jsonb, 'card_save works with search_path = ''''');

CREATE SCHEMA ap_test_evil;
CREATE TABLE ap_test_evil.contact_integrations (LIKE public.contact_integrations INCLUDING ALL);
CREATE TABLE ap_test_evil.contacts (LIKE public.contacts INCLUDING ALL);
INSERT INTO ap_test_evil.contacts SELECT * FROM public.contacts WHERE id = 700102;
UPDATE ap_test_evil.contacts SET first_name = 'Evil';
SET LOCAL search_path = ap_test_evil, public;
CREATE TEMP TABLE evil AS SELECT
	public.activepipe_card_save(7001, 700102, '{"status": "hostile path"}') AS s;
RESET search_path;
SELECT is((SELECT s->'fields'->>'firstname' FROM evil), 'Bob',
	'a contacts table earlier on the search_path is not read');
SELECT is((SELECT count(*)::int FROM ap_test_evil.contact_integrations), 0,
	'a contact_integrations table earlier on the search_path is not written');
SELECT is((SELECT payload_json FROM public.contact_integrations WHERE contact_id = 700102),
	'{"status": "hostile path"}'::jsonb, 'the extension''s own table is written');

SELECT * FROM finish();
ROLLBACK;
