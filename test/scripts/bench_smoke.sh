#!/usr/bin/env bash
# The benchmark's own smoke test, inside make test: bench/run.sh in smoke
# mode (10k contacts, a 1k-row file, one repetition of everything, a 5 s
# mixed load) on the running test cluster, so that `make bench` cannot rot
# between full runs.  It checks that the script runs, that the results
# table holds every row, that every measurement ran (a skipped row, for a
# setting or function this build lacks, is not an error), that the JSON
# holds the raw figures, and that it stays quick.  It does not judge
# the ratios: tiny inputs say nothing about speed.
set -uo pipefail
cd "$(dirname "$0")/../.."

echo "1..5"
out=$(mktemp /tmp/apbench-smoke.XXXXXX.md)
json=${out%.md}.json
log=$(mktemp /tmp/apbench-smoke.XXXXXX.log)
trap 'rm -f "$out" "$json" "$log"' EXIT
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
	"export 1k: activepipe_export, whole, vs hand-written SQL export"
	"export 1k: activepipe_export, whole, vs COPY of the join"
	"export 1k: COPY (activepipe_export_rows) TO STDOUT"
	"export 1k: timestamp write ("
	"export 1k: again in the same transaction"
	"import 1k: preview vs preview floor"
	"import 1k: preview vs hand-written SQL preview"
	"import 1k: preview vs COPY into staging"
	"import 1k: preview floor sent to the client"
	"import 1k: commit vs hand-written SQL import"
	"import 1k: re-import of the same file in the same transaction vs a preview of that state"
	"import 1k: commit with history vs without"
	"import 1k: undo of the commit vs that commit"
	"memory: peak backend memory, preview typical 1k-row file"
	"memory: peak backend memory, commit typical 1k-row file"
	"memory: peak backend memory, preview keyless file"
	"memory: peak backend memory, commit keyless file"
	"memory: peak backend memory / file size, any file"
)
for idx in "no indexes" "with indexes"; do
	for kind in preview commit; do
		for n in 10 100 1k 10k; do
			expected+=("scaling, $idx: $kind $n rows")
		done
	done
done
expected+=(
	"scaling, no indexes: preview us/row, worst of"
	"scaling, no indexes: commit us/row, worst of"
	"scaling, with indexes: preview 10-row file vs 1k-row file, us/row (one session)"
	"scaling, with indexes: commit 10-row file vs 1k-row file, us/row (one session)"
	"mixed load (8 clients"
	"mixed load: mean latency, card read"
	"mixed load: mean latency, card save"
	"mixed load: mean latency, export of 50 contacts"
	"mixed load: mean latency, preview of a 20-row file"
	"mixed load: share of client time"
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

# The raw figures beside the table, as JSON, with the measures a later run
# compares against (BENCH_BASELINE).
if python3 - "$json" <<'PY' 2>/dev/null
import json, sys
d = json.load(open(sys.argv[1]))
assert d["scale"] == "smoke"
m = d["measures"]
for k in ("export.whole", "preview.ours", "commit.ours", "mixed.tps",
          "scaling.noidx.preview.10.us_per_row", "scaling.idx.commit.10000.us_per_row",
          "scaling.idx.preview.1.ms"):
    assert k in m and m[k]["value"] > 0, k
PY
then
	echo "ok 4 - raw figures written as JSON"
else
	echo "not ok 4 - raw figures written as JSON ($json)"
fi

if [ "$secs" -lt 60 ]; then
	echo "ok 5 - smoke run took ${secs} s (< 60 s)"
else
	echo "not ok 5 - smoke run took ${secs} s (< 60 s)"
fi
