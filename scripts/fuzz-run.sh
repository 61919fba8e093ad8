#!/usr/bin/env bash
# Run every libFuzzer target in fuzz/bin/ for a while, then replay the
# crashers kept in fuzz/regressions/ through all of them.  Prints TAP:
# one "ok N - fuzz <target> <S>s, no crash" (or "not ok") per target and
# one "ok N - replay ..." per target, with run stats as "#" comments.
#
#   scripts/fuzz-run.sh [--smoke] SECONDS
#
# Without --smoke (make fuzz) each target works in fuzz/corpus-run/<target>/,
# seeded from fuzz/corpus/<target>/ and kept between runs so coverage
# builds up; logs go to fuzz/corpus-run/logs/.  With --smoke (make test,
# make fuzz-smoke) each run works in a directory of its own,
# fuzz/corpus-run/smoke.XXXXXX/, on a fresh copy of the seeds, so its time
# does not grow and smoke runs started side by side do not meet; it is
# removed afterwards unless something failed.  Targets run one after the
# other (one core each), each bounded by -max_total_time plus a hard
# timeout.  Crash inputs go to fuzz/corpus-run/artifacts/.  Deps and the
# build come first (scripts/fuzz-deps.sh, make fuzz-build).
#
# Environment: FUZZ_MAX_LEN (65536), FUZZ_RSS_MB (2048), FUZZ_TIMEOUT
# (per-input seconds, 25), FUZZ_TARGETS (space-separated, default all).
set -uo pipefail
cd "$(dirname "$0")/.."

smoke=0
if [ "${1:-}" = "--smoke" ]; then
	smoke=1
	shift
fi
secs=${1:-60}
max_len=${FUZZ_MAX_LEN:-65536}
rss_mb=${FUZZ_RSS_MB:-2048}
per_input=${FUZZ_TIMEOUT:-25}

n=0
failed=0
tap() {	# ok|not-ok description
	n=$((n + 1))
	if [ "$1" = ok ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		failed=$((failed + 1))
	fi
}

run_root=fuzz/corpus-run
artifacts=$run_root/artifacts
mkdir -p "$run_root" "$artifacts"
if [ $smoke -eq 1 ]; then
	work=$(mktemp -d "$run_root/smoke.XXXXXX")
	logs=$work/logs
else
	work=$run_root
	logs=$run_root/logs
fi
mkdir -p "$logs"

if ! bash scripts/fuzz-deps.sh >"$logs/deps.log" 2>&1; then
	sed 's/^/# /' "$logs/deps.log"
	tap not-ok "fuzz dependencies install"
	exit 1
fi
if ! make -s fuzz-build >"$logs/build.log" 2>&1; then
	tail -40 "$logs/build.log" | sed 's/^/# /'
	tap not-ok "fuzz targets build"
	exit 1
fi

if [ -n "${FUZZ_TARGETS:-}" ]; then
	targets=$FUZZ_TARGETS
else
	targets=$(ls fuzz/fuzz_*.c | xargs -n1 basename | sed 's/\.c$//')
fi

export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# "# target: N execs (R/s), cov C, ft F, corpus K, peak rss M MB"
stats() {	# target log
	local execs rate rss last cov ft corp
	execs=$(grep -aoE 'stat::number_of_executed_units:[[:space:]]*[0-9]+' "$2" | tail -1 | awk '{print $2}')
	rate=$(grep -aoE 'stat::average_exec_per_sec:[[:space:]]*[0-9]+' "$2" | tail -1 | awk '{print $2}')
	rss=$(grep -aoE 'stat::peak_rss_mb:[[:space:]]*[0-9]+' "$2" | tail -1 | awk '{print $2}')
	last=$(grep -aE '^#[0-9]+' "$2" | grep -a 'cov:' | tail -1)
	cov=$(echo "$last" | grep -o 'cov: [0-9]*' | awk '{print $2}')
	ft=$(echo "$last" | grep -o 'ft: [0-9]*' | awk '{print $2}')
	corp=$(echo "$last" | grep -o 'corp: [0-9]*' | awk '{print $2}')
	echo "# $1: ${execs:-?} execs (${rate:-?}/s), cov ${cov:-?}, ft ${ft:-?}, corpus ${corp:-?}, peak rss ${rss:-?} MB"
}

for t in $targets; do
	bin=fuzz/bin/$t
	dir=$work/$t
	mkdir -p "$dir"
	[ -d "fuzz/corpus/$t" ] && cp -p fuzz/corpus/"$t"/* "$dir"/ 2>/dev/null
	log=$logs/$t.log
	start=$(date +%s)
	timeout -k 10 $((secs + 120)) "$bin" "$dir" \
		-max_total_time="$secs" -max_len="$max_len" -rss_limit_mb="$rss_mb" \
		-timeout="$per_input" -print_final_stats=1 \
		-artifact_prefix="$artifacts/$t-" >"$log" 2>&1
	rc=$?
	took=$(($(date +%s) - start))
	if [ $rc -eq 0 ]; then
		tap ok "fuzz $t ${secs}s, no crash"
	else
		tap not-ok "fuzz $t ${secs}s, no crash (exit $rc after ${took}s)"
		grep -aE 'INVARIANT|^  [^ ]|ERROR:|SUMMARY:|^    #[0-9]+ .* in (ap_|LLVMFuzzer)|Test unit written|Base64' "$log" \
			| head -30 | sed 's/^/#   /'
		echo "#   log: $log; keep the input as fuzz/regressions/$t-<short-name>"
	fi
	stats "$t" "$log"
	echo "#   ${took}s wall"
done

# Crashers kept as fixtures: every file through every target.
regs=()
if [ -d fuzz/regressions ]; then
	for f in fuzz/regressions/*; do
		[ -f "$f" ] || continue
		case $(basename "$f") in README*) continue ;; esac
		regs+=("$f")
	done
fi
for t in $targets; do
	log=$logs/$t-regressions.log
	if [ ${#regs[@]} -eq 0 ]; then
		tap ok "replay fuzz/regressions through $t # SKIP no regression inputs"
		continue
	fi
	timeout -k 10 300 "fuzz/bin/$t" -rss_limit_mb="$rss_mb" -timeout="$per_input" \
		-artifact_prefix="$artifacts/$t-replay-" "${regs[@]}" >"$log" 2>&1
	rc=$?
	if [ $rc -eq 0 ]; then
		tap ok "replay ${#regs[@]} fuzz/regressions inputs through $t"
	else
		tap not-ok "replay ${#regs[@]} fuzz/regressions inputs through $t (exit $rc)"
		grep -aE 'Running:|INVARIANT|^  [^ ]|ERROR:|SUMMARY:' "$log" | tail -10 | sed 's/^/#   /'
	fi
done

echo "1..$n"
if [ $smoke -eq 1 ]; then
	if [ $failed -eq 0 ]; then
		rm -rf "$work"
	else
		echo "# smoke run kept in $work"
	fi
fi
[ $failed -eq 0 ]
