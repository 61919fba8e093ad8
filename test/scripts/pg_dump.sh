#!/usr/bin/env bash
# pg_dump / pg_restore keep the extension's rows (issue 2): tables and
# sequences registered with pg_extension_config_dump come back with their
# rows, the restored copy works, and its sequences continue past the
# dumped ids.  Both plain SQL (pg_dump | psql) and custom format
# (pg_dump -Fc | pg_restore).
set -uo pipefail
cd "$(dirname "$0")/../.."
. test/scripts/lib/tap.sh

plan 25
suffix=$$
src=ap_dump_src_$suffix
plain=ap_dump_plain_$suffix
custom=ap_dump_custom_$suffix
tmp=$(mktemp -d)
trap 'dropdb_quiet "$src"; dropdb_quiet "$plain"; dropdb_quiet "$custom"; rm -rf "$tmp"' EXIT

# 1. a source database: reference schema, extension, profiles, events, binding
newdb "$src"
ok $? "createdb $src"
{ cat test/fixtures/ulysses_schema.sql; cat <<'SQL'; } | run "$src"
CREATE EXTENSION activepipe;
INSERT INTO users (id, email) VALUES (1, 'agent1@example.com'), (2, 'agent2@example.com');
INSERT INTO contacts (id, user_id, first_name, last_name, email, phone, mobile, city, country) VALUES
	(11, 1, 'Ann', 'Lee', 'ann@example.com', '0412 345 678', NULL, 'Sydney', 'Australia'),
	(12, 1, 'Bob, Jr', 'O"Brien', 'bob@example.com', NULL, '0400 111 222', E'Line 1\nLine 2', NULL),
	(13, 1, 'Cat', 'Ho', NULL, NULL, NULL, NULL, NULL),
	(21, 2, 'Ann', 'Lee', 'ann@example.com', NULL, NULL, 'Perth', NULL);
SELECT setval('contacts_id_seq', 100);
-- country lives in the payload: the binding row must survive the dump too
INSERT INTO contacts_binding (country) VALUES (NULL);
SELECT activepipe_card_save(1, 11, '{"status": "active", "country": "Australia", "minprice": "$1,250,000", "tags": "Beach;pool"}');
SELECT activepipe_card_save(1, 12, '{"buyertype": "Investor", "locations": "Bondi, Coogee"}');
SELECT activepipe_card_save(2, 21, '{"status": "lead"}');
SELECT activepipe_export(1, ARRAY[11, 12, 13], 'first.csv');
SELECT activepipe_export(2, ARRAY[21]);
SELECT activepipe_export(1, ARRAY[11], 'second.csv');
INSERT INTO contact_integrations (user_id, contact_id, integration_key, payload_json, external_id)
	VALUES (1, 11, 'otherapp', '{"score": 3}', 'x-11');
SQL
ok $? "source: schema, extension and rows loaded"

counts="SELECT (SELECT count(*) FROM contact_integrations) || ' ' || (SELECT count(*) FROM integration_events) || ' ' || (SELECT count(*) FROM contacts_binding)"
rows_ci="SELECT md5(string_agg(format('%s|%s|%s|%s|%s|%s|%s|%s|%s|%s', id, user_id, contact_id, integration_key, external_id, payload_json, last_exported_at, last_imported_at, created_at, updated_at), E'\n' ORDER BY id)) FROM contact_integrations"
rows_ev="SELECT md5(string_agg(format('%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s', id, user_id, integration_key, event_type, filename, total_rows, new_count, updated_count, conflict_count, skipped_count, summary, created_at), E'\n' ORDER BY id)) FROM integration_events"
rows_bind="SELECT md5(string_agg(b::text, E'\n')) FROM contacts_binding b"
card="SELECT activepipe_card(1, 11)::text"

