#!/usr/bin/env bash
# Every kind of bad input gets a clear error (file, line, field) and the right
# exit status, never a crash.
# usage: cli_errors.sh TEST_PLUGIN_DIR BAD_PLUGIN_DIR
. "${SIEVE_SOURCE_DIR:?run under ctest}/tests/testlib/testlib.sh"
export SIEVE_PLUGIN_PATH="$SIEVE_PLUGIN_PATH:$1"
BAD_DIR=$2
GSM=${SIEVE_SHARED_DATA:?}/gsm8k/train.jsonl

cat >"$T/syntax.yaml" <<'Y'
pipeline: p
stages:
  read: {plugin: jsonl-read, params: {path: x}
  write: [
Y
expect yaml_syntax_error_names_file_line_col 2 "syntax.yaml:4:[0-9]+: " -- "$SIEVE" validate "$T/syntax.yaml"

cat >"$T/unknown.yaml" <<'Y'
pipeline: p
stages:
  read: {plugin: jsonl-reed, params: {path: x}}
Y
expect unknown_plugin_lists_known_ones 2 "unknown.yaml:3:[0-9]+: .*unknown plugin 'jsonl-reed' \(did you mean 'jsonl-read'\?\); known: .*jsonl-write" -- "$SIEVE" validate "$T/unknown.yaml"

cat >"$T/badinput.yaml" <<'Y'
pipeline: p
stages:
  read: {plugin: jsonl-read, params: {path: x}}
  write: {plugin: jsonl-write, input: raed, params: {path: y}}
Y
expect unknown_input_stage_lists_stages 2 "badinput.yaml:4:[0-9]+: .*input 'raed' is not a stage.*stages: read, write" -- "$SIEVE" validate "$T/badinput.yaml"

cat >"$T/mismatch.yaml" <<'Y'
pipeline: p
stages:
  nums: {plugin: test-count}
  ids: {plugin: test-tensor-out, input: nums}
  feats: {plugin: test-f32-in, input: ids}
Y
expect port_type_mismatch_names_both_ends 2 "mismatch.yaml:5:[0-9]+: type mismatch: ids.ids is tensor\(i32,2\) but feats.x takes tensor\(f32,2\)" -- "$SIEVE" validate "$T/mismatch.yaml"

cat >"$T/either_ok.yaml" <<'Y'
pipeline: p
stages:
  nums: {plugin: test-count}
  x: {plugin: test-either-in, input: nums}
Y
expect port_with_alternatives_takes_records 0 "" -- "$SIEVE" validate "$T/either_ok.yaml"
cat >"$T/either_bad.yaml" <<'Y'
pipeline: p
stages:
  nums: {plugin: test-count}
  ids: {plugin: test-tensor-out, input: nums}
  x: {plugin: test-either-in, input: ids}
Y
expect port_with_alternatives_refuses_other_types 2 "either_bad.yaml:5:[0-9]+: type mismatch: ids.ids is tensor\(i32,2\) but x.in takes tensor\(f32,2\) \| records\(x\|y\)" -- "$SIEVE" validate "$T/either_bad.yaml"

cat >"$T/records2tensor.yaml" <<'Y'
pipeline: p
stages:
  nums: {plugin: test-count}
  feats: {plugin: test-tensor-in, input: nums}
Y
expect records_into_tensor_port_is_refused 2 "nums.out is records but feats.ids takes tensor\(i32,2\)" -- "$SIEVE" validate "$T/records2tensor.yaml"

cat >"$T/cycle.yaml" <<'Y'
pipeline: p
stages:
  a: {plugin: head, input: c, params: {n: 1}}
  b: {plugin: head, input: a, params: {n: 1}}
  c: {plugin: head, input: b, params: {n: 1}}
Y
expect cycle_is_named 2 "cycle: (a -> c -> b -> a|a -> b -> c -> a)" -- "$SIEVE" validate "$T/cycle.yaml"

cat >"$T/aftercycle.yaml" <<'Y'
pipeline: p
stages:
  a: {plugin: test-count, after: b}
  b: {plugin: head, input: a, params: {n: 1}}
Y
expect after_cycle_is_named 2 "cycle: (a -> b -> a|b -> a -> b)" -- "$SIEVE" validate "$T/aftercycle.yaml"

cat >"$T/missing.yaml" <<'Y'
pipeline: p
stages:
  read: {plugin: jsonl-read}
Y
expect missing_parameter_is_named 2 "missing.yaml:3:3: stage 'read': missing required parameter 'path'" -- "$SIEVE" validate "$T/missing.yaml"

cat >"$T/unknownparam.yaml" <<'Y'
pipeline: p
stages:
  read: {plugin: jsonl-read, params: {path: x, batch_sise: 3}}
Y
expect unknown_parameter_suggests_closest 2 "unknownparam.yaml:3:[0-9]+: stage 'read': unknown parameter 'batch_sise' for plugin 'jsonl-read' \(did you mean 'batch_size'\?\)" -- "$SIEVE" validate "$T/unknownparam.yaml"

cat >"$T/badtype.yaml" <<'Y'
pipeline: p
stages:
  read: {plugin: jsonl-read, params: {path: x, batch_size: lots}}
Y
expect parameter_of_wrong_type_is_named 2 "badtype.yaml:3:[0-9]+: stage 'read': parameter 'batch_size': 'lots' is not an integer" -- "$SIEVE" validate "$T/badtype.yaml"

printf '{"question": "a", "answer": "1"}\n{"question": "b", \n{"question": "c", "answer": "3"}\n' >"$T/bad.jsonl"
cat >"$T/badjson.yaml" <<Y
pipeline: p
stages:
  read: {plugin: jsonl-read, params: {path: $T/bad.jsonl}}
  write: {plugin: jsonl-write, input: read, params: {path: "{run}/out.jsonl"}}
Y
expect malformed_jsonl_line_fails_with_file_line 1 "bad.jsonl:2: " -- "$SIEVE" run "$T/badjson.yaml" --runs-dir "$T/runs"
expect malformed_jsonl_line_skipped_and_counted 0 "skipped 1 malformed line\(s\) of 3" -- "$SIEVE" run "$T/badjson.yaml" --runs-dir "$T/runs" --set read.on_error=skip
n=$(cat "$T"/runs/p/*/out.jsonl 2>/dev/null | wc -l)
[ "$n" -eq 2 ] && ok skip_mode_keeps_the_good_lines || bad skip_mode_keeps_the_good_lines "got $n lines"

cat >"$T/unwritable.yaml" <<Y
pipeline: p
stages:
  read: {plugin: jsonl-read, params: {path: $GSM}}
  write: {plugin: jsonl-write, input: read, params: {path: /proc/no/such/dir/out.jsonl}}
Y
expect unwritable_output_names_path_and_errno 1 "/proc/no/such/dir/out.jsonl.partial: cannot open for writing: No such file or directory" -- "$SIEVE" run "$T/unwritable.yaml" --runs-dir "$T/runs"

expect missing_input_file_names_path 1 "nofile.jsonl: cannot open: No such file or directory" -- "$SIEVE" run "$T/badjson.yaml" --runs-dir "$T/runs" --set read.path=$T/nofile.jsonl

SIEVE_PLUGIN_PATH="$SIEVE_PLUGIN_PATH:$BAD_DIR" expect abi_mismatch_names_file_and_versions 2 "badabi.so was built for sieve ABI version 999, but this runtime has ABI version 1" -- "$SIEVE" plugins

cat >"$T/fail.yaml" <<'Y'
pipeline: failing
stages:
  nums: {plugin: test-count, params: {n: 100000}}
  boom: {plugin: test-fail, input: nums, params: {fail_at: 5000}}
  after: {plugin: head, input: boom, params: {n: 100000000}}
Y
expect first_error_stops_pipeline_with_names 1 "pipeline 'failing', stage 'boom' \(test-fail\): failing on purpose at record 5000" -- "$SIEVE" run "$T/fail.yaml" --runs-dir "$T/runs"
grep -q "\[nums\] destroyed" "$T/err" && grep -q "\[boom\] destroyed" "$T/err" && ok every_stage_destroyed_after_error || bad every_stage_destroyed_after_error "$(cat "$T/err")"
grep -q '"status": "failed"' "$T"/runs/failing/*/manifest.json && ok manifest_records_failure || bad manifest_records_failure

if "$SIEVE" plugins score >/dev/null 2>&1; then
    cat >"$T/cuda.yaml" <<'Y'
pipeline: p
stages:
  s: {plugin: score, params: {model: x}, backend: nosuch}
Y
    expect unknown_backend_fails_at_validate 2 "cuda.yaml:3:3: stage 's': backend 'nosuch' cannot be used: unknown backend 'nosuch'" -- "$SIEVE" validate "$T/cuda.yaml"
fi
expect unknown_stage_for_stage_command 2 "unknown stage 'tokenise'.*known: " -- "$SIEVE" stage tokenise
expect bad_set_assignment 2 "expected stage.param=value" -- "$SIEVE" validate "$T/missing.yaml" --set nodot
expect help_for_every_command 0 "" -- sh -c "for c in run validate graph plugins stage; do $SIEVE \$c --help >/dev/null || exit 1; done"
finish
