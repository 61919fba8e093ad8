#!/usr/bin/env bash
# make demo: the ActivePipe bridge end to end on a throwaway cluster.
#
#   1. install the built extension, start a throwaway PostgreSQL cluster;
#   2. load the reference Ulysses schema and a small sample tenant
#      (test/fixtures/ulysses_schema.sql, test/fixtures/demo_tenant.sql);
#   3. the ActivePipe card: read, save, and two refused calls;
#   4. a real export of all of user 1's contacts to demo-out/*.csv;
#   5. the match indexes, as a DBA creates them;
#   6. an import of test/fixtures/activepipe_sample.csv: preview, plan,
#      commit, its kept report and the result file to download, re-import
#      preview, and an undo that puts every contact back;
#   7. the event log, and proof that user 2's contacts were not touched.
#
# Works as root (the cluster then runs as the postgres OS user) or as a
# user with sudo (for make install).  Files land in demo-out/.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
out=demo-out
sample=test/fixtures/activepipe_sample.csv

if [ -t 1 ]; then B=$'\033[1m' D=$'\033[2m' N=$'\033[0m'; else B= D= N=; fi
step() { printf '\n%s== %s%s\n' "$B" "$*" "$N"; }
note() { printf '%s%s%s\n' "$D" "$*" "$N"; }
# psql: no psqlrc, quiet, stop on error, compact tables
q() { psql -X -q -v ON_ERROR_STOP=1 -P footer=off -P null='' "$@"; }
# a call that is meant to fail: show the server's words, indented
refused() {
	local msg
	if msg=$(psql -X -q -v ON_ERROR_STOP=1 -c "$1" 2>&1 >/dev/null); then
		echo "   (unexpectedly succeeded)"; return 1
	fi
	sed -e 's/^/   /' <<<"$msg"
}

rm -rf "$out"
mkdir -p "$out"

step "Install the extension and start a throwaway cluster"
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO make -s install >"$out/install.log" 2>&1 || { cat "$out/install.log"; exit 1; }
echo "   installed into $(pg_config --pkglibdir) and $(pg_config --sharedir)/extension"
eval "$(bash scripts/cluster.sh start)"
trap 'bash scripts/cluster.sh stop "$AP_CLUSTER_DIR"' EXIT
echo "   cluster: $AP_CLUSTER_DIR (socket), port $PGPORT"
createdb apdemo
export PGDATABASE=apdemo

step "Reference Ulysses schema, CREATE EXTENSION activepipe, sample tenant"
q -f test/fixtures/ulysses_schema.sql
q -c "CREATE EXTENSION activepipe"
q -f test/fixtures/demo_tenant.sql >"$out/tenant.log"
q <<'SQL'
SELECT extversion AS activepipe FROM pg_extension WHERE extname = 'activepipe';
SELECT u.id AS user_id, u.email AS "user",
	(SELECT count(*) FROM contacts c WHERE c.user_id = u.id) AS contacts,
	(SELECT count(*) FROM contact_integrations ci WHERE ci.user_id = u.id) AS activepipe_profiles
FROM users u ORDER BY u.id;
SQL
# user 2's contacts as they are now, to compare at the end
q -At -c "SELECT md5(string_agg(c::text || '/' || c.xmin, '|' ORDER BY id)) FROM contacts c WHERE user_id = 2" >"$out/.user2_before"

step "The ActivePipe card (activepipe_card): a contact with a profile"
q <<'SQL'
\set olivia '(SELECT id FROM contacts WHERE user_id = 1 AND email = ''olivia.nguyen@example.com'')'
SELECT card->'contact_id' AS contact_id, card->'has_profile' AS has_profile,
	card->>'last_exported_at' AS last_exported_at, card->'warnings' AS warnings
FROM activepipe_card(1, :olivia) card;
SELECT k.header AS field, k.kind, f.value #>> '{}' AS value
FROM activepipe_card(1, :olivia) card,
	jsonb_each(card->'fields') f
	JOIN activepipe_contract() k ON k.header = f.key
