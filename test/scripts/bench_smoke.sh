#!/usr/bin/env bash
# The benchmark's own smoke test, inside make test: bench/run.sh in smoke
# mode (10k contacts, a 1k-row file, one repetition of everything) on the
# running test cluster, so that `make bench` cannot rot between full runs.
# It checks that the script runs, that the results table holds every row,
# that every measurement ran, and that it stays quick.  It does not judge
# the ratios: tiny inputs say nothing about speed.
set -uo pipefail
cd "$(dirname "$0")/../.."

echo "1..4"
out=$(mktemp /tmp/apbench-smoke.XXXXXX.md)
log=$(mktemp /tmp/apbench-smoke.XXXXXX.log)
trap 'rm -f "$out" "$log"' EXIT
rm -f "$out"

start=$(date +%s)
BENCH_SCALE=smoke BENCH_NO_INSTALL=1 BENCH_OUT="$out" bash bench/run.sh >"$log" 2>&1
rc=$?
secs=$(( $(date +%s) - start ))

if [ $rc -eq 0 ] && [ -s "$out" ]; then
	echo "ok 1 - bench smoke ran"
else
	echo "not ok 1 - bench smoke ran (exit $rc)"
	sed 's/^/# /' "$log" | tail -30
fi

# Every operation of the full benchmark, by the start of its label.
expected=(
	"export 1k: CSV generation"
	"export 1k: activepipe_export, whole"
	"export 1k: COPY (activepipe_export_rows) TO STDOUT"
	"export 1k: timestamp write ("
	"export 1k: again in the same transaction"
	"import 1k: preview vs COPY into staging"
	"import 1k: commit vs hand-written SQL import"
	"import 1k: re-import (no change) vs preview"
	"scaling: preview 10 rows"
	"scaling: preview 100 rows"
	"scaling: preview 1k rows"
	"scaling: preview 10k rows"
	"scaling: preview us/row, worst of"
	"scaling: preview marginal us/row"
	"scaling: commit 10 rows"
	"scaling: commit 100 rows"
	"scaling: commit 1k rows"
	"scaling: commit 10k rows"
	"scaling: commit us/row, worst of"
	"scaling: commit marginal us/row"
	"memory: peak backend memory, preview"
	"memory: peak backend memory, commit"
)
missing=()
for e in "${expected[@]}"; do
	grep -qF "| $e" "$out" 2>/dev/null || missing+=("$e")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "ok 2 - results table has all ${#expected[@]} rows"
else
	echo "not ok 2 - results table has all ${#expected[@]} rows"
	printf '#   missing: %s\n' "${missing[@]}"
fi

errors=$(grep -E '^\| ' "$out" 2>/dev/null | grep -c 'ERROR')
if [ -s "$out" ] && [ "$errors" -eq 0 ]; then
	echo "ok 3 - every measurement ran"
else
	echo "not ok 3 - every measurement ran ($errors rows with ERROR)"
	grep -E 'ERROR' "$out" 2>/dev/null | sed 's/^/#   /' | head -10
fi

if [ "$secs" -lt 60 ]; then
	echo "ok 4 - smoke run took ${secs} s (< 60 s)"
else
	echo "not ok 4 - smoke run took ${secs} s (< 60 s)"
fi
