#!/usr/bin/env bash
# Faults: nothing lost, nothing half-done.
#
#  1. pg_cancel_backend about 0.5 s into a 100,000-row import commit, and
#     statement_timeout at several points of one: the statement fails with
#     57014, the tenant's contacts and integration rows are byte-for-byte
#     as before (checksums), no event is logged, and the next commit works.
#  2. A cell that is slow to normalise (20,000 distinct tags) still honours
#     statement_timeout promptly.
#  3. 8 sessions committing overlapping files for one tenant at the same
#     instant end with no duplicate contacts and the same contacts and
#     profiles as the same files committed one after another.
#  4. 8 sessions committing for 8 different tenants at the same instant
#     never wait on the tenant lock (pg_locks is sampled throughout);
#     the wall times of 1 and of 8 parallel commits are printed.
#
#   bash test/scripts/faults.sh             (PG* set to a running cluster)
#   FAULT_ROWS=100000 FAULT_SESSIONS=8 FAULT_OVERLAP_ROWS=5000
#   FAULT_TENANT_ROWS=20000 bash test/scripts/faults.sh   (the defaults;
#   raise them for a longer run)
set -u
cd "$(dirname "$0")/../.." || exit 1
. test/scripts/reliability_lib.bash

DB=ap_faults
ROWS=${FAULT_ROWS:-100000}
SESSIONS=${FAULT_SESSIONS:-8}
OVERLAP_ROWS=${FAULT_OVERLAP_ROWS:-5000}
TENANT_ROWS=${FAULT_TENANT_ROWS:-20000}
SEED_ROWS=$((ROWS / 5))
work=$(mktemp -d "${TMPDIR:-/tmp}/ap-faults.XXXXXX")
cleanup() {
	jobs -p | xargs -r kill 2>/dev/null
	wait 2>/dev/null
	rm -rf "$work"
	dropdb --if-exists "$DB" >/dev/null 2>&1
}
trap cleanup EXIT

crash_mark
new_db "$DB" || { ok 1 "set up database $DB"; done_testing; exit 1; }

# Files are built in SQL and kept in reltest.files, so a 100,000-row
# upload costs no client round trip.
psql -X -q -v ON_ERROR_STOP=1 -d "$DB" >/dev/null 2>"$work/setup.err" <<SQL
INSERT INTO users (id) SELECT g FROM generate_series(201, 230) g;
INSERT INTO users (id) SELECT g FROM generate_series(301, 320) g;
CREATE TABLE reltest.files (name text PRIMARY KEY, body text NOT NULL);
-- the tenant's existing contacts and profiles
INSERT INTO reltest.files SELECT 'seed',
	'email,firstname,lastname,mobile,status,tags,minprice' || E'\n' ||
	string_agg(format('p%s@example.com,F%s,L%s,04%s,seed,s%s;v,%s',
					  g, g, g, lpad(g::text, 8, '0'), g % 5, g * 100), E'\n' ORDER BY g)
	FROM generate_series(1, $SEED_ROWS) g;
-- the big commit: updates half the seed and adds the rest
INSERT INTO reltest.files SELECT 'big',
	'email,firstname,lastname,mobile,status,tags,minprice' || E'\n' ||
	string_agg(format('p%s@example.com,F%s,L%s,04%s,active,t%s;u,%s',
					  g, g, g, lpad(g::text, 8, '0'), g % 7, g * 1000), E'\n' ORDER BY g)
	FROM generate_series($SEED_ROWS / 2 + 1, $SEED_ROWS / 2 + $ROWS) g;
-- one row whose tags cell holds 20,000 distinct tags
INSERT INTO reltest.files SELECT 'tags',
	'email,tags' || E'\n' || 'tags@example.com,' ||
	string_agg('tag' || g, ';' ORDER BY g) FROM generate_series(1, 20000) g;
