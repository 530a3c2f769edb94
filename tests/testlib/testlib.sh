# Shared helpers for the shell tests (sourced; ctest sets the SIEVE_* variables):
# a temp dir, checks that count failures, and a closing "N passed, N failed"
# line (finish).
set -u
SIEVE=${SIEVE_BIN:?run under ctest}
SRC=${SIEVE_SOURCE_DIR:?run under ctest}
PY=/usr/bin/python3
T=$(mktemp -d /tmp/sieve-test-XXXXXX)
trap 'rm -rf "$T"' EXIT
passed=0
failed=0

ok() { passed=$((passed + 1)); echo "ok   $1"; }
bad() { failed=$((failed + 1)); echo "FAIL $1"; shift; for l in "$@"; do echo "     $l"; done; }

# expect NAME STATUS REGEX -- command...: the command exits with STATUS and its
# stderr matches REGEX (extended).
expect() {
    local name=$1 want=$2 pattern=$3
    shift 4
    "$@" >"$T/out" 2>"$T/err"
    local got=$?
    if [ "$got" -ne "$want" ]; then
        bad "$name" "exit status $got, expected $want" "stderr: $(head -c 600 "$T/err")"
    elif [ -n "$pattern" ] && ! grep -Eq -- "$pattern" "$T/err"; then
        bad "$name" "stderr does not match /$pattern/" "stderr: $(head -c 600 "$T/err")"
    else
        ok "$name"
    fi
}

finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}
