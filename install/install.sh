#!/usr/bin/env bash
# install.sh - install gunwatch as a service on the recorder's Debian/Ubuntu machine.
#
#   bash install/install.sh [--yes] [--gpu [--darknet-src DIR]] [--wheel FILE] [--group GROUP]...
#   bash install/install.sh --uninstall [--purge] [--yes]
#
# Installs: Debian packages (darknet = the CPU libdarknet.so, python3-venv, ffmpeg); a system
# user `gunwatch` (added to the recorder's group, www-data when ZoneMinder is installed, so it
# can read events); /opt/gunwatch/venv with gunwatch from this checkout (or --wheel);
# /opt/gunwatch/models (the bundles without their training/ logs); /usr/local/bin/gunwatch; /etc/gunwatch/gunwatch.yml (0600, from the
# commented example, only if none exists) and /etc/gunwatch/environment for secrets;
# /var/lib/gunwatch (state); the hardened systemd unit gunwatch.service, enabled and started
# when systemd runs. Ends with `gunwatch doctor` (as the gunwatch user) and the next steps.
#
# Running it again changes nothing unless the checkout changed. --uninstall removes all of it
# except /etc/gunwatch and /var/lib/gunwatch, which --purge removes too (with
# /var/log/gunwatch.log, where a service started by hand logs). Debian packages it
# installed are marked "automatically installed" (apt-get autoremove then takes them).
#
#   --yes              do not ask (required without a terminal)
#   --gpu              also build a CUDA libdarknet.so (needs nvcc) into /opt/gunwatch/lib and
#                      point the config at it; from Debian's darknet source package (deb-src
#                      must be enabled) or --darknet-src DIR (a pjreddie darknet tree, copied)
#   --wheel FILE       install this gunwatch wheel instead of the checkout
#   --group GROUP      add the gunwatch user to GROUP as well (repeatable), e.g. video
#   --no-start         install and enable, but do not start the service
#
# Environment: CUDA_HOME (default /usr/local/cuda) where nvcc is looked for when it is not on
# PATH; GUNWATCH_CUDA_ARCH (default "-gencode arch=compute_80,code=sm_80 -gencode
# arch=compute_90,code=[sm_90,compute_90]"), GUNWATCH_DOCTOR=0 skips the final doctor run.
# Exit status: 0 done, 1 a step failed (the message says which), 2 usage error or a missing
# prerequisite (not root, not Debian, --gpu without nvcc).
set -euo pipefail

PREFIX=/opt/gunwatch
VENV=$PREFIX/venv
STATE=/var/lib/gunwatch
ETC=/etc/gunwatch
CONFIG=$ETC/gunwatch.yml
ENVFILE=$ETC/environment
UNIT=/etc/systemd/system/gunwatch.service
LINK=/usr/local/bin/gunwatch
MANIFEST=$PREFIX/.install          # what this script added, for --uninstall
HAND_LOG=/var/log/gunwatch.log     # the log of a service started by hand (no systemd journal)
USER_NAME=gunwatch
APT_PACKAGES=(python3 python3-venv darknet ffmpeg)
# Debian's interpreter, not whatever python3 is first on root's PATH (pyenv and the like live
# under /root, where the service user cannot run them).
PYTHON=/usr/bin/python3
SRC=$(cd "$(dirname "$0")/.." && pwd)

say() { echo "[install] $*"; }
die() { echo "[install] ERROR: $1" >&2; exit "${2:-1}"; }
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }

YES=0 GPU=0 UNINSTALL=0 PURGE=0 START=1 WHEEL="" DARKNET_SRC=""
EXTRA_GROUPS=()
while (($#)); do
  case "$1" in
    --yes|-y) YES=1 ;;
    --gpu) GPU=1 ;;
    --darknet-src) DARKNET_SRC=${2:?--darknet-src needs a folder}; shift ;;
    --wheel) WHEEL=${2:?--wheel needs a file}; shift ;;
    --group) EXTRA_GROUPS+=("${2:?--group needs a name}"); shift ;;
    --no-start) START=0 ;;
    --uninstall) UNINSTALL=1 ;;
    --purge) PURGE=1 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option $1" 2 ;;
  esac
  shift
