#!/usr/bin/env bash
# Builds CPU libdarknet.so of the AlexeyAB and hank-ai forks from the source archives in
# ../shared/sources (CI cannot reach GitHub), so the tests run every darknet check against each
# family, not only against Debian's pjreddie build. Builds land outside the checkout, in
# CACHE/<archive sha256>/libdarknet.so: a second run only hashes the archives (seconds).
# Writes .venv/darknet-forks.env, which the tests read to find the builds (environment
# variables of the same names win).
#
#   bash install/darknet-forks.sh [--sources DIR] [--cache DIR]
#
# --sources  the archives and their SHA256SUMS (default: ../shared/sources, or $GUNWATCH_DARKNET_SOURCES)
# --cache    where builds are kept (default: /var/cache/gunwatch/darknet, or $GUNWATCH_DARKNET_CACHE)
#
# Needs gcc, g++, make, cmake and libopencv-dev (hank-ai cannot be built without OpenCV);
# `bash install/bootstrap.sh --with-darknet-forks` installs them and runs this.
set -euo pipefail
cd "$(dirname "$0")/.."
checkout=$PWD

sources=${GUNWATCH_DARKNET_SOURCES:-../shared/sources}
cache=${GUNWATCH_DARKNET_CACHE:-/var/cache/gunwatch/darknet}
while (($#)); do
  case "$1" in
    --sources) sources=$2; shift 2 ;;
    --cache) cache=$2; shift 2 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "darknet-forks: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
done

# family, archive, the test variable that names its library
forks=(
  "alexeyab darknet-alexeyab-59596d7.tar.gz GUNWATCH_TEST_ALEXEYAB_LIB"
  "hankai darknet-hankai-f684e1d.tar.gz GUNWATCH_TEST_HANKAI_LIB"
)

[ -f "$sources/SHA256SUMS" ] || {
  echo "darknet-forks: no $sources/SHA256SUMS; pass --sources DIR with the fork archives" >&2
  exit 1
}
if ! mkdir -p "$cache" 2>/dev/null || [ ! -w "$cache" ]; then
  sudo install -d -o "$(id -u)" -g "$(id -g)" "$cache"
fi

build_alexeyab() {  # $1: unpacked tree
  cd "$1"
  # Only the library target: `all` also builds the CLI and runs a `chmod +x *.sh` that fails
  # on this archive (it has no scripts).
  make -j"$(nproc)" LIBSO=1 GPU=0 CUDNN=0 OPENCV=0 AVX=1 OPENMP=1 libdarknet.so
  cp libdarknet.so "$2"
}

build_hankai() {
  cd "$1"
  # Its CMake takes the version from `git describe`: the archive needs a repository and a tag.
  # v5.0 is the release line of f684e1d (DARKNET_VERSION_KEYWORD "Moonlit"); the bindings
  # do not trust this number for the struct layout, they check it (darknet_bindings/layout.py).
  git init -q && git add -A && git -c user.email=build@localhost -c user.name=build commit -qm src
  git tag v5.0
  mkdir build && cd build
  cmake -DCMAKE_BUILD_TYPE=Release -DDARKNET_TRY_CUDA=OFF -DDARKNET_TRY_ROCM=OFF ..
  make -j"$(nproc)" darknet
  cp -L src-lib/libdarknet.so "$2"
}

env_file=$checkout/.venv/darknet-forks.env
lines=()
for fork in "${forks[@]}"; do
  read -r family archive variable <<<"$fork"
  sum=$(awk -v f="$archive" '$2 == f { print $1 }' "$sources/SHA256SUMS")
  [ -n "$sum" ] || { echo "darknet-forks: $archive is not listed in $sources/SHA256SUMS" >&2; exit 1; }
  echo "$sum  $sources/$archive" | sha256sum --quiet -c - || {
    echo "darknet-forks: $sources/$archive does not match its SHA256SUMS entry; fetch it again" >&2
    exit 1
  }
  target=$cache/$sum/libdarknet.so
  if [ ! -f "$target" ]; then
    echo "darknet-forks: building $family from $archive (AlexeyAB ~15 s, hank-ai ~2-4 min on 2 cores)"
    work=$(mktemp -d "$cache/.build-$family.XXXXXX")
    tar -xzf "$sources/$archive" -C "$work"
    tree=$(find "$work" -mindepth 1 -maxdepth 1 -type d)
    if ! ("build_$family" "$tree" "$work/libdarknet.so") >"$work/build.log" 2>&1; then
      echo "darknet-forks: building $family failed; last lines of $work/build.log:" >&2
      tail -n 30 "$work/build.log" >&2
      exit 1
    fi
    mkdir -p "$cache/$sum"
    # Same filesystem, so the library appears whole or not at all, even if a build is killed.
    mv "$work/libdarknet.so" "$target.part" && mv "$target.part" "$target"
    rm -rf "$work"
  fi
  lines+=("$variable=$target")
done
mkdir -p "$(dirname "$env_file")"
printf '%s\n' "${lines[@]}" >"$env_file"
echo "darknet-forks: ready (${lines[*]})"
