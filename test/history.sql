-- Import history (issue 15): the kept report of each commit (rows,
-- value-level changes and conflicts, the result file), the contacts each
-- export sent, and undo: back to byte-identical rows, refusing contacts
-- changed since, once only, in either order.  Pruning, cancellation and
-- pg_dump are in test/scripts/history.sh.
BEGIN;
SELECT plan(92);

INSERT INTO users (id) VALUES (1501), (1502), (1503), (1504);
INSERT INTO contacts (id, user_id, first_name, last_name, email, mobile, city) VALUES
	(150101, 1501, 'Noah', 'Martin', 'noah@x.com', NULL, NULL),
	(150102, 1501, 'Ava', 'Lee', 'ava@x.com', '0412 150 102', 'Perth'),
	(150103, 1501, 'Eli', 'Ng', E'eli@x.com', NULL, E'\t'),
	(150201, 1502, 'Noah', 'Other', 'noah@x.com', NULL, NULL);
INSERT INTO contact_integrations (user_id, contact_id, payload_json, last_imported_at, updated_at) VALUES
	(1501, 150101, '{"status": "old", "minbeds": 3, "tags": ["a"], "custom": 1}', '2025-01-01', '2025-01-02');

-- every table's rows of a tenant, exactly (xmin aside)
CREATE FUNCTION pg_temp.rows(uid bigint) RETURNS text LANGUAGE sql AS $$
	SELECT (SELECT coalesce(string_agg(c::text, '|' ORDER BY c.id), '') FROM contacts c WHERE c.user_id = uid)
		|| ' || ' ||
		(SELECT coalesce(string_agg(ci::text, '|' ORDER BY ci.id), '') FROM contact_integrations ci WHERE ci.user_id = uid) $$;
CREATE TEMP TABLE before AS SELECT pg_temp.rows(1501) AS r;

CREATE TEMP TABLE run1 AS SELECT activepipe_import_commit(1501,
	E'email,firstname,mobile,city,status,minbeds,tags,Notes\n'
	'noah@x.com,Noel,,Sydney,new,4,a;b,keep\n'
	'ava@x.com,Ava,,Bondi,lead,,,\n'
	'eli@x.com,Eli,0412 150 103,Manly,,,,\n'
	'zoe@x.com,Zoe,0412 150 104,Perth,new,,,\n'
	',Walk-in,,,,,,x\n', false, 'june.csv') AS s;
CREATE TEMP TABLE ev1 AS SELECT (s ->> 'event_id')::bigint AS id FROM run1;

-- 1. the report: every row, with its changes
SELECT results_eq(
	$$SELECT line, action, matched_by, reason_code, field FROM activepipe_import_report(1501, (SELECT id FROM ev1))$$,
	$$VALUES (2, 'conflict', 'email', 'conflict', 'firstname'), (3, 'update', 'email', NULL, NULL),
	         (4, 'update', 'email', NULL, NULL), (5, 'new', NULL, NULL, NULL),
	         (6, 'skip', NULL, 'no_match_key', NULL)$$,
	'the report has every row of the file: line, action, key, reason code and field');
SELECT is((SELECT conflicts FROM activepipe_import_report(1501, (SELECT id FROM ev1)) WHERE line = 2),
	'{"firstname": {"file": "Noel", "stored": "Noah"}}'::jsonb,
	'a conflict names the differing field with the file''s and the stored value');
SELECT is((SELECT changes FROM activepipe_import_report(1501, (SELECT id FROM ev1)) WHERE line = 2),
	'{"tags": {"old": ["a"], "new": ["a", "b"]}, "status": {"old": "old", "new": "new"}, "minbeds": {"old": 3, "new": 4}}'::jsonb,
	'a conflict row still stores its integration fields, each change with old and new');
SELECT is((SELECT changes FROM activepipe_import_report(1501, (SELECT id FROM ev1)) WHERE line = 4),
	'{"city": {"old": null, "new": "Manly"}, "mobile": {"old": null, "new": "0412 150 103"}}'::jsonb,
	'identity changes: old and new (a blank old value is null)');
SELECT is((SELECT contact_id FROM activepipe_import_report(1501, (SELECT id FROM ev1)) WHERE line = 5),
	(SELECT id FROM contacts WHERE user_id = 1501 AND email = 'zoe@x.com'),
	'a new row names the contact it made');
SELECT is((SELECT conflicts || coalesce(changes, '{}') FROM activepipe_import_plan(1501,
	E'email,firstname\nnoah@x.com,Nate\n') WHERE line = 2),
	'{"firstname": {"file": "Nate", "stored": "Noah"}}'::jsonb, 'the plan names conflict values the same way');
SELECT is((SELECT s -> 'rows' -> 0 -> 'conflicts' FROM run1),
	'{"firstname": {"file": "Noel", "stored": "Noah"}}'::jsonb, 'so does the summary');

-- the result file: the five columns, then the cells as uploaded for conflicts and skips
SELECT is(activepipe_import_report_csv(1501, (SELECT id FROM ev1)),
	E'line,action,contact_id,matched_by,reason,email,firstname,mobile,city,status,minbeds,tags,Notes\r\n'
	'2,conflict,150101,email,conflict: firstname differs,noah@x.com,Noel,,Sydney,new,4,a;b,keep\r\n'
	'3,update,150102,email,\r\n'
	'4,update,150103,email,\r\n'
	'5,new,' || (SELECT id FROM contacts WHERE user_id = 1501 AND email = 'zoe@x.com') || E',,\r\n'
	'6,skip,,,no match key,,Walk-in,,,,,,x\r\n',
	'the result file: outcome columns, then the original header and cells of conflicts and skips');

