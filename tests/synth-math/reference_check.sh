#!/bin/bash
# The Python reference checker (tools/synth_reference.py) on problems dumped
# straight from the generator library: it solves each question from its
# sentences and checks every drawn path by the GSM8K paper's rules, and it
# checks that the train and test splits share no question.
# Usage: reference_check.sh SYNTH_DUMP
set -euo pipefail
dump=$1
ref="$SIEVE_SOURCE_DIR/tools/synth_reference.py"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$dump" train 3 800 2 6 6 > "$tmp/train.jsonl"
"$dump" test 3 800 2 6 6 > "$tmp/test.jsonl"
/usr/bin/python3 "$ref" "$tmp/train.jsonl"
/usr/bin/python3 "$ref" "$tmp/test.jsonl"
/usr/bin/python3 "$ref" --disjoint "$tmp/train.jsonl" "$tmp/test.jsonl"
