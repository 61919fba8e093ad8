-- The hardening of 1.2 (issue 12), each item on the data that broke it:
-- keys a row replaces stop matching (2), identity fields kept in the
-- payload merge and match like columns (3), one definition of blank (4),
-- new contacts paired with their rows by pre-assigned ids (8), a contact
-- deleted while an import runs is reported, never recreated (10), and
-- the summary's rows are bounded (1).
BEGIN;
SELECT plan(48);

INSERT INTO users (id) SELECT g FROM generate_series(1201, 1230) g;

-- A tenant's contacts and profiles as values (ids left out), to compare
-- two ways of reaching a state.
CREATE FUNCTION pg_temp.state(uid bigint) RETURNS text LANGUAGE sql AS $$
	SELECT coalesce(string_agg(v, ' | ' ORDER BY v), '') FROM (
		SELECT concat_ws(',', c.first_name, c.last_name, c.email, c.phone, c.mobile,
			c.street_address, c.city, ci.payload_json::text) AS v
		FROM contacts c LEFT JOIN contact_integrations ci
			ON ci.user_id = c.user_id AND ci.contact_id = c.id
		WHERE c.user_id = uid) s $$;

/*
 * 2. Rows apply in file order, as if imported one at a time: when a row
 * changes a key, the old key stops matching.
 */
INSERT INTO contacts (id, user_id, first_name, last_name, email, mobile) VALUES
	(120100, 1201, 'Xavier', 'Old', 'old@x.com', '0412 100 100');
SELECT results_eq(
	$$SELECT line, action, contact_id, matched_by FROM activepipe_import_plan(1201,
	  E'email,mobile,firstname,lastname\nnew@x.com,0412 100 100,Xavier,Old\nold@x.com,,Yolanda,Other\n', true)$$,
	$$VALUES (2, 'update', 120100::bigint, 'mobile'), (3, 'new', NULL::bigint, NULL::text)$$,
	'overwrite: row 1 replaces X''s email; row 2, holding the old email, is a new person');
SELECT lives_ok($$SELECT activepipe_import_commit(1201,
	  E'email,mobile,firstname,lastname\nnew@x.com,0412 100 100,Xavier,Old\nold@x.com,,Yolanda,Other\n', true)$$,
	'overwrite: the commit runs');
SELECT results_eq(
	$$SELECT first_name, last_name, email, mobile FROM contacts WHERE user_id = 1201 ORDER BY first_name$$,
	$$VALUES ('Xavier', 'Old', 'new@x.com', '0412 100 100'), ('Yolanda', 'Other', 'old@x.com', NULL)$$,
	'overwrite: X keeps the new email and its names; the old email made a new contact');

-- the same file, whole and one row at a time, in both modes: same end
CREATE TEMP TABLE order_case (n int, overwrite boolean, csv text);
INSERT INTO order_case VALUES
	(1, true, E'email,mobile,phone,firstname\na2@x.com,0412 200 200,,Ann\na1@x.com,,,Bea\n,0412 200 200,02 9200 0002,Ann\na2@x.com,0412 200 299,,Ann\n,0412 200 200,,Cy\n'),
	(2, false, E'email,mobile,phone,firstname\n,0412 300 300,,Ann\nfill@x.com,0412 300 300,,Ann\nfill@x.com,,02 9300 0003,Ann\n,,02 9300 0003,\n'),
	(3, true, E'email,mobile,firstname\nb@x.com,0412 400 400,Bo\nb2@x.com,0412 400 400,Bo\nb@x.com,0412 400 401,Bo\nb2@x.com,,Bo\n');
CREATE TEMP TABLE order_result (n int, whole text, one_by_one text);
DO $$
DECLARE
	c record;
	uid bigint;
	r text;
	whole text;