-- another tenant's event reads like none at all
SELECT throws_ok(format('SELECT * FROM activepipe_import_report(1502, %s)', (SELECT id FROM ev1)), 'P0002',
	format('import event %s not found', (SELECT id FROM ev1)), 'another tenant''s event id: not found (P0002)');
SELECT throws_ok('SELECT * FROM activepipe_import_report(1501, 999999)', 'P0002',
	'import event 999999 not found', 'a missing event id: the same words');
SELECT throws_ok(format('SELECT activepipe_import_undo(1502, %s)', (SELECT id FROM ev1)), 'P0002', NULL,
	'another tenant cannot undo it');
SELECT throws_ok(format('SELECT activepipe_import_report_csv(1502, %s)', (SELECT id FROM ev1)), 'P0002', NULL,
	'nor download its report');

-- 3. undo: a preview writes nothing and says what undo would do
CREATE TEMP TABLE mid AS SELECT pg_temp.rows(1501) AS r;
SELECT is(activepipe_import_undo_preview(1501, (SELECT id FROM ev1)) - 'undone_event_id',
	'{"status": "preview", "restored": 3, "deleted": 1, "conflicts": 0, "rows_omitted": 0, "rows": []}'::jsonb,
	'undo preview: 3 contacts to restore, 1 to delete');
SELECT is(pg_temp.rows(1501), (SELECT r FROM mid), 'undo preview writes nothing');
CREATE TEMP TABLE undo1 AS SELECT activepipe_import_undo(1501, (SELECT id FROM ev1)) AS u;
SELECT is((SELECT u - 'event_id' - 'undone_event_id' FROM undo1),
	'{"status": "undone", "restored": 3, "deleted": 1, "conflicts": 0, "rows_omitted": 0, "rows": []}'::jsonb,
	'undo: 3 restored, 1 deleted');
SELECT is(pg_temp.rows(1501), (SELECT r FROM before),
	'after undo every contact and profile row of the tenant is byte-identical to before the commit');
SELECT is((SELECT event_type || ':' || (summary ->> 'undone_event_id') FROM integration_events
	WHERE id = (SELECT (u ->> 'event_id')::bigint FROM undo1)),
	'undo:' || (SELECT id FROM ev1), 'an undo event is logged, pointing at the undone import');
SELECT is(activepipe_import_undo(1501, (SELECT id FROM ev1)) - 'undone_event_id' - 'undone_by',
	'{"status": "already undone", "restored": 0, "deleted": 0, "conflicts": 0, "rows_omitted": 0, "rows": []}'::jsonb,
	'a second undo changes nothing and says so');
SELECT is(pg_temp.rows(1501), (SELECT r FROM before), '... and indeed changed nothing');

-- an app edit since the import: that contact is left as it is, a conflict
CREATE TEMP TABLE run2 AS SELECT (activepipe_import_commit(1501,
	E'email,city,status\nnoah@x.com,Sydney,s2\nava@x.com,,s2\n') ->> 'event_id')::bigint AS id;
UPDATE contacts SET last_name = 'Edited' WHERE id = 150102;
CREATE TEMP TABLE after_edit AS SELECT pg_temp.rows(1501) AS r;
SELECT is(activepipe_import_undo(1501, (SELECT id FROM run2)) - 'event_id' - 'undone_event_id',
	'{"status": "undone", "restored": 1, "deleted": 0, "conflicts": 1, "rows_omitted": 0,
	  "rows": [{"contact_id": 150102, "action": "conflict", "reason": "changed since import"}]}'::jsonb,
	'undo after an app edit: the edited contact is a conflict, the other restored');
SELECT is((SELECT last_name || ' ' || (SELECT payload_json ->> 'status' FROM contact_integrations WHERE contact_id = 150102)
	FROM contacts WHERE id = 150102), 'Edited s2', 'the edited contact keeps the edit and the import''s values');
SELECT is((SELECT city || ' ' || (SELECT payload_json ->> 'status' FROM contact_integrations WHERE contact_id = 150101)
	FROM contacts WHERE id = 150101), NULL, 'the other contact is back as it was (no city, status old)');
SELECT is((SELECT payload_json ->> 'status' FROM contact_integrations WHERE contact_id = 150101), 'old',
	'... its payload too');

-- a card save since the import is a change too; an export's stamp is not
CREATE TEMP TABLE run3 AS SELECT (activepipe_import_commit(1501,
	E'email,status\nnoah@x.com,s3\n') ->> 'event_id')::bigint AS id;
SELECT activepipe_export(1501, ARRAY[150101]);
SELECT is((activepipe_import_undo_preview(1501, (SELECT id FROM run3)) ->> 'restored')::int, 1,
	'an export since the import (last_exported_at) is not a change');
SELECT activepipe_card_save(1501, 150101, '{"source": "card"}');
SELECT is((activepipe_import_undo_preview(1501, (SELECT id FROM run3)) ->> 'conflicts')::int, 1,
	'a card save since the import is');

-- 5. exports keep the contacts they sent
CREATE TEMP TABLE exp AS SELECT activepipe_export(1501, ARRAY[150103, 150101, 150101]) AS csv;
SELECT results_eq(
	$$SELECT * FROM activepipe_export_report(1501, (SELECT max(id) FROM integration_events WHERE user_id = 1501 AND event_type = 'export'))$$,
	$$VALUES (150101::bigint), (150103::bigint)$$, 'activepipe_export_report lists the contacts the export sent');
SELECT throws_ok(format('SELECT * FROM activepipe_export_report(1501, %s)', (SELECT id FROM ev1)), 'P0002', NULL,
	'an import is not an export');