-- overlapping windows of one population: row n is the same in every file
-- (every tenth is keyed by mobile only), so any commit order gives one
-- final state
INSERT INTO reltest.files SELECT 'ov' || i,
	'email,firstname,lastname,mobile,status,tags' || E'\n' ||
	string_agg(CASE WHEN n % 10 = 0
		THEN format(',C%s,K%s,04%s,st%s,a%s', n, n, lpad(n::text, 8, '0'), n % 5, n % 3)
		ELSE format('c%s@example.com,C%s,K%s,04%s,st%s,a%s', n, n, n, lpad(n::text, 8, '0'), n % 5, n % 3)
	END, E'\n' ORDER BY n)
	FROM generate_series(1, $SESSIONS) i,
		 generate_series((i - 1) * ($OVERLAP_ROWS / 4) + 1, (i - 1) * ($OVERLAP_ROWS / 4) + $OVERLAP_ROWS) n
	GROUP BY i;
-- what every one of the different tenants imports: they share all emails
INSERT INTO reltest.files SELECT 'mt',
	'email,firstname,mobile,status' || E'\n' ||
	string_agg(format('m%s@example.com,M%s,04%s,s%s', g, g, lpad(g::text, 8, '0'), g % 4), E'\n' ORDER BY g)
	FROM generate_series(1, $TENANT_ROWS) g;
CREATE FUNCTION reltest.file(n text) RETURNS text LANGUAGE sql STABLE AS
	\$\$ SELECT body FROM reltest.files WHERE name = n \$\$;

-- Sample pg_locks until the sessions named like app have come and gone:
-- how many of them were seen at once, and how many lock waits (on the
-- tenant lock, a row of tenant_locks, or other) were observed over all
-- samples.  A session waiting for the tenant lock holds or awaits a tuple
-- lock on tenant_locks while it waits.
CREATE FUNCTION reltest.watch(app text, max_seconds float8,
	OUT samples int, OUT max_sessions int, OUT tenant_waits int, OUT other_waits int,
	OUT other_types text)
LANGUAGE plpgsql AS \$\$
DECLARE
	t0 timestamptz := clock_timestamp();
	n int;
	a int;
	o int;
	ty text[];
	types text[] := '{}';
	seen boolean := false;
BEGIN
	samples := 0; max_sessions := 0; tenant_waits := 0; other_waits := 0;
	LOOP
		PERFORM pg_stat_clear_snapshot();
		SELECT count(*) INTO n FROM pg_stat_activity WHERE application_name LIKE app;
		seen := seen OR n > 0;
		max_sessions := greatest(max_sessions, n);
		SELECT count(*) FILTER (WHERE w.on_tenant),
			   count(*) FILTER (WHERE NOT w.on_tenant),
			   array_agg(DISTINCT w.locktype) FILTER (WHERE NOT w.on_tenant)
		  INTO a, o, ty
		  FROM (SELECT l.locktype, EXISTS (SELECT 1 FROM pg_locks t
					WHERE t.pid = l.pid AND t.locktype = 'tuple'
					  AND t.relation = 'public.tenant_locks'::regclass) AS on_tenant
				  FROM pg_locks l JOIN pg_stat_activity s ON s.pid = l.pid
				 WHERE NOT l.granted AND s.application_name LIKE app) w;
		tenant_waits := tenant_waits + a;
		other_waits := other_waits + o;
		SELECT array_agg(DISTINCT x) INTO types FROM unnest(types || ty) x WHERE x IS NOT NULL;
		samples := samples + 1;
		EXIT WHEN (seen AND n = 0)
			OR clock_timestamp() - t0 > max_seconds * interval '1 second';
		PERFORM pg_sleep(0.005);
	END LOOP;
	other_types := coalesce(array_to_string(types, ','), '-');
END \$\$;
SQL
ok $? "set up tenants and files" || true
[ -s "$work/setup.err" ] && diag "$(cat "$work/setup.err")"

state() { q "$DB" "SELECT reltest.tenant_state($1)"; }
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

# Seed the fault tenants through the extension itself: contacts, profiles
# and an event each.
for t in 211 212 213 214 215; do
	q "$DB" "SELECT activepipe_import_commit($t, reltest.file('seed'), false, 'seed.csv') ->> 'total_rows'" >/dev/null ||
		diag "seeding tenant $t failed"
