#!/usr/bin/env bash
# Extension upgrades: CREATE EXTENSION activepipe VERSION '1.0' or '1.1'
# then ALTER EXTENSION activepipe UPDATE gives exactly the objects of a
# fresh CREATE EXTENSION activepipe (tables, columns with types and
# defaults, indexes, constraints, sequences, functions and their
# definitions, privileges, pg_dump registration), keeps the old data and
# the roles' grants, and every update path works.  Until the update runs,
# the installed (newer) library refuses the old objects with a clear error.
set -uo pipefail
cd "$(dirname "$0")/../.."
. test/scripts/lib/tap.sh

plan 32
suffix=$$
up=ap_upgrade_up_$suffix
up10=ap_upgrade_up10_$suffix
fresh=ap_upgrade_fresh_$suffix
old=ap_upgrade_old_$suffix
tmp=$(mktemp -d)
cleanup() {
	dropdb_quiet "$up"; dropdb_quiet "$up10"; dropdb_quiet "$fresh"; dropdb_quiet "$old"
	for db in $(q postgres "SELECT datname FROM pg_database WHERE datname LIKE 'ap_upgrade_path_${suffix}_%'" 2>/dev/null); do
		dropdb_quiet "$db"
	done
	q postgres "DROP ROLE IF EXISTS ap_upgrade_app_$suffix" >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT

default_version=$(sed -n "s/^default_version[[:space:]]*=[[:space:]]*'\([^']*\)'.*/\1/p" activepipe.control)
catalog() { "$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -d "$1" -f test/scripts/lib/ext_catalog.sql; }
app=ap_upgrade_app_$suffix
q postgres "CREATE ROLE $app NOLOGIN" >/dev/null

# 1. install 1.1 (the previous release), with data written as 1.1 wrote it
#    and the grants of 1.1's documentation
newdb "$up"
ok $? "createdb $up"
run "$up" < test/fixtures/ulysses_schema.sql
"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$up" -c "CREATE EXTENSION activepipe VERSION '1.1'" >/dev/null 2>"$tmp/create11.err"
ok $? "CREATE EXTENSION activepipe VERSION '1.1'"
diag "$(cat "$tmp/create11.err")"
is "$(q "$up" "SELECT extversion FROM pg_extension WHERE extname = 'activepipe'")" "1.1" "the installed version is 1.1"
run "$up" <<SQL
INSERT INTO users (id, email) VALUES (1, 'agent@example.com');
INSERT INTO contacts (id, user_id, first_name, last_name, email, phone)
	VALUES (11, 1, 'Ann', 'Lee', 'ann@example.com', '0412 345 678'), (12, 1, 'Bob', 'Ng', 'bob@example.com', NULL);
SELECT setval('contacts_id_seq', 100);
INSERT INTO contact_integrations (user_id, contact_id, payload_json)
	VALUES (1, 11, '{"status": "active", "minprice": 500000, "tags": ["a", "b"]}');
INSERT INTO integration_events (user_id, event_type, total_rows) VALUES (1, 'export', 2), (1, 'import', 5);
GRANT SELECT, INSERT, UPDATE ON contact_integrations TO $app;
GRANT SELECT, INSERT ON integration_events TO $app;
GRANT EXECUTE ON FUNCTION activepipe_phone_key(text, text), activepipe_import_plan(bigint, text, boolean),
	activepipe_import_commit(bigint, text, boolean, text), activepipe_export(bigint, bigint[], text, boolean) TO $app;
SQL
ok $? "1.1: rows and grants as 1.1 made them"
rows11=$(q "$up" "SELECT string_agg(format('%s/%s/%s/%s', id, contact_id, integration_key, payload_json), ' ' ORDER BY id) FROM contact_integrations")
events11=$(q "$up" "SELECT string_agg(format('%s/%s/%s', id, event_type, total_rows), ' ' ORDER BY id) FROM integration_events")

# 2. the newer library refuses the 1.1 objects plainly, and says what to do
err=$(sqlerr "$up" "SELECT activepipe_card(1, 11)")
like "$err" "^55000: the activepipe library is version $default_version but the extension's objects in this database are older" \
	"before the update, a call says the objects are older than the library (55000)"
like "$("$PGBIN/psql" -X -q -d "$up" -c "SELECT activepipe_export(1, ARRAY[11])" 2>&1)" "HINT:  Run ALTER EXTENSION activepipe UPDATE" \
	"... with a hint naming ALTER EXTENSION activepipe UPDATE"

# 3. update to the default version
"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$up" -c "ALTER EXTENSION activepipe UPDATE" >/dev/null 2>"$tmp/update.err"
ok $? "ALTER EXTENSION activepipe UPDATE (1.1 -> $default_version)"
diag "$(cat "$tmp/update.err")"
is "$(q "$up" "SELECT extversion FROM pg_extension WHERE extname = 'activepipe'")" "$default_version" \
	"the updated version is the control file's default_version ($default_version)"
is "$(q "$up" "SELECT string_agg(format('%s/%s/%s/%s', id, contact_id, integration_key, payload_json), ' ' ORDER BY id) FROM contact_integrations")" \
	"$rows11" "the update keeps the 1.1 profiles, ids included"
is "$(q "$up" "SELECT string_agg(format('%s/%s/%s', id, event_type, total_rows), ' ' ORDER BY id) FROM integration_events")" \
	"$events11" "the update keeps the 1.1 events, ids included"
q "$up" "SELECT activepipe_card_save(1, 12, '{\"status\": \"new\"}')" >/dev/null
is "$(q "$up" "SELECT string_agg(id::text, ',' ORDER BY id) FROM contact_integrations")" \
	"1,2" "after the update a new profile row gets the next id of the same sequence"
q "$up" "SELECT activepipe_export(1, ARRAY[11, 12])" >/dev/null
is "$(q "$up" "SELECT max(id) || ' ' || count(*) FROM integration_events")" "3 3" \
	"after the update an export logs its event with the next event id"

# 4. the grants of the roles that used 1.1 carry over to what replaced or joined it
is "$(q "$up" "SELECT string_agg(p::text || '=' || has_function_privilege('$app', p, 'EXECUTE'), ' ' ORDER BY p::text) FROM unnest(ARRAY['activepipe_phone_key(text)', 'activepipe_phone_key(text,text)', 'activepipe_import_plan(bigint,text,boolean)', 'activepipe_import_report(bigint,bigint)', 'activepipe_import_undo(bigint,bigint)', 'activepipe_export_report(bigint,bigint)', 'activepipe_statements()', 'activepipe_match_indexes(text)']::regprocedure[]) p")" \
	"activepipe_export_report(bigint,bigint)=true activepipe_import_plan(bigint,text,boolean)=true activepipe_import_report(bigint,bigint)=true activepipe_import_undo(bigint,bigint)=true activepipe_match_indexes(text)=false activepipe_phone_key(text)=true activepipe_phone_key(text,text)=true activepipe_statements()=false" \
	"a role's EXECUTE on the replaced phone key and plan carries over; committers can report and undo, exporters read export reports; DBA functions stay ungranted"
is "$(q "$up" "SELECT string_agg(t || '=' || has_table_privilege('$app', t, 'SELECT,INSERT'), ' ' ORDER BY t) FROM unnest(ARRAY['tenant_locks', 'import_history', 'import_rows', 'import_contacts', 'export_contacts']) t")" \
	"export_contacts=true import_contacts=true import_history=true import_rows=true tenant_locks=true" \
	"roles that could write profiles and events can take the tenant lock and keep reports"

# 5. a fresh install of the default version, and 1.0 updated, have the same objects
newdb "$fresh"
"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$fresh" -c "CREATE EXTENSION activepipe" >/dev/null 2>"$tmp/fresh.err"
ok $? "CREATE EXTENSION activepipe (fresh)"
newdb "$up10"
"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$up10" -c "CREATE EXTENSION activepipe VERSION '1.0'" -c "ALTER EXTENSION activepipe UPDATE" >/dev/null 2>"$tmp/up10.err"
ok $? "CREATE EXTENSION activepipe VERSION '1.0', then ALTER EXTENSION activepipe UPDATE"
# the role's grants are compared above; the catalogs below compare objects
for db in "$up" "$fresh" "$up10"; do
	q "$db" "REVOKE ALL ON ALL TABLES IN SCHEMA public FROM $app; REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM $app; REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM $app" >/dev/null
done
catalog "$up" > "$tmp/upgraded.txt"
catalog "$fresh" > "$tmp/fresh.txt"
catalog "$up10" > "$tmp/upgraded10.txt"
test -s "$tmp/fresh.txt" && grep -q '^function CREATE OR REPLACE FUNCTION public.activepipe_card(' "$tmp/fresh.txt" \
	&& grep -q '^index CREATE INDEX contact_integrations_external_idx' "$tmp/fresh.txt" \
	&& grep -q '^extconfig import_rows' "$tmp/fresh.txt" \
	&& grep -q '^column integration_events #1 id bigint' "$tmp/fresh.txt"
ok $? "the catalog dump lists functions, indexes, pg_dump registration and columns"
diff -u "$tmp/fresh.txt" "$tmp/upgraded.txt" > "$tmp/diff.txt"
ok $? "an updated 1.1 and a fresh $default_version have identical objects (catalog dump)"
diag "$(head -60 "$tmp/diff.txt")"
diff -u "$tmp/fresh.txt" "$tmp/upgraded10.txt" > "$tmp/diff10.txt"
ok $? "an updated 1.0 and a fresh $default_version have identical objects (catalog dump)"
diag "$(head -60 "$tmp/diff10.txt")"
newdb "$old"
"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$old" -c "CREATE EXTENSION activepipe VERSION '1.1'" >/dev/null
catalog "$old" > "$tmp/v11.txt"
! diff -q "$tmp/v11.txt" "$tmp/fresh.txt" >/dev/null
ok $? "the catalog dump does tell 1.1 from $default_version (the comparison can fail)"
for kind in relation column index constraint sequence function extconfig; do
	[ "$(grep -c "^$kind " "$tmp/fresh.txt")" = "$(grep -c "^$kind " "$tmp/upgraded.txt")" ] || break
done
ok $? "same number of relations, columns, indexes, constraints, sequences, functions, config entries"
is "$(q "$up" "SELECT count(*) FROM pg_proc WHERE proname LIKE 'ap_upgrade%'")" "0" \
	"the update's helper and the renamed 1.1 functions are gone"

# 6. every update path from 1.0 and from 1.1
n=0
walked=0
for source in 1.0 1.1; do
	paths=$(q "$old" "SELECT target || '=' || path FROM pg_extension_update_paths('activepipe') WHERE source = '$source' AND path IS NOT NULL ORDER BY target")
	diag "update paths from $source: $(echo $paths)"
	like "$paths" "(^|[[:space:]])$default_version=$source--" "there is an update path from $source to the default version $default_version"
	for target in $(q "$old" "SELECT target FROM pg_extension_update_paths('activepipe') WHERE source = '$source' AND path IS NOT NULL ORDER BY target"); do
		n=$((n + 1))
		db=ap_upgrade_path_${suffix}_$n
		newdb "$db" || break
		"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$db" >/dev/null 2>"$tmp/path.err" <<SQL || { diag "$(cat "$tmp/path.err")"; break; }
CREATE EXTENSION activepipe VERSION '$source';
ALTER EXTENSION activepipe UPDATE TO '$target';
SQL
		[ "$(q "$db" "SELECT extversion FROM pg_extension WHERE extname = 'activepipe'")" = "$target" ] || break
		walked=$((walked + 1))
		dropdb_quiet "$db"
	done
done
is "$walked" "$n" "every update path from 1.0 and 1.1 runs ($walked of $n)"
[ "$n" -ge 3 ]
ok $? "at least three update paths were walked (1.0->1.1, 1.0->$default_version, 1.1->$default_version)"
unreachable=$(q "$old" "SELECT string_agg(version, ', ') FROM pg_available_extension_versions v WHERE name = 'activepipe' AND version NOT IN ('1.0', '1.1') AND NOT EXISTS (SELECT 1 FROM pg_extension_update_paths('activepipe') p WHERE p.source = '1.1' AND p.target = v.version AND p.path IS NOT NULL)")
is "$unreachable" "" "every newer available version is reachable from 1.1"

# 7. an application view on the 1.1 plan function makes the update fail
#    whole, as the release notes say (drop it first, recreate it after)
db=ap_upgrade_path_${suffix}_view
newdb "$db"
"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$db" -c "CREATE EXTENSION activepipe VERSION '1.1'" \
	-c "CREATE VIEW plan_view AS SELECT * FROM activepipe_import_plan(1, 'email'::text)" >/dev/null 2>&1
like "$(sqlerr "$db" "ALTER EXTENSION activepipe UPDATE")" "^2BP01" \
	"a view on activepipe_import_plan blocks the update with 2BP01 (dependent objects)"
is "$(q "$db" "SELECT extversion FROM pg_extension WHERE extname = 'activepipe'")" "1.1" "... and nothing of it is left half done"

# 8. downgrade is not offered, and the update is idempotent
is "$(q "$up" "SELECT count(*) FROM pg_extension_update_paths('activepipe') WHERE source = '$default_version' AND target IN ('1.0', '1.1') AND path IS NOT NULL")" "0" \
	"no path leads back from $default_version"
"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$up" -c "ALTER EXTENSION activepipe UPDATE" >/dev/null 2>&1
ok $? "a second ALTER EXTENSION activepipe UPDATE is a harmless no-op"
catalog "$up" | diff -q - "$tmp/upgraded.txt" >/dev/null
ok $? "the no-op update changes nothing"

done_testing
