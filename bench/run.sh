#!/usr/bin/env bash
# make bench: activepipe side by side with what a DBA would do by hand, on
# the same server in the same run; prints a table of medians and ratios and
# writes it to bench/results/latest.md.  It informs, it does not gate: it
# exits 0 whatever the ratios (non-zero only when it could not measure).
#
#   make bench                          # full: 1M contacts, 100k-row file (~25 min)
#   BENCH_SCALE=smoke bash bench/run.sh # 10k contacts, 1k-row file, 1 repetition
#   BENCH_ONLY=mixed make bench         # only some sections (bench/README.md)
#   BENCH_BASELINE=bench/baseline-1.1.json make bench   # and compare with a run
#
# Environment:
#   BENCH_SCALE        full (default) | smoke
#   BENCH_OUT          results file (default bench/results/latest.md, smoke.md in smoke
#                      mode); the raw figures go beside it as JSON (latest.json)
#   BENCH_ONLY         comma-separated sections: export, preview, commit, reimport,
#                      history, undo, v11, memory, costs, scaling, mixed (default: all)
#   BENCH_BASELINE     a previous run's JSON: print each measure's ratio to it
#   BENCH_MIXED_SECONDS, BENCH_MIXED_CLIENTS   the mixed load (default 60 s, 8 clients)
#   BENCH_REPS         repetitions of the fast measurements (default 7)
#   BENCH_NO_INSTALL   set: do not `make install` first
#   BENCH_USE_RUNNING  set: measure on the cluster PGHOST/PGPORT point at (smoke
#                      mode does so whenever PGHOST is set, e.g. inside make test)
#   PGTEST_OPTS        server settings for the throwaway cluster (default below)
#   BENCH_KEEP         set: leave the cluster and database running at the end (for
#                      profiling: perf record -g -p <backend pid>); prints how to reach them
#   BENCH_SETUP_ONLY   set: build the data, measure nothing (implies BENCH_KEEP)
#   BENCH_LIB          path of another build's activepipe.so (readable by the
#                      server): the extension's functions are pointed at it, to
#                      measure a candidate build without installing it
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

scale=${BENCH_SCALE:-full}
case "$scale" in
full)
	contacts=1000000 base=100000 sizes=100,1000,10000,100000,1000000 keyless=2000000
	out=${BENCH_OUT:-$root/bench/results/latest.md}
	;;
smoke)
	contacts=10000 base=1000 sizes=10,100,1000,10000 keyless=20000
	out=${BENCH_OUT:-$root/bench/results/smoke.md}
	;;
*)
	echo "bench: BENCH_SCALE must be full or smoke" >&2
	exit 1
	;;
esac
tenants=10

die() {
	echo "bench: $*" >&2
	exit 1
}

# 1. The extension as built here.
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
if [ -z "${BENCH_NO_INSTALL:-}" ]; then
	$SUDO make -s install >/dev/null || die "make install failed"
fi

# 2. A server: a throwaway cluster, or the running one in smoke mode.
own_cluster=0
if [ -n "${PGHOST:-}" ] && { [ "$scale" = smoke ] || [ -n "${BENCH_USE_RUNNING:-}" ]; }; then
	db=apbench_$$
else
	export PGTEST_OPTS=${PGTEST_OPTS:-"-c shared_buffers=2GB -c work_mem=64MB -c maintenance_work_mem=512MB -c temp_buffers=256MB -c max_wal_size=4GB -c checkpoint_timeout=30min"}
	eval "$(bash scripts/cluster.sh start)" || die "could not start a cluster"
	own_cluster=1
	db=apbench
fi
export PGDATABASE=$db

