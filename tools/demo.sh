#!/usr/bin/env bash
# From a fresh machine: install what is missing, build, and run the default
# pipeline (pipelines/demo.yaml when present). Prints where the report is.
# usage: tools/demo.sh [extra sieve run args, e.g. --set defaults.seed=2]
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" >build/build.log 2>&1 || { tail -40 build/build.log; exit 1; }
pipeline=pipelines/demo.yaml
[ -f "$pipeline" ] || pipeline=pipelines/gsm8k-subsets.yaml
./build/runtime/sieve run "$pipeline" "$@"
run=$(ls -td runs/*/* | head -1)
echo
echo "run directory: $run"
[ -f "$run/report.md" ] && cat "$run/report.md"
[ -f "$run/report.json" ] && echo "report: $run/report.json"
exit 0
