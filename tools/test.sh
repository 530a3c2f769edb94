#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what is missing, builds
# with -Wall -Wextra -Werror, runs ctest, then builds again with
# AddressSanitizer + UndefinedBehaviorSanitizer and runs the same tests there.
# usage: tools/test.sh [-j N] [ctest args...]   (e.g. tools/test.sh -R ring)
set -uo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
if [ "${1:-}" = "-j" ]; then jobs=$2; shift 2; fi
bash tools/deps.sh || exit 1

status=0
run_suite() { # run_suite BUILD_DIR [cmake args...]
    local dir=$1
    shift
    echo "== build $dir $*"
    cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSIEVE_WERROR=ON "$@" >"$dir.cmake.log" 2>&1 \
        || { cat "$dir.cmake.log"; return 1; }
    cmake --build "$dir" -j "$jobs" >"$dir.build.log" 2>&1 || { grep -E "error|Error" -A3 "$dir.build.log" | head -60; return 1; }
    echo "== ctest $dir"
    (cd "$dir" && ctest --output-on-failure -j "$jobs" $CTEST_ARGS)
}
CTEST_ARGS="$*"
mkdir -p build
run_suite build || status=1
# Sanitizer pass: leaks, overflows and UB fail the test that triggers them.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
run_suite build-asan -DSIEVE_SANITIZE=address,undefined || status=1
exit $status