BEGIN
	FOR c IN SELECT * FROM order_case ORDER BY n LOOP
		uid := 1210 + c.n;
		INSERT INTO contacts (user_id, first_name, email, mobile, phone) VALUES
			(uid, 'Ann', 'a1@x.com', '0412 200 200', NULL),
			(uid, 'Ann', NULL, '0412 300 300', NULL),
			(uid, 'Bo', 'b@x.com', NULL, NULL);
		BEGIN
			PERFORM activepipe_import_commit(uid, c.csv, c.overwrite);
			whole := pg_temp.state(uid);
			RAISE EXCEPTION 'undo' USING ERRCODE = 'P0099';
		EXCEPTION WHEN SQLSTATE 'P0099' THEN NULL;
		END;
		INSERT INTO order_result VALUES (c.n, whole, NULL);
		FOR r IN SELECT split_part(c.csv, E'\n', 1) || E'\n' || l || E'\n'
			FROM unnest(string_to_array(rtrim(c.csv, E'\n'), E'\n')) WITH ORDINALITY u(l, k)
			WHERE k > 1 ORDER BY k LOOP
			PERFORM activepipe_import_commit(uid, r, c.overwrite);
		END LOOP;
		UPDATE order_result SET one_by_one = pg_temp.state(uid) WHERE n = c.n;
	END LOOP;
END $$;
SELECT is(whole, one_by_one, 'case ' || n || ' (overwrite ' || o.overwrite || '): the file whole ends where its rows one at a time end')
FROM order_result JOIN order_case o USING (n) ORDER BY n;

/*
 * 3. Identity fields the binding keeps in the payload: match keys, filled
 * when blank, names in conflict -- as bound columns.  One field at a time.
 */
CREATE TEMP TABLE unbound_case (f text, stored text, file text, key_col text, key_val text);
INSERT INTO unbound_case VALUES
	('firstname', 'Noah', 'Noel', 'email', 'u1@x.com'),
	('lastname', 'Martin', 'Martini', 'email', 'u2@x.com'),
	('email', 'Held@X.com', 'held@x.com ', 'email', NULL),
	('phone', '(02) 9000 0001', '+61 2 9000 0001', 'phone', NULL),
	('mobile', '0412 555 001', '+61 412 555 001', 'mobile', NULL),
	('streetaddress', '1 Old Rd', '2 New St', 'email', 'u6@x.com'),
	('city', 'Perth', 'Sydney', 'email', 'u7@x.com'),
	('state', 'WA', 'NSW', 'email', 'u8@x.com'),
	('postcode', '6000', '2000', 'email', 'u9@x.com'),
	('country', 'Australia', 'New Zealand', 'email', 'u10@x.com');
CREATE TEMP TABLE unbound_result (f text, plan text, after_fill text, again text, after_overwrite text,
	contacts_after int);
DO $$
DECLARE
	c record;
	uid bigint := 1220;
	csv text;
	cid bigint;
BEGIN
	FOR c IN SELECT * FROM unbound_case LOOP
		uid := uid + 1;
		DELETE FROM contacts_binding;
		EXECUTE format('INSERT INTO contacts_binding (%I) VALUES (NULL)', c.f);
		INSERT INTO contacts (user_id, first_name, email) VALUES (uid, 'Kim', c.key_val)
			RETURNING id INTO cid;
		PERFORM activepipe_card_save(uid, cid, jsonb_build_object(c.f, c.stored));
		csv := c.key_col || CASE WHEN c.key_col = c.f THEN '' ELSE ',' || c.f END || E'\n'
			|| coalesce(c.key_val || ',', '') || c.file || E'\n';
		INSERT INTO unbound_result (f, plan) SELECT c.f, p.action || '/' || coalesce(p.matched_by, '-')
			|| '/' || coalesce(p.reason_code, '-') FROM activepipe_import_plan(uid, csv) p;
		PERFORM activepipe_import_commit(uid, csv);
		UPDATE unbound_result SET after_fill = (SELECT payload_json ->> c.f FROM contact_integrations
			WHERE user_id = uid AND contact_id = cid),
			again = (SELECT (activepipe_import_commit(uid, csv) ->> 'new')) WHERE f = c.f;
		PERFORM activepipe_import_commit(uid, csv, true);
		UPDATE unbound_result SET after_overwrite = (SELECT payload_json ->> c.f FROM contact_integrations
			WHERE user_id = uid AND contact_id = cid),
			contacts_after = (SELECT count(*) FROM contacts WHERE user_id = uid) WHERE f = c.f;
	END LOOP;
	DELETE FROM contacts_binding;
