#!/usr/bin/env bash
# make test-citus, part two: updating activepipe from 1.1 on a Citus
# cluster, as docs/scaling.md says.  A fresh coordinator and two workers
# (test/citus/cluster.sh) get 1.1, distributed as 1.1's documentation said,
# with rows written as 1.1 wrote them (test/citus/upgrade.sql, part
# install); then the update and the distribution of what it created (part
# update); then TAP: the version on every node, every table and function
# placed, the 1.1 rows kept, and the 1.2 calls working delegated, inside
# BEGIN on the coordinator and on a worker, with ids unique across nodes.
#
# Needs Citus and the extension installed, as test/citus/run.sh.
set -uo pipefail
cd "$(dirname "$0")/../.."
. test/scripts/lib/tap.sh

if [ ! -f "$(pg_config --sharedir)/extension/citus.control" ]; then
	echo "1..0 # SKIP Citus is not installed"
	exit 0
fi

export PGOPTIONS="-c statement_timeout=120s"
env_out=$(bash test/citus/cluster.sh start) || { ok 1 "start a coordinator and two workers"; done_testing; exit 1; }
eval "$env_out"
trap 'bash test/citus/cluster.sh stop "$AP_CITUS_DIR"' EXIT
ok 0 "start a coordinator and two workers"

on() {	# PORT SQL: rows, unaligned; errors as "ERROR: ..." on stdout
	"$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$AP_CITUS_DIR" -p "$1" -U postgres -d postgres -c "$2" 2>&1
}
coord() { on "$AP_PORT_COORD" "$1"; }
load() {	# PART
	"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -v part="$1" -h "$AP_CITUS_DIR" -p "$AP_PORT_COORD" \
		-U postgres -d postgres -f test/citus/upgrade.sql 2>&1
}

out=$(load install)
rc=$?
ok $rc "1.1 installed and distributed as 1.1's documentation said, with rows written as 1.1 wrote them" "$out"
[ $rc -eq 0 ] || { done_testing; exit 1; }
profiles11=$(coord "SELECT string_agg(format('%s/%s/%s', user_id, id, payload_json), ' ' ORDER BY user_id, id) FROM contact_integrations")
events11=$(coord "SELECT string_agg(format('%s/%s', user_id, id), ' ' ORDER BY user_id, id) FROM integration_events")

like "$(coord "SELECT activepipe_card(1, 101)")" "older than the library|ALTER EXTENSION activepipe UPDATE" \
	"before the update, a delegated call refuses the 1.1 objects and names ALTER EXTENSION activepipe UPDATE"

out=$(load update)
rc=$?
ok $rc "ALTER EXTENSION activepipe UPDATE on the coordinator" "$out"
[ $rc -eq 0 ] || { done_testing; exit 1; }
like "$(coord "SELECT activepipe_card_save(1, 102, '{\"status\": \"early\"}')")" \
	"activepipe tables are not distributed with the contacts table public.contacts: export_contacts, import_contacts, import_history, import_rows, tenant_locks" \
	"until the new tables are distributed, a call refuses to run (55000, naming them): the tenant lock would be per node"
out=$(load place)
rc=$?
ok $rc "the new tables and the functions placed (docs/scaling.md)" "$out"
[ $rc -eq 0 ] || { done_testing; exit 1; }
want=$(sed -n "s/^default_version[[:space:]]*=[[:space:]]*'\([^']*\)'.*/\1/p" activepipe.control)
is "$(coord "SELECT string_agg(v, ' ') FROM (SELECT extversion AS v FROM pg_extension WHERE extname = 'activepipe'
	UNION ALL SELECT result FROM run_command_on_workers(\$\$SELECT extversion FROM pg_extension WHERE extname = 'activepipe'\$\$)) s")" \
	"$want $want $want" "the coordinator and both workers are at $want"

tables=$(coord "SELECT string_agg(c.relname || ':' || coalesce((SELECT CASE WHEN p.colocationid = (SELECT colocationid FROM pg_dist_partition WHERE logicalrelid = 'contacts'::regclass) THEN 'colocated' WHEN p.partmethod = 'n' THEN 'reference' ELSE 'elsewhere' END
		FROM pg_dist_partition p WHERE p.logicalrelid = c.oid), 'local'), ' ' ORDER BY c.relname)
	FROM pg_class c JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'
	WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'activepipe') AND c.relkind = 'r'")
is "$tables" "contact_integrations:colocated contacts_binding:reference export_contacts:colocated import_contacts:colocated import_history:colocated import_rows:colocated integration_events:colocated tenant_locks:colocated" \
	"every table of the extension is placed: the tenant tables colocated with contacts, contacts_binding a reference table"
fwant=$(coord "SELECT string_agg(p.oid::regprocedure::text, ' ' ORDER BY p.oid::regprocedure::text) FROM pg_proc p
	JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
	WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'activepipe') AND p.proargnames[1] = 'user_id'")