# export_rows writes (an event, last_exported_at): run it before the snapshot
src_rows=$(q "$src" "SELECT string_agg(r::text, E'\n') FROM activepipe_export_rows(1, ARRAY[11, 12, 13]) r")
src_counts=$(q "$src" "$counts")
is "$src_counts" "5 4 1" "source: 5 profile rows (one created by export, one of another integration), 4 events, 1 binding row"
src_ci=$(q "$src" "$rows_ci")
src_ev=$(q "$src" "$rows_ev")
src_bind=$(q "$src" "$rows_bind")
src_card=$(q "$src" "$card")
src_max_ci=$(q "$src" "SELECT max(id) FROM contact_integrations")
src_max_ev=$(q "$src" "SELECT max(id) FROM integration_events")
is "$(q "$src" "SELECT activepipe_card(1, 11)->'fields'->>'country'")" "Australia" "source: the card reads country from the payload (binding row)"

# 2. pg_dump | psql
newdb "$plain"
ok $? "createdb $plain"
"$PGBIN/pg_dump" "$src" > "$tmp/plain.sql" 2>"$tmp/plain_dump.err"
ok $? "pg_dump (plain SQL)"
diag "$(cat "$tmp/plain_dump.err")"
grep -q 'pg_catalog.setval(.public.contact_integrations_id_seq.' "$tmp/plain.sql" \
	&& grep -q 'pg_catalog.setval(.public.integration_events_id_seq.' "$tmp/plain.sql"
ok $? "the dump sets both extension sequences"
"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$plain" -f "$tmp/plain.sql" >/dev/null 2>"$tmp/plain_restore.err"
ok $? "pg_dump | psql into a new database, without error"
diag "$(cat "$tmp/plain_restore.err")"

# 3. pg_dump -Fc | pg_restore
newdb "$custom"
ok $? "createdb $custom"
"$PGBIN/pg_dump" -Fc "$src" > "$tmp/custom.dump" 2>"$tmp/custom_dump.err"
ok $? "pg_dump -Fc"
"$PGBIN/pg_restore" --exit-on-error -d "$custom" "$tmp/custom.dump" 2>"$tmp/custom_restore.err"
ok $? "pg_restore into a new database, without error"
diag "$(cat "$tmp/custom_restore.err")"

# 4. both copies hold the same rows and work
for db in "$plain" "$custom"; do
	how=$([ "$db" = "$plain" ] && echo "pg_dump | psql" || echo "pg_restore")
	is "$(q "$db" "$counts")" "$src_counts" "$how: same row counts in contact_integrations, integration_events, contacts_binding"
	is "$(q "$db" "$rows_ci")|$(q "$db" "$rows_ev")|$(q "$db" "$rows_bind")" "$src_ci|$src_ev|$src_bind" \
		"$how: every extension row is identical, timestamps included"
	is "$(q "$db" "$card")" "$src_card" "$how: activepipe_card works and gives the same card"
	is "$(q "$db" "SELECT string_agg(r::text, E'\n') FROM activepipe_export_rows(1, ARRAY[11, 12, 13]) r")" "$src_rows" \
		"$how: the export gives the same rows"
	new_ci=$(q "$db" "INSERT INTO contacts (id, user_id, first_name) VALUES (14, 1, 'New');
		SELECT activepipe_card_save(1, 14, '{\"status\": \"new\"}') IS NOT NULL;
		SELECT id FROM contact_integrations WHERE contact_id = 14" | tail -1)
	[ -n "$new_ci" ] && [ "$new_ci" -gt "$src_max_ci" ] 2>/dev/null
	ok $? "$how: a new card_save row gets id $new_ci, above the dumped maximum $src_max_ci (the sequence continues)"
	q "$db" "SELECT activepipe_export(1, ARRAY[11])" >/dev/null
	new_ev=$(q "$db" "SELECT max(id) FROM integration_events")
	[ -n "$new_ev" ] && [ "$new_ev" -gt "$src_max_ev" ] 2>/dev/null
	ok $? "$how: a new export event gets id $new_ev, above the dumped maximum $src_max_ev"
	is "$(q "$db" "SELECT extversion || ' ' || (SELECT count(*) FROM pg_extension WHERE extname = 'activepipe') FROM pg_extension WHERE extname = 'activepipe'")" \
		"$(q "$src" "SELECT extversion FROM pg_extension WHERE extname = 'activepipe'") 1" "$how: one activepipe extension, same version"
done

done_testing
