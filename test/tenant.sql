-- Tenant isolation (issue 3): user 2 can neither read, save, clear nor
-- export user 1's contact, even when user 2 has a contact with the same
-- email; the errors read exactly like those for a nonexistent id, and
-- nothing is written.
BEGIN;
SELECT plan(32);

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

-- err() of a call on user 1's contact 720101 and on the free id 799999,
-- each with its id masked, so the two can be compared
CREATE FUNCTION pg_temp.same_error(call text) RETURNS boolean LANGUAGE sql AS $f$
	SELECT replace(pg_temp.err(replace(call, '$ID', '720101')), '720101', '<id>')
		= replace(pg_temp.err(replace(call, '$ID', '799999')), '799999', '<id>')
$f$;

INSERT INTO public.users (id, email) VALUES (7201, 'agent1@example.com'), (7202, 'agent2@example.com');
INSERT INTO public.contacts (id, user_id, first_name, last_name, email, phone, mobile, city) VALUES
	(720101, 7201, 'Ann', 'Lee', 'ann@example.com', '0412 345 678', NULL, 'Sydney'),
	(720201, 7202, 'Ann', 'Lee', 'ann@example.com', '0412 345 678', NULL, 'Perth');
CREATE TEMP TABLE setup AS SELECT public.activepipe_card_save(7201, 720101,
	'{"status": "vip", "minprice": "900000", "tags": "secret"}') AS card;
UPDATE public.contact_integrations SET last_exported_at = '2021-01-01 00:00:00+00',
	last_imported_at = '2021-02-01 00:00:00+00' WHERE user_id = 7201;

CREATE TEMP TABLE before AS
	SELECT ci.*, (SELECT count(*) FROM public.contact_integrations) AS total_rows,
		(SELECT count(*) FROM public.integration_events) AS total_events,
		(SELECT row(c.*)::text FROM public.contacts c WHERE c.id = 720101) AS contact
	FROM public.contact_integrations ci WHERE ci.user_id = 7201;

-- read
SELECT throws_ok($$SELECT public.activepipe_card(7202, 720101)$$, 'P0002', NULL,
	'user 2 cannot read user 1''s card (P0002)');
SELECT throws_ok($$SELECT public.activepipe_card(7202, 799999)$$, 'P0002', NULL,
	'a nonexistent id: P0002 as well');
SELECT ok(pg_temp.same_error('SELECT public.activepipe_card(7202, $ID)'),
	'card: the error reads exactly like the one for a nonexistent id');
SELECT matches(pg_temp.err('SELECT public.activepipe_card(7202, 720101)'), '720101',
	'card: the error names the id asked for');
-- save
SELECT throws_ok($$SELECT public.activepipe_card_save(7202, 720101, '{"status": "stolen"}')$$, 'P0002', NULL,
	'user 2 cannot save user 1''s card');
SELECT ok(pg_temp.same_error($$SELECT public.activepipe_card_save(7202, $ID, '{"status": "stolen"}')$$),
	'card_save: the error reads exactly like the one for a nonexistent id');
SELECT ok(pg_temp.same_error($$SELECT public.activepipe_card_save(7202, $ID, '{"bogus": 1}')$$),
	'card_save with a bad key: still the not-found error, nothing about the fields');
SELECT ok(pg_temp.same_error($$SELECT public.activepipe_card_save(7202, $ID, '{"minprice": "lots"}')$$),
	'card_save with a bad number: still the not-found error');
-- clear
SELECT throws_ok($$SELECT public.activepipe_card_clear(7202, 720101)$$, 'P0002', NULL,
	'user 2 cannot clear user 1''s card');
SELECT ok(pg_temp.same_error('SELECT public.activepipe_card_clear(7202, $ID)'),
	'card_clear: the error reads exactly like the one for a nonexistent id');
-- export
SELECT throws_ok($$SELECT public.activepipe_export(7202, ARRAY[720101]::bigint[])$$, 'P0002', NULL,
	'user 2 cannot export user 1''s contact');
SELECT throws_ok($$SELECT public.activepipe_export(7202, ARRAY[720201, 720101]::bigint[])$$, 'P0002', NULL,
	'nor smuggle it in next to an own contact');