done
((PURGE == 0 || UNINSTALL == 1)) || die "--purge goes with --uninstall" 2

[ "$(id -u)" = 0 ] || die "run as root (or with sudo: sudo bash $0 ...): it installs packages, a user and a service" 2
command -v apt-get >/dev/null && [ -f /etc/debian_version ] ||
  die "this installer is for Debian/Ubuntu (apt-get); elsewhere install the package with pip by hand" 2
systemd_up() { [ -d /run/systemd/system ]; }
export DEBIAN_FRONTEND=noninteractive

confirm() {
  ((YES)) && return 0
  [ -t 0 ] || die "no terminal to ask on: pass --yes to $1 without asking" 2
  read -r -p "[install] $1? [y/N] " answer
  [[ "$answer" == [yY]* ]] || die "cancelled" 1
}

# ====================================================================== uninstall
if ((UNINSTALL)); then
  confirm "remove gunwatch$( ((PURGE)) && echo ", its config $ETC and its state $STATE")"
  if systemd_up && [ -f "$UNIT" ]; then
    systemctl disable --now gunwatch.service >/dev/null 2>&1 || true
  fi
  # Without systemd the service was started by hand (the line this installer printed): stop
  # it as systemd would, TERM and up to 15 s for the queued alerts to be handed over.
  if id "$USER_NAME" >/dev/null 2>&1 && pkill -TERM -u "$USER_NAME" -f 'gunwatch run'; then
    say "stopping gunwatch run (user $USER_NAME)"
    for _ in $(seq 30); do pgrep -u "$USER_NAME" >/dev/null || break; sleep 0.5; done
  fi
  if id "$USER_NAME" >/dev/null 2>&1 && pgrep -u "$USER_NAME" >/dev/null; then
    die "processes of user $USER_NAME still run: $(pgrep -a -u "$USER_NAME" | paste -sd ';' -); stop them first (pkill -u $USER_NAME)"
  fi
  if [ -f "$UNIT" ]; then rm -f "$UNIT"; say "removed $UNIT"; systemd_up && systemctl daemon-reload; fi
  if [ -L "$LINK" ] && [ "$(readlink "$LINK")" = "$VENV/bin/gunwatch" ]; then rm -f "$LINK"; say "removed $LINK"; fi
  if [ -s "$MANIFEST/apt-packages" ]; then
    # Never apt-get remove: something installed since may need them. autoremove decides.
    mapfile -t pkgs < "$MANIFEST/apt-packages"
    apt-mark auto "${pkgs[@]}" >/dev/null 2>&1 || true
    say "Debian packages installed for gunwatch (${pkgs[*]}) are now marked automatic: apt-get autoremove removes them if nothing else needs them"
  fi
  created_user=0
  [ -f "$MANIFEST/user-created" ] && created_user=1
  if [ -d "$PREFIX" ]; then rm -rf "$PREFIX"; say "removed $PREFIX"; fi
  if ((PURGE)); then
    for d in "$ETC" "$STATE" "$HAND_LOG"; do if [ -e "$d" ]; then rm -rf "$d"; say "removed $d"; fi; done
  else
    for d in "$ETC" "$STATE"; do [ -e "$d" ] && say "kept $d (--purge removes it)"; done
  fi
  if ((created_user)) && id "$USER_NAME" >/dev/null 2>&1; then
    userdel "$USER_NAME" && say "removed user $USER_NAME"
    getent group "$USER_NAME" >/dev/null && groupdel "$USER_NAME" 2>/dev/null || true
  fi
  say "gunwatch is uninstalled"
  exit 0
fi

