#!/usr/bin/env bash
# Installs the Debian packages sieve needs to build, test and demo, if any is
# missing. Safe to run again; runs apt-get only when something is absent.
set -euo pipefail
pkgs=(build-essential cmake pkg-config libyaml-dev libjansson-dev libopenblas-dev
      python3 python3-torch python3-numpy python3-sentencepiece
      python3-levenshtein clang libclang-rt-14-dev gnuplot-nox bc)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "tools/deps.sh: installing ${missing[*]}" >&2
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
