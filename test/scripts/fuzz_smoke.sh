#!/usr/bin/env bash
# Fuzz smoke test (make test runs it; make fuzz-smoke too): installs the
# fuzz deps (scripts/fuzz-deps.sh), builds the libFuzzer targets, runs
# each for ${FUZZ_SMOKE_SECONDS:-60} seconds over a fresh copy of its seed
# corpus with -max_len=65536 -rss_limit_mb=2048, one target at a time,
# and replays every file in fuzz/regressions/ through every target.
# TAP: "ok N - fuzz <target> 60s, no crash" per target, then one line per
# target for the regression replay.  Total time: about 4 x 60 s plus the
# build (~20 s) with the four targets of today.
set -uo pipefail
cd "$(dirname "$0")/../.."
exec bash scripts/fuzz-run.sh --smoke "${FUZZ_SMOKE_SECONDS:-60}"
