#!/usr/bin/env bash
# Extension upgrade (issue 4): CREATE EXTENSION activepipe VERSION '1.0'
# then ALTER EXTENSION activepipe UPDATE gives exactly the objects of a
# fresh CREATE EXTENSION activepipe (tables, columns with types and
# defaults, indexes, constraints, sequences, functions and their
# definitions, privileges, pg_dump registration), keeps 1.0 data, and
# every update path from 1.0 works.
set -uo pipefail
cd "$(dirname "$0")/../.."
. test/scripts/lib/tap.sh

plan 25
suffix=$$
up=ap_upgrade_up_$suffix
fresh=ap_upgrade_fresh_$suffix
old=ap_upgrade_old_$suffix
tmp=$(mktemp -d)
cleanup() {
	dropdb_quiet "$up"; dropdb_quiet "$fresh"; dropdb_quiet "$old"
	for db in $(q postgres "SELECT datname FROM pg_database WHERE datname LIKE 'ap_upgrade_path_${suffix}_%'" 2>/dev/null); do
		dropdb_quiet "$db"
	done
	rm -rf "$tmp"
}
trap cleanup EXIT

default_version=$(sed -n "s/^default_version[[:space:]]*=[[:space:]]*'\([^']*\)'.*/\1/p" activepipe.control)
catalog() { "$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -d "$1" -f test/scripts/lib/ext_catalog.sql; }

# 1. install 1.0 and give it some data
newdb "$up"
ok $? "createdb $up"
run "$up" < test/fixtures/ulysses_schema.sql
"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$up" -c "CREATE EXTENSION activepipe VERSION '1.0'" >/dev/null 2>"$tmp/create10.err"
ok $? "CREATE EXTENSION activepipe VERSION '1.0'"
diag "$(cat "$tmp/create10.err")"
is "$(q "$up" "SELECT extversion FROM pg_extension WHERE extname = 'activepipe'")" "1.0" "the installed version is 1.0"
is "$(q "$up" "SELECT to_regclass('public.integration_events') IS NULL AND to_regprocedure('public.activepipe_export(bigint,bigint[])') IS NOT NULL AND to_regprocedure('public.activepipe_export_rows(bigint,bigint[])') IS NULL")" \
	"t" "1.0 has the 8B objects only (two-argument export, no event log, no export_rows)"
run "$up" <<'SQL'
INSERT INTO users (id, email) VALUES (1, 'agent@example.com');
INSERT INTO contacts (id, user_id, first_name, last_name, email, phone)
	VALUES (11, 1, 'Ann', 'Lee', 'ann@example.com', '0412 345 678'), (12, 1, 'Bob', 'Ng', 'bob@example.com', NULL);
SELECT activepipe_card_save(1, 11, '{"status": "active", "minprice": "$500,000", "tags": "a;b"}');
SQL
ok $? "1.0: card_save works"
doc10=$(q "$up" "SELECT md5(activepipe_export(1, ARRAY[11, 12]))")
isnt "$doc10" "" "1.0: the two-argument export works"
catalog "$up" > "$tmp/v10.txt"
rows10=$(q "$up" "SELECT string_agg(format('%s/%s/%s/%s', contact_id, integration_key, payload_json, last_exported_at IS NOT NULL), ' ' ORDER BY id) FROM contact_integrations")

# 2. update to the default version
"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$up" -c "ALTER EXTENSION activepipe UPDATE" >/dev/null 2>"$tmp/update.err"
ok $? "ALTER EXTENSION activepipe UPDATE"
diag "$(cat "$tmp/update.err")"
is "$(q "$up" "SELECT extversion FROM pg_extension WHERE extname = 'activepipe'")" "$default_version" \
	"the updated version is the control file's default_version ($default_version)"
is "$(q "$up" "SELECT string_agg(format('%s/%s/%s/%s', contact_id, integration_key, payload_json, last_exported_at IS NOT NULL), ' ' ORDER BY id) FROM contact_integrations")" \
	"$rows10" "the update keeps the 1.0 contact_integrations rows"
is "$(q "$up" "SELECT md5(activepipe_export(1, ARRAY[11, 12]))")" "$doc10" \
	"after the update the two-argument export gives the same document"
is "$(q "$up" "SELECT count(*) || ' ' || max(total_rows) FROM integration_events WHERE event_type = 'export'")" "1 2" \
	"after the update an export logs its event"

# 3. a fresh install of the default version
newdb "$fresh"
"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$fresh" -c "CREATE EXTENSION activepipe" >/dev/null 2>"$tmp/fresh.err"
ok $? "CREATE EXTENSION activepipe (fresh)"
catalog "$up" > "$tmp/upgraded.txt"
catalog "$fresh" > "$tmp/fresh.txt"
test -s "$tmp/fresh.txt" && grep -q '^function CREATE OR REPLACE FUNCTION public.activepipe_card(' "$tmp/fresh.txt" \
	&& grep -q '^index CREATE INDEX contact_integrations_external_idx' "$tmp/fresh.txt" \
	&& grep -q '^extconfig integration_events_id_seq' "$tmp/fresh.txt" \
	&& grep -q '^column integration_events #1 id bigint' "$tmp/fresh.txt"
ok $? "the catalog dump lists functions, indexes, pg_dump registration and columns"
diff -u "$tmp/fresh.txt" "$tmp/upgraded.txt" > "$tmp/diff.txt"
ok $? "an upgraded 1.0 and a fresh $default_version have identical objects (catalog dump)"
diag "$(head -60 "$tmp/diff.txt")"
! diff -q "$tmp/v10.txt" "$tmp/fresh.txt" >/dev/null
ok $? "the catalog dump does tell 1.0 from $default_version (the comparison can fail)"
for kind in relation column index constraint sequence function extconfig; do
	[ "$(grep -c "^$kind " "$tmp/fresh.txt")" = "$(grep -c "^$kind " "$tmp/upgraded.txt")" ] || break
done
ok $? "same number of relations, columns, indexes, constraints, sequences, functions, config entries"

# 4. sequences of the upgraded database keep counting
is "$(q "$up" "SELECT (activepipe_card_save(1, 12, '{\"status\": \"new\"}') IS NOT NULL)::text || (SELECT count(DISTINCT id) = count(*) FROM contact_integrations)::text")" \
	"truetrue" "after the update a new profile row gets a fresh id"

# 5. every update path from 1.0
newdb "$old"
"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$old" -c "CREATE EXTENSION activepipe VERSION '1.0'" >/dev/null
ok $? "a scratch 1.0 install to ask for update paths"
paths=$(q "$old" "SELECT target || '=' || path FROM pg_extension_update_paths('activepipe') WHERE source = '1.0' AND path IS NOT NULL ORDER BY target")
diag "update paths from 1.0: $(echo $paths)"
like "$paths" "(^|[[:space:]])$default_version=1\.0--" "there is an update path from 1.0 to the default version $default_version"
unreachable=$(q "$old" "SELECT string_agg(version, ', ') FROM pg_available_extension_versions v WHERE name = 'activepipe' AND version <> '1.0' AND NOT EXISTS (SELECT 1 FROM pg_extension_update_paths('activepipe') p WHERE p.source = '1.0' AND p.target = v.version AND p.path IS NOT NULL)")
is "$unreachable" "" "every available version is reachable from 1.0"
n=0
walked=0
for target in $(q "$old" "SELECT target FROM pg_extension_update_paths('activepipe') WHERE source = '1.0' AND path IS NOT NULL ORDER BY target"); do
	n=$((n + 1))
	db=ap_upgrade_path_${suffix}_$n
	newdb "$db" || break
	"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$db" >/dev/null 2>"$tmp/path.err" <<SQL || { diag "$(cat "$tmp/path.err")"; break; }
CREATE EXTENSION activepipe VERSION '1.0';
ALTER EXTENSION activepipe UPDATE TO '$target';
SQL
	[ "$(q "$db" "SELECT extversion FROM pg_extension WHERE extname = 'activepipe'")" = "$target" ] || break
	walked=$((walked + 1))
	dropdb_quiet "$db"
done
is "$walked" "$n" "every update path from 1.0 runs: 1.0 -> each target ($walked of $n)"
[ "$n" -gt 0 ]
ok $? "at least one update path was walked"

# 6. downgrade is not offered, and the update is idempotent
is "$(q "$up" "SELECT count(*) FROM pg_extension_update_paths('activepipe') WHERE source = '$default_version' AND target = '1.0' AND path IS NOT NULL")" "0" \
	"no path leads back from $default_version to 1.0"
"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$up" -c "ALTER EXTENSION activepipe UPDATE" >/dev/null 2>&1
ok $? "a second ALTER EXTENSION activepipe UPDATE is a harmless no-op"
catalog "$up" | diff -q - "$tmp/upgraded.txt" >/dev/null
ok $? "the no-op update changes nothing"

done_testing
