#!/usr/bin/env bash
# make bench-citus: the 100k-row import and the 100k-contact export on a
# Citus coordinator and two workers, against the same calls on a plain
# single PostgreSQL node of the same machine (issue 13, item 6).  Prints a
# table of medians and ratios and writes it to bench/results/citus.md.
# Like make bench, it informs and does not gate.
#
#   make bench-citus                        # 100k contacts per tenant, 100k-row file
#   BENCH_CITUS_CONTACTS=20000 bash bench/citus.sh   # smaller, quicker
#
# The nodes are test/citus/cluster.sh's (all on this machine, sharing its
# cores), the schema and distribution test/citus/setup.sql's (those of
# docs/scaling.md).  The data is bench/gen_data.sql's, built once on the
# plain node and copied into the cluster, so both hold the same rows; the
# file is bench/gen_csv.py's 100k-row mix (matches by email, mobile and
# phone, conflicts, new people, rows without a key).
#
# Paths measured (docs/scaling.md, "Calling the functions on Citus"):
#   single node   a top-level SELECT on the plain node
#   delegated     a top-level SELECT on the coordinator: Citus runs the
#                 whole call on the worker holding the tenant
#   in BEGIN      the call inside a transaction block on the coordinator:
#                 it runs there, and each statement goes to the worker
# Each path is one warm session (a pooled connection); the file and the ids
# are sent as literals, the same bytes on every path.  Commits are followed
# by activepipe_import_undo (not timed), so every repetition imports into
# the same contacts; in BEGIN, the commit is rolled back instead.
set -uo pipefail
cd "$(dirname "$0")/.."

die() {
	echo "bench-citus: $*" >&2
	exit 1
}

[ -f "$(pg_config --sharedir)/extension/citus.control" ] \
	|| die "Citus is not installed for $(pg_config --bindir)/postgres"
contacts=${BENCH_CITUS_CONTACTS:-100000}
reps=${BENCH_REPS:-5}
out=${BENCH_OUT:-bench/results/citus.md}
PGBIN=$(pg_config --bindir)

if [ -z "${BENCH_NO_INSTALL:-}" ]; then
	SUDO=
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	$SUDO make -s install >/dev/null || die "make install failed"
fi

export CITUS_TEST_OPTS="-c shared_buffers=512MB -c work_mem=64MB -c max_wal_size=4GB -c checkpoint_timeout=30min"
env_out=$(bash test/citus/cluster.sh start) || die "could not start the cluster"
eval "$env_out"
work=$(mktemp -d /tmp/apbench-citus.XXXXXX)
chmod 755 "$work"
trap 'bash test/citus/cluster.sh stop "$AP_CITUS_DIR"; rm -rf "$work"' EXIT

on() {	# NODE psql-args...
	local node=$1 port
	shift
	case $node in
	coord) port=$AP_PORT_COORD ;;
	plain) port=$AP_PORT_PLAIN ;;
	esac
	"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$AP_CITUS_DIR" -p "$port" -U postgres -d postgres "$@"
}

echo "bench-citus: $contacts contacts per tenant, two tenants; a file of $contacts rows" >&2
t0=$(date +%s)
on coord -v citus=1 -f test/citus/setup.sql >/dev/null || die "setup on the coordinator failed"
on plain -v citus=0 -f test/citus/setup.sql >/dev/null || die "setup on the plain node failed"
on plain -v contacts=$((contacts * 2)) -v tenants=2 -f bench/gen_data.sql >/dev/null \
	|| die "bench/gen_data.sql failed"
# the same rows into the cluster: COPY into distributed tables
for t in public.users public.contacts public.contact_integrations; do
	on plain -c "\\copy $t TO STDOUT" | on coord -c "\\copy $t FROM STDIN" \
		|| die "copying $t into the cluster failed"
done
on coord >/dev/null <<SQL || die "preparing the cluster failed"
SELECT setval(pg_get_serial_sequence('public.contacts', 'id'), $((contacts * 2)));
-- the copied profiles' ids were drawn on the plain node: go on from them
SELECT setval('contact_integrations_id_seq', (SELECT max(id) FROM contact_integrations));
VACUUM ANALYZE public.users, public.contacts, public.contact_integrations;
SQL
# Settings are read where a call runs: on Citus, per database (Citus
# carries ALTER DATABASE ... SET from the coordinator to the workers).
for node in coord plain; do
	on "$node" -c "ALTER DATABASE postgres SET activepipe.export_cap = $((contacts + 1))" \
		|| die "export_cap on $node failed"
done

on plain -c "\\copy (SELECT id, first_name, last_name, email, phone, mobile, street_address, city, state, postcode, country FROM public.contacts WHERE user_id = 1 ORDER BY id) TO '$work/tenant.csv' CSV HEADER" \
	|| die "tenant export failed"
python3 bench/gen_csv.py --contacts "$work/tenant.csv" --out "$work" --base "$contacts" --sizes "$contacts" \
	|| die "bench/gen_csv.py failed"
mv "$work/$contacts.csv" "$work/file.csv"
on plain -A -t -c "SELECT array_agg(id ORDER BY id) FROM public.contacts WHERE user_id = 1" >"$work/ids.txt" \
	|| die "tenant ids failed"
worker=$(on coord -A -t -c "SELECT nodeport FROM citus_shards WHERE table_name = 'contacts'::regclass
	AND shardid = get_shard_id_for_distribution_column('contacts', 1)")
echo "bench-citus: data ready in $(( $(date +%s) - t0 )) s; tenant 1 is on the worker at port $worker" >&2

BENCH_CITUS_DIR=$AP_CITUS_DIR BENCH_CITUS_COORD=$AP_PORT_COORD BENCH_CITUS_PLAIN=$AP_PORT_PLAIN \
	BENCH_CITUS_WORK=$work BENCH_CITUS_CONTACTS=$contacts BENCH_REPS=$reps BENCH_OUT=$out \
	PGBIN=$PGBIN python3 bench/citus.py || die "bench/citus.py failed"
exit 0