-- two imports touching the same contacts: newest first restores the state before both
INSERT INTO contacts (id, user_id, first_name, email) VALUES (150301, 1503, 'Ida', 'ida@x.com');
CREATE TEMP TABLE before3 AS SELECT pg_temp.rows(1503) AS r;
CREATE TEMP TABLE a3 AS SELECT (activepipe_import_commit(1503, E'email,city,status\nida@x.com,Perth,one\nnew3@x.com,,one\n') ->> 'event_id')::bigint AS id;
CREATE TEMP TABLE mid3 AS SELECT pg_temp.rows(1503) AS r;
CREATE TEMP TABLE b3 AS SELECT (activepipe_import_commit(1503, E'email,mobile,status\nida@x.com,0412 150 301,two\nnew3@x.com,0412 150 302,two\n', true) ->> 'event_id')::bigint AS id;
SELECT is((activepipe_import_undo_preview(1503, (SELECT id FROM a3)) ->> 'conflicts')::int, 2,
	'the older import first: the contacts the newer one changed are conflicts');
SELECT lives_ok(format('SELECT activepipe_import_undo(1503, %s)', (SELECT id FROM b3)), 'undo the newer import');
SELECT is(pg_temp.rows(1503), (SELECT r FROM mid3), '... back to the state between the two');
SELECT is((activepipe_import_undo(1503, (SELECT id FROM a3)) ->> 'conflicts')::int, 0, 'then the older one, without conflicts');
SELECT is(pg_temp.rows(1503), (SELECT r FROM before3), '... back to the state before both');

-- the other order: older first refuses what the newer changed, and the newer still undoes
INSERT INTO contacts (id, user_id, first_name, email) VALUES (150401, 1504, 'Jo', 'jo@x.com');
CREATE TEMP TABLE a4 AS SELECT (activepipe_import_commit(1504, E'email,status\njo@x.com,one\n') ->> 'event_id')::bigint AS id;
CREATE TEMP TABLE b4 AS SELECT (activepipe_import_commit(1504, E'email,status\njo@x.com,two\n') ->> 'event_id')::bigint AS id;
SELECT is(activepipe_import_undo(1504, (SELECT id FROM a4)) ->> 'conflicts', '1',
	'undoing the older import first: a conflict, nothing restored');
SELECT is((SELECT payload_json ->> 'status' FROM contact_integrations WHERE user_id = 1504), 'two',
	'... the newer import''s value stays');
SELECT is(activepipe_import_undo(1504, (SELECT id FROM b4)) ->> 'restored', '1', 'the newer one still undoes');
SELECT is(activepipe_import_undo(1504, (SELECT id FROM a4)) - 'event_id' - 'undone_event_id',
	'{"status": "undone", "restored": 1, "deleted": 0, "conflicts": 0, "rows_omitted": 0, "rows": []}'::jsonb,
	'undoing the older one again retries the contact it left, which now undoes');
SELECT is((SELECT payload_json FROM contact_integrations WHERE user_id = 1504), NULL,
	'... back to before both (Jo had no profile)');
SELECT is(activepipe_import_undo(1504, (SELECT id FROM a4)) ->> 'status', 'already undone',
	'and a third undo of it: already undone');

-- a contact the import created, then changed in a column no import binds:
-- not deleted (its whole row is compared)
INSERT INTO users (id) VALUES (1505);
ALTER TABLE contacts ADD COLUMN notes text;
CREATE TEMP TABLE a5 AS SELECT (activepipe_import_commit(1505, E'email,firstname\ncarol@x.com,Carol\ndan@x.com,Dan\n') ->> 'event_id')::bigint AS id;
UPDATE contacts SET notes = 'hot lead' WHERE user_id = 1505 AND email = 'carol@x.com';
SELECT is(activepipe_import_undo(1505, (SELECT id FROM a5)) - 'event_id' - 'undone_event_id' - 'rows',
	'{"status": "undone", "restored": 0, "deleted": 1, "conflicts": 1, "rows_omitted": 0}'::jsonb,
	'undo of an import whose new contact the application has written to since: that one is a conflict');
SELECT is((SELECT string_agg(first_name || ':' || coalesce(notes, ''), ',' ORDER BY id) FROM contacts WHERE user_id = 1505),
	'Carol:hot lead', 'Carol and her notes stay; Dan, untouched, is deleted');
ALTER TABLE contacts DROP COLUMN notes;

-- a payload key that held a JSON null is put back as a JSON null
INSERT INTO users (id) VALUES (1506);
INSERT INTO contacts (id, user_id, first_name, email) VALUES (150601, 1506, 'Nul', 'nul@x.com');
INSERT INTO contact_integrations (user_id, contact_id, payload_json) VALUES (1506, 150601, '{"status": null, "source": "Open home"}');
CREATE TEMP TABLE a6 AS SELECT (activepipe_import_commit(1506, E'email,status,sms_status\nnul@x.com,subscribed,x\n') ->> 'event_id')::bigint AS id;
SELECT is((activepipe_import_undo(1506, (SELECT id FROM a6)) ->> 'restored')::int, 1, 'undo of an import over a JSON null');
SELECT is((SELECT payload_json::text FROM contact_integrations WHERE user_id = 1506), '{"source": "Open home", "status": null}',
	'... the key is back holding null, and the key the import added is gone');

-- what undo keeps of each contact (import_contacts.before): the fields the
-- commit changed as they were, nothing for a contact it created, and no
-- payload fields for one that had no profile (undo removes that profile),
-- also when a later chunk of the same file writes the contact again
INSERT INTO users (id) VALUES (1507);
INSERT INTO contacts (id, user_id, first_name, email, city) VALUES
	(150701, 1507, 'Pat', 'pat@x.com', NULL),
	(150702, 1507, 'Jo', 'jo@x.com', 'Perth');
