--
-- activepipe CSV export (issues 3 and 4): the document, export_rows,
-- export_summary, the cap, cross-tenant errors and the event log.
-- Self-contained: creates the extension and the reference Ulysses tables
-- (test/fixtures/regress_setup.sql) and drops them at the end; any
-- left over from an earlier file are dropped first, quietly.
-- CR is shown as the two characters \r so the CRLF line ends are visible.
--
\i test/fixtures/regress_setup.sql

INSERT INTO users (id, email) VALUES (1, 'agent1@example.com'), (2, 'agent2@example.com');
INSERT INTO contacts (id, user_id, first_name, last_name, email, phone, mobile,
	street_address, city, state, postcode, country) VALUES
	(101, 1, 'Ann', 'Lee', 'ann@example.com', '0412 345 678', NULL,
	 '1 George St', 'Sydney', 'NSW', '2000', 'Australia'),
	(102, 1, 'Bob, Jr', 'O"Brien', 'bob@example.com', '(02) 9876 5432', '',
	 E'Unit 4\n22 Pitt St', 'Sydney', NULL, NULL, NULL),
	(103, 1, 'Cat', 'Ho', 'cat@example.com', '0412 000 111', '0400 111 222', NULL, 'Perth', 'WA', NULL, NULL),
	(104, 1, '=HYPERLINK("x")', '-Eve', '@eve', '+61 412 345 678', NULL, NULL, NULL, NULL, NULL, NULL),
	(105, 1, 'Zoë', 'Müller', NULL, '+64 21 123 4567', NULL, NULL, 'Köln', NULL, NULL, 'Germany'),
	(201, 2, 'Ann', 'Lee', 'ann@example.com', '0412 345 678', NULL, NULL, NULL, NULL, NULL, NULL);
SELECT activepipe_card_save(1, 101, $${"status": "active", "source": "Said \"hi\"",
	"locations": "Bondi, Coogee", "minbeds": "3", "maxbaths": "2.5",
	"minprice": "$1,250,000", "maxprice": "1 250 000", "tags": "Beach;pool"}$$) IS NOT NULL AS saved;
SELECT activepipe_card_save(1, 104, '{"status": "=1+1", "source": "+12", "category": "-"}') IS NOT NULL AS saved;

\pset format unaligned
\pset tuples_only on

-- the 8B call: one contact (the app's export.csv route)
SELECT replace(activepipe_export(1, ARRAY[101]), E'\r', '\r');
-- ids out of order and duplicated: ascending id, each once; quoting of
-- commas, quotes and newlines; mobile falls back to a mobile-number phone
SELECT replace(activepipe_export(1, ARRAY[105, 103, 102, 101, 102], 'bulk.csv'), E'\r', '\r');
-- empty array: the header only
SELECT replace(activepipe_export(1, ARRAY[]::bigint[], 'empty.csv'), E'\r', '\r');
-- escape_formulas off (default) and on
SELECT replace(activepipe_export(1, ARRAY[104]), E'\r', '\r');
SELECT replace(activepipe_export(1, ARRAY[104], 'sheet.csv', true), E'\r', '\r');

\pset format aligned
\pset tuples_only off

-- the same rows as a set (for \copy ... CSV HEADER)
SELECT firstname, lastname, phone, mobile, city, country, status, minprice, maxprice, tags
	FROM activepipe_export_rows(1, ARRAY[105, 104, 103, 102, 101]);

-- the pre-export summary writes nothing
SELECT activepipe_export_summary(1, ARRAY[101, 102, 201, 999]);
SET activepipe.export_cap = 2;
SELECT activepipe_export_summary(1, ARRAY[101, 102, 103]);

-- over the cap: refused, nothing written
SELECT activepipe_export(1, ARRAY[101, 102, 103]);
SELECT count(*) FROM activepipe_export_rows(1, ARRAY[101, 102, 103]);
RESET activepipe.export_cap;

-- another tenant's id reads like a nonexistent one
SELECT activepipe_export(1, ARRAY[101, 201]);
SELECT activepipe_export(1, ARRAY[101, 999]);
SELECT activepipe_export(2, ARRAY[101]);
SELECT count(*) FROM activepipe_export_rows(2, ARRAY[101]);

-- every successful export logged one event; the failed ones none
SELECT user_id, integration_key, event_type, filename, total_rows, new_count,
	updated_count, conflict_count, skipped_count
	FROM integration_events ORDER BY id;
-- last_exported_at for every exported contact (and only those)
SELECT c.id, ci.last_exported_at IS NOT NULL AS exported
	FROM contacts c LEFT JOIN contact_integrations ci ON ci.contact_id = c.id
	ORDER BY c.id;

DROP EXTENSION activepipe;
DROP TABLE contacts, users;