# Generated files must be readable by the server (COPY FROM a file).
work=$(mktemp -d /tmp/apbench.XXXXXX)
chmod 755 "$work"
[ -n "${BENCH_SETUP_ONLY:-}" ] && BENCH_KEEP=1
cleanup() {
	[ -n "$v11_so" ] && $SUDO rm -f "$v11_so"
	if [ -n "${BENCH_KEEP:-}" ]; then
		echo "bench: kept: export PGHOST='$PGHOST' PGPORT='$PGPORT' PGUSER='${PGUSER:-}' PGDATABASE='$db'  # files in $work" >&2
		[ "$own_cluster" -eq 1 ] && echo "bench: stop with: bash scripts/cluster.sh stop '$AP_CLUSTER_DIR'" >&2
		return
	fi
	if [ "$own_cluster" -eq 1 ]; then
		bash scripts/cluster.sh stop "$AP_CLUSTER_DIR"
	else
		dropdb --if-exists "$db" >/dev/null 2>&1 || true
	fi
	rm -rf "$work"
}
v11_so=
trap cleanup EXIT

# 1.1 as released (git 69c4ba6), built from this repository's history and
# installed beside this build under a name of this run's own,
# activepipe_v11_<pid>.so (removed at the end, BENCH_KEEP or not), for
# section v11: 1.1 and this build measured in the same run.  Full scale
# only, and not with BENCH_NO_INSTALL (it installs nothing then); without
# the commit (a shallow clone) the section is skipped.
v11_commit=69c4ba6
v11_lib=
if [ "$scale" = full ] && [ -z "${BENCH_NO_INSTALL:-}" ] &&
	{ [ -z "${BENCH_ONLY:-}" ] || [[ ",$BENCH_ONLY," == *,v11,* ]]; }; then
	v11_dir="$work/v11"
	if mkdir "$v11_dir" && git archive "$v11_commit" | tar -x -C "$v11_dir" &&
		make -C "$v11_dir" -s >"$work/v11.log" 2>&1 &&
		v11_so="$(pg_config --pkglibdir)/activepipe_v11_$$.so" &&
		$SUDO install -m 755 "$v11_dir/activepipe.so" "$v11_so"; then
		v11_lib="\$libdir/activepipe_v11_$$"
		echo "bench: 1.1 (git $v11_commit) built and installed as $v11_so" >&2
	else
		v11_so=
		echo "bench: 1.1 (git $v11_commit) could not be built: section v11 skipped" >&2
		tail -5 "$work/v11.log" >&2
	fi
fi

# 3. The reference schema, the extension and the data (bench/gen_data.sql).
echo "bench: $scale: $contacts contacts over $tenants tenants, files of $sizes rows" >&2
t0=$(date +%s)
createdb "$db" || die "createdb failed"
psql -X -q -v ON_ERROR_STOP=1 -f test/fixtures/ulysses_schema.sql >/dev/null || die "schema failed"
psql -X -q -v ON_ERROR_STOP=1 -c "CREATE EXTENSION activepipe" || die "CREATE EXTENSION failed"
if [ -n "${BENCH_LIB:-}" ]; then
	lib=${BENCH_LIB%.so}
	psql -X -q -v ON_ERROR_STOP=1 -v lib="$lib" <<'SQL' || die "could not point the functions at $BENCH_LIB"
UPDATE pg_catalog.pg_proc SET probin = :'lib' WHERE probin = '$libdir/activepipe';
SQL
	echo "bench: functions point at $lib.so" >&2
fi
psql -X -q -v ON_ERROR_STOP=1 -v contacts=$contacts -v tenants=$tenants \
	-f bench/gen_data.sql >/dev/null || die "bench/gen_data.sql failed"
echo "bench: contacts loaded in $(( $(date +%s) - t0 )) s" >&2

# 4. The ActivePipe files for tenant 1 (bench/gen_csv.py), loaded into
#    bench.files so that the functions measured get them without transfer.
psql -X -q -v ON_ERROR_STOP=1 -c "\\copy (SELECT id, first_name, last_name, email, phone, mobile, street_address, city, state, postcode, country FROM public.contacts WHERE user_id = 1 ORDER BY id) TO '$work/tenant.csv' CSV HEADER" \
	|| die "tenant export failed"
# (and a one-row file: the fixed cost of a call, for the marginal cost per row)
python3 bench/gen_csv.py --contacts "$work/tenant.csv" --out "$work" --base $base --sizes 1,$sizes \
	|| die "bench/gen_csv.py failed"
