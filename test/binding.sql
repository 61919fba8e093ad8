-- The contacts binding (issue 2): another contacts table and other column
-- names, a field with no column kept in the payload, and clear errors
-- naming a missing table or column.
BEGIN;
SELECT plan(22);

CREATE SCHEMA ap_test_crm;
CREATE TABLE ap_test_crm."People" (
	pid bigint PRIMARY KEY,
	owner bigint NOT NULL,
	"Given Name" text, family text, mail text, tel text, cell text,
	addr text, town text, region text, zip text
);
INSERT INTO ap_test_crm."People" VALUES
	(1, 71, 'Ann', 'Lee', 'ann@example.com', '0412 345 678', NULL, '1 George St', 'Sydney', 'NSW', '2000'),
	(2, 72, 'Other', 'Tenant', 'o@example.com', NULL, NULL, NULL, NULL, NULL, NULL);
INSERT INTO public.contacts_binding (table_schema, table_name, id_column, user_id_column,
	firstname, lastname, email, phone, mobile, streetaddress, city, state, postcode, country)
	VALUES ('ap_test_crm', 'People', 'pid', 'owner',
	'Given Name', 'family', 'mail', 'tel', 'cell', 'addr', 'town', 'region', 'zip', NULL);

CREATE TEMP TABLE c1 AS SELECT public.activepipe_card(71, 1) AS card;
SELECT is((SELECT card->'fields'->>'firstname' FROM c1), 'Ann', 'the card reads a quoted, mixed-case column of the bound table');
SELECT is((SELECT card->'fields'->>'email' FROM c1), 'ann@example.com', 'the card reads the bound email column');
SELECT is((SELECT card->'fields'->'country' FROM c1), 'null'::jsonb, 'an unbound field with no payload value is null');
SELECT throws_ok($$SELECT public.activepipe_card(72, 1)$$, 'P0002', NULL,
	'the bound tenant column filters: owner 72 cannot read owner 71''s contact');
SELECT throws_ok($$SELECT public.activepipe_card_save(71, 1, '{"email": "x@example.com"}')$$, '22023', NULL,
	'a bound identity field cannot be saved on the card');
CREATE TEMP TABLE s1 AS SELECT public.activepipe_card_save(71, 1, '{"country": " Australia ", "status": "lead"}') AS card;
SELECT is((SELECT payload_json FROM public.contact_integrations WHERE user_id = 71 AND contact_id = 1),
	'{"country": "Australia", "status": "lead"}'::jsonb, 'an unbound identity field is kept in the payload');
SELECT is((SELECT card->'fields'->>'country' FROM s1), 'Australia', 'the card shows the unbound field from the payload');
SELECT is((SELECT country || '|' || firstname || '|' || city || '|' || mobile FROM public.activepipe_export_rows(71, ARRAY[1]::bigint[])),
	'Australia|Ann|Sydney|0412 345 678', 'export: bound fields from the table, the unbound one from the payload');
SELECT is(split_part(public.activepipe_export(71, ARRAY[1]::bigint[]), E'\r\n', 2),
	'Ann,Lee,ann@example.com,0412 345 678,0412 345 678,1 George St,Sydney,NSW,2000,Australia,lead,,,,,,,,,,,,,,,,,,,,,,,,,',
	'export document through the binding');
-- a payload value never overrides a bound column
UPDATE public.contact_integrations SET payload_json = payload_json || '{"email": "stale@example.com", "firstname": "Stale"}'
	WHERE user_id = 71 AND contact_id = 1;
SELECT is((SELECT email || '|' || firstname FROM public.activepipe_export_rows(71, ARRAY[1]::bigint[])),
	'ann@example.com|Ann', 'a bound field comes from its column even when the payload holds the key');
SELECT is(public.activepipe_card(71, 1)->'fields'->>'email', 'ann@example.com', 'the card does the same');
SELECT is(public.activepipe_export_summary(71, ARRAY[1, 2]::bigint[])->'exportable', '1'::jsonb,
	'export_summary counts through the bound table and tenant column');

-- wrong configuration: clear errors naming what is missing
UPDATE public.contacts_binding SET table_name = 'nope';
SELECT throws_ok($$SELECT public.activepipe_card(71, 1)$$, '42P01', NULL, 'a missing table: 42P01');
SELECT throws_like($$SELECT public.activepipe_export(71, ARRAY[1]::bigint[])$$, '%ap_test_crm.nope%',
	'the error names the missing table');
UPDATE public.contacts_binding SET table_name = 'People', email = 'e_mail';
SELECT throws_ok($$SELECT public.activepipe_card(71, 1)$$, '42703', NULL, 'a missing column: 42703');
SELECT throws_like($$SELECT public.activepipe_card_save(71, 1, '{"status": "x"}')$$, '%e_mail%',
	'the error names the missing column');
SELECT throws_like($$SELECT public.activepipe_card(71, 1)$$, '%People%', 'the column error names the table too');
UPDATE public.contacts_binding SET email = 'mail', id_column = 'id';
SELECT throws_ok($$SELECT public.activepipe_export_summary(71, ARRAY[1]::bigint[])$$, '42703', NULL,
	'a missing id column: 42703');
UPDATE public.contacts_binding SET id_column = 'pid', user_id_column = 'user_id';
SELECT throws_like($$SELECT public.activepipe_card_clear(71, 1)$$, '%user_id%', 'a missing tenant column is named');
SELECT is((SELECT payload_json->>'status' FROM public.contact_integrations WHERE user_id = 71 AND contact_id = 1), 'lead',
	'a wrong binding writes nothing (card_clear refused before clearing)');

-- no binding row: the reference schema again
DELETE FROM public.contacts_binding;
INSERT INTO public.users (id) VALUES (7301);
INSERT INTO public.contacts (id, user_id, first_name, country) VALUES (730101, 7301, 'Ref', 'Australia');
SELECT is(public.activepipe_card(7301, 730101)->'fields'->>'country', 'Australia',
	'without a binding row, public.contacts and its columns are used');
SELECT throws_ok($$SELECT public.activepipe_card_save(7301, 730101, '{"country": "NZ"}')$$, '22023', NULL,
	'with the default binding country is an identity field of the contact');

SELECT * FROM finish();
ROLLBACK;