# ====================================================================== install
# --gpu is checked before anything is changed, so that a machine without nvcc is left as it was.
NVCC=""
if ((GPU)); then
  NVCC=$(command -v nvcc || true)
  [ -n "$NVCC" ] || [ ! -x "${CUDA_HOME:-/usr/local/cuda}/bin/nvcc" ] || NVCC=${CUDA_HOME:-/usr/local/cuda}/bin/nvcc
  [ -n "$NVCC" ] || die "--gpu needs the CUDA toolkit's nvcc, which is neither on PATH nor in ${CUDA_HOME:-/usr/local/cuda}/bin: install the CUDA toolkit (NVIDIA's packages for this release), or install without --gpu (Debian's CPU libdarknet and the opencv backend)" 2
  [ -z "$DARKNET_SRC" ] || [ -f "$DARKNET_SRC/Makefile" ] || die "--darknet-src $DARKNET_SRC has no Makefile (a pjreddie darknet tree is expected)" 2
fi
[ -z "$WHEEL" ] || [ -f "$WHEEL" ] || die "--wheel $WHEEL: no such file" 2
[ -f "$SRC/setup.cfg" ] && [ -d "$SRC/models" ] || die "$SRC is not a gunwatch checkout (no setup.cfg or models/)" 2

confirm "install gunwatch into $PREFIX with a service"
CHANGED=0   # anything that the running service would notice: restart it at the end

# ---------------------------------------------------------------- Debian packages
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  say "installing ${missing[*]}"
  apt-get -o DPkg::Lock::Timeout=600 update -qq || say "apt-get update failed; trying the install anyway"
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/tmp/gunwatch-apt.log 2>&1 ||
    { tail -20 /tmp/gunwatch-apt.log >&2; die "apt-get install ${missing[*]} failed (log: /tmp/gunwatch-apt.log)"; }
fi
install -d -m 0755 "$PREFIX" "$MANIFEST"
for pkg in "${missing[@]}"; do echo "$pkg"; done >> "$MANIFEST/apt-packages"

# ---------------------------------------------------------------- the user
if ! id "$USER_NAME" >/dev/null 2>&1; then
  useradd --system --user-group --home-dir "$STATE" --no-create-home --shell /usr/sbin/nologin \
    --comment "gunwatch service" "$USER_NAME"
  touch "$MANIFEST/user-created"
  say "created system user $USER_NAME"
fi
groups_wanted=("${EXTRA_GROUPS[@]}")
# ZoneMinder writes its events as www-data; the group lets gunwatch read them (and add
# objdetect.jpg where the event folders are group-writable).
if dpkg-query -W -f='${Status}' zoneminder 2>/dev/null | grep -q "install ok installed" || [ -d /etc/zm ]; then
  groups_wanted+=(www-data)
fi
for g in "${groups_wanted[@]}"; do
  getent group "$g" >/dev/null || die "group $g does not exist (--group)" 2
  if ! id -nG "$USER_NAME" | tr ' ' '\n' | grep -qx "$g"; then
    usermod -aG "$g" "$USER_NAME"; say "added $USER_NAME to group $g"; CHANGED=1
  fi
done

# ---------------------------------------------------------------- config and state
# Config, secrets and state are taken back on every run, by number: after an uninstall the
# gunwatch user can come back with another uid while another account got the old one, and files
# kept from the earlier install would then be that account's (its Twilio token included).
owned_by_us() {  # every file under $1 belongs to the gunwatch user and group
  [ -z "$(find "$1" \( ! -uid "$(id -u "$USER_NAME")" -o ! -gid "$(id -g "$USER_NAME")" \) -print -quit)" ]
}
install -d -o root -g "$USER_NAME" -m 0750 "$ETC"
if [ ! -e "$CONFIG" ]; then
  install -o "$USER_NAME" -g "$USER_NAME" -m 0600 "$SRC/install/gunwatch.example.yml" "$CONFIG"
  say "wrote $CONFIG from the commented example: choose your sources there"