INSERT INTO contact_integrations (user_id, contact_id, payload_json) VALUES (1507, 150701, '{"status": "s0", "source": "Web"}');
CREATE TEMP TABLE a7 AS SELECT (activepipe_import_commit(1507,
	E'email,city,status\n'
	'pat@x.com,Bondi,s1\n'
	'jo@x.com,,j1\n'
	'new7@x.com,Manly,n1\n'
	|| (SELECT string_agg('filler' || g || '@x.com,,', E'\n') FROM generate_series(1, 1100) g) || E'\n'
	'pat@x.com,,s2\n'
	'jo@x.com,,j2\n', true) ->> 'event_id')::bigint AS id;
-- import_contacts keeps a row per write batch, an array element per
-- contact (before as JSON text)
CREATE TEMP VIEW hc AS SELECT k.user_id, k.event_id, k.chunk, u.contact_id, u.created, u.had_profile,
		u.before::jsonb AS before
	FROM import_contacts k CROSS JOIN LATERAL ROWS FROM (unnest(k.contact_id), unnest(k.created),
		unnest(k.had_profile), unnest(k.before)) AS u(contact_id, created, had_profile, before);
SELECT is((SELECT string_agg(before::text, ' then ' ORDER BY chunk) FROM hc WHERE user_id = 1507 AND event_id = (SELECT id FROM a7) AND contact_id = 150701),
	'{"columns": {"city": null}, "payload": {"status": ["s0"]}} then {"columns": {}, "payload": {"status": ["s1"]}}',
	'before: the changed column and payload field as each of the two chunks that wrote the contact found them');
SELECT is((SELECT string_agg(had_profile || ' ' || before::text, ' then ' ORDER BY chunk) FROM hc WHERE user_id = 1507 AND event_id = (SELECT id FROM a7) AND contact_id = 150702),
	'false {"columns": {}, "payload": {}} then true {"columns": {}, "payload": {"status": ["j1"]}}',
	'a contact with no profile, written by two chunks: the first record has no profile and no payload field');
SELECT is((SELECT count(*) - count(DISTINCT contact_id) FROM hc WHERE user_id = 1507 AND event_id = (SELECT id FROM a7)),
	2::bigint, '... and only those two contacts have two records');
SELECT is((SELECT before FROM hc h JOIN contacts c ON c.user_id = h.user_id AND c.id = h.contact_id
	WHERE h.user_id = 1507 AND h.event_id = (SELECT id FROM a7) AND c.email = 'new7@x.com' AND h.created),
	'{"columns": {}, "payload": {}}'::jsonb, 'before of a contact the commit created: nothing');
SELECT is(activepipe_import_undo(1507, (SELECT id FROM a7)) - 'event_id' - 'undone_event_id' - 'rows',
	'{"status": "undone", "restored": 2, "deleted": 1101, "conflicts": 0, "rows_omitted": 0}'::jsonb,
	'undo of that file restores both contacts and deletes the ones it made');
SELECT is((SELECT string_agg(c.first_name || ':' || coalesce(c.city, '-') || ':' || coalesce(ci.payload_json::text, '-'), ',' ORDER BY c.id)
	FROM contacts c LEFT JOIN contact_integrations ci ON ci.user_id = c.user_id AND ci.contact_id = c.id WHERE c.user_id = 1507),
	'Pat:-:{"source": "Web", "status": "s0"},Jo:Perth:-', '... as they were: Pat''s city and status, Jo without a profile');

-- Undo reads a contact's records in order of id, 1,000 at a time: a
-- contact whose two records straddle two of those reads (the one contact
-- written once comes first, so record 1,000 is the first of a pair) is
-- put back from both, as is every other
INSERT INTO users (id) VALUES (1509);
INSERT INTO contacts (id, user_id, first_name, email, city)
	SELECT 150900000 + g, 1509, 'P' || g, 'p' || g || '@x.com', 'C0' FROM generate_series(0, 1500) g;
INSERT INTO contact_integrations (user_id, contact_id, payload_json)
	SELECT 1509, 150900000 + g, '{"status": "s0"}' FROM generate_series(0, 1500) g;
CREATE TEMP TABLE a9 AS SELECT (activepipe_import_commit(1509,
	E'email,city,status\np0@x.com,X,a\n'
	|| (SELECT string_agg('p' || g || '@x.com,Y,a', E'\n' ORDER BY g) FROM generate_series(1, 1500) g) || E'\n'
	|| (SELECT string_agg('p' || g || '@x.com,Z,b', E'\n' ORDER BY g) FROM generate_series(1, 1500) g) || E'\n',
	true) ->> 'event_id')::bigint AS id;
SELECT is((SELECT count(*) FROM hc WHERE user_id = 1509 AND event_id = (SELECT id FROM a9)), 3001::bigint,
	'a file writing 1,500 contacts twice, in different batches, keeps 3,001 records');
-- 1,200 of them changed since, so that the conflicts fall in three reads
UPDATE contacts SET city = 'W' WHERE user_id = 1509 AND id BETWEEN 150900001 AND 150901200;
SELECT is(activepipe_import_undo_preview(1509, (SELECT id FROM a9)) - 'rows',
	('{"status": "preview", "undone_event_id": ' || (SELECT id FROM a9) || ', "restored": 301, "deleted": 0, "conflicts": 1200, "rows_omitted": 200}')::jsonb,
	'undo preview: 1,200 contacts changed since, over three reads of 1,000 records');
SELECT is(activepipe_import_undo(1509, (SELECT id FROM a9)) - 'event_id' - 'undone_event_id' - 'rows',
	'{"status": "undone", "restored": 301, "deleted": 0, "conflicts": 1200, "rows_omitted": 200}'::jsonb,
	'... the undo restores the other 301 and leaves those');
