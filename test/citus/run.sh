#!/usr/bin/env bash
# make test-citus: the extension on a real Citus cluster (issue 13, item 5).
#
# Starts a coordinator, two workers and a plain PostgreSQL node on this
# machine (test/citus/cluster.sh), distributes the reference schema and the
# extension exactly as docs/scaling.md says (test/citus/setup.sql), loads
# the same tenants on the cluster and on the plain node
# (test/citus/tenants.sql), and prints TAP:
#
#   1. every API call of test/citus/calls.txt, through every path (a plain
#      top-level SELECT on the coordinator, which Citus delegates; inside
#      BEGIN ... COMMIT on the coordinator; on the worker holding the
#      tenant; on the other worker), returns what the same call returns on
#      the plain node, and leaves the tenant holding the same rows;
#   2. tenant isolation: two tenants that share emails and mobiles, on
#      different workers: importing into one never touches the other;
#   3. ids: contact_integrations.id, integration_events.id (and
#      contacts.id) stay unique across the cluster after writes from every
#      path;
#   4. concurrency: commits of one 2,000-row file from several paths at
#      once create each contact once; card saves, imports and exports of
#      one tenant from different paths serialise.
#   5. undo across the nodes: an import committed through one path and
#      undone through another, under other session settings, deletes the
#      contacts it created (their row hashes are taken where rows are stored);
#   6. the match indexes: made from the coordinator on every shard, and
#      probed through where an import runs, with the scan's answer.
#
# Needs Citus installed for the server pg_config names (citus.control in
# its extension directory) and the extension installed (make install).
# Environment: CITUS_TEST_KEEP=1 keeps the cluster and scratch files (the
# paths are printed); CITUS_API_PATHS limits the paths of part 1.
set -uo pipefail
cd "$(dirname "$0")/../.."
. test/scripts/lib/tap.sh

if [ ! -f "$(pg_config --sharedir)/extension/citus.control" ]; then
	echo "1..0 # SKIP Citus is not installed"
	exit 0
fi

export PGOPTIONS="-c statement_timeout=120s"
scratch=$(mktemp -d /tmp/activepipe-citus-scratch.XXXXXX)
env_out=$(bash test/citus/cluster.sh start) || { rm -rf "$scratch"; ok 1 "start a coordinator, two workers and a plain node"; done_testing; exit 1; }
eval "$env_out"
cleanup() {
	if [ -n "${CITUS_TEST_KEEP:-}" ]; then
		diag "kept: cluster $AP_CITUS_DIR, scratch $scratch ($env_out)"
	else
		bash test/citus/cluster.sh stop "$AP_CITUS_DIR"
		rm -rf "$scratch"
	fi
}
trap cleanup EXIT
ok 0 "start a coordinator, two workers and a plain node"
. test/citus/lib.sh

# ---------------------------------------------------------------- setup
out=$(nq coord "SELECT count(*) FROM citus_get_active_worker_nodes()" 2>&1)
is "$out" 2 "setup: the coordinator sees two active workers"

setup_log=$scratch/setup.log
"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -v citus=1 -h "$AP_CITUS_DIR" -p "${PORT[coord]}" -U postgres -d postgres \
	-f test/citus/setup.sql -f test/citus/tenants.sql -f test/citus/probe.sql >"$setup_log" 2>&1
ok $? "setup: docs/scaling.md's schema, key and distribution on the coordinator" "$(tail -5 "$setup_log")"
"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -v citus=0 -h "$AP_CITUS_DIR" -p "${PORT[plain]}" -U postgres -d postgres \
	-f test/citus/setup.sql -f test/citus/tenants.sql -f test/citus/probe.sql >"$setup_log" 2>&1
ok $? "setup: the same schema, key and extension on the plain node" "$(tail -5 "$setup_log")"

# make demo's own tenants (test/fixtures/demo_tenant.sql: users 1 and 2,
# profiles saved through the card API from a PL/pgSQL loop) load on the
# cluster as on a single node; the suite's tenants start at 3
demo_state="SELECT string_agg(concat_ws('|', c.user_id, c.id, c.first_name, c.email, c.mobile, ci.payload_json), E'\n' ORDER BY c.id)
	FROM contacts c LEFT JOIN contact_integrations ci ON ci.user_id = c.user_id AND ci.contact_id = c.id
	WHERE c.user_id IN (1, 2)"
for n in coord plain; do
	"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$AP_CITUS_DIR" -p "${PORT[$n]}" -U postgres -d postgres \
		-f test/fixtures/demo_tenant.sql >"$setup_log.demo.$n" 2>&1
	ok $? "setup: make demo's tenants (test/fixtures/demo_tenant.sql) load on the $n node" "$(tail -5 "$setup_log.demo.$n")"
