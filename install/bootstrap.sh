#!/usr/bin/env bash
# Prepares a checkout for development and tests on Debian/Ubuntu: the system packages gunwatch
# uses (Debian's CPU libdarknet.so and its CLI) and those its tests use as real counterparts
# (ffmpeg and rtsp-server-perl for an RTSP camera), a virtualenv in .venv, and gunwatch
# installed in editable mode with its test extras. Safe to run again: it only adds what is
# missing.
#
#   bash install/bootstrap.sh [--with-torch] [--with-darknet-forks] [--with-browser]
#
# --with-torch also installs PyTorch: the training engine, and the `torch` detector backend
# (bfloat16 on CPUs with AVX-512 BF16, about twice as fast as opencv there; `auto` picks it).
# --with-darknet-forks also builds the AlexeyAB and hank-ai CPU libdarknet.so from
# ../shared/sources (install/darknet-forks.sh; ~3 min once, seconds after), so the darknet tests
# run against all three library families.
# --with-browser also installs Debian's chromium and chromium-driver, which the review page's
# browser test drives through selenium (no browser download at run time).
set -euo pipefail
cd "$(dirname "$0")/.."

with_torch=0
with_forks=0
with_browser=0
for arg in "$@"; do
  case "$arg" in
    --with-torch) with_torch=1 ;;
    --with-darknet-forks) with_forks=1 ;;
    --with-browser) with_browser=1 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "bootstrap: unknown option $arg (try --help)" >&2; exit 2 ;;
  esac
done

packages=(darknet ffmpeg rtsp-server-perl)
# The forks' build tools; hank-ai does not build without OpenCV's headers.
if ((with_forks)); then packages+=(g++ make cmake libopencv-dev); fi
if ((with_browser)); then packages+=(chromium chromium-driver); fi
missing=()
for pkg in "${packages[@]}"; do
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
# torch==2.13.0 is the CPU wheel on these machines' index; an unpinned `pip install torch`
# resolves to the newest installable release (2.14.1 in December 2026), a CUDA build that pulls
# in the nvidia-* packages. A machine that already has a torch (a CUDA one on a GPU box) keeps it.
if ((with_torch)) && ! .venv/bin/python -c "import torch" 2>/dev/null; then
  echo "bootstrap: installing torch==2.13.0 (CPU build, for the training engine and the torch backend)"
  .venv/bin/python -m pip install -q torch==2.13.0
fi
if ((with_forks)); then bash install/darknet-forks.sh; fi
echo "bootstrap: ready (.venv/bin/gunwatch, .venv/bin/python -m pytest)"
