#!/usr/bin/env bash
# Export files (issues 3 and 4): the document is byte-exact against the
# fixtures test/fixtures/export_header.csv and export_sample.csv (RFC 4180,
# CRLF, UTF-8); \copy (SELECT * FROM activepipe_export_rows(...)) TO ...
# CSV HEADER gives the same bytes apart from line ends; a bulk export of
# a whole filtered tenant (more rows than one fetch batch) is complete,
# ascending, stamped and logged.
set -uo pipefail
cd "$(dirname "$0")/../.."
. test/scripts/lib/tap.sh

plan 22
suffix=$$
db=ap_export_csv_$suffix
tmp=$(mktemp -d)
trap 'dropdb_quiet "$db"; rm -rf "$tmp"' EXIT

# export DB SQL-EXPR FILE: the exact bytes of a text value into FILE
fetch() { q "$1" "SELECT encode(convert_to($2, 'UTF8'), 'base64')" | base64 -d > "$3"; }

newdb "$db"
ok $? "createdb $db"
{ cat test/fixtures/ulysses_schema.sql; cat <<'SQL'; } | run "$db"
CREATE EXTENSION activepipe;
INSERT INTO users (id, email) VALUES (1, 'agent1@example.com'), (2, 'agent2@example.com'),
	(3, 'bulk@example.com'), (4, 'other@example.com');
INSERT INTO contacts (id, user_id, first_name, last_name, email, phone, mobile,
	street_address, city, state, postcode, country) VALUES
	(101, 1, 'Ann', 'Lee', 'ann@example.com', '0412 345 678', NULL,
	 '1 George St', 'Sydney', 'NSW', '2000', 'Australia'),
	(102, 1, 'Bob, Jr', 'O"Brien', 'bob@example.com', '(02) 9876 5432', '',
	 E'Unit 4\n22 Pitt St', 'Sydney', NULL, NULL, NULL),
	(103, 1, 'Cat', 'Ho', 'cat@example.com', '0412 000 111', '0400 111 222', NULL, 'Perth', 'WA', NULL, NULL),
	(105, 1, 'Zoë', 'Müller', NULL, '+64 21 123 4567', NULL, NULL, 'Köln', NULL, NULL, 'Germany'),
	(201, 2, 'Ann', 'Lee', 'ann@example.com', '0412 345 678', NULL, NULL, NULL, NULL, NULL, NULL);
SELECT activepipe_card_save(1, 101, $${"status": "active", "source": "Said \"hi\"",
	"locations": "Bondi, Coogee", "minbeds": "3", "maxbaths": "2.5",
	"minprice": "$1,250,000", "maxprice": "1 250 000", "tags": "Beach;pool"}$$);
-- a bulk tenant: 2,600 contacts (more than one fetch batch), interleaved
-- with another tenant's ids, a third of them in Perth
INSERT INTO contacts (id, user_id, first_name, last_name, email, phone, city)
	SELECT 10000 + g, CASE WHEN g % 5 = 0 THEN 4 ELSE 3 END,
		'C' || lpad(g::text, 5, '0'), 'Last, ' || g, 'c' || g || '@example.com',
		'04' || lpad((g * 7919 % 100000000)::text, 8, '0'),
		CASE WHEN g % 3 = 0 THEN 'Perth' ELSE 'Sydney' END
	FROM generate_series(1, 3250) g;
SELECT activepipe_card_save(3, 10001, '{"tags": "vip; \"quoted\"", "minprice": "1 000 000"}');
SQL
ok $? "schema, extension and sample tenants loaded"

# 1. byte-exact fixtures
fetch "$db" "activepipe_export(1, ARRAY[]::bigint[])" "$tmp/empty.csv"
cmp "$tmp/empty.csv" test/fixtures/export_header.csv >/dev/null
ok $? "empty export = test/fixtures/export_header.csv, byte for byte"
fetch "$db" "activepipe_export(1, ARRAY[105, 103, 102, 101, 101])" "$tmp/sample.csv"
cmp "$tmp/sample.csv" test/fixtures/export_sample.csv
ok $? "sample export = test/fixtures/export_sample.csv, byte for byte"
diag "$(diff <(cat -A "$tmp/sample.csv") <(cat -A test/fixtures/export_sample.csv) | head -20)"
head -c "$(stat -c %s test/fixtures/export_header.csv)" "$tmp/sample.csv" | cmp - test/fixtures/export_header.csv >/dev/null
ok $? "the sample export starts with the fixture header"
iconv -f UTF-8 -t UTF-8 "$tmp/sample.csv" >/dev/null 2>&1
ok $? "the export is valid UTF-8"
is "$(grep -c $'\r$' "$tmp/sample.csv") $(wc -l < "$tmp/sample.csv")" "5 6" \
	"every record ends with CRLF; the one bare LF is inside a quoted cell"