done
is "$(nq coord "$demo_state")" "$(nq plain "$demo_state")" "setup: ... and the cluster holds what the plain node holds (contacts and the profiles saved in the loop)"
next_uid=3

# every function of the extension whose first argument is user_id is
# distributed by it, colocated with contacts
want=$(nq plain "SELECT string_agg(f, ' ' ORDER BY f) FROM (SELECT p.oid::regprocedure::text AS f FROM pg_proc p
	JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
	WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'activepipe')
	  AND p.proargnames[1] = 'user_id') s")
got=$(nq coord "SELECT string_agg(f, ' ' ORDER BY f) FROM (SELECT o.objid::regprocedure::text AS f FROM pg_dist_object o
	WHERE o.classid = 'pg_proc'::regclass AND o.distribution_argument_index = 0
	  AND o.colocationid = (SELECT colocationid FROM pg_dist_partition WHERE logicalrelid = 'contacts'::regclass)) s")
is "$got" "$want" "setup: every function taking user_id first is distributed by it, colocated with contacts ($(wc -w <<<"$want") functions)"
diag "setup done after ${SECONDS}s"

# ---------------------------------------------- 1. every call, every path
# Each line of test/citus/calls.txt, for each fixture it names, through
# each path, on a fresh tenant; the same calls on the plain node.
API_PATHS=${CITUS_API_PATHS:-delegated begin worker other_worker}
fixture_files=(test/fixtures/import/*.csv test/fixtures/activepipe_sample.csv)

call_names=()
to_seed=()
part1=() part1b=()
while IFS='|' read -r name tenant fixtures sql; do
	read -r name <<<"$name"
	[ -z "$name" ] || [ "${name:0:1}" = '#' ] && continue
	paths=$API_PATHS
	if [[ $name == *@* ]]; then
		paths=${name#*@}
		paths=${paths//,/ }
		name=${name%%@*}
	fi
	read -r tenant <<<"$tenant"
	read -r fixtures <<<"$fixtures"
	sql=${sql#"${sql%%[![:space:]]*}"}
	sql=${sql%"${sql##*[![:space:]]}"}
	# one statement per line: end it, unless it is a psql command (\copy)
	[[ $sql == '\'* || $sql == *';' ]] || sql="$sql;"
	call_names+=("$name")
	if [ "$fixtures" = '*' ]; then files=("${fixture_files[@]}"); else files=(-); fi
	for f in "${files[@]}"; do
		kind=$tenant
		if [ "$tenant" = fixture ]; then
			case $f in *activepipe_sample.csv) kind=demo ;; *) kind=std ;; esac
		fi
		label=$name
		if [ "$f" != - ]; then label=${f##*/}; label="$name ${label%.csv}"; fi
		for p in $paths; do
			uid=0
			if [ "$kind" != none ]; then
				new_uid
				uid=$UID_NEW
				to_seed+=("$uid:$kind")
				UID_PATH[$uid]=$p
			fi
			register "$name" "$label" "$uid" "$kind" "$p" "$f" "$sql"
			part1+=("$I")
		done
	done
done <test/citus/calls.txt

seed "${to_seed[@]}"
ok $? "setup: ${#to_seed[@]} tenants loaded on the cluster and on the plain node"
uids=()
for i in "${part1[@]}"; do [ "${inst_uid[$i]}" != 0 ] && uids+=("${inst_uid[$i]}"); done
place "${uids[@]}"
t0=$(nq coord "SELECT clock_timestamp()")

run_batch cluster "${part1[@]}"
run_batch plain "${part1[@]}"
compare "${part1[@]}"
load_states "${uids[@]}"