done
q "$DB" "SELECT count(*) FROM contacts WHERE user_id = 211" | grep -qx "$SEED_ROWS"
ok $? "tenant 211 seeded with $SEED_ROWS contacts through an import commit"

# ---- 1. cancel in the middle of the commit ------------------------------
before=$(state 211)
start=$(date +%s%N)
PGAPPNAME=ap_fault_cancel psql -X -q -At -d "$DB" \
	-c "SELECT activepipe_import_commit(211, reltest.file('big'), false, 'big.csv') ->> 'total_rows'" \
	>"$work/cancel.out" 2>"$work/cancel.err" &
bg=$!
pid=
for _ in $(seq 1 200); do
	pid=$(q "$DB" "SELECT pid FROM pg_stat_activity WHERE application_name = 'ap_fault_cancel' AND state = 'active' AND query LIKE '%import_commit%'")
	[ -n "$pid" ] && break
	sleep 0.05
done
sleep 0.5
cancelled=$(q "$DB" "SELECT pg_cancel_backend($pid)" 2>/dev/null)
wait "$bg"
diag "cancel sent $(ms_since "$start") ms after the commit started (backend $pid)"
if grep -q 'canceling statement due to user request' "$work/cancel.err"; then
	ok 0 "pg_cancel_backend 0.5 s into a $ROWS-row commit cancels it"
else
	ok 1 "pg_cancel_backend 0.5 s into a $ROWS-row commit cancels it"
	diag "cancel returned '$cancelled'; commit printed '$(cat "$work/cancel.out")' $(head -c 300 "$work/cancel.err")"
fi
after=$(state 211)
is "$after" "$before" "after the cancel: contacts, integration rows and event count as before"
q "$DB" "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'" | grep -qx 0
ok $? "after the cancel: no advisory lock left held"

# ---- statement_timeout at several points of the same commit ------------
# How long the whole commit takes here, rolled back.
start=$(date +%s%N)
q "$DB" "BEGIN; SELECT activepipe_import_commit(212, reltest.file('big')) IS NOT NULL; ROLLBACK" >/dev/null
full=$(ms_since "$start")
diag "the $ROWS-row commit takes $full ms here"
t=211
for pct in 5 25 50 75; do
	t=$((t + 1))	# a tenant of its own each: 212..215
	timeout_ms=$((full * pct / 100))
	[ "$timeout_ms" -ge 10 ] || timeout_ms=10
	before=$(state $t)
	psql -X -q -At -d "$DB" >"$work/to.out" 2>"$work/to.err" <<SQL
SET statement_timeout = $timeout_ms;
SELECT activepipe_import_commit($t, reltest.file('big'), false, 'big.csv') ->> 'total_rows';
SQL
	after=$(state $t)
	if grep -q 'canceling statement due to statement timeout' "$work/to.err"; then
		[ "$after" = "$before" ]
		ok $? "statement_timeout ${timeout_ms} ms (${pct}% of the commit): rolled back, contacts, integration rows and events unchanged"
	else
		ok 0 "statement_timeout ${timeout_ms} ms (${pct}% of the commit) # SKIP the commit finished first ($(cat "$work/to.out"))"
	fi
done

# ---- the next commit works ----------------------------------------------
ev=$(q "$DB" "SELECT reltest.events_count(211)")
res=$(q "$DB" "SELECT (s ->> 'total_rows') || ' ' || (s ->> 'new') FROM activepipe_import_commit(211, reltest.file('big'), false, 'big.csv') s" 2>&1)
is "$res" "$ROWS $((ROWS - SEED_ROWS / 2))" "after the cancel the same commit succeeds (total_rows, new)"
is "$(q "$DB" "SELECT reltest.events_count(211)")" "$((ev + 1))" "it logs exactly one event"
is "$(q "$DB" "SELECT count(*) FROM contacts WHERE user_id = 211")" "$((SEED_ROWS / 2 + ROWS))" "the tenant has every contact once"

