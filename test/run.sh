#!/usr/bin/env bash
# make test: install the built extension, start a throwaway cluster, run
# the plain-C unit tests, pg_regress and pgTAP (pg_prove), the shell
# scenarios and, where Citus is installed, the Citus suite (test/citus/),
# then print one closing line "N passed, N failed" and exit non-zero on
# any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
logdir=$root/test/logs
rm -rf "$logdir"
mkdir -p "$logdir"

passed=0
failed=0
count_tap() {	# file -> adds its ok / not ok lines to the totals
	local ok nok
	ok=$(grep -cE '^[[:space:]]*ok [0-9]+' "$1")
	nok=$(grep -cE '^[[:space:]]*not ok [0-9]+' "$1")
	passed=$((passed + ok))
	failed=$((failed + nok))
}

# 0. Every command the suite runs, before anything runs: a missing one
#    would otherwise surface as scores of failures of unrelated checks.
. test/scripts/lib/tools.sh
missing=$(missing_tools)
if [ -n "$missing" ]; then
	echo "not ok - commands the tests run are missing (install the packages, then rerun):"
	printf '%s\n' "$missing" | sed 's/^/#   /'
	echo
	echo "0 passed, 1 failed"
	exit 1
fi

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO make -s install >"$logdir/install.log" 2>&1 || { cat "$logdir/install.log"; echo "0 passed, 1 failed"; exit 1; }

# 1. Plain-C unit tests of src/lib (no server).
echo "== unit tests (src/lib)"
make -s unit >"$logdir/unit.log" 2>&1
unit_rc=$?
count_tap "$logdir/unit.log"
grep -E '^not ok|^#   ' "$logdir/unit.log" || true
[ $unit_rc -eq 0 ] || { grep -q '^not ok' "$logdir/unit.log" || { tail -20 "$logdir/unit.log"; failed=$((failed + 1)); }; }
echo "   $(grep -cE '^ok ' "$logdir/unit.log") ok"

# 2. A throwaway cluster for everything that needs a server.
eval "$(bash scripts/cluster.sh start)"
trap 'bash scripts/cluster.sh stop "$AP_CLUSTER_DIR"' EXIT

# 3. pg_regress: output-shaped behaviour (sql/ vs expected/).
echo "== pg_regress"
make -s installcheck >"$logdir/regress.log" 2>&1
cat "$logdir/regress.log" | grep -E '^(test| |ok|not ok)' | sed 's/^/   /'
r_ok=$(grep -cE '\.\.\. ok|^ok [0-9]+ ' "$logdir/regress.log")
r_bad=$(grep -cE '\.\.\. FAILED|^not ok [0-9]+ |\.\.\. failed' "$logdir/regress.log")
passed=$((passed + r_ok))
failed=$((failed + r_bad))
if [ "$r_bad" -gt 0 ] && [ -f test/regress_out/regression.diffs ]; then
	head -100 test/regress_out/regression.diffs
fi
if [ "$r_ok" -eq 0 ] && [ "$r_bad" -eq 0 ]; then
	cat "$logdir/regress.log"; failed=$((failed + 1))
fi

# 4. pgTAP: assertions, one database holding the reference schema.
echo "== pgTAP"
createdb aptap
psql -X -q -v ON_ERROR_STOP=1 -d aptap >"$logdir/tap_setup.log" 2>&1 <<'SQL' || { cat "$logdir/tap_setup.log"; failed=$((failed + 1)); }
CREATE EXTENSION pgtap;
\i test/fixtures/ulysses_schema.sql
CREATE EXTENSION activepipe;
SQL
pg_prove -v -d aptap test/*.sql >"$logdir/tap.log" 2>&1
tap_rc=$?
count_tap "$logdir/tap.log"
grep -E '^test/|not ok|^#' "$logdir/tap.log" | grep -vE '^#[[:space:]]*$' | sed 's/^/   /' | grep -E 'not ok|Failed|Looks like|test/.*(ok|Failed|Dubious)|^   #' | head -80
if [ $tap_rc -ne 0 ] && ! grep -qE '^[[:space:]]*not ok' "$logdir/tap.log"; then
	tail -30 "$logdir/tap.log"; failed=$((failed + 1))	# died or wrong plan
fi

# 5. Test scripts that drive several sessions or files from the shell.
for t in test/scripts/*.sh; do
	[ -e "$t" ] || continue
	echo "== $t"
	bash "$t" >"$logdir/$(basename "$t").log" 2>&1
	rc=$?
	count_tap "$logdir/$(basename "$t").log"
	grep -E '^not ok' "$logdir/$(basename "$t").log" || true
	if [ $rc -ne 0 ] && ! grep -q '^not ok' "$logdir/$(basename "$t").log"; then
		tail -20 "$logdir/$(basename "$t").log"; failed=$((failed + 1))
	fi
done

# 6. The same extension on a Citus cluster (test/citus/run.sh and
#    upgrade.sh, as make test-citus): only where Citus is installed.
if [ -f "$(pg_config --sharedir)/extension/citus.control" ]; then
	for t in test/citus/run.sh test/citus/upgrade.sh; do
		echo "== $t"
		log=$logdir/citus-$(basename "$t" .sh).log
		bash "$t" >"$log" 2>&1
		rc=$?
		count_tap "$log"
		grep -E '^not ok' "$log" || true
		if [ $rc -ne 0 ] && ! grep -q '^not ok' "$log"; then
			tail -20 "$log"; failed=$((failed + 1))
		fi
	done
else
	echo "== test/citus skipped: Citus is not installed"
fi

echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