WHERE f.value <> 'null' ORDER BY k.ordinal;
SQL
note "   (all 36 contract keys are in \"fields\"; the nulls are left out above)"

step "Save a card (activepipe_card_save) on a contact that had no profile"
q <<'SQL'
\set charlotte '(SELECT id FROM contacts WHERE user_id = 1 AND email = ''charlotte.brown@example.com'')'
SELECT (activepipe_card(1, :charlotte))->'has_profile' AS has_profile_before;
\echo '   fields: {"status": "subscribed", "minbeds": " 2 ", "maxprice": "$850,000", "minprice": "900000", "tags": "Renter; renter ; Newtown"}'
SELECT k.header AS field, f.value AS saved_as_json
FROM activepipe_card_save(1, :charlotte, '{"status": "subscribed", "minbeds": " 2 ",
		"maxprice": "$850,000", "minprice": "900000", "tags": "Renter; renter ; Newtown"}') card,
	jsonb_each(card->'fields') f
	JOIN activepipe_contract() k ON k.header = f.key
WHERE f.value <> 'null' AND k.kind <> 'identity' ORDER BY k.ordinal;
SELECT card->'has_profile' AS has_profile_after, card->'warnings' AS warnings
FROM activepipe_card(1, :charlotte) card;
SQL
olivia=$(q -At -c "SELECT id FROM contacts WHERE user_id = 1 AND email = 'olivia.nguyen@example.com'")
echo "   refused: an identity field, which belongs to the contact:"
refused "SELECT activepipe_card_save(1, $olivia, '{\"email\": \"x@example.com\"}')"
echo "   refused: user 2 reading user 1's contact $olivia (reads like a missing id):"
refused "SELECT activepipe_card(2, $olivia)"

step "Export all of user 1's contacts (\"all contacts matching the current filter\")"
ids="ARRAY(SELECT id FROM contacts WHERE user_id = 1)"
echo "   contact_ids: $ids"
q -c "SELECT s.* FROM jsonb_to_record(activepipe_export_summary(1, $ids))
	AS s(requested int, exportable int, not_found int, cap int, within_cap bool)"
# psql -At ends the value with one newline of its own: drop it
psql -X -At -v ON_ERROR_STOP=1 \
	-c "SELECT activepipe_export(1, $ids, 'user1_contacts.csv')" | head -c -1 >"$out/user1_contacts.csv"
# the DBA path: the same rows as a set, through \copy
q -c "\\copy (SELECT * FROM activepipe_export_rows(1, $ids)) TO '$out/user1_contacts_copy.csv' CSV HEADER"
csvfile=$root/$out/user1_contacts.csv
printf '   %s: %s bytes, %s lines (header + %s contacts), CRLF line ends\n' \
	"$csvfile" "$(wc -c <"$out/user1_contacts.csv")" "$(wc -l <"$out/user1_contacts.csv")" \
	"$(( $(wc -l <"$out/user1_contacts.csv") - 1 ))"
if tr -d '\r' <"$out/user1_contacts.csv" | cmp -s - "$out/user1_contacts_copy.csv"; then
	echo "   $root/$out/user1_contacts_copy.csv (\\copy of activepipe_export_rows): identical apart from line ends"
else
	echo "   $out/user1_contacts_copy.csv DIFFERS from $out/user1_contacts.csv"; exit 1
fi
echo "   first lines of the file:"
head -n 3 "$out/user1_contacts.csv" | tr -d '\r' | cut -c 1-110 | sed -e 's/^/   | /' -e 's/$/ .../'
echo "   the file read back with \\copy ... CSV HEADER (a few of its 36 columns):"
q <<SQL
SELECT format('CREATE TEMP TABLE exported (%s)',
	string_agg(quote_ident(header) || ' text', ', ' ORDER BY ordinal))
FROM activepipe_contract() \\gexec
\\copy exported FROM '$out/user1_contacts.csv' CSV HEADER
SELECT firstname, lastname, email, phone, mobile, streetaddress, status, minbeds, maxprice, tags
FROM exported;
SQL
note "   (mobile: the contact's mobile, else its phone when that is a mobile number: \"prefer mobile then phone\")"