# ---- 2. a slow cell honours statement_timeout ---------------------------
start=$(date +%s%N)
psql -X -q -At -d "$DB" >"$work/tags.out" 2>"$work/tags.err" <<SQL
SET statement_timeout = 500;
SELECT activepipe_import_preview(216, reltest.file('tags')) ->> 'total_rows';
SQL
took=$(ms_since "$start")
diag "preview of one 20,000-tag cell with statement_timeout 500 ms returned after $took ms: $(cat "$work/tags.out" "$work/tags.err" | head -c 200)"
[ "$took" -lt 2500 ]
ok $? "a 20,000-distinct-tag cell: the preview ends (or is cancelled) within 2.5 s under statement_timeout 500 ms"

# ---- 3. 8 sessions, one tenant, overlapping files ------------------------
for i in $(seq 1 "$SESSIONS"); do
	q "$DB" "SELECT activepipe_import_commit(221, reltest.file('ov$i')) ->> 'new'" >>"$work/serial.new" ||
		diag "serial commit ov$i failed"
done
serial_values=$(q "$DB" "SELECT reltest.values_md5(221)")
serial_count=$(q "$DB" "SELECT count(*) FROM contacts WHERE user_id = 221")

# run_parallel TENANT_OF_I FILE_OF_I APP: SESSIONS psql sessions start their
# commit at the same instant (pg_sleep_until), while a watcher samples
# pg_locks; sets WATCH (samples max_sessions tenant_waits other_waits).
run_parallel() {
	local tenant_expr=$1 file_expr=$2 app=$3 at i tenant file
	at=$(q "$DB" "SELECT (clock_timestamp() + interval '1.5 s')::text")
	psql -X -q -At -F ' ' -d "$DB" -c "SELECT * FROM reltest.watch('${app}%', 60)" >"$work/watch.out" 2>&1 &
	local watcher=$!
	for i in $(seq 1 "$SESSIONS"); do
		tenant=$(eval "echo $tenant_expr")
		file=$(eval "echo $file_expr")
		PGAPPNAME=${app}_$i psql -X -q -At -d "$DB" >"$work/par$i.out" 2>"$work/par$i.err" <<SQL &
SELECT pg_sleep_until('$at');
SELECT 'START ' || (extract(epoch FROM clock_timestamp()) * 1000)::bigint;
SELECT 'NEW ' || (activepipe_import_commit($tenant, reltest.file('$file'), false, '$file.csv') ->> 'new');
SELECT 'END ' || (extract(epoch FROM clock_timestamp()) * 1000)::bigint;
SQL
	done
	for i in $(seq 1 "$SESSIONS"); do wait %$((i + 1)) 2>/dev/null; done
	wait "$watcher"
	wait
	WATCH=$(cat "$work/watch.out")
}

run_parallel 222 'ov$i' ap_fault_same
failed=0
for i in $(seq 1 "$SESSIONS"); do grep -q '^NEW [0-9]' "$work/par$i.out" || { failed=$((failed + 1)); diag "session $i: $(head -c 300 "$work/par$i.err")"; }; done
is "$failed" 0 "same tenant: all $SESSIONS concurrent commits succeed"
diag "same tenant, watcher (samples, max sessions, tenant lock waits, other lock waits, their types): $WATCH"
read -r _ _ adv _ <<<"$WATCH"
[ "${adv:-0}" -gt 0 ]
ok $? "same tenant: the watcher sees sessions wait on the tenant lock (control)"
is "$(q "$DB" "SELECT count(*) FROM (SELECT activepipe_email_key(email) k FROM contacts WHERE user_id = 222 AND email IS NOT NULL GROUP BY 1 HAVING count(*) > 1) d")" 0 \
	"same tenant: no two contacts share an email key"
is "$(q "$DB" "SELECT count(*) FROM (SELECT activepipe_phone_key(mobile) k FROM contacts WHERE user_id = 222 AND mobile IS NOT NULL GROUP BY 1 HAVING count(*) > 1) d")" 0 \
	"same tenant: no two contacts share a mobile key"
