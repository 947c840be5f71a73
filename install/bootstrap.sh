#!/usr/bin/env bash
# Prepares a checkout for development and tests on Debian/Ubuntu: the system packages gunwatch
# uses (Debian's CPU libdarknet.so and its CLI) and those its tests use as real counterparts
# (ffmpeg and rtsp-server-perl for an RTSP camera), a virtualenv in .venv, and gunwatch
# installed in editable mode with its test extras. Safe to run again: it only adds what is
# missing.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for pkg in darknet ffmpeg rtsp-server-perl; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "bootstrap: installing ${missing[*]} with apt-get"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv || {
    echo "bootstrap: python3 -m venv failed; on Debian install python3-venv first" >&2
    exit 1
  }
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'
echo "bootstrap: ready (.venv/bin/gunwatch, .venv/bin/python -m pytest)"