python3 - "$tmp/sample.csv" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline='', encoding='utf-8')))
assert len(rows) == 5 and all(len(r) == 36 for r in rows), [len(r) for r in rows]
assert rows[2][:2] == ['Bob, Jr', 'O"Brien'] and rows[2][5] == 'Unit 4\n22 Pitt St', rows[2]
PY
ok $? "a standard CSV reader reads 5 records of 36 fields, quotes and newline intact"

# 2. \copy of export_rows: the same bytes apart from line ends
"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$db" \
	-c "\\copy (SELECT * FROM activepipe_export_rows(1, ARRAY[105, 103, 102, 101])) TO '$tmp/rows.csv' CSV HEADER" 2>"$tmp/copy.err"
ok $? "\\copy (SELECT * FROM activepipe_export_rows(...)) TO file CSV HEADER"
diag "$(cat "$tmp/copy.err")"
sed 's/\r$//' test/fixtures/export_sample.csv | cmp - "$tmp/rows.csv"
ok $? "the \\copy file equals the export document apart from line ends"

# 3. bulk: the app passes ARRAY(SELECT id FROM contacts WHERE user_id = $1 AND <filter>)
bulk_ids="ARRAY(SELECT id FROM contacts WHERE user_id = 3 ORDER BY random())"
n_bulk=$(q "$db" "SELECT count(*) FROM contacts WHERE user_id = 3")
is "$n_bulk" "2600" "the bulk tenant has 2600 contacts"
events_before=$(q "$db" "SELECT count(*) FROM integration_events WHERE user_id = 3")
fetch "$db" "activepipe_export(3, $bulk_ids, 'all.csv')" "$tmp/bulk.csv"
is "$(grep -c $'\r$' "$tmp/bulk.csv")" "$((n_bulk + 1))" "bulk export: header + one record per contact"
tail -n +2 "$tmp/bulk.csv" | cut -d, -f1 > "$tmp/bulk_first.txt"
sort -c "$tmp/bulk_first.txt" 2>/dev/null && [ "$(sort -u "$tmp/bulk_first.txt" | wc -l)" -eq "$n_bulk" ]
ok $? "bulk export: rows in ascending contact id, each contact once, whatever the array order"
is "$(q "$db" "SELECT count(*) FROM contact_integrations WHERE user_id = 3 AND last_exported_at IS NOT NULL")" "$n_bulk" \
	"bulk export: last_exported_at set for every exported contact"
is "$(q "$db" "SELECT count(*) FROM contact_integrations WHERE user_id = 4")" "0" "bulk export: the interleaved tenant is untouched"
is "$(q "$db" "SELECT (count(*) - $events_before) || ' ' || max(total_rows) || ' ' || max(filename) FROM integration_events WHERE user_id = 3")" \
	"1 $n_bulk all.csv" "bulk export: exactly one event, total_rows = $n_bulk"
grep -q '^C00001,"Last, 1",c1@example.com,.*,1000000,,,,,,,,,"vip;""quoted"""'$'\r''$' "$tmp/bulk.csv"
ok $? "bulk export: a profile's fields appear in its row"
"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$db" \
	-c "\\copy (SELECT * FROM activepipe_export_rows(3, $bulk_ids)) TO '$tmp/bulk_rows.csv' CSV HEADER" 2>/dev/null
sed 's/\r$//' "$tmp/bulk.csv" | cmp - "$tmp/bulk_rows.csv" >/dev/null
ok $? "bulk: \\copy of export_rows equals the export document apart from line ends"
n_perth=$(q "$db" "SELECT count(*) FROM contacts WHERE user_id = 3 AND city = 'Perth'")
fetch "$db" "activepipe_export(3, ARRAY(SELECT id FROM contacts WHERE user_id = 3 AND city = 'Perth'))" "$tmp/perth.csv"
is "$(tail -n +2 "$tmp/perth.csv" | grep -c ',Perth,')/$(($(wc -l < "$tmp/perth.csv") - 1))" "$n_perth/$n_perth" \
	"a filtered export holds exactly the filter's contacts ($n_perth in Perth)"

# 4. the cap, on a bulk request
err=$(sqlerr "$db" "SET activepipe.export_cap = 2000; SELECT activepipe_export(3, $bulk_ids)")
like "$err" '^54000: ' "2600 contacts over a cap of 2000: error 54000 ($err)"
hint=$("$PGBIN/psql" -X -q -d "$db" -c "SET activepipe.export_cap = 2000" -c "SELECT activepipe_export(3, $bulk_ids)" 2>&1 | grep '^HINT:')
like "$hint" 'activepipe\.export_cap' "the hint names activepipe.export_cap"
is "$(q "$db" "SELECT count(*) FROM integration_events WHERE user_id = 3")" "$((events_before + 3))" \
	"the refused export logged no event (3 successful exports, 3 events)"

done_testing