step "Match indexes: activepipe_match_indexes() writes the DDL, the DBA runs it"
q -At -c "SELECT * FROM activepipe_match_indexes()" >"$out/match_indexes.sql"
sed -e 's/^/   /' "$out/match_indexes.sql"
while read -r ddl; do q -c "$ddl"; done <"$out/match_indexes.sql"
q -c "ANALYZE public.contacts"
note "   (in psql: SELECT * FROM activepipe_match_indexes() \\gexec, then ANALYZE the table; a small import then reads only"
note "    the contacts that share a key with the file, through these indexes)"
q -At -c "SELECT md5(string_agg(c::text, '|' ORDER BY c.id)) || md5(coalesce((SELECT string_agg(ci::text, '|' ORDER BY ci.id) FROM contact_integrations ci WHERE ci.user_id = 1), '')) FROM contacts c WHERE c.user_id = 1" >"$out/.user1_before"

step "Import $sample: preview (writes nothing)"
# the file travels as bytes (hex), as an upload would; the server never
# reads the repository, which may be unreadable to the postgres OS user
hex=$(od -An -v -tx1 "$sample" | tr -d ' \n')
echo "   $root/$sample: $(wc -c <"$sample") bytes, $(wc -l <"$sample") lines"
q -v hex="$hex" <<'SQL'
SELECT s.total_rows, s.matched, s.new, s.updated, s.unchanged, s.conflicts, s.skipped,
	s.encoding, s.overwrite
FROM jsonb_to_record(activepipe_import_preview(1, decode(:'hex', 'hex'))) AS s(
	total_rows int, matched int, new int, updated int, unchanged int,
	conflicts int, skipped int, encoding text, overwrite bool);
SQL

step "Import plan (activepipe_import_plan): one row per line of the file"
q -v hex="$hex" <<'SQL'
SELECT p.line, p.action, p.contact_id, p.matched_by, p.reason
FROM activepipe_import_plan(1, convert_from(decode(:'hex', 'hex'), 'UTF8')) p;
SQL
echo "   a conflict names both values, the file's and the stored one:"
q -v hex="$hex" -At <<'SQL' | sed -e 's/^/   /'
SELECT p.line || ': ' || p.conflicts::text
FROM activepipe_import_plan(1, convert_from(decode(:'hex', 'hex'), 'UTF8')) p
WHERE p.conflicts IS NOT NULL;
SQL

step "Import commit (activepipe_import_commit, fill blanks only)"
q -v hex="$hex" -At <<'SQL' >"$out/import_summary.json"
SELECT jsonb_pretty(activepipe_import_commit(1, decode(:'hex', 'hex'), false, 'activepipe_sample.csv'));
SQL
q -v hex="$hex" <<'SQL'
\set summary `cat demo-out/import_summary.json`
SELECT s.event_id, s.total_rows, s.matched, s.new, s.updated, s.unchanged, s.conflicts, s.skipped
FROM jsonb_to_record(:'summary') AS s(event_id bigint, total_rows int, matched int, new int,
	updated int, unchanged int, conflicts int, skipped int);
SELECT r.line, r.action, r.contact_id, r.matched_by, r.reason
FROM jsonb_to_recordset((:'summary')::jsonb->'rows')
	AS r(line int, action text, contact_id bigint, matched_by text, reason text);
SQL
echo "   full summary: $root/$out/import_summary.json"
event=$(q -At -c "SELECT max(id) FROM integration_events WHERE user_id = 1 AND event_type = 'import'")