END $$;
SELECT is(plan, expected, f || ' in the payload: ' || why)
FROM unbound_result JOIN (VALUES
	('firstname', 'conflict/email/conflict', 'a differing name is a conflict'),
	('lastname', 'conflict/email/conflict', 'a differing name is a conflict'),
	('email', 'unchanged/email/-', 'it is a match key (case and spaces aside)'),
	('phone', 'unchanged/phone/-', 'it is a match key (canonical form)'),
	('mobile', 'unchanged/mobile/-', 'it is a match key (canonical form)'),
	('streetaddress', 'unchanged/email/-', 'a set value is kept (fill blanks)'),
	('city', 'unchanged/email/-', 'a set value is kept (fill blanks)'),
	('state', 'unchanged/email/-', 'a set value is kept (fill blanks)'),
	('postcode', 'unchanged/email/-', 'a set value is kept (fill blanks)'),
	('country', 'unchanged/email/-', 'a set value is kept (fill blanks)')) e(f, expected, why) USING (f)
ORDER BY f;
SELECT is_empty($$SELECT f FROM unbound_result JOIN unbound_case USING (f)
	WHERE after_fill IS DISTINCT FROM stored OR again <> '0' OR contacts_after <> 1$$,
	'every identity field in the payload: fill blanks keeps the stored value, re-imports create nothing');
SELECT is_empty($$SELECT f FROM unbound_result JOIN unbound_case USING (f)
	WHERE after_overwrite IS DISTINCT FROM (CASE WHEN f IN ('email', 'phone', 'mobile') THEN stored ELSE btrim(file) END)$$,
	'every identity field in the payload: overwrite replaces it (keys equal as keys keep their spelling)');

/*
 * 4. One definition of blank: a contact value of only tab, vertical tab,
 * form feed, CR/LF or no-break space is blank everywhere, also in the
 * SQL re-check of fill-blanks.
 */
INSERT INTO contacts (id, user_id, first_name, email, mobile, city) VALUES
	(120201, 1202, 'Tab', E'\t', '0412 600 001', E'\u00a0'),
	(120202, 1202, 'Vt', E'\x0b', '0412 600 002', E'\x0c'),
	(120203, 1202, 'Nl', E'\r\n', '0412 600 003', ' ');
SELECT results_eq(
	$$SELECT line, action FROM activepipe_import_plan(1202,
	  E'mobile,email,city\n0412 600 001,tab@x.com,Perth\n0412 600 002,vt@x.com,Bondi\n0412 600 003,nl@x.com,Manly\n')$$,
	$$VALUES (2, 'update'), (3, 'update'), (4, 'update')$$,
	'values of only white space (tab, VT, FF, CR/LF, NBSP) are blank: the file fills them');
SELECT lives_ok($$SELECT activepipe_import_commit(1202,
	  E'mobile,email,city\n0412 600 001,tab@x.com,Perth\n0412 600 002,vt@x.com,Bondi\n0412 600 003,nl@x.com,Manly\n')$$,
	'blank: the commit runs');
SELECT results_eq($$SELECT email, city FROM contacts WHERE user_id = 1202 ORDER BY id$$,
	$$VALUES ('tab@x.com', 'Perth'), ('vt@x.com', 'Bondi'), ('nl@x.com', 'Manly')$$,
	'blank: the SQL re-check agrees and writes the file''s values');
