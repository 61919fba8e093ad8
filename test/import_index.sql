-- The import's key index: a number a contact holds in both phone and
-- mobile counts once, also when a row fills the second column; keys a row
-- fills in find the contact for later rows.
BEGIN;
SELECT plan(3);

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

SELECT * FROM finish();
ROLLBACK;
