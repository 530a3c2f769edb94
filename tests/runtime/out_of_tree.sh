#!/usr/bin/env bash
# The example plugin in tests/example-plugin builds outside the tree with only
# the installed headers and `pkg-config sieve`, and runs in a pipeline of the
# installed sieve.
. "${SIEVE_SOURCE_DIR:?run under ctest}/tests/testlib/testlib.sh"
BUILD=${SIEVE_BUILD_DIR:?}
SRC=${SIEVE_SOURCE_DIR:?}
cmake --install "$BUILD" --prefix "$T/prefix" >"$T/install.log" 2>&1 || bad install "$(tail -5 "$T/install.log")"
cp -r "$SRC/tests/example-plugin" "$T/plugin"
libdir=$(dirname "$(find "$T/prefix" -name sieve.pc | head -1)")
if PKG_CONFIG_PATH="$libdir" make -C "$T/plugin" >"$T/make.log" 2>&1; then
    ok builds_with_pkg_config_only
else
    bad builds_with_pkg_config_only "$(tail -5 "$T/make.log")"
fi
printf '{"id": 1, "text": "twelve eggs", "n": [1, 2]}\n{"id": 2, "text": "Dozen"}\n' >"$T/in.jsonl"
cat >"$T/p.yaml" <<Y
pipeline: example
stages:
  read: {plugin: jsonl-read, params: {path: $T/in.jsonl}}
  up: {plugin: uppercase, input: read}
  write: {plugin: jsonl-write, input: up, params: {path: "{run}/out.jsonl"}}
Y
unset SIEVE_PLUGIN_PATH
export SIEVE_PLUGIN_PATH="$T/plugin"
if "$T/prefix/bin/sieve" run -q "$T/p.yaml" --runs-dir "$T/runs" 2>"$T/err"; then
    got=$(cat "$T"/runs/example/*/out.jsonl)
    want='{"id": 1, "text": "TWELVE EGGS", "n": [1, 2]}
{"id": 2, "text": "DOZEN"}'
    [ "$got" = "$want" ] && ok runs_in_installed_sieve || bad runs_in_installed_sieve "$got"
else
    bad runs_in_installed_sieve "$(cat "$T/err")"
fi
"$T/prefix/bin/sieve" plugins uppercase | grep -q "example-uppercase 1.0.0" && ok listed_by_sieve_plugins || bad listed_by_sieve_plugins
finish