SELECT is((SELECT undo_pending FROM import_history WHERE user_id = 1509 AND event_id = (SELECT id FROM a9)),
	(SELECT array_agg(150900000::bigint + g ORDER BY g) FROM generate_series(1, 1200) g),
	'... and keeps exactly their ids to retry');
-- put back as the import left them, they undo on a retry
UPDATE contacts SET city = 'Z' WHERE user_id = 1509 AND id BETWEEN 150900001 AND 150901200;
SELECT is(activepipe_import_undo(1509, (SELECT id FROM a9)) - 'event_id' - 'undone_event_id' - 'rows',
	'{"status": "undone", "restored": 1200, "deleted": 0, "conflicts": 0, "rows_omitted": 0}'::jsonb,
	'a retry restores the 1,200 left');
SELECT is((SELECT count(*) FROM contacts c JOIN contact_integrations ci ON ci.user_id = c.user_id AND ci.contact_id = c.id
	WHERE c.user_id = 1509 AND c.city = 'C0' AND ci.payload_json = '{"status": "s0"}'), 1501::bigint,
	'... every contact is back to the city and status it had before the first batch, across the reads of 1,000');

-- changes and before are kept as JSON text: quotes, backslashes and
-- control characters come back as they were, in the report and by undo
INSERT INTO users (id) VALUES (1510);
INSERT INTO contacts (id, user_id, first_name, email, city) VALUES (151001, 1510, 'Q', 'q@x.com', E'a"b\\c\td');
INSERT INTO contact_integrations (user_id, contact_id, payload_json)
	VALUES (1510, 151001, '{"source": "x\"y\\z\u0001", "tags": ["t\"1", "t\\2"]}');
CREATE TEMP TABLE p10 AS SELECT changes FROM activepipe_import_plan(1510,
	E'email,city,source,tags\nq@x.com,new city,"new ""source""",n1\n', true) WHERE line = 2;
CREATE TEMP TABLE a10 AS SELECT (activepipe_import_commit(1510,
	E'email,city,source,tags\nq@x.com,new city,"new ""source""",n1\n', true) ->> 'event_id')::bigint AS id;
SELECT is((SELECT changes FROM activepipe_import_report(1510, (SELECT id FROM a10)) WHERE line = 2),
	'{"city": {"old": "a\"b\\c\td", "new": "new city"}, "tags": {"old": ["t\"1", "t\\2"], "new": ["n1"]}, "source": {"old": "x\"y\\z\u0001", "new": "new \"source\""}}'::jsonb,
	'the report''s changes keep quotes, backslashes, tabs and control characters');
SELECT is((SELECT changes FROM activepipe_import_report(1510, (SELECT id FROM a10)) WHERE line = 2),
	(SELECT changes FROM p10), '... and equal the plan''s');
SELECT is((activepipe_import_undo(1510, (SELECT id FROM a10)) ->> 'restored')::int, 1, 'undo of that import');
SELECT is((SELECT c.city || ' ' || ci.payload_json::text FROM contacts c JOIN contact_integrations ci ON ci.user_id = c.user_id AND ci.contact_id = c.id
	WHERE c.user_id = 1510),
	E'a"b\\c\td ' || '{"tags": ["t\"1", "t\\2"], "source": "x\"y\\z\u0001"}'::jsonb::text,
	'... puts the odd characters back exactly');

-- before lists the payload fields some row changed, not every field the
-- file carries: a field the file repeats is not in it, one changed and
-- changed back is, and undo puts both back exactly
INSERT INTO users (id) VALUES (1511);
INSERT INTO contacts (id, user_id, first_name, email) VALUES (151101, 1511, 'R', 'r@x.com');
INSERT INTO contact_integrations (user_id, contact_id, payload_json)
	VALUES (1511, 151101, '{"status": "s0", "source": "Web", "minbeds": 2}');
CREATE TEMP TABLE a11 AS SELECT (activepipe_import_commit(1511,
	E'email,status,source,minbeds\nr@x.com,s1,Web,2\nr@x.com,s0,Web2,2\n', true) ->> 'event_id')::bigint AS id;
SELECT is((SELECT before FROM hc WHERE user_id = 1511 AND event_id = (SELECT id FROM a11)),
	'{"columns": {}, "payload": {"source": ["Web"], "status": ["s0"]}}'::jsonb,
	'before: the fields some row changed (status changed and changed back, source), not the ones the file repeats');
SELECT is((activepipe_import_undo(1511, (SELECT id FROM a11)) ->> 'restored')::int, 1, 'undo of that import');
SELECT is((SELECT payload_json FROM contact_integrations WHERE user_id = 1511),
	'{"status": "s0", "source": "Web", "minbeds": 2}'::jsonb, '... puts the payload back exactly');

-- every kept changes and before is valid JSON (kept as text, unchecked when written)
SELECT is((SELECT count(*) FROM import_rows r CROSS JOIN LATERAL unnest(r.changes) c
	WHERE c IS NOT NULL AND pg_catalog.jsonb_typeof(c::jsonb) <> 'object'), 0::bigint,
	'every kept row''s changes parses as a JSON object');
SELECT is((SELECT count(*) FROM import_contacts k CROSS JOIN LATERAL unnest(k.before) b
	WHERE pg_catalog.jsonb_typeof(b::jsonb) <> 'object'), 0::bigint,
	'every kept contact''s before parses as a JSON object');