is "$(q "$DB" "SELECT count(*) FROM contacts WHERE user_id = 222")" "$serial_count" "same tenant: as many contacts as the serial run ($serial_count)"
is "$(q "$DB" "SELECT reltest.values_md5(222)")" "$serial_values" "same tenant: contacts and profiles equal the serial run's (checksum without ids)"
# awk, not bc (absent from a minimal Debian); no NEW line at all sums to 0
par_new=$(cat "$work"/par*.out | sed -n 's/^NEW //p' | awk '{ s += $1 } END { print s + 0 }')
is "$par_new" "$serial_count" "same tenant: the summaries' new counts add up to the contacts created"
is "$(q "$DB" "SELECT reltest.events_count(222)")" "$SESSIONS" "same tenant: one event per commit"

# ---- the same at REPEATABLE READ and SERIALIZABLE -------------------------
# Two sessions, one tenant, the same file, in transactions of the stricter
# levels: one may fail with a serialization error, but the tenant must not
# end with duplicates.
t=223
for level in "REPEATABLE READ" SERIALIZABLE; do
	at=$(q "$DB" "SELECT (clock_timestamp() + interval '1 s')::text")
	for i in 1 2; do
		psql -X -q -At -d "$DB" >"$work/iso$i.out" 2>&1 <<SQL &
SELECT pg_sleep_until('$at');
BEGIN ISOLATION LEVEL $level;
SELECT 'NEW ' || (activepipe_import_commit($t, reltest.file('ov1')) ->> 'new');
COMMIT;
SQL
	done
	wait
	outcome=$(cat "$work/iso1.out" "$work/iso2.out" | grep -E '^NEW|ERROR' | sed -E 's/^(ERROR: +[^:]*).*/\1/' | tr '\n' ' ')
	dups=$(q "$DB" "SELECT count(*) FROM (SELECT activepipe_email_key(email) FROM contacts WHERE user_id = $t AND email IS NOT NULL GROUP BY 1 HAVING count(*) > 1) d")
	is "$dups" 0 "$level: two concurrent commits of one file leave no duplicate contacts (sessions: $outcome)"
	t=$((t + 1))
done

# ---- 4. 8 sessions, 8 tenants --------------------------------------------
start=$(date +%s%N)
q "$DB" "SELECT activepipe_import_commit(320, reltest.file('mt')) ->> 'new'" >/dev/null
alone=$(ms_since "$start")
rm -f "$work"/par*.out "$work"/par*.err
run_parallel '$((300 + i))' mt ap_fault_multi
failed=0
for i in $(seq 1 "$SESSIONS"); do grep -q "^NEW $TENANT_ROWS\$" "$work/par$i.out" || { failed=$((failed + 1)); diag "session $i: $(cat "$work/par$i.out" | tr '\n' ' ') $(head -c 300 "$work/par$i.err")"; }; done
is "$failed" 0 "different tenants: all $SESSIONS concurrent commits succeed, each creating $TENANT_ROWS contacts"
read -r samples maxs adv other types <<<"$WATCH"
wall=$(cat "$work"/par*.out | awk '/^START/ {if (!s || $2 < s) s = $2} /^END/ {if ($2 > e) e = $2} END {print e - s}')
mean=$(paste -d' ' <(sed -n 's/^START //p' "$work"/par*.out) <(sed -n 's/^END //p' "$work"/par*.out) | awk '{t += $2 - $1; n++} END {printf "%d", t / n}')
diag "different tenants: 1 commit alone $alone ms (incl. connection); $SESSIONS in parallel: wall $wall ms, mean per session $mean ms ($(nproc) cores)"
diag "different tenants, watcher: $samples samples, up to $maxs sessions at once, tenant lock waits $adv, other lock waits $other (${types:-})"
[ "${samples:-0}" -gt 10 ] && [ "${maxs:-0}" -ge 2 ] && [ "${adv:-1}" -eq 0 ]
ok $? "different tenants: no session ever waited on another's tenant lock"
is "$(q "$DB" "SELECT count(DISTINCT reltest.values_md5(u)) FROM generate_series(301, 300 + $SESSIONS) u")" 1 \
	"different tenants sharing every email end with identical contacts each"

crash_check
done_testing