# The keyless file of the memory measurement: many tiny rows with no key
# (all skipped), the worst case of memory per byte of file.
python3 - "$work/keyless.csv" "$keyless" <<'PY' || die "keyless file failed"
import sys
with open(sys.argv[1], "w", newline="") as f:
    f.write("email,firstname\r\n")
    f.write(",x\r\n" * int(sys.argv[2]))
PY
# The mixed load's 20-row files: one per tenant, drawn from its contacts.
mixsql=
for t in $(seq 1 $tenants); do
	mixsql+="\\copy (SELECT id, first_name, last_name, email, phone, mobile, street_address, city, state, postcode, country FROM public.contacts WHERE user_id = $t ORDER BY id LIMIT 2000) TO '$work/mix_t$t.csv' CSV HEADER"$'\n'
done
psql -X -q -v ON_ERROR_STOP=1 <<<"$mixsql" || die "tenant samples failed"
python3 -B - "$work" $tenants <<'PY' || die "the mixed-load files failed"
import csv, sys
sys.path.insert(0, "bench")
import gen_csv
work, tenants = sys.argv[1], int(sys.argv[2])
for t in range(1, tenants + 1):
    with open("%s/mix_t%d.csv" % (work, t), newline="", encoding="utf-8") as f:
        g = gen_csv.Gen(list(csv.DictReader(f)), 20240601 + t)
    gen_csv.write("%s/mix20_%d.csv" % (work, t), [g.row() for _ in range(20)])
PY
chmod 644 "$work"/*.csv
psql -X -q -v ON_ERROR_STOP=1 -v dir="$work" -v sizes="1,$sizes,keyless" -v tenants=$tenants >/dev/null <<'SQL' || die "loading the files failed"
-- Uncompressed, as an application's bind parameter would arrive.
CREATE TABLE bench.files (name text PRIMARY KEY, body text NOT NULL);
ALTER TABLE bench.files ALTER COLUMN body SET STORAGE EXTERNAL;
CREATE TABLE bench.idsets (name text PRIMARY KEY, ids bigint[] NOT NULL);
SELECT format('INSERT INTO bench.files SELECT %L, pg_read_file(%L)',
	n, :'dir' || '/' || n || '.csv')
FROM regexp_split_to_table(:'sizes', ',') n \gexec
SELECT format('INSERT INTO bench.files SELECT %L, pg_read_file(%L)',
	'mix20_' || t, :'dir' || '/mix20_' || t || '.csv')
FROM generate_series(1, :tenants) t \gexec
INSERT INTO bench.idsets
SELECT 'tenant', ARRAY(SELECT id FROM public.contacts WHERE user_id = 1 ORDER BY id);
VACUUM ANALYZE bench.files, bench.idsets;
SQL
# Warm: the tables and their indexes in shared buffers (every session of
# bench.py then touches them itself; pg_prewarm is in PostgreSQL's contrib).
psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<'SQL' || echo "bench: pg_prewarm unavailable: tables not preloaded" >&2
CREATE EXTENSION IF NOT EXISTS pg_prewarm;
SELECT pg_prewarm(c.oid) FROM pg_class c
WHERE c.relnamespace IN ('public'::regnamespace, 'bench'::regnamespace)
	AND c.relkind IN ('r', 'i');
SELECT pg_prewarm(t.reltoastrelid) FROM pg_class t
WHERE t.relnamespace IN ('public'::regnamespace, 'bench'::regnamespace) AND t.reltoastrelid <> 0;
SQL
echo "bench: data ready in $(( $(date +%s) - t0 )) s" >&2

# 5. The measurements.
[ -n "${BENCH_SETUP_ONLY:-}" ] && exit 0
rm -f "$out"
BENCH_DB=$db BENCH_DATA=$work BENCH_BASE=$base BENCH_SIZES=$sizes BENCH_SCALE=$scale \
	BENCH_OUT=$out BENCH_V11_LIB=$v11_lib BENCH_TENANTS=$tenants BENCH_CONTACTS=$contacts BENCH_KEYLESS_ROWS=$keyless \
	BENCH_PGBENCH="$(pg_config --bindir)/pgbench" python3 bench/bench.py || die "bench/bench.py failed"
exit 0
