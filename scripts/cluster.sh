#!/usr/bin/env bash
# Throwaway PostgreSQL cluster for tests, the demo and the benchmark.
#
#   eval "$(bash scripts/cluster.sh start [DIR])"   # prints PG* exports
#   bash scripts/cluster.sh stop DIR
#
# The server refuses to run as root: as root the cluster belongs to the
# postgres OS user and clients connect over a Unix socket in DIR as the
# postgres database user (trust auth, no TCP listener).
set -euo pipefail

PGBIN=$(pg_config --bindir)
cmd=${1:?usage: cluster.sh start [DIR] | stop DIR}
dir=${2:-}

as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		(cd / && runuser -u postgres -- "$@")
	else
		"$@"
	fi
}

case "$cmd" in
start)
	[ -n "$dir" ] || dir=$(mktemp -d /tmp/activepipe-pg.XXXXXX)
	mkdir -p "$dir"
	chmod 755 "$dir"
	[ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
	as_owner "$PGBIN/initdb" -D "$dir/data" -U postgres --auth=trust \
		--encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
		|| { cat "$dir/initdb.log" >&2; exit 1; }
	port=${PGTEST_PORT:-54$(( RANDOM % 90 + 10 ))}
	as_owner "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
		-o "-k $dir -p $port -c listen_addresses='' -c fsync=off -c max_connections=40 ${PGTEST_OPTS:-}" \
		start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
	echo "export PGHOST='$dir' PGPORT='$port' PGUSER=postgres PGDATABASE=postgres AP_CLUSTER_DIR='$dir'"
	;;
stop)
	[ -n "$dir" ] || { echo "cluster.sh stop DIR" >&2; exit 1; }
	as_owner "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
	rm -rf "$dir"
	;;
*)
	echo "cluster.sh: unknown command $cmd" >&2
	exit 1
	;;
esac