fgot=$(coord "SELECT string_agg(o.objid::regprocedure::text, ' ' ORDER BY o.objid::regprocedure::text) FROM pg_dist_object o
	WHERE o.classid = 'pg_proc'::regclass AND o.distribution_argument_index = 0
	  AND o.colocationid = (SELECT colocationid FROM pg_dist_partition WHERE logicalrelid = 'contacts'::regclass)")
is "$fgot" "$fwant" "every function taking user_id first is distributed by it, colocated with contacts ($(wc -w <<<"$fwant") functions)"
is "$(coord "SELECT string_agg(format('%s/%s/%s', user_id, id, payload_json), ' ' ORDER BY user_id, id) FROM contact_integrations")" \
	"$profiles11" "the 1.1 profiles are kept, ids included"
is "$(coord "SELECT string_agg(format('%s/%s', user_id, id), ' ' ORDER BY user_id, id) FROM integration_events")" \
	"$events11" "the 1.1 events are kept, ids included"

# Tenants 1..20 are spread over the workers; take one on each worker.
w1t=$(coord "SELECT min(u) FROM generate_series(1, 20) u JOIN citus_shards s ON s.table_name = 'contacts'::regclass
	AND s.shardid = get_shard_id_for_distribution_column('contacts', u) WHERE s.nodeport = $AP_PORT_W1")
w2t=$(coord "SELECT min(u) FROM generate_series(1, 20) u JOIN citus_shards s ON s.table_name = 'contacts'::regclass
	AND s.shardid = get_shard_id_for_distribution_column('contacts', u) WHERE s.nodeport = $AP_PORT_W2")
ok $([ -n "$w1t" ] && [ -n "$w2t" ]; echo $?) "tenants on both workers (tenant $w1t on one, $w2t on the other)"

# call PATH TENANT SQL: one bare call (a delegated call must be a plain
# top-level SELECT of the function), its result in $R; $PUSHED 1 when Citus
# said it pushed the call down to a worker
call() {
	local port=$AP_PORT_COORD pre='' post='' out
	case $1 in
	begin) pre='BEGIN;' post='COMMIT;' ;;
	worker) [ "$2" = "$w1t" ] && port=$AP_PORT_W1 || port=$AP_PORT_W2 ;;
	esac
	out=$("$PGBIN/psql" -X -q -A -t -h "$AP_CITUS_DIR" -p "$port" -U postgres -d postgres \
		-c "SET client_min_messages = debug1" -c "$pre $3; $post" 2>&1)
	PUSHED=0
	grep -q "pushing down the function call" <<<"$out" && PUSHED=1
	R=$(grep -v -E '^(DEBUG|DETAIL|CONTEXT|LOG|HINT):|^BEGIN$|^COMMIT$' <<<"$out")
}
# jval JSON KEY: a key of a JSON document, read by the coordinator
jval() { coord "SELECT \$j\$$1\$j\$::jsonb ->> '$2'"; }

file=$'email,mobile,status\nc1@example.com,,vip\nnew.one@example.com,0499 111 222,new\n'
pushed_all=0
for t in $w1t $w2t; do
	for path in delegated begin worker; do
		# card save of the contact without a profile, then an import, its report, its undo, an export
		call $path $t "SELECT activepipe_card_save($t, ${t}02, '{\"status\": \"$path\"}')"
		is "$(coord "SELECT \$j\$$R\$j\$::jsonb #>> '{fields,status}'")" "$path" "tenant $t, $path: activepipe_card_save after the update"
		p1=$PUSHED
		call $path $t "SELECT activepipe_import_commit($t, \$f\$$file\$f\$)"
		ev=$(jval "$R" event_id)
		like "$ev" '^[0-9]+$' "tenant $t, $path: activepipe_import_commit after the update" "$R"
		p2=$PUSHED
		call $path $t "SELECT string_agg(action, ',' ORDER BY line) FROM activepipe_import_report($t, $ev)"
		is "$R" "update,new" "tenant $t, $path: its report"
		call $path $t "SELECT activepipe_import_undo($t, $ev)"
		is "$(jval "$R" deleted)" "1" "tenant $t, $path: its undo deletes the contact it created"
		p3=$PUSHED
		call $path $t "SELECT activepipe_export($t, ARRAY[${t}01, ${t}02]::bigint[], 'up.csv')"
		like "$R" "^firstname,lastname," "tenant $t, $path: activepipe_export after the update"
		p4=$PUSHED
		if [ "$path" = delegated ]; then
			[ "$p1$p2$p3$p4" = 1111 ] || pushed_all=1
		fi
		call $path $t "SELECT activepipe_card_clear($t, ${t}02)"
	done
done
ok $pushed_all "the delegated calls (card save, import commit, undo, export) were pushed down to the tenant's worker (Citus' debug message)"

is "$(coord "SELECT count(*) FROM integration_events WHERE event_type = 'undo'")" 6 \
	"the shards of integration_events took the update's new CHECK: six undo events stored"
for tc in contact_integrations integration_events; do
	is "$(coord "SELECT count(*) - count(DISTINCT id) FROM $tc")" 0 \
		"$tc.id is unique across the cluster after writes from every path ($(coord "SELECT count(*) FROM $tc") rows)"
done
is "$(coord "SELECT count(*) FROM tenant_locks WHERE user_id IN ($w1t, $w2t)")" 2 \
	"the tenant lock's rows live in the distributed tenant_locks"
done_testing