-- several rows of one file for one contact (overwrite): each row's old
-- values are what the row before it left, not what the contact had before
-- the file; a bad number is kept as text, tags are de-duplicated, a blank
-- cell clears
INSERT INTO users (id) VALUES (1513);
SELECT activepipe_import_commit(1513, E'email,status,source\nm@x.com,s0,Web\n');
CREATE TEMP TABLE a13 AS SELECT (activepipe_import_commit(1513,
	E'email,status,minbeds,tags,source\nm@x.com,s1,2,"a;b",\nm@x.com,s2,x3,"B;a;b;c",Web\nm@x.com,,4,,Shop\n',
	true) ->> 'event_id')::bigint AS id;
SELECT is((SELECT string_agg(line || ' ' || changes::text, E'\n' ORDER BY line)
		FROM activepipe_import_report(1513, (SELECT id FROM a13))),
	'2 {"tags": {"new": ["a", "b"], "old": null}, "source": {"new": null, "old": "Web"}, "status": {"new": "s1", "old": "s0"}, "minbeds": {"new": 2, "old": null}}' || E'\n' ||
	'3 {"tags": {"new": ["B", "a", "c"], "old": ["a", "b"]}, "source": {"new": "Web", "old": null}, "status": {"new": "s2", "old": "s1"}, "minbeds": {"new": "x3", "old": 2}}' || E'\n' ||
	'4 {"tags": {"new": null, "old": ["B", "a", "c"]}, "source": {"new": "Shop", "old": "Web"}, "status": {"new": null, "old": "s2"}, "minbeds": {"new": 4, "old": "x3"}}',
	'three rows for one contact: each row''s old values are what the row before left (clears, a bad number, tags included)');

-- identity fields the payload holds (binding column NULL) are described
-- once, with the columns, not again with the payload fields (the binding
-- is put back after: a ROLLBACK TO SAVEPOINT would take pgTAP's count of
-- the tests in between with it)
CREATE TEMP TABLE binding_was AS SELECT * FROM contacts_binding;
INSERT INTO contacts_binding (city, firstname) VALUES (NULL, NULL)
	ON CONFLICT (singleton) DO UPDATE SET city = NULL, firstname = NULL;
INSERT INTO users (id) VALUES (1512);
SELECT activepipe_import_commit(1512, E'email,firstname,city,status\nu@x.com,Ann,Perth,s1\n');
CREATE TEMP TABLE a12 AS SELECT (activepipe_import_commit(1512,
	E'email,firstname,city,status\nu@x.com,Anna,Sydney,s2\n', true) ->> 'event_id')::bigint AS id;
SELECT is((SELECT changes FROM activepipe_import_report(1512, (SELECT id FROM a12))),
	'{"firstname": {"old": "Ann", "new": "Anna"}, "city": {"old": "Perth", "new": "Sydney"}, "status": {"old": "s1", "new": "s2"}}'::jsonb,
	'the report of an import over payload-held identity fields: each changed field with its old and new value');
SELECT is((SELECT count(*) FROM import_rows r CROSS JOIN LATERAL unnest(r.changes) c
	WHERE r.user_id = 1512 AND c IS NOT NULL
	  AND (SELECT count(*) FROM pg_catalog.json_object_keys(c))
		<> (SELECT count(*) FROM pg_catalog.jsonb_object_keys(c::jsonb))), 0::bigint,
	'... and no kept changes names a field twice');
DELETE FROM contacts_binding;
INSERT INTO contacts_binding SELECT * FROM binding_was;

-- every array the history keeps is lz4-compressed where the server has lz4
-- (left on pglz, the integer arrays alone cost 0.2 s of a 100k-row commit)
SELECT is((SELECT pg_catalog.array_agg(a.attrelid::regclass::text || '.' || a.attname
		ORDER BY a.attrelid::regclass::text, a.attname)
	FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
	WHERE a.attrelid IN ('import_rows'::regclass, 'import_contacts'::regclass,
		'export_contacts'::regclass)
	  AND a.attnum > 0 AND NOT a.attisdropped AND t.typcategory = 'A'
	  AND a.attcompression IS DISTINCT FROM
		CASE WHEN EXISTS (SELECT FROM pg_catalog.pg_settings
			WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN 'l' ELSE '' END),
	NULL, 'every history array is lz4-compressed where the server has lz4');

-- A column added to the contacts table after a commit changes the rows of
-- the contacts it created: undo keeps them (a change since), never deletes
INSERT INTO users (id) VALUES (1508);
CREATE TEMP TABLE a8 AS SELECT (activepipe_import_commit(1508, E'email,firstname\nzed@x.com,Zed\n') ->> 'event_id')::bigint AS id;
ALTER TABLE contacts ADD COLUMN nickname text;
SELECT is(activepipe_import_undo(1508, (SELECT id FROM a8)) - 'event_id' - 'undone_event_id',
	('{"status": "undone", "restored": 0, "deleted": 0, "conflicts": 1, "rows_omitted": 0, "rows": [{"action": "conflict", "reason": "changed since import", "contact_id": '
	|| (SELECT id FROM contacts WHERE user_id = 1508) || '}]}')::jsonb,
	'a contact created before the contacts table gained a column is a change since: kept');
SELECT is((SELECT count(*) FROM contacts WHERE user_id = 1508), 1::bigint, '... and still there');

-- A contacts table with a column whose type has no hash function (json):
-- the row image casts it to text, so a created contact the application
-- has written to since in that column is kept, not deleted
ALTER TABLE contacts ADD COLUMN notes json;
INSERT INTO users (id) VALUES (1515);
CREATE TEMP TABLE a15 AS SELECT (activepipe_import_commit(1515,
	E'email,firstname\nj1@x.com,Jo\nj2@x.com,Jay\n') ->> 'event_id')::bigint AS id;
SELECT is((SELECT count(*) FROM import_contacts k CROSS JOIN LATERAL unnest(k.row_hash) AS u(rh)
		WHERE k.user_id = 1515 AND u.rh IS NOT NULL), 2::bigint,
	'a table with a json column: each created contact has a row hash');
UPDATE contacts SET notes = '{"called": true}' WHERE user_id = 1515 AND email = 'j1@x.com';
SELECT is(activepipe_import_undo(1515, (SELECT id FROM a15)) - 'event_id' - 'undone_event_id' - 'rows',
	'{"status": "undone", "restored": 0, "deleted": 1, "conflicts": 1, "rows_omitted": 0}'::jsonb,
	'... undo deletes the contact left as created and keeps the one written to since in its json column');
SELECT is((SELECT string_agg(email, ',') FROM contacts WHERE user_id = 1515), 'j1@x.com',
	'... which is still there');
ALTER TABLE contacts DROP COLUMN notes;

-- A created contact is compared by the bytes of each column, not by its
-- type's equality or its printed text: edits to an equal value (0 to -0,
-- 1 day to 24 hours, 1.0 to 1.00) or to one that prints the same (a point
-- under extra_float_digits = 0) are changes since: kept, not deleted
ALTER TABLE contacts ADD COLUMN f8 float8 DEFAULT 0, ADD COLUMN iv interval DEFAULT '1 day',
	ADD COLUMN nm numeric DEFAULT 1.0, ADD COLUMN pt point DEFAULT point(0.1, 0);