fi
if [ ! -e "$ENVFILE" ]; then
  install -o "$USER_NAME" -g "$USER_NAME" -m 0600 /dev/null "$ENVFILE"
  cat > "$ENVFILE" <<'EOF'
# Secrets for gunwatch, one KEY=VALUE a line; the config refers to them as ${KEY}.
# Read by the service (systemd EnvironmentFile) and by every gunwatch command given the config.
# TWILIO_AUTH_TOKEN=
# ZM_PASSWORD=
EOF
fi
for secret in "$CONFIG" "$ENVFILE"; do
  if ! owned_by_us "$secret" || [ "$(stat -c %a "$secret")" != 600 ]; then
    chown "$USER_NAME:$USER_NAME" "$secret"; chmod 0600 "$secret"; say "gave $secret back to $USER_NAME (mode 0600)"
  fi
done
install -d -o "$USER_NAME" -g "$USER_NAME" -m 0750 "$STATE"
if ! owned_by_us "$STATE"; then
  chown -R "$USER_NAME:$USER_NAME" "$STATE"; say "gave the files in $STATE back to $USER_NAME"
fi

# ---------------------------------------------------------------- the package
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV" || die "$PYTHON -m venv $VENV failed (is python3-venv installed?)"
  CHANGED=1
fi
# What would be installed, as a checksum, so that a second run skips pip.
if [ -n "$WHEEL" ]; then
  source_id="wheel $(sha256sum < "$WHEEL")"
else
  source_id="checkout $(cd "$SRC" && find setup.cfg pyproject.toml plugin darknet_bindings training \
    -name __pycache__ -prune -o -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum)"
fi
if [ "$(cat "$MANIFEST/source-id" 2>/dev/null)" != "$source_id" ] || ! "$VENV/bin/gunwatch" --version >/dev/null 2>&1; then
  say "installing gunwatch into $VENV (pip, from ${WHEEL:-$SRC})"
  T0=$(date +%s)
  # A copy: pip's build writes egg-info and build/ next to the sources it is given.
  build=$(mktemp -d)
  trap 'rm -rf "$build"' EXIT
  if [ -n "$WHEEL" ]; then
    target=$WHEEL
  else
    (cd "$SRC" && cp -r setup.cfg pyproject.toml README.md plugin darknet_bindings training "$build/")
    target=$build
  fi
  "$VENV/bin/python" -m pip install -q --upgrade "$target" >"$build/pip.log" 2>&1 ||
    { tail -20 "$build/pip.log" >&2; die "pip install failed (the last lines are above)"; }
  echo "$source_id" > "$MANIFEST/source-id"
  say "installed $("$VENV/bin/gunwatch" --version) in $(($(date +%s) - T0)) s"
  CHANGED=1