for name in "${call_names[@]}"; do
	for p in $API_PATHS; do
		insts=() pushed=0
		for i in "${part1[@]}"; do
			[ "${inst_call[$i]}" = "$name" ] && [ "${inst_path[$i]}" = "$p" ] || continue
			insts+=("$i")
			[ -n "${inst_pushed[$i]:-}" ] && pushed=$((pushed + 1))
		done
		[ ${#insts[@]} -gt 0 ] || continue
		report "${insts[*]}" "$name ${PATH_DESC[$p]}: same results and rows as a single node"
		if [ "$p" = delegated ] || [ "$p" = other_worker ]; then
			diag "  (Citus pushed $pushed of ${#insts[@]} calls down to a worker)"
		fi
	done
done

# The delegated path must really delegate: every bare top-level call of a
# distributed function (the forms an application sends) was pushed down to
# the tenant's worker, as Citus' own debug message says.
bare_calls=(card "card(no profile)" card_save "card_save(new profile)" card_clear export "export(escaped)"
	export_summary export_rows "import_preview(text)" "import_preview(bytea)" import_plan
	"import_commit(text)" "import_commit(bytea)")
not_pushed=()
# a name calls.txt no longer has would drop out of the check unseen
for name in "${bare_calls[@]}"; do
	grep -qxF -- "$name" < <(printf '%s\n' "${call_names[@]}") || not_pushed+=("$name: not in calls.txt")
done
for i in "${part1[@]}"; do
	[ "${inst_path[$i]}" = delegated ] || continue
	grep -qxF -- "${inst_call[$i]}" < <(printf '%s\n' "${bare_calls[@]}") || continue
	[ -n "${inst_pushed[$i]:-}" ] || not_pushed+=("${inst_label[$i]}")
done
ok "${#not_pushed[@]}" "delegated: every bare call of a distributed function was pushed down to the tenant's worker" \
	"$(printf '%s\n' "${not_pushed[@]:0:10}")"

# A call once per row of a query on contacts cannot run on Citus: the
# query goes to the shard, and a function there cannot start distributed
# queries.  docs/scaling.md says so and gives the forms that work (a
# loop, ARRAY(SELECT ...) on the coordinator, ids as a value); the loop is
# part 1's card(loop) and card_save(loop).
new_uid
per_row=$UID_NEW
seed "$per_row:demo"
err=$(nq coord "SELECT count(*) FROM contacts c, LATERAL activepipe_card_save(c.user_id, c.id, '{\"source\": \"bulk\"}') WHERE c.user_id = $per_row" 2>&1)
like "$err" "cannot execute a distributed query from a query on a shard" \
	"a call once per row of a query on contacts fails on Citus with Citus' own error, as docs/scaling.md says"

# Every statement the extension sends (activepipe_statements()), prepared
# and executed once on the coordinator (as a call inside BEGIN runs it) and
# on the tenant's worker (as a delegated call runs it), then rolled back:
# the messages must be the single node's.  This shows every statement
# Citus refuses, also those an API call never reaches because an earlier
# statement fails first.
PROBE_PATHS="coordinator worker"
new_uid
probe_uid=$UID_NEW
seed "$probe_uid:std"
probe_names=()
declare -A probe_insts
while IFS=$'\t' read -r pname pscript; do
	[ -n "$pname" ] || continue
	probe_names+=("$pname")
	for p in $PROBE_PATHS; do
		register "statement" "$pname ${PATH_DESC[$p]}" "$probe_uid" std "$p" - "\\o /dev/null"$'\n'"$pscript"
		probe_insts[$pname]+=" $I"
		part1b+=("$I")
	done
done < <(nq plain "SELECT name, script FROM aptest.probe_scripts($probe_uid)")
if [ ${#probe_names[@]} -gt 0 ]; then
	run_batch cluster "${part1b[@]}"
	run_batch plain "${part1b[@]}"
	compare "${part1b[@]}"
	LAST_OF[$probe_uid]=-1	# rolled back: no rows to compare
	for pname in "${probe_names[@]}"; do
		report "${probe_insts[$pname]}" "statement $pname runs on the coordinator and on the tenant's worker as on a single node"
	done
	# what the upserts run into once now() is out of DO UPDATE SET (diag only)
	part1c=()
	declare -A probe2_insts
	while IFS=$'\t' read -r pname pscript; do
		[ -n "$pname" ] || continue
		for p in $PROBE_PATHS; do
			register "statement" "$pname ${PATH_DESC[$p]}" "$probe_uid" std "$p" - "\\o /dev/null"$'\n'"$pscript"
			probe2_insts[$pname]+=" $I"
			part1c+=("$I")
		done
	done < <(nq plain "SELECT name, script FROM aptest.probe_scripts($probe_uid, true)")
	LAST_OF[$probe_uid]=-1
	if [ ${#part1c[@]} -gt 0 ]; then
		run_batch cluster "${part1c[@]}"
		run_batch plain "${part1c[@]}"
		compare "${part1c[@]}"
		for pname in "${!probe2_insts[@]}"; do
			for i in ${probe2_insts[$pname]}; do
				mismatch_cause "$i"
				diag "  with now() out of its DO UPDATE SET, $pname ${PATH_DESC[${inst_path[$i]}]}: ${CAUSE:-as on a single node}"
			done
		done
	fi
else
	ok 1 "the extension's statements could be listed for probing"
fi
diag "part 1 done after ${SECONDS}s"

# ------------------------------------------------ 2. tenant isolation
# Per path: tenant A (std) and tenant B (shadow: the same emails and
# numbers, other names) on different workers; A previews and imports each
# fixture; B must not change at all (every row's xmin and ctid).
ISO_FIXTURES="cross_tenant match_order phone_variants fill_blanks conflicts"
ISO_CALLS=("SELECT activepipe_import_preview({uid}, {csv});"
	"SELECT activepipe_import_commit({uid}, {csv}, false, '{name}.csv');")
iso_pairs=()
for p in $API_PATHS; do
	new_uid
	a=$UID_NEW
	place "$a"
	new_uid
	b=$UID_NEW
	while :; do
		place "$b"
		[ "${WORKER_OF[$b]}" != "${WORKER_OF[$a]}" ] && break
		new_uid
		b=$UID_NEW
	done
	iso_pairs+=("$p:$a:$b")
	UID_PATH[$a]=$p
done
seed $(for x in "${iso_pairs[@]}"; do IFS=: read -r p a b <<<"$x"; echo "$a:std $b:shadow"; done)
placement_ok=0 placement_notes=()
for x in "${iso_pairs[@]}"; do
	IFS=: read -r p a b <<<"$x"
	got=$(nq coord "SELECT count(DISTINCT s.nodeport) FROM citus_shards s
		WHERE s.shardid IN (get_shard_id_for_distribution_column('contacts', $a::bigint),
		                    get_shard_id_for_distribution_column('contacts', $b::bigint))")
	[ "$got" = 2 ] || placement_ok=1
	placement_notes+=("tenant $a on ${WORKER_OF[$a]}, tenant $b on ${WORKER_OF[$b]}")
done
ok $placement_ok "isolation: each pair of tenants sharing emails and mobiles sits on two different workers (citus_shards)" \
	"$(printf '%s\n' "${placement_notes[@]}")"

declare -A iso_before iso_insts
part2=() iso_a=()
for x in "${iso_pairs[@]}"; do
	IFS=: read -r p a b <<<"$x"
	iso_before[$b]=$(nq coord "SELECT aptest.snap($b)")
	iso_a+=("$a")
	for fx in $ISO_FIXTURES; do
		for tmpl in "${ISO_CALLS[@]}"; do
			label=${tmpl#SELECT }
			register isolation "${label%%(*} $fx" "$a" std "$p" "test/fixtures/import/$fx.csv" "$tmpl"
			part2+=("$I")
			iso_insts[$p]+=" $I"
		done
	done
done
run_batch cluster "${part2[@]}"
run_batch plain "${part2[@]}"
compare "${part2[@]}"
load_states "${iso_a[@]}"
for x in "${iso_pairs[@]}"; do
	IFS=: read -r p a b <<<"$x"
	report "${iso_insts[$p]}" "isolation ${PATH_DESC[$p]}: previews and imports into tenant $a give single-node results"
	after=$(nq coord "SELECT aptest.snap($b)")
	is "$after" "${iso_before[$b]}" "isolation ${PATH_DESC[$p]}: tenant $b (same emails and mobiles, other worker) is untouched"
done
diag "part 2 done after ${SECONDS}s"

# Settings are read where a call runs: a delegated call runs on the
# tenant's worker, so a session's SET on the coordinator does not reach it;
# ALTER DATABASE ... SET on the coordinator, which Citus carries to every
# worker, does (docs/scaling.md, "Settings").
new_uid
cap_uid=$UID_NEW
seed "$cap_uid:demo"
ids_of demo "$cap_uid"
# (two commands: one string of several would be a transaction block)
out=$("$PGBIN/psql" -X -q -A -t -h "$AP_CITUS_DIR" -p "${PORT[coord]}" -U postgres -d postgres \
	-c "SET activepipe.export_cap = 1" -c "SELECT activepipe_export($cap_uid, $IDS, 'cap.csv')" 2>&1)
like "$out" "^firstname,lastname," "settings: a session's SET on the coordinator does not reach a delegated export (it runs on the worker)"
nq coord "ALTER DATABASE postgres SET activepipe.export_cap = 1" >/dev/null
is "$(nq coord "SELECT string_agg(result, ' ') FROM run_command_on_workers(\$\$SELECT count(*) FROM pg_db_role_setting WHERE 'activepipe.export_cap=1' = ANY (setconfig)\$\$)")" "1 1" \
	"settings: ALTER DATABASE ... SET on the coordinator reaches every worker"
out=$(nq coord "SELECT activepipe_export($cap_uid, $IDS, 'cap.csv')" 2>&1)
like "$out" "exceeds the cap of 1" "settings: ... and the delegated export obeys it"
nq coord "ALTER DATABASE postgres RESET activepipe.export_cap" >/dev/null
is "$(nq coord "SELECT string_agg(result, ' ') FROM run_command_on_workers(\$\$SELECT count(*) FROM pg_db_role_setting WHERE 'activepipe.export_cap=1' = ANY (setconfig)\$\$)")" "0 0" \
	"settings: ALTER DATABASE ... RESET on the coordinator reaches every worker too"

# ------------------------------------------------------ 4. concurrency
# wait_active NODE APPNAME PID: until a session is in its pg_sleep (it
# holds what it took), or its client has exited
wait_active() {
	local i
	for ((i = 0; i < 300; i++)); do
		kill -0 "$3" 2>/dev/null || return 1
		[ "$(nq "$1" "SELECT count(*) FROM pg_stat_activity WHERE application_name = '$2' AND query LIKE '%pg_sleep%' AND state = 'active'")" = 1 ] && return 0
		sleep 0.1
	done
	return 1
}

# 4a. commits of one 2,000-row file (all new contacts) from several paths at once
bulk=$scratch/bulk2000.csv
{
	echo 'firstname,lastname,email,mobile,status,tags'
	for n in $(seq 1 2000); do
		printf 'Bulk%d,Buyer,bulk%d@example.com,0499%06d,subscribed,Bulk\n' "$n" "$n" "$n"
	done
} >"$bulk"
CONC_IMPORTS=("delegated begin" "delegated begin worker" "begin worker_begin other_worker")
for set in "${CONC_IMPORTS[@]}"; do
	new_uid
	u=$UID_NEW
	seed "$u:std"
	place "$u"
	pids=() names=()
	for p in $set; do
		d=$scratch/bulk-$u-$p
		{
			printf 'SELECT (activepipe_import_commit(%s, ' "$u"
			sql_text_lit "$bulk"
			printf ", false, 'bulk.csv'))->>'new' AS new;\n"
			[ "${PATH_TXN[$p]}" = 1 ] && echo 'SELECT pg_sleep(2) IS NULL AS slept;'
		} >"$d.call.sql"
		run_call "$p" "$u" "$d.call.sql" "$d" &
		pids+=($!)
		names+=("$p")
		UID_PATH[$u]=$p
	done
	fails=0 notes=()
	for k in "${!pids[@]}"; do
		wait "${pids[$k]}"
		d=$scratch/bulk-$u-${names[$k]}
		if grep -q 'ERROR' "$d.out" || [ ! -s "$d.stdout" ]; then
			fails=$((fails + 1))
			notes+=("${names[$k]}: $(grep -m1 'ERROR' "$d.out" || echo 'no result')")
		else
			notes+=("${names[$k]}: new = $(head -1 "$d.stdout")")
		fi
	done
	desc=$(for p in $set; do printf '%s, ' "$p"; done)
	desc=${desc%, }
	ok $fails "concurrency: commits of one 2,000-row file at once ($desc; tenant $u on ${WORKER_OF[$u]}) all succeed" \
		"$(printf '%s\n' "${notes[@]}")"
	got=$(nq coord "SELECT count(*) || ' contacts, ' || count(DISTINCT lower(email)) || ' emails' FROM contacts WHERE user_id = $u AND email LIKE 'bulk%'")
	is "$got" "2000 contacts, 2000 emails" "concurrency: ... and create each of the 2,000 contacts exactly once ($desc)"
done

# 4b. a session holds a write of one tenant open (inside BEGIN, then
# pg_sleep); another path writes the same tenant meanwhile: it must wait,
# and both writes must survive.
#   kind | holder SQL | waiter SQL | check SQL (on the coordinator) | expected
declare -A CONC_HOLD CONC_WAIT CONC_CHECK CONC_WANT
CONC_HOLD[card_save]="SELECT activepipe_card_save({uid}, {uid}01, '{\"source\": \"holder\"}') IS NOT NULL;"
CONC_WAIT[card_save]="SELECT activepipe_card_save({uid}, {uid}01, '{\"status\": \"subscribed\"}') IS NOT NULL;"
CONC_CHECK[card_save]="SELECT concat_ws(',', payload_json->>'source', payload_json->>'status') FROM contact_integrations WHERE user_id = {uid} AND contact_id = {uid}01"
CONC_WANT[card_save]="holder,subscribed"
CONC_HOLD[import_card]="SELECT activepipe_import_commit({uid}, E'email,status,city\\nann@example.com,subscribed,Sydney\\n') IS NOT NULL;"
CONC_WAIT[import_card]="SELECT activepipe_card_save({uid}, {uid}01, '{\"source\": \"card\"}') IS NOT NULL;"
CONC_CHECK[import_card]="SELECT concat_ws(',', payload_json->>'source', payload_json->>'status') FROM contact_integrations WHERE user_id = {uid} AND contact_id = {uid}01"
CONC_WANT[import_card]="card,subscribed"
CONC_HOLD[export]="SELECT activepipe_export({uid}, ARRAY[{uid}01, {uid}02, {uid}03]::bigint[], 'holder.csv') IS NOT NULL;"
CONC_WAIT[export]="SELECT activepipe_export({uid}, ARRAY[{uid}01, {uid}02, {uid}03]::bigint[], 'waiter.csv') IS NOT NULL;"
CONC_CHECK[export]="SELECT string_agg(filename, ',' ORDER BY filename) FROM integration_events WHERE user_id = {uid} AND event_type = 'export'"
CONC_WANT[export]="holder.csv,waiter.csv"
HOLD_SECONDS=3
#   kind holder-path waiter-path
CONC_PAIRS=(
	"card_save begin delegated"
	"card_save begin worker"
	"card_save worker_begin begin"
	"import_card begin delegated"
	"import_card begin other_worker"
	"import_card worker_begin begin"
	"export begin delegated"
	"export worker_begin begin"
)
for pair in "${CONC_PAIRS[@]}"; do
	read -r kind hp wp <<<"$pair"
	new_uid
	u=$UID_NEW
	seed "$u:std"
	place "$u"
	UID_PATH[$u]=$wp
	d=$scratch/pair-$u
	hold=${CONC_HOLD[$kind]//'{uid}'/$u}
	printf '%s\nSELECT pg_sleep(%s) IS NULL AS slept;\n' "$hold" "$HOLD_SECONDS" >"$d.hold.sql"
	printf '%s\n' "${CONC_WAIT[$kind]//'{uid}'/$u}" >"$d.wait.sql"
	app=ap_hold_$u
	# the holder runs inside BEGIN whatever its path says
	PGAPPNAME=$app run_call "$hp" "$u" "$d.hold.sql" "$d.holder" &
	hpid=$!
	node_for "$hp" "$u"
	hnode=$NODE
	label="$kind ${PATH_DESC[$hp]} (holding ${HOLD_SECONDS}s) vs $kind ${PATH_DESC[$wp]} (tenant $u on ${WORKER_OF[$u]})"
	if ! wait_active "$hnode" "$app" "$hpid"; then
		wait $hpid
		ok 1 "concurrency: $label: the waiter waits for the holder" "holder: $(grep -m1 ERROR "$d.holder.out" || echo 'did not reach its sleep')"
		ok 1 "concurrency: $label: both writes survive" "the holder failed"
		continue
	fi
	start=$(date +%s%N)
	run_call "$wp" "$u" "$d.wait.sql" "$d.waiter"
	waited=$(( ($(date +%s%N) - start) / 1000000 ))
	wait $hpid
	werr=$(grep -m1 ERROR "$d.waiter.out")
	[ -z "$werr" ] && [ "$waited" -ge $(( HOLD_SECONDS * 1000 / 2 )) ]
	ok $? "concurrency: $label: the waiter waits for the holder (${waited} ms)" "$werr"
	got=$(nq coord "${CONC_CHECK[$kind]//'{uid}'/$u}" 2>&1)
	is "$got" "${CONC_WANT[$kind]}" "concurrency: $label: both writes survive"
done

diag "part 4 done after ${SECONDS}s"

# ------------------------------------------------------ 3. unique ids
# After writes from every path (parts 1, 2 and 4): the ids stay unique.
counts=()
all_written=0
for path in delegated begin worker other_worker worker_begin; do
	us=()
	for u in "${!UID_PATH[@]}"; do [ "${UID_PATH[$u]}" = "$path" ] && us+=("$u"); done
	[ ${#us[@]} -gt 0 ] || continue
	arr=$(IFS=,; echo "${us[*]}")
	c=$(nq coord "SELECT (SELECT count(*) FROM contact_integrations WHERE user_id = ANY ('{$arr}') AND updated_at > '$t0')
		|| '/' || (SELECT count(*) FROM integration_events WHERE user_id = ANY ('{$arr}'))")
	counts+=("$path: $c")
	[ "${c%%/*}" -gt 0 ] && [ "${c#*/}" -gt 0 ] || all_written=1
done
ok $all_written "ids: profiles and events were written through every path (profiles/events written: $(IFS=';'; echo "${counts[*]}"))"
for tc in contact_integrations integration_events contacts; do
	got=$(nq coord "SELECT count(*) - count(DISTINCT id) FROM $tc")
	detail=$(nq coord "SELECT string_agg(format('id %s: tenants %s', id, us), E'\n') FROM (
		SELECT id, string_agg(user_id::text, ',' ORDER BY user_id) AS us FROM $tc
		GROUP BY id HAVING count(*) > 1 ORDER BY id LIMIT 5) s")
	total=$(nq coord "SELECT count(*) FROM $tc")
	is "$got" 0 "ids: $tc.id is unique across the cluster ($total rows)"
	[ "$got" = 0 ] || diag "$detail"
done

# ------------------------------------------- 5. undo across the nodes
# Undo deletes a contact its import created only while the contact's row
# hashes as the import left it.  The hash is taken where the row is stored
# (activepipe_row_image_hash, inside the statement), so a commit and its
# undo made through different nodes, under different session settings,
# agree; before, a row read on the coordinator was rebuilt with the
# coordinator's enum OIDs and hashed unlike the same row read on its
# worker.  The contacts table gains columns whose stored bytes hold OIDs
# (an enum, an array of it, a composite holding it), a float and a
# timestamptz, with defaults (on the cluster only: parts 1 to 4 are done).
nq coord "CREATE TYPE public.ap_mood AS ENUM ('ok', 'sad')" >/dev/null
nq coord "CREATE TYPE public.ap_pair AS (n int, m public.ap_mood)" >/dev/null
nq coord "ALTER TABLE public.contacts ADD COLUMN mood public.ap_mood DEFAULT 'ok',
	ADD COLUMN moods public.ap_mood[] DEFAULT '{ok,sad}',
	ADD COLUMN pair public.ap_pair DEFAULT ROW(1, 'sad'),
	ADD COLUMN score float8 DEFAULT 0.1,
	ADD COLUMN seen timestamptz DEFAULT '2026-01-02 03:04:05.123456+00'" >/dev/null
ok $? "undo: the contacts table gains an enum, an array of it, a composite holding it, a float and a timestamptz column"
odd="SET extra_float_digits = 0; SET DateStyle = 'SQL, DMY'; SET TimeZone = 'Pacific/Chatham';"
#   commit path, undo path, which one runs under the odd settings
UNDO_PAIRS=(
	"begin delegated commit"
	"begin worker undo"
	"delegated begin commit"
	"worker_begin begin undo"
	"other_worker delegated commit"
	"begin other_worker undo"
)
for pair in "${UNDO_PAIRS[@]}"; do
	read -r cpath upath oddside <<<"$pair"
	new_uid
	u=$UID_NEW
	nq coord "INSERT INTO public.users (id) VALUES ($u)" >/dev/null
	place "$u"
	d=$scratch/undo-$u
	{
		[ "$oddside" = commit ] && echo "$odd"
		echo "SELECT activepipe_import_commit($u, E'email,firstname\\nnew.$u@x.com,New\\nalso.$u@x.com,Also\\n')->>'event_id';"
	} >"$d.commit.in"
	run_call "$cpath" "$u" "$d.commit.in" "$d.commit"
	ev=$(tail -1 "$d.commit.stdout")
	{
		[ "$oddside" = undo ] && echo "$odd"
		echo "SELECT concat_ws('/', s->>'deleted', s->>'conflicts') FROM activepipe_import_undo($u, ${ev:-0}) s;"
	} >"$d.undo.in"
	run_call "$upath" "$u" "$d.undo.in" "$d.undo"
	label="undo: a commit ${PATH_DESC[$cpath]}, undone ${PATH_DESC[$upath]} (settings changed for the $oddside; tenant $u on ${WORKER_OF[$u]})"
	is "$(tail -1 "$d.undo.stdout")" "2/0" "$label: both created contacts deleted, none left as changed since" \
		"$(grep -m1 ERROR "$d.commit.out" "$d.undo.out")"
	is "$(nq coord "SELECT count(*) FROM public.contacts WHERE user_id = $u")" 0 "$label: the tenant has no contact left"
done
# an edit counts by its bytes: the same values written again are no change,
# a float that prints the same under extra_float_digits = 0 is one
new_uid
u=$UID_NEW
nq coord "INSERT INTO public.users (id) VALUES ($u)" >/dev/null
ev=$(nq coord "SELECT activepipe_import_commit($u, E'email\\nedit.$u@x.com\\n')->>'event_id'")
nq coord "UPDATE public.contacts SET score = 0.1, mood = 'ok', moods = '{ok,sad}', pair = ROW(1, 'sad') WHERE user_id = $u" >/dev/null
is "$(nq coord "BEGIN; SELECT concat_ws('/', s->>'deleted', s->>'conflicts') FROM activepipe_import_undo($u, ${ev:-0}) s; COMMIT;" | head -1)" "1/0" \
	"undo: a contact whose columns were set to the values they held (a new row version, the same bytes) is deleted"
ev=$(nq coord "SELECT activepipe_import_commit($u, E'email\\nedit2.$u@x.com\\n')->>'event_id'")
nq coord "UPDATE public.contacts SET score = 0.30000000000000004 WHERE user_id = $u" >/dev/null
is "$(nq coord "SET extra_float_digits = 0; BEGIN; SELECT concat_ws('/', s->>'deleted', s->>'conflicts') FROM activepipe_import_undo($u, ${ev:-0}) s; COMMIT;" | grep -v '^$' | head -1)" "0/1" \
	"undo: a float edited to one that prints as 0.3 under extra_float_digits = 0 is a change since: left"

diag "part 5 done after ${SECONDS}s"

# ------------------------------------------------ 6. the match indexes
# activepipe_match_indexes() on the coordinator writes the three CREATE
# INDEX CONCURRENTLY statements; run there, Citus makes each index on every
# shard of contacts.  An import then probes through them where it runs (on
# the coordinator inside BEGIN, on the tenant's worker), and answers as a
# scan of the tenant does; its last row's email was moved away by the row
# before, so its mobile is probed when it comes.
ddl=$(nq coord "SELECT * FROM activepipe_match_indexes()")
is "$(grep -c '^CREATE INDEX CONCURRENTLY' <<<"$ddl")" 3 "match indexes: activepipe_match_indexes() on the coordinator writes three statements"
fails=0
while IFS= read -r stmt; do
	[ -n "$stmt" ] && { nq coord "$stmt" >/dev/null 2>>"$scratch/midx.err" || fails=1; }
done <<<"$ddl"
ok $fails "match indexes: ... which run on the coordinator" "$(head -3 "$scratch/midx.err")"
shards=$(nq coord "SELECT count(*) FROM citus_shards WHERE table_name = 'contacts'::regclass")
made=$(nq coord "SELECT sum(result::int) FROM run_command_on_shards('contacts',
	\$\$SELECT count(*) FROM pg_index i JOIN pg_collation c ON c.oid = i.indcollation[1]
	  WHERE i.indrelid = '%s'::regclass AND c.collname = 'C'
	  AND pg_get_indexdef(i.indexrelid) ~ 'activepipe_(email|phone)_key'\$\$)")
is "$made" "$((shards * 3))" "match indexes: each of the $shards shards of contacts holds the three, COLLATE \"C\""
for n in coord w1 w2; do
	is "$(nq $n "SELECT count(*) FROM activepipe_match_indexes()")" 0 "match indexes: none is left to create, as $n sees the table"
done
new_uid
u=$UID_NEW
nq coord "INSERT INTO public.users (id) VALUES ($u)" >/dev/null
nq coord "INSERT INTO public.contacts (user_id, first_name, email, mobile)
	SELECT $u, 'M' || g, 'm' || g || '@x.com', '0412 ' || lpad(g::text, 3, '0') || ' 000' FROM generate_series(1, 60) g" >/dev/null
place "$u"
mfile="E'email,mobile,firstname\\nm1@x.com,,M1\\n,0412 002 000,Two\\nfresh.$u@x.com,0412 003 000,M3\\n M4@X.COM ,,Four\\nm5@x.com,0412 006 000,M5\\nmoved.$u@x.com,0412 007 000,M7\\nm7@x.com,0412 008 000,M8\\n'"
for path in begin worker worker_begin; do
	for strategy in scan probe; do
		d=$scratch/midx-$path-$strategy
		{
			echo "SET activepipe.match_strategy = $strategy; SET client_min_messages = debug1;"
			echo "SELECT activepipe_import_preview($u, $mfile, true);"
		} >"$d.in"
		run_call "$path" "$u" "$d.in" "$d"
	done
	label="match indexes: a preview ${PATH_DESC[$path]} (tenant $u on ${WORKER_OF[$u]})"
	grep -q 'finds candidates by probe' "$scratch/midx-$path-probe.raw"
	ok $? "$label probes with activepipe.match_strategy = probe" "$(grep -m1 -E 'ERROR|finds candidates' "$scratch/midx-$path-probe.raw")"
	grep -q '"matched": 7' "$scratch/midx-$path-probe.stdout" && cmp -s "$scratch/midx-$path-scan.stdout" "$scratch/midx-$path-probe.stdout"
	ok $? "$label answers as the scan does (seven rows matched, one through a probe made when its row came)" "$(head -c 300 "$scratch/midx-$path-probe.stdout")"
done

diag "part 6 done after ${SECONDS}s"

done_testing