SET LOCAL extra_float_digits = 0;
INSERT INTO users (id) VALUES (1516);
CREATE TEMP TABLE a16 AS SELECT (activepipe_import_commit(1516,
	E'email\nk1@x.com\nk2@x.com\nk3@x.com\nk4@x.com\nk5@x.com\n') ->> 'event_id')::bigint AS id;
UPDATE contacts SET f8 = '-0' WHERE user_id = 1516 AND email = 'k1@x.com';
UPDATE contacts SET iv = '24 hours' WHERE user_id = 1516 AND email = 'k2@x.com';
UPDATE contacts SET nm = 1.00 WHERE user_id = 1516 AND email = 'k3@x.com';
UPDATE contacts SET pt = point(0.10000000000000002, 0) WHERE user_id = 1516 AND email = 'k4@x.com';
SELECT is(activepipe_import_undo(1516, (SELECT id FROM a16)) - 'event_id' - 'undone_event_id' - 'rows',
	'{"status": "undone", "restored": 0, "deleted": 1, "conflicts": 4, "rows_omitted": 0}'::jsonb,
	'undo keeps the created contacts edited to an equal value or to one that prints the same');
SELECT is((SELECT string_agg(email, ',' ORDER BY email) FROM contacts WHERE user_id = 1516),
	'k1@x.com,k2@x.com,k3@x.com,k4@x.com', '... and deletes the one left as created');
RESET extra_float_digits;
ALTER TABLE contacts DROP COLUMN f8, DROP COLUMN iv, DROP COLUMN nm, DROP COLUMN pt;

-- a contacts column named c: the history and undo hash the whole row
-- (c.*), never that column
ALTER TABLE contacts ADD COLUMN c int DEFAULT 7;
INSERT INTO users (id) VALUES (1517);
CREATE TEMP TABLE a17 AS SELECT (activepipe_import_commit(1517, E'email\nc1@x.com\nc2@x.com\n')->>'event_id')::bigint AS id;
UPDATE contacts SET c = 7 WHERE user_id = 1517 AND email = 'c1@x.com';
UPDATE contacts SET c = 8 WHERE user_id = 1517 AND email = 'c2@x.com';
SELECT is(activepipe_import_undo(1517, (SELECT id FROM a17)) - 'event_id' - 'undone_event_id' - 'rows',
	'{"status": "undone", "restored": 0, "deleted": 1, "conflicts": 1, "rows_omitted": 0}'::jsonb,
	'a contacts table with a column named c: the whole row is compared (c set to its own value: deleted; c changed: left)');
SELECT is((SELECT string_agg(email || ':' || c, ',') FROM contacts WHERE user_id = 1517), 'c2@x.com:8',
	'... the contact whose column c changed is the one left');
ALTER TABLE contacts DROP COLUMN c;

-- a function of the hash's name over the contacts row type, as a role
-- that may create in the extension's schema could make, is not called:
-- the statements pass the row as record
CREATE FUNCTION public.activepipe_row_image_hash(c public.contacts) RETURNS bigint
	LANGUAGE sql IMMUTABLE AS 'SELECT 42::bigint';
ALTER TABLE contacts ADD COLUMN note text DEFAULT 'n';
INSERT INTO users (id) VALUES (1518);
CREATE TEMP TABLE a18 AS SELECT (activepipe_import_commit(1518, E'email\nd1@x.com\n')->>'event_id')::bigint AS id;
SELECT isnt((SELECT h.row_hash[1] FROM import_contacts h WHERE h.user_id = 1518), 42::bigint,
	'a decoy activepipe_row_image_hash(contacts) is not the hash the commit keeps');
UPDATE contacts SET note = 'edited' WHERE user_id = 1518;
SELECT is(activepipe_import_undo(1518, (SELECT id FROM a18)) - 'event_id' - 'undone_event_id' - 'rows',
	'{"status": "undone", "restored": 0, "deleted": 0, "conflicts": 1, "rows_omitted": 0}'::jsonb,
	'... nor the one undo compares with: the contact edited since is left');
DROP FUNCTION public.activepipe_row_image_hash(public.contacts);
ALTER TABLE contacts DROP COLUMN note;