fi
# Model bundles without their training/ folders: the run logs, loss curves and history of the
# runs behind a model stay in the checkout; a recorder needs model.cfg, model.weights, names,
# model.json and the card.
if ! diff -rq -x training "$SRC/models" "$PREFIX/models" >/dev/null 2>&1; then
  rm -rf "$PREFIX/models.new"
  cp -r "$SRC/models" "$PREFIX/models.new"
  rm -rf "$PREFIX"/models.new/*/training
  rm -rf "$PREFIX/models"
  mv "$PREFIX/models.new" "$PREFIX/models"
  chmod -R u=rwX,go=rX "$PREFIX/models"
  say "installed the model bundles in $PREFIX/models"
  CHANGED=1
fi
# The commented example, where config errors point an admin who has no checkout at hand.
install -C -m 0644 "$SRC/install/gunwatch.example.yml" "$PREFIX/gunwatch.example.yml"
install -d -m 0755 "$PREFIX/docs" "$PREFIX/docs/integrations"
# What an admin reads on the recorder (install.md links to the others); training docs stay out.
for doc in install.md config.md alerts.md darknet.md models.md integrations/zoneminder.md integrations/frigate.md; do
  [ ! -f "$SRC/docs/$doc" ] || install -C -m 0644 "$SRC/docs/$doc" "$PREFIX/docs/$doc"
done
if [ ! -e "$LINK" ]; then
  ln -s "$VENV/bin/gunwatch" "$LINK"
elif [ "$(readlink "$LINK")" != "$VENV/bin/gunwatch" ]; then
  say "note: $LINK exists and is not this install's; leaving it (use $VENV/bin/gunwatch)"
fi

# ---------------------------------------------------------------- --gpu: a CUDA libdarknet
build_cuda_darknet() {
  local work tree cuda cuda_major inc libs ldflags rpath
  work=$(mktemp -d /tmp/gunwatch-darknet.XXXXXX)
  if [ -n "$DARKNET_SRC" ]; then
    cp -r "$DARKNET_SRC" "$work/darknet"   # the user's tree stays as it is
  else
    say "fetching Debian's darknet source package"
    (cd "$work" && apt-get source -qq darknet >"$work/source.log" 2>&1) || {
      tail -5 "$work/source.log" >&2
      die "apt-get source darknet failed: enable deb-src (add deb-src to Types: in /etc/apt/sources.list.d/debian.sources, then apt-get update), or pass --darknet-src DIR" 2
    }
    mv "$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'darknet-*' | head -n1)" "$work/darknet"
  fi
  tree=$work/darknet
  # The toolkit's root: nvcc may be a wrapper script or a symlink elsewhere; ask nvcc itself.
  cuda=$(cd /tmp && "$NVCC" -dryrun -x cu -c /dev/null -o /dev/null 2>&1 | sed -n 's/^#\$ TOP=//p' | head -n1)
  [ -d "$cuda/include" ] || cuda=$(dirname "$(dirname "$(readlink -f "$NVCC")")")
  cuda=$(cd "$cuda" && pwd -P)
  [ -f "$cuda/include/cuda_runtime.h" ] || die "cannot find the CUDA toolkit of $NVCC (no include/cuda_runtime.h in $cuda); set CUDA_HOME"
  cuda_major=$("$NVCC" --version | sed -n 's/.*release \([0-9]*\)\..*/\1/p')
  inc="-I$cuda/include" libs="-L$cuda/lib64" rpath="$cuda/lib64"
  # cuBLAS and cuRAND: the toolkit's when it has them, else NVIDIA's PyPI wheels under
  # /opt/gunwatch/lib/cuda (some toolkit installs carry cudart only).
  if ! ls "$cuda"/lib64/libcublas.so* "$cuda"/lib64/libcurand.so* >/dev/null 2>&1; then
    local wheels=$work/wheels dest=$PREFIX/lib/cuda specs
    case "$cuda_major" in
      13) specs=("nvidia-cublas>=13,<14" "nvidia-curand>=10.4,<10.5") ;;
      12) specs=("nvidia-cublas-cu12" "nvidia-curand-cu12") ;;
      *) die "CUDA $cuda_major: no cuBLAS/cuRAND in $cuda/lib64 and no known PyPI wheels for it; install cuBLAS and cuRAND of the toolkit" ;;
    esac
    say "fetching cuBLAS and cuRAND wheels (${specs[*]})"
    "$VENV/bin/python" -m pip download -q --no-deps -d "$wheels" "${specs[@]}" ||
      die "pip download ${specs[*]} failed"
    install -d -m 0755 "$dest"
    for w in "$wheels"/*.whl; do "$VENV/bin/python" -m zipfile -e "$w" "$work/unpacked"; done
    cp -r "$work"/unpacked/nvidia/*/include/. "$dest/include/" 2>/dev/null || { install -d "$dest/include"; cp -r "$work"/unpacked/nvidia/*/include/. "$dest/include/"; }
    install -d "$dest/lib"
    cp -a "$work"/unpacked/nvidia/*/lib/. "$dest/lib/"
    for name in cublas cublasLt curand; do
      local so
      so=$(cd "$dest/lib" && ls "lib$name.so."* 2>/dev/null | sort | head -n1)
      [ -z "$so" ] || ln -sf "$so" "$dest/lib/lib$name.so"
    done
    inc+=" -I$dest/include" libs+=" -L$dest/lib" rpath+=":$dest/lib"
  fi
  # CUDA 12+ dropped cudaThreadSynchronize and the old sm_30..52 targets darknet's Makefile
  # names; the driver library (-lcuda) is not needed to link and not there without a driver.
  sed -i 's/cudaThreadSynchronize()/cudaDeviceSynchronize()/g' "$tree"/src/*.c "$tree"/src/*.cu
  sed -i 's/ -lcuda\b/ /' "$tree/Makefile"
  # LDFLAGS and COMMON given to make replace the Makefile's, GPU additions included.
  ldflags="-lm -pthread $libs -lcudart -lcublas -lcurand -lstdc++ -Wl,-rpath,$rpath"
  local arch=${GUNWATCH_CUDA_ARCH:-"-gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=[sm_90,compute_90]"}
  say "building libdarknet.so with CUDA $cuda_major (nvcc $NVCC), about a minute"
  make -C "$tree" obj >/dev/null   # the object folder; its rule is not a prerequisite
  make -C "$tree" -j"$(nproc)" GPU=1 CUDNN=0 OPENCV=0 OPENMP=1 NVCC="$NVCC" ARCH="$arch" \
    COMMON="-Iinclude/ -Isrc/ -DGPU $inc" LDFLAGS="$ldflags" libdarknet.so >"$work/make.log" 2>&1 ||
    { tail -20 "$work/make.log" >&2; die "building the CUDA libdarknet.so failed (log: $work/make.log)"; }
  install -d -m 0755 "$PREFIX/lib"
  install -m 0755 "$tree/libdarknet.so" "$PREFIX/lib/libdarknet.so"
  rm -rf "$work"
  say "installed $PREFIX/lib/libdarknet.so (CUDA)"
}
if ((GPU)); then
  if [ -f "$PREFIX/lib/libdarknet.so" ] && [ -f "$MANIFEST/cuda-darknet" ]; then
    say "keeping the CUDA libdarknet.so built before (delete $PREFIX/lib/libdarknet.so to rebuild)"
  else
    build_cuda_darknet
    touch "$MANIFEST/cuda-darknet"
    CHANGED=1
  fi
  if grep -qE "^\s*darknet_library: $PREFIX/lib/libdarknet.so\s*$" "$CONFIG"; then
    :
  elif grep -qE '^\s*darknet_library:' "$CONFIG"; then
    sed -i -E "s|^(\s*)darknet_library:.*|\1darknet_library: $PREFIX/lib/libdarknet.so|" "$CONFIG"
  elif grep -qE '^\s*#\s*darknet_library:' "$CONFIG"; then
    sed -i -E "0,/^(\s*)#\s*darknet_library:.*/s||\1darknet_library: $PREFIX/lib/libdarknet.so|" "$CONFIG"
  else
    say "add under detector: in $CONFIG:   darknet_library: $PREFIX/lib/libdarknet.so"
  fi
  # dlopen alone is safe without a GPU (darknet touches CUDA only when a network is built).
  probe=$(runuser -u "$USER_NAME" -- "$VENV/bin/python" -c "
import ctypes
from gunwatch.darknet.library import CUDA_ONLY_SYMBOLS, cuda_device_count, load_library
from gunwatch.darknet.variants import api_for
lib = ctypes.CDLL('$PREFIX/lib/libdarknet.so')
assert any(hasattr(lib, s) for s in CUDA_ONLY_SYMBOLS), 'not a CUDA build'
gpus = cuda_device_count()
used = load_library('$PREFIX/lib/libdarknet.so').path if gpus else None
print(api_for(lib).describe(), gpus, used)" 2>&1) ||
    die "$PREFIX/lib/libdarknet.so was built but does not load: $(echo "$probe" | tail -n1)"
  read -r -a words <<<"$probe"
  if [ "${words[-1]}" = "$PREFIX/lib/libdarknet.so" ]; then
    say "the CUDA libdarknet.so loads and sees ${words[-2]} GPU(s): ${probe% * *}"
  else
    say "the CUDA libdarknet.so loads (${probe% * *}), but no GPU answers here: gunwatch uses the CPU library until one does"
  fi
fi

# ---------------------------------------------------------------- the service
if ! cmp -s "$SRC/install/gunwatch.service" "$UNIT"; then
  install -m 0644 "$SRC/install/gunwatch.service" "$UNIT"
  say "installed $UNIT"
  CHANGED=1
  ! systemd_up || systemctl daemon-reload
fi
RUN_CMD="runuser -u $USER_NAME -- $VENV/bin/gunwatch run --config $CONFIG >> $HAND_LOG 2>&1 &"
if systemd_up; then
  systemctl is-enabled --quiet gunwatch.service || systemctl enable --quiet gunwatch.service
  if ((START)); then
    if ! systemctl is-active --quiet gunwatch.service; then
      systemctl start gunwatch.service || say "gunwatch did not start: journalctl -u gunwatch -e says why"
    elif ((CHANGED)); then
      systemctl restart gunwatch.service
    fi
  fi
else
  say "systemd is not running here, so the service is installed but not started; start it with"
  say "  $RUN_CMD"
fi

# ---------------------------------------------------------------- doctor and next steps
if [ "${GUNWATCH_DOCTOR:-1}" != 0 ]; then
  say "gunwatch doctor (as user $USER_NAME):"
  # the service's cache folder (gunwatch.service sets it too): `auto` measures only once
  runuser -u "$USER_NAME" -- env GUNWATCH_CACHE_DIR="$STATE/cache" \
    "$VENV/bin/gunwatch" --log-level ERROR doctor --config "$CONFIG" ||
    say "doctor found problems: each FAIL above says how to fix it; run it again with: runuser -u $USER_NAME -- gunwatch doctor"
fi
reload="systemctl reload gunwatch"
logs="journalctl -u gunwatch -f"
if ! systemd_up; then
  reload="pkill -HUP -u $USER_NAME -f 'gunwatch run'"
  logs="tail -f $HAND_LOG (started as above; without systemd nothing restarts it after a reboot)"
fi
cat <<EOF

Next steps
  ZoneMinder (same machine): in $CONFIG replace the example's folder source with
      - type: zoneminder
        url: http://127.0.0.1/zm          # user: and password: \${ZM_PASSWORD} when OPT_USE_AUTH is on
    put ZM_PASSWORD=... in $ENVFILE, then: $reload; runuser -u $USER_NAME -- gunwatch doctor
  Frigate: add a Frigate user gunwatch, put FRIGATE_PASSWORD=... in $ENVFILE, replace it with
      - type: frigate
        url: https://FRIGATE-HOST:8971    # Frigate's authenticated port (stock docker-compose)
        auth: {user: gunwatch, password: "\${FRIGATE_PASSWORD}"}
        tls_verify: false                # Frigate's self-generated certificate names no host
        mqtt: {host: MQTT-HOST, port: 1883}
    then: $reload; runuser -u $USER_NAME -- gunwatch doctor
  Alerts: add a channel under alerts.channels (Twilio SMS/voice, webhook, MQTT, e-mail; see
    $PREFIX/docs/alerts.md), then \`gunwatch alert test\`.
  Logs: $logs
  Review: http://127.0.0.1:9870/ (incidents, Confirmed / False alarm; ssh -L 9870:127.0.0.1:9870 from
    another machine, or metrics.listen with a login), metrics on /metrics and /healthz
  Remove: bash $SRC/install/install.sh --uninstall [--purge]
EOF
