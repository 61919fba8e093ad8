#!/usr/bin/env bash
# Throwaway Citus cluster on this machine for test/citus/run.sh: a
# coordinator, two workers and a fourth, plain PostgreSQL node (no Citus)
# that the suite compares against.
#
#   eval "$(bash test/citus/cluster.sh start [DIR])"   # prints exports
#   bash test/citus/cluster.sh stop DIR
#
# Like scripts/cluster.sh: as root the servers belong to the postgres OS
# user; every node listens only on a Unix socket in DIR (each on its own
# port, so one directory serves them all and the nodes reach each other
# with host=DIR), fsync=off, trust authentication.  The Citus nodes load
# citus (shared_preload_libraries) and talk to each other without SSL
# (citus.node_conninfo).  The nodes are registered (coordinator host,
# two workers); the schema is test/citus/setup.sql's business.
set -euo pipefail

PGBIN=$(pg_config --bindir)
cmd=${1:?usage: cluster.sh start [DIR] | stop DIR}
dir=${2:-}
NODES="coord w1 w2 plain"

as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		(cd / && runuser -u postgres -- "$@")
	else
		"$@"
	fi
}

stop_all() {
	local n
	for n in $NODES; do
		[ -f "$dir/$n/PG_VERSION" ] || continue
		as_owner "$PGBIN/pg_ctl" -D "$dir/$n" -m immediate -w stop >/dev/null 2>&1 || true
	done
}

case "$cmd" in
start)
	made=
	[ -n "$dir" ] || { dir=$(mktemp -d /tmp/activepipe-citus.XXXXXX); made=1; }
	# a start that fails stops what it started and removes what it made
	fail() { stop_all; [ -z "$made" ] || rm -rf "$dir"; exit 1; }
	mkdir -p "$dir"
	chmod 755 "$dir"
	[ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
	# the sockets share DIR, so the ports only need to differ from each other
	base=${CITUS_TEST_PORT:-$(( 55400 + RANDOM % 500 ))}
	i=0
	for n in $NODES; do
		port=$((base + i))
		i=$((i + 1))
		opts="-c fsync=off -c max_connections=60 -c max_prepared_transactions=60"
		if [ "$n" != plain ]; then
			opts="$opts -c shared_preload_libraries=citus"
			opts="$opts -c citus.node_conninfo='sslmode=disable'"
			opts="$opts -c citus.max_adaptive_executor_pool_size=4"
		fi
		as_owner "$PGBIN/initdb" -D "$dir/$n" -U postgres --auth=trust \
			--encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb-$n.log" 2>&1 \
			|| { cat "$dir/initdb-$n.log" >&2; fail; }
		as_owner "$PGBIN/pg_ctl" -D "$dir/$n" -l "$dir/$n.log" -w -t 120 \
			-o "-k $dir -p $port -c listen_addresses='' $opts ${CITUS_TEST_OPTS:-}" \
			start >/dev/null || { cat "$dir/$n.log" >&2; fail; }
		eval "port_$n=$port"
	done
	psql_on() {	# PORT SQL
		"$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$dir" -p "$1" -U postgres -d postgres -c "$2" >/dev/null
	}
	for p in "$port_coord" "$port_w1" "$port_w2"; do
		psql_on "$p" "CREATE EXTENSION citus" || fail
	done
	psql_on "$port_coord" "SELECT citus_set_coordinator_host('$dir', $port_coord)" || fail
	psql_on "$port_coord" "SELECT citus_add_node('$dir', $port_w1)" || fail
	psql_on "$port_coord" "SELECT citus_add_node('$dir', $port_w2)" || fail
	echo "export PGHOST='$dir' PGPORT='$port_coord' PGUSER=postgres PGDATABASE=postgres" \
		"AP_CITUS_DIR='$dir' AP_PORT_COORD='$port_coord' AP_PORT_W1='$port_w1'" \
		"AP_PORT_W2='$port_w2' AP_PORT_PLAIN='$port_plain'"
	;;
stop)
	[ -n "$dir" ] || { echo "cluster.sh stop DIR" >&2; exit 1; }
	stop_all
	rm -rf "$dir"
	;;
*)
	echo "cluster.sh: unknown command $cmd" >&2
	exit 1
	;;
esac