step "The import's kept report (activepipe_import_report) and its result file"
q -c "SELECT line, action, contact_id, reason_code, field, changes FROM activepipe_import_report(1, $event) WHERE action <> 'unchanged' LIMIT 6"
psql -X -At -v ON_ERROR_STOP=1 -c "SELECT activepipe_import_report_csv(1, $event)" | head -c -1 >"$out/import_report.csv"
echo "   the result file to download: $root/$out/import_report.csv"
echo "   (outcome columns, then the cells as uploaded for conflicts and skips, to fix and upload again)"
grep -E '^[0-9]+,(conflict|skip),' "$out/import_report.csv" | tr -d '\r' | cut -c 1-110 | sed -e 's/^/   | /' -e 's/$/ .../'
echo "   user 1's contacts now (new ones at the end; blanks filled, conflicting names kept):"
q <<'SQL'
SELECT c.id, c.first_name, c.last_name, c.email, c.phone, c.mobile, c.street_address, c.city,
	ci.payload_json->'tags' AS tags, ci.last_imported_at IS NOT NULL AS imported
FROM contacts c
LEFT JOIN contact_integrations ci ON ci.user_id = c.user_id AND ci.contact_id = c.id
WHERE c.user_id = 1 ORDER BY c.id;
SQL

step "Import the same file again: preview shows nothing left to do"
q -v hex="$hex" <<'SQL'
SELECT s.total_rows, s.matched, s.new, s.updated, s.unchanged, s.conflicts, s.skipped
FROM jsonb_to_record(activepipe_import_preview(1, decode(:'hex', 'hex'))) AS s(
	total_rows int, matched int, new int, updated int, unchanged int, conflicts int, skipped int);
SQL
note "   (the two conflicts stay conflicts until someone resolves them on the contact)"

step "Undo the import (activepipe_import_undo): preview, then undo"
q -c "SELECT s.status, s.restored, s.deleted, s.conflicts FROM jsonb_to_record(activepipe_import_undo_preview(1, $event)) AS s(status text, restored int, deleted int, conflicts int)"
q -c "SELECT s.status, s.restored, s.deleted, s.conflicts, s.event_id AS undo_event FROM jsonb_to_record(activepipe_import_undo(1, $event)) AS s(status text, restored int, deleted int, conflicts int, event_id bigint)"
after1=$(q -At -c "SELECT md5(string_agg(c::text, '|' ORDER BY c.id)) || md5(coalesce((SELECT string_agg(ci::text, '|' ORDER BY ci.id) FROM contact_integrations ci WHERE ci.user_id = 1), '')) FROM contacts c WHERE c.user_id = 1")
if [ "$after1" = "$(cat "$out/.user1_before")" ]; then
	echo "   user 1's contacts and profiles are back to before the import, byte for byte"
else
	echo "   user 1's contacts DIFFER from before the import"; exit 1
fi
rm -f "$out/.user1_before"
q -c "SELECT s.status, s.undone_by FROM jsonb_to_record(activepipe_import_undo(1, $event)) AS s(status text, undone_by bigint)"
note "   (a second undo changes nothing and says so)"

step "Event log (integration_events)"
q <<'SQL'
SELECT id, user_id, event_type, filename, total_rows, new_count, updated_count,
	conflict_count, skipped_count, to_char(created_at, 'HH24:MI:SS') AS at
FROM integration_events ORDER BY id;
SQL

step "User 2 (another agency, sharing an email and a mobile with user 1)"
q <<'SQL'
SELECT id, first_name, last_name, email, phone, mobile, city FROM contacts WHERE user_id = 2 ORDER BY id;
SELECT count(*) AS user2_profiles, (SELECT count(*) FROM integration_events WHERE user_id = 2) AS user2_events
FROM contact_integrations WHERE user_id = 2;
SQL
after=$(q -At -c "SELECT md5(string_agg(c::text || '/' || c.xmin, '|' ORDER BY id)) FROM contacts c WHERE user_id = 2")
if [ "$after" = "$(cat "$out/.user2_before")" ]; then
	echo "   user 2's contacts are untouched: same rows, same xmin as before the demo"
else
	echo "   user 2's contacts CHANGED"; exit 1
fi
rm -f "$out/.user2_before"

step "Files"
ls -l "$out" | sed -e 1d -e 's/^/   /'
echo
echo "Done. The cluster is stopped and removed on exit; demo-out/ stays."
