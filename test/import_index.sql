-- The import's key index: a number a contact holds in both phone and
-- mobile counts once, also when a row fills the second column; keys a row
-- fills in find the contact for later rows.
BEGIN;
SELECT plan(7);

INSERT INTO users (id) VALUES (77);
INSERT INTO contacts (id, user_id, first_name, phone, mobile) VALUES
	(500, 77, 'P', '0412 000 111', NULL),
	(501, 77, 'M', NULL, '0412 000 111'),
	(502, 77, 'Q', '0412 000 222', NULL);

SELECT results_eq(
	$$SELECT line, action, contact_id, matched_by, reason
	    FROM activepipe_import_plan(77, E'email,mobile\na@x.com,0412 000 111\n,0412000111\n')$$,
	$$VALUES (2, 'conflict', 500::bigint, 'mobile', 'ambiguous: 2 contacts share this mobile'),
	         (3, 'conflict', 500::bigint, 'mobile', 'ambiguous: 2 contacts share this mobile')$$,
	'two contacts share a number: ambiguous, lowest id, counted once each');

SELECT results_eq(
	$$SELECT line, action, contact_id, matched_by, reason
	    FROM activepipe_import_plan(77, E'email,phone,mobile\nq@x.com,0412 000 222,\n,,0412 000 222\nq@x.com,,0412 000 222\n,0412000222,\n')$$,
	$$VALUES (2, 'update', 502::bigint, 'phone', NULL::text),
	         (3, 'update', 502::bigint, 'mobile', NULL),
	         (4, 'unchanged', 502::bigint, 'email', NULL),
	         (5, 'unchanged', 502::bigint, 'phone', NULL)$$,
	'a filled email finds the contact later; the same number in mobile and phone is one contact, not ambiguous');

SELECT is(
	(SELECT count(*)::int FROM contact_integrations WHERE user_id = 77),
	0, 'the plan wrote nothing');

-- overwrite: a key changed twice is found under its last value
INSERT INTO contacts (id, user_id, first_name, email, phone) VALUES
	(510, 77, 'O', 'o@x.com', '02 9000 0001');
SELECT results_eq(
	$$SELECT line, action, contact_id, matched_by
	    FROM activepipe_import_plan(77,
	      E'email,phone\no@x.com,02 9000 0002\no@x.com,02 9000 0003\n,02 9000 0003\n', true)$$,
	$$VALUES (2, 'update', 510::bigint, 'email'), (3, 'update', 510::bigint, 'email'),
	         (4, 'unchanged', 510::bigint, 'phone')$$,
	'with overwrite, the number a second row gives a contact finds it for the third');

-- a contact whose id is 0 keeps its profile like any other
INSERT INTO contacts (id, user_id, first_name, email) VALUES (0, 77, 'Z', 'z@x.com');
INSERT INTO contact_integrations (user_id, contact_id, integration_key, payload_json)
VALUES (77, 0, 'activepipe', '{"status": "kept", "minbeds": 1}');
SELECT is(
	(SELECT action FROM activepipe_import_plan(77, E'email,minbeds\nz@x.com,1\n')),
	'unchanged', 'contact 0: its stored payload is read');
SELECT lives_ok($$SELECT activepipe_import_commit(77, E'email,minbeds\nz@x.com,2\n')$$,
	'contact 0: commit');
SELECT is((SELECT payload_json FROM contact_integrations WHERE user_id = 77 AND contact_id = 0),
	'{"status": "kept", "minbeds": 2}'::jsonb, 'contact 0: the fields the file leaves are kept');
SELECT * FROM finish();
ROLLBACK;
