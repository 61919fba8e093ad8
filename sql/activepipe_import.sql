--
-- activepipe CSV import (issue 5): the worked example of
-- docs/activepipe_bridge.md -- preview, plan, commit, the contacts and
-- profiles it leaves, re-import, overwrite and a strict error.
-- Self-contained: creates the extension and the reference Ulysses tables
-- (test/fixtures/regress_setup.sql) and drops them at the end; any
-- left over from an earlier file are dropped first, quietly.
--
\i test/fixtures/regress_setup.sql

-- Agent 1 has three contacts (Cat with an ActivePipe profile); agent 2
-- has a contact with Ann's email, which agent 1's import must never see.
INSERT INTO users (id, email) VALUES (1, 'agent1@example.com'), (2, 'agent2@example.com');
INSERT INTO contacts (id, user_id, first_name, last_name, email, phone, mobile, city) VALUES
	(101, 1, 'Ann', 'Lee', 'ann@example.com', NULL, '0412 345 678', 'Sydney'),
	(102, 1, 'Bob', 'Ray', 'bob@example.com', '(02) 9876 5432', NULL, NULL),
	(103, 1, 'Cat', 'Ho', 'cat@example.com', NULL, '0400 111 222', NULL),
	(201, 2, 'Ann', 'Other', 'ann@example.com', NULL, '0412 345 678', 'Perth');
SELECT setval('contacts_id_seq', 103);	-- new contacts get ids from 104
INSERT INTO contact_integrations (user_id, contact_id, payload_json)
	VALUES (1, 103, '{"status": "subscribed", "minbeds": 2, "maxprice": 900000}');

-- The file an agent downloaded from ActivePipe (headers as ActivePipe or
-- Excel spell them; "Agent Notes" is no contract column).
SELECT $csv$First Name,Last Name,Email,Mobile,Phone,City,Status,Min Beds,Max Price,Tags,Agent Notes
Ann,Lee,ANN@example.com,,,,subscribed,3,"$1,250,000",Buyer; Investor,met at open home
Robert,Ray,,,(02) 9876 5432,,subscribed,,,,
Cat,Ho,cat@example.com,+61 400 111 222,,Perth,unsubscribed,two,,,
Dee,Ng,dee@example.com,0433 555 666,,Bondi,lead,,,,
Dee,Ng,,0433 555 666,,,lead,,,,
Eve,,,,,,lead,,,,
$csv$ AS csv \gset

-- 1. Preview: what would happen; writes nothing.
SELECT jsonb_pretty(activepipe_import_preview(1, :'csv'));

-- 2. The plan, row by row (line = physical line in the file).
SELECT * FROM activepipe_import_plan(1, :'csv');

-- 3. Commit: the same counts, plus the event id.
SELECT jsonb_pretty(activepipe_import_commit(1, :'csv', filename => 'activepipe-contacts.csv'));

-- Ann: nothing to fill (city stays Sydney).  Bob: a conflict, his name is
-- kept.  Cat: her blank city is filled.  Dee: one new contact for two rows.
-- Agent 2's Ann is untouched.
SELECT id, user_id, first_name, last_name, email, phone, mobile, city
	FROM contacts ORDER BY id;
-- Integration fields go to the profile for matched, conflicting (Bob) and
-- new rows.  Cat: status replaced, her maxprice cleared by a blank cell,
-- "two" kept as the text written.  Columns the file lacks stay as they are.
SELECT contact_id, payload_json, last_imported_at IS NOT NULL AS imported
	FROM contact_integrations ORDER BY contact_id;
SELECT id, user_id, event_type, filename, total_rows, new_count, updated_count,
	conflict_count, skipped_count FROM integration_events ORDER BY id;

-- 4. Importing the same file again changes nothing.
SELECT s->'new' AS new, s->'updated' AS updated, s->'unchanged' AS unchanged,
	s->'conflicts' AS conflicts, s->'skipped' AS skipped, s->'event_id' AS event_id
	FROM activepipe_import_commit(1, :'csv') AS s;

-- 5. With overwrite the file wins: no conflicts, every non-blank value
-- replaces the contact's (a blank cell still erases nothing).
SELECT * FROM activepipe_import_plan(1, :'csv', overwrite => true);

-- 6. A raw upload (bytea) is decoded first; the summary says from what.
SELECT s->'encoding' AS encoding, s->'new' AS new
	FROM activepipe_import_preview(1, convert_to(E'email,first name\nzoe@example.com,Zoë\n', 'WIN1252')) AS s;

-- 7. A broken file is rejected as a whole, with the line to look at.
SELECT activepipe_import_commit(1, E'email,first name\nann@example.com,Ann\nbob@example.com,"Bob\n');

DROP EXTENSION activepipe;
DROP TABLE contacts, users;