-- the row hash itself: values made of NULLs never hash as NULL, and an
-- enum value hashes by its label and its place in the sort order
CREATE TYPE pg_temp.box1 AS (m text);
CREATE TYPE pg_temp.p2 AS (a int, b int);
CREATE TYPE pg_temp.tier AS ENUM ('gold', 'silver');
SELECT isnt(activepipe_row_image_hash(ROW(NULL::pg_temp.box1)), activepipe_row_image_hash(ROW(ROW(NULL)::pg_temp.box1)),
	'row hash: a NULL composite is not a composite of NULLs');
SELECT isnt(activepipe_row_image_hash(ROW(ARRAY[NULL, ROW(1, NULL)]::pg_temp.p2[])),
	activepipe_row_image_hash(ROW(ARRAY[ROW(NULL, 1), NULL]::pg_temp.p2[])),
	'row hash: NULLs do not trade places across the elements of an array of composites');
SELECT isnt(activepipe_row_image_hash(ROW(ROW(NULL, 1)::pg_temp.p2, NULL::pg_temp.p2)),
	activepipe_row_image_hash(ROW(NULL::pg_temp.p2, ROW(1, NULL)::pg_temp.p2)),
	'row hash: ... nor across columns');
SELECT isnt(activepipe_row_image_hash(ROW('[2:2]={"(1,2)"}'::pg_temp.p2[])),
	activepipe_row_image_hash(ROW('{"(1,2)"}'::pg_temp.p2[])), 'row hash: an array''s bounds count');
CREATE TEMP TABLE gold_hash AS SELECT activepipe_row_image_hash(ROW('gold'::pg_temp.tier)) AS h;
ALTER TYPE pg_temp.tier RENAME VALUE 'gold' TO 'old_gold';
ALTER TYPE pg_temp.tier RENAME VALUE 'silver' TO 'gold';
SELECT isnt(activepipe_row_image_hash(ROW('gold'::pg_temp.tier)), (SELECT h FROM gold_hash),
	'row hash: a value renamed to the label another value had does not hash as that value');

-- each created contact's row hash sits beside its own id: the hash of
-- its row as the commit left it (read by the ids after the write batch)
INSERT INTO users (id) VALUES (1514);
SELECT activepipe_import_commit(1514, E'email,firstname\nold@x.com,Old\n');
CREATE TEMP TABLE a14 AS SELECT (activepipe_import_commit(1514,
	E'email,firstname,status\nn1@x.com,Ann,\nold@x.com,,s1\nn2@x.com,Bo,\nn3@x.com,Cy,\n') ->> 'event_id')::bigint AS id;
SELECT is((SELECT count(DISTINCT u.rh) FROM import_contacts k
		CROSS JOIN LATERAL unnest(k.contact_id, k.created, k.row_hash) AS u(id, cr, rh)
		WHERE k.user_id = 1514 AND k.event_id = (SELECT id FROM a14) AND u.cr), 3::bigint,
	'each created contact has a row_hash of its own');
SELECT is((activepipe_import_undo_preview(1514, (SELECT id FROM a14)) ->> 'deleted')::int, 3,
	'... beside its own id: an undo finds the three rows as the commit left them');
UPDATE contacts SET last_name = 'Changed' WHERE user_id = 1514 AND email = 'n2@x.com';
SELECT is((activepipe_import_undo_preview(1514, (SELECT id FROM a14)) ->> 'deleted')::int, 2,
	'... and one changed since as changed');
SELECT is((SELECT count(*) FROM import_contacts k
		CROSS JOIN LATERAL unnest(k.created, k.row_hash) AS u(cr, rh)
		WHERE k.user_id = 1514 AND k.event_id = (SELECT id FROM a14)
		  AND u.cr = (u.rh IS NULL)), 0::bigint,
	'... and a contact the commit did not create has none');
SELECT is((SELECT count(*) FROM import_contacts k CROSS JOIN LATERAL unnest(k.created) AS u(cr)
		WHERE k.user_id = 1514 AND k.event_id = (SELECT id FROM a14) AND NOT u.cr), 1::bigint,
	'... (the commit wrote one contact it did not create)');

-- a kept changes value in the form of an earlier 1.2 development build,
-- {"old", "new"}, is returned as it is; one in no known form is refused
-- (it is never read past its end); last in the file, as these break
-- the report of a14
UPDATE import_rows SET changes[1] = '{"status": {"old": "a", "new": "b"}}'
	WHERE user_id = 1514 AND event_id = (SELECT id FROM a14);
SELECT is((SELECT changes FROM activepipe_import_report(1514, (SELECT id FROM a14)) WHERE line = 2),
	'{"status": {"old": "a", "new": "b"}}'::jsonb,
	'changes kept as {"old", "new"} by an earlier development build are reported as they are');
UPDATE import_rows SET changes[1] = '{"status": ["a"]}'
	WHERE user_id = 1514 AND event_id = (SELECT id FROM a14);
SELECT throws_ok(format('SELECT * FROM activepipe_import_report(1514, %s)', (SELECT id FROM a14)),
	'XX001', NULL, 'changes in no known form are refused with data_corrupted, not read');
UPDATE import_rows SET changes[1] = '{"status": {"x": 1, "new": "b"}}'
	WHERE user_id = 1514 AND event_id = (SELECT id FROM a14);
SELECT throws_ok(format('SELECT * FROM activepipe_import_report(1514, %s)', (SELECT id FROM a14)),
	'XX001', 'a kept import row''s changes are not in a known form',
	'... so is an object other than {"old", "new"}');
UPDATE import_rows SET changes[1] = '[["a", "b"]]'
	WHERE user_id = 1514 AND event_id = (SELECT id FROM a14);
SELECT throws_ok(format('SELECT * FROM activepipe_import_report(1514, %s)', (SELECT id FROM a14)),
	'XX001', 'a kept import row''s changes are not in a known form',
	'... and changes that are not an object');

SELECT * FROM finish();
ROLLBACK;