SELECT ok(pg_temp.same_error('SELECT public.activepipe_export(7202, ARRAY[720201, $ID]::bigint[])'),
	'export: the error reads exactly like the one for a nonexistent id');
SELECT throws_ok($$SELECT * FROM public.activepipe_export_rows(7202, ARRAY[720101]::bigint[])$$, 'P0002', NULL,
	'user 2 cannot export_rows user 1''s contact');
SELECT ok(pg_temp.same_error('SELECT * FROM public.activepipe_export_rows(7202, ARRAY[$ID]::bigint[])'),
	'export_rows: the error reads exactly like the one for a nonexistent id');
SELECT is(public.activepipe_export_summary(7202, ARRAY[720101]::bigint[]),
	public.activepipe_export_summary(7202, ARRAY[799999]::bigint[]),
	'export_summary: another tenant''s id counts exactly like a nonexistent one');
SELECT is((public.activepipe_export_summary(7202, ARRAY[720101, 720201]::bigint[]))->'exportable', '1'::jsonb,
	'export_summary: only the own contact is exportable');

-- nothing of user 1 changed, nothing written for user 2
SELECT is((SELECT payload_json FROM public.contact_integrations WHERE user_id = 7201 AND contact_id = 720101),
	(SELECT payload_json FROM before), 'user 1''s payload is unchanged');
SELECT is((SELECT ARRAY[last_exported_at, last_imported_at, updated_at] FROM public.contact_integrations
		WHERE user_id = 7201 AND contact_id = 720101),
	(SELECT ARRAY[last_exported_at, last_imported_at, updated_at] FROM before),
	'user 1''s timestamps are unchanged');
SELECT is((SELECT row(c.*)::text FROM public.contacts c WHERE c.id = 720101), (SELECT contact FROM before),
	'user 1''s contact is unchanged');
SELECT is((SELECT count(*) FROM public.contact_integrations), (SELECT total_rows FROM before),
	'no contact_integrations row was written');
SELECT is((SELECT count(*) FROM public.contact_integrations WHERE contact_id = 720101 AND user_id <> 7201), 0::bigint,
	'no row ties user 2 to user 1''s contact');
SELECT is((SELECT count(*) FROM public.integration_events), (SELECT total_events FROM before),
	'no event was logged');

-- user 2's own contact with the same email is a different contact
CREATE TEMP TABLE own AS SELECT public.activepipe_card(7202, 720201) AS card;
SELECT is((SELECT card->'has_profile' FROM own), 'false'::jsonb,
	'user 2''s same-email contact has no profile: user 1''s is not shared');
SELECT is((SELECT card->'fields'->>'status' FROM own), NULL, 'user 1''s payload does not show on user 2''s card');
SELECT is((SELECT card->'fields'->>'city' FROM own), 'Perth', 'user 2''s card reads user 2''s contact');
CREATE TEMP TABLE own_export AS SELECT public.activepipe_export(7202, ARRAY[720201]::bigint[]) AS doc;
SELECT ok((SELECT doc !~ '(vip|secret|900000|Sydney)' AND doc ~ 'Perth' FROM own_export),
	'user 2''s export carries none of user 1''s data');
SELECT lives_ok($$SELECT public.activepipe_card_save(7202, 720201, '{"status": "new"}')$$,
	'user 2 saves their own card');
SELECT is((SELECT payload_json FROM public.contact_integrations WHERE user_id = 7201 AND contact_id = 720101),
	(SELECT payload_json FROM before), 'user 2''s save left user 1''s payload alone');
SELECT lives_ok($$SELECT public.activepipe_card_clear(7202, 720201)$$, 'user 2 clears their own card');
SELECT is((SELECT payload_json FROM public.contact_integrations WHERE user_id = 7201 AND contact_id = 720101),
	(SELECT payload_json FROM before), 'user 2''s clear left user 1''s payload alone');
SELECT is((SELECT count(*)::int FROM public.integration_events WHERE user_id = 7201), 0,
	'user 2''s export logged no event for user 1');

SELECT * FROM finish();
ROLLBACK;
