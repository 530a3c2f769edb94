#!/usr/bin/env bash
# The report stage: evaluation entries, counted data streams, the gain with the
# standard error of the difference (checked against Python's arithmetic), and
# the plots.
. "${SIEVE_SOURCE_DIR:?run under ctest}/tests/testlib/testlib.sh"
PY=/usr/bin/python3
printf '{"accuracy": 0.70, "n": 1000, "ci95": [0.67, 0.73]}\n' >"$T/sft.jsonl"
printf '{"accuracy": 0.76, "n": 1000}\n' >"$T/rft.jsonl"
printf '{"qid": "a"}\n{"qid": "a"}\n{"qid": "b"}\n{"qid": "a"}\n' >"$T/paths.jsonl"
cat >"$T/p.yaml" <<Y
pipeline: rep
stages:
  sft: {plugin: jsonl-read, params: {path: $T/sft.jsonl}}
  rft: {plugin: jsonl-read, params: {path: $T/rft.jsonl}}
  paths: {plugin: jsonl-read, params: {path: $T/paths.jsonl}}
  report: {plugin: report, input: [sft, rft, paths],
           params: {names: [sft, rft, paths], compare: [sft, rft], title: test}}
Y
"$SIEVE" run "$T/p.yaml" --runs-dir "$T/runs" 2>"$T/err" || bad run "$(cat "$T/err")"
d=$(echo "$T"/runs/rep/*)
$PY - "$d/report.json" <<'P' && ok report_json_has_entries_counts_and_gain || bad report_json_has_entries_counts_and_gain "$(cat "$d/report.json")"
import json, math, sys
r = json.load(open(sys.argv[1]))
assert r["sft"]["accuracy"] == 0.7 and r["sft"]["ci95"] == [0.67, 0.73]
se = math.sqrt(0.7 * 0.3 / 1000 + 0.76 * 0.24 / 1000)
assert abs(r["rft"]["ci95"][0] - (0.76 - 1.96 * math.sqrt(0.76 * 0.24 / 1000))) < 1e-6
assert r["paths"] == {"records": 4, "questions": 2, "per_question": 2.0}
assert abs(r["difference"]["gain"] - 0.06) < 1e-9 and abs(r["difference"]["se"] - se) < 1e-6
assert abs(r["difference"]["z"] - 0.06 / se) < 1e-3
P
grep -q "| rft | 76.0% |" "$d/report.md" && grep -q "rft | 76.0%" "$T/err" && ok markdown_written_and_printed || bad markdown_written_and_printed
if command -v gnuplot >/dev/null; then
    [ -s "$d/accuracy.png" ] && ok accuracy_plot_drawn || bad accuracy_plot_drawn "$(cat "$T/err")"
fi
finish