CREATE TEMP TABLE blank_stamp AS SELECT contact_id, last_imported_at FROM contact_integrations WHERE user_id = 1202;
SELECT is((activepipe_import_commit(1202,
	  E'mobile,email,city\n0412 600 001,tab@x.com,Perth\n0412 600 002,vt@x.com,Bondi\n0412 600 003,nl@x.com,Manly\n')
	  ->> 'unchanged')::int, 3, 'blank: the same file again is unchanged');
SELECT is_empty($$SELECT 1 FROM contact_integrations ci JOIN blank_stamp b USING (contact_id)
	WHERE ci.user_id = 1202 AND ci.last_imported_at IS DISTINCT FROM b.last_imported_at$$,
	'blank: ... and last_imported_at is not stamped again');

/*
 * 8. New contacts get ids drawn before they are inserted: each row knows
 * its contact, whatever order an INSERT returns rows in.  Identity
 * columns (GENERATED ALWAYS) work; a column without a sequence is a clear
 * error.
 */
CREATE TABLE public.contacts_identity (
	id bigint GENERATED ALWAYS AS IDENTITY (START WITH 5000) PRIMARY KEY,
	user_id bigint NOT NULL, first_name text, email text);
INSERT INTO contacts_binding (table_name, lastname, phone, mobile, streetaddress, city, state, postcode, country)
	VALUES ('contacts_identity', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
SELECT is(activepipe_import_commit(1203,
	E'email,firstname\np1@x.com,Pia\np2@x.com,Quin\np3@x.com,Rex\np1@x.com,\n') ->> 'new', '3',
	'GENERATED ALWAYS identity: three new contacts');
SELECT results_eq(
	$$SELECT r.line, r.action, c.first_name, c.email FROM activepipe_import_report(1203,
	    (SELECT max(id) FROM integration_events WHERE user_id = 1203)) r
	  JOIN contacts_identity c ON c.id = r.contact_id ORDER BY r.line$$,
	$$VALUES (2, 'new', 'Pia', 'p1@x.com'), (3, 'new', 'Quin', 'p2@x.com'), (4, 'new', 'Rex', 'p3@x.com'),
	         (5, 'unchanged', 'Pia', 'p1@x.com')$$,
	'every row names the contact made from it: the report''s ids carry the rows'' values');
SELECT is((SELECT min(id) FROM contacts_identity), 5000::bigint, 'the ids come from the identity''s own sequence');
CREATE TABLE public.contacts_noseq (id bigint NOT NULL DEFAULT 0, user_id bigint NOT NULL,
	first_name text, email text);
UPDATE contacts_binding SET table_name = 'contacts_noseq';
SELECT throws_ok($$SELECT activepipe_import_commit(1203, E'email\nnew@x.com\n')$$, '55000',
	'the contacts id column public.contacts_noseq.id has no sequence',
	'an id column without a sequence: 55000, naming the column');
SELECT is((activepipe_import_preview(1203, E'email\nnew@x.com\n') ->> 'new')::int, 1,
	'... which a preview, creating nothing, does not need');
-- a sequence made by hand, named by the column's default (not OWNED BY it)
CREATE SEQUENCE public.contacts_handseq START 7000;
ALTER TABLE public.contacts_noseq ALTER COLUMN id SET DEFAULT nextval('public.contacts_handseq');
SELECT is((activepipe_import_commit(1203, E'email\nhand@x.com\n') ->> 'new')::int, 1,
	'an id column whose default is nextval() of a sequence it does not own: ids from that sequence');
SELECT is((SELECT id FROM contacts_noseq WHERE email = 'hand@x.com'), 7000::bigint, '... the first one, 7000');
-- a BEFORE INSERT trigger that gives new rows other ids: refused, not mispaired
CREATE FUNCTION pg_temp.other_id() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.id := NEW.id + 1000000; RETURN NEW; END $$;
CREATE TRIGGER other_id BEFORE INSERT ON contacts_noseq FOR EACH ROW EXECUTE FUNCTION pg_temp.other_id();
SELECT throws_ok($$SELECT activepipe_import_commit(1203, E'email\ntrig@x.com\n')$$, '55000',
	'a trigger or rule on public.contacts_noseq changed the new contacts the import inserted',
	'a trigger that changes the ids of new contacts: 55000, nothing paired with the wrong contact');
DROP TRIGGER other_id ON contacts_noseq;
DELETE FROM contacts_binding;

/*
 * 8b. The binding's columns: an identity field bound to a column that is
 * not text is refused by name; a value longer than a varchar(n) column
 * holds skips its row, reported, instead of failing the whole commit.
 */
CREATE TABLE public.contacts_typed (id bigserial PRIMARY KEY, user_id bigint NOT NULL,
	first_name varchar(5), last_name text, email text, postcode integer);
INSERT INTO contacts_binding (table_name, phone, mobile, streetaddress, city, state, country)
	VALUES ('contacts_typed', NULL, NULL, NULL, NULL, NULL, NULL);
SELECT throws_ok($$SELECT activepipe_import_preview(1203, E'email\na@x.com\n')$$, '42804',
	'activepipe contacts binding: column postcode (postcode) is of type integer, not text',
	'an import with an identity field bound to an integer column: 42804, naming it');
INSERT INTO contacts_typed (id, user_id, first_name, email, postcode) VALUES (100000, 1203, 'Typ', 'typ@x.com', 2000);
SELECT is(activepipe_card(1203, 100000) -> 'fields' ->> 'postcode', '2000',
	'... which a card (reading it as text) still shows');
SELECT alike(activepipe_export(1203, ARRAY[100000]::bigint[]), '%Typ,,typ@x.com,%,2000,%',
	'... and an export still writes');
UPDATE contacts_binding SET postcode = NULL;
SELECT results_eq($$SELECT line, action, reason_code, field, reason FROM activepipe_import_plan(1203,
		E'email,firstname\nlong@x.com,Alexandra\nshort@x.com,Alex\n')$$,
	$$VALUES (2, 'skip', 'too_long', 'firstname', 'firstname is too long for its column'),
	         (3, 'new', NULL, NULL, NULL)$$,
	'a value longer than its varchar(5) column: the row is skipped, naming the field');
SELECT is(activepipe_import_commit(1203, E'email,firstname\nlong@x.com,Alexandra\nshort@x.com,Alex\n') - 'event_id' - 'rows'
	- 'encoding' - 'overwrite' - 'ignored_columns' - 'ignored_columns_total' - 'rows_omitted',
	'{"new": 1, "matched": 0, "skipped": 1, "updated": 0, "conflicts": 0, "unchanged": 0, "total_rows": 2}'::jsonb,
	'... and the commit stores the other row');
DELETE FROM contacts_binding;

/*
 * 10. A contact deleted while the commit runs (here: by a trigger when the
 * commit starts its report, after it read the tenant) is reported as
 * skipped, "contact deleted", and is never given a profile again.
 */
INSERT INTO contacts (id, user_id, first_name, email, mobile) VALUES
	(120401, 1204, 'Gone', 'gone@x.com', NULL),
	(120402, 1204, 'Stays', 'stays@x.com', NULL);
INSERT INTO contact_integrations (user_id, contact_id, payload_json) VALUES (1204, 120401, '{"status": "old"}');
CREATE FUNCTION pg_temp.vanish() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.user_id = 1204 THEN
		DELETE FROM public.contact_integrations WHERE user_id = 1204 AND contact_id = 120401;
		DELETE FROM public.contacts WHERE user_id = 1204 AND id = 120401;
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER vanish AFTER INSERT ON import_history FOR EACH ROW EXECUTE FUNCTION pg_temp.vanish();
CREATE TEMP TABLE vanish_run AS SELECT activepipe_import_commit(1204,
	E'email,mobile,status\ngone@x.com,0412 700 001,new\nstays@x.com,,new\ngone@x.com,,newer\n') AS s;
DROP TRIGGER vanish ON import_history;
SELECT is((SELECT s - 'rows' - 'event_id' - 'encoding' - 'ignored_columns' - 'ignored_columns_total' - 'overwrite' FROM vanish_run),
	'{"new": 0, "matched": 1, "skipped": 2, "updated": 1, "conflicts": 0, "unchanged": 0, "total_rows": 3, "rows_omitted": 0}'::jsonb,
	'the rows of the deleted contact count as skipped');
SELECT is((SELECT jsonb_agg(x ->> 'line' || ':' || (x ->> 'reason_code') || ':' || (x ->> 'reason')) FROM vanish_run, jsonb_array_elements(s -> 'rows') x),
	'["2:contact_deleted:contact deleted", "4:contact_deleted:contact deleted"]'::jsonb,
	'... listed with reason "contact deleted"');
SELECT results_eq(
	$$SELECT line, action, reason_code FROM activepipe_import_report(1204, (SELECT (s ->> 'event_id')::bigint FROM vanish_run)) ORDER BY line$$,
	$$VALUES (2, 'skip', 'contact_deleted'), (3, 'update', NULL), (4, 'skip', 'contact_deleted')$$,
	'... and so in the kept report');
SELECT is((SELECT count(*)::int FROM contact_integrations WHERE user_id = 1204 AND contact_id = 120401), 0,
	'the deleted contact gets no new profile');
SELECT is((SELECT payload_json ->> 'status' FROM contact_integrations WHERE user_id = 1204 AND contact_id = 120402), 'new',
	'the other contact is written');

/*
 * 1. The summary's rows are bounded: the first 1000 conflicts and skips,
 * and how many were left out; the plan and the report have them all.
 */
CREATE TEMP TABLE keyless AS SELECT E'email,firstname\n' || string_agg(',x' || g, E'\n') || E'\n' AS csv
	FROM generate_series(1, 2500) g;
CREATE TEMP TABLE keyless_run AS SELECT activepipe_import_preview(1205, csv) AS p,
	activepipe_import_commit(1205, csv) AS c FROM keyless;
SELECT is((SELECT jsonb_array_length(p -> 'rows') || ' ' || (p ->> 'rows_omitted') || ' ' || (p ->> 'skipped') FROM keyless_run),
	'1000 1500 2500', 'preview of 2,500 keyless rows: 1000 rows shown, 1500 left out, 2500 skipped');
SELECT is((SELECT (p -> 'rows' -> 0 ->> 'line') || '-' || (p -> 'rows' -> 999 ->> 'line') FROM keyless_run),
	'2-1001', 'the rows shown are the first, in file order');
SELECT is((SELECT jsonb_array_length(c -> 'rows') || ' ' || (c ->> 'rows_omitted') FROM keyless_run),
	'1000 1500', 'the commit''s summary is bounded alike');
SELECT is((SELECT count(*)::int FROM keyless, activepipe_import_plan(1205, csv)), 2500, 'the plan lists every row');
SELECT is((SELECT count(*)::int FROM activepipe_import_report(1205, (SELECT (c ->> 'event_id')::bigint FROM keyless_run))),
	2500, 'the kept report lists every row');
SELECT is((SELECT summary ? 'rows' FROM integration_events WHERE id = (SELECT (c ->> 'event_id')::bigint FROM keyless_run)),
	false, 'the event keeps counts, not rows');

/* 6 (statement): the export's tid stamp is pinned to the contact it read */
SELECT matches((SELECT statement FROM activepipe_statements() WHERE name = 'exported_at_tid'),
	'ci\.ctid OPERATOR\(pg_catalog\.=\) u\.t .*ci\.contact_id OPERATOR\(pg_catalog\.=\) u\.id',
	'exported_at_tid pairs each tid with its contact id');

SELECT * FROM finish();
ROLLBACK;
