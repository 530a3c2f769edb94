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

# tiny_id_model DIR SEED: a random 2-layer LLaMA over 50 token ids (bos 1,
# eos 2, no tokenizer), made by the PyTorch oracle.
tiny_id_model() {
    echo '{"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
 "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 50,
 "bos_token_id": 1, "eos_token_id": 2}' >"$T/tiny_id_cfg.json"
    $PY "$SRC/tools/oracle.py" make-model --config "$T/tiny_id_cfg.json" --out "$1" --seed "$2"
}

# id_pairs FILE N SEED PMIN PMAX RMIN RMAX: N records {"prompt_ids": [1, then
# PMIN..PMAX-1 ids], "response_ids": [RMIN..RMAX-1 ids]}, ids in [3, 50).
id_pairs() {
    $PY - "$@" <<'P'
import json, random, sys
path, n, seed, pmin, pmax, rmin, rmax = sys.argv[1], *map(int, sys.argv[2:])
r = random.Random(seed)
with open(path, "w") as f:
    for i in range(n):
        p = [1] + [r.randrange(3, 50) for _ in range(r.randrange(pmin, pmax))]
        a = [r.randrange(3, 50) for _ in range(r.randrange(rmin, rmax))]
        f.write(json.dumps({"prompt_ids": p, "response_ids": a}) + "\n")
P
}

finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}
