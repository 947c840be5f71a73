"""install/install.sh on this machine, as CI runs it: root, Debian, usually no systemd as PID 1.

One real install into /opt/gunwatch, /etc/gunwatch and /var/lib/gunwatch, checked; `gunwatch
doctor` as the gunwatch user against the real ZoneMinder (install/zoneminder-test.sh) and the
real Mosquitto; a second run that must change nothing; --uninstall (config and state kept);
--uninstall --purge, after which the machine is as it was. Skipped (failed in CI) when not
root, and refused when gunwatch is already installed here: the test never touches an install
it did not make."""

from __future__ import annotations

import grp
import json
import os
import pwd
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import requests

from gunwatch.model import EnsembleBundle, load_model

from ..conftest import REPO, need
from ..support.wait import wait_for

pytestmark = pytest.mark.slow

SCRIPT = REPO / "install" / "install.sh"
PREFIX, ETC, STATE = Path("/opt/gunwatch"), Path("/etc/gunwatch"), Path("/var/lib/gunwatch")
UNIT, LINK = Path("/etc/systemd/system/gunwatch.service"), Path("/usr/local/bin/gunwatch")
OURS = (PREFIX, ETC, STATE, UNIT, LINK)
ZM_URL = os.environ.get("GUNWATCH_ZM_URL", "http://127.0.0.1/zm").rstrip("/")
ZM_MONITOR = "gunwatch-test"


def installer(*args: str, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL)


def user_exists() -> bool:
    try:
        pwd.getpwnam("gunwatch")
        return True
    except KeyError:
        return False


def machine_state() -> dict:
    """What an install adds and an uninstall must take away."""
    groups = {g.gr_name: sorted(g.gr_mem) for g in grp.getgrall()}
    return {"paths": {str(p): p.exists() or p.is_symlink() for p in OURS},
            "user": user_exists(), "groups": groups,
            "manual": subprocess.run(["apt-mark", "showmanual"], capture_output=True, text=True).stdout}


def tree_snapshot() -> dict[str, tuple]:
    """Every file and link of the install with mode, owner, size and mtime (folders' own
    mtimes are left out: doctor's probe file in the state folder touches it)."""
    snap = {}
    for root in OURS:
        paths = [root] if not root.is_dir() or root.is_symlink() else [root, *root.rglob("*")]
        for p in paths:
            st = p.lstat()
            if p.is_dir() and not p.is_symlink():
                snap[str(p)] = (st.st_mode, st.st_uid, st.st_gid)
            else:
                snap[str(p)] = (st.st_mode, st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns)
    for line in Path("/etc/passwd").read_text().splitlines() + Path("/etc/group").read_text().splitlines():
        if "gunwatch" in line:
            snap[line] = ()
    return snap


@pytest.fixture(scope="module")
def before() -> dict:
    need(os.geteuid() == 0, "install.sh needs root")
    need(shutil.which("apt-get") is not None, "install.sh is for Debian/Ubuntu")
    present = [str(p) for p in OURS if p.exists() or p.is_symlink()] + (["user gunwatch"] if user_exists() else [])
    if present:
        pytest.fail(f"gunwatch is already installed here ({', '.join(present)}); this test installs and "
                    f"purges, so it refuses to run: remove it (install.sh --uninstall --purge) or run elsewhere")
    return machine_state()


def test_gpu_without_nvcc_fails_and_changes_nothing(before):
    plain_path = "/usr/sbin:/usr/bin:/sbin:/bin"
    need(not any(Path(d, "nvcc").exists() for d in plain_path.split(":")), "nvcc is in a system folder")
    result = installer("--yes", "--gpu", env={"PATH": plain_path, "CUDA_HOME": "/nonexistent"})
    assert result.returncode == 2, result.stdout + result.stderr
    assert "--gpu needs the CUDA toolkit's nvcc" in result.stderr
    assert "install without --gpu" in result.stderr
    assert machine_state() == before


@pytest.fixture(scope="module")
def installed(before):
    started = time.monotonic()
    result = installer("--yes")
    seconds = time.monotonic() - started
    try:
        yield result, seconds
    finally:
        purge = installer("--uninstall", "--purge", "--yes")
        assert purge.returncode == 0, purge.stderr


def test_install_lays_out_user_config_state_unit(installed):
    result, seconds = installed
    print(f"first install: {seconds:.1f} s")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    user = pwd.getpwnam("gunwatch")
    assert user.pw_shell == "/usr/sbin/nologin" and user.pw_uid < 1000   # a system user
    if Path("/etc/zm").is_dir():
        assert "gunwatch" in grp.getgrnam("www-data").gr_mem
    config = (ETC / "gunwatch.yml").stat()
    assert (config.st_mode & 0o777, config.st_uid) == (0o600, user.pw_uid)
    assert (ETC / "gunwatch.yml").read_text() == (REPO / "install" / "gunwatch.example.yml").read_text()
    assert (STATE.stat().st_uid, STATE.stat().st_mode & 0o777) == (user.pw_uid, 0o750)
    unit = UNIT.read_text()
    for line in ("User=gunwatch", "NoNewPrivileges=yes", "ProtectSystem=strict",
                 "ReadWritePaths=/var/lib/gunwatch", "PrivateTmp=yes", "ExecReload=/bin/kill -HUP $MAINPID"):
        assert line in unit
    if shutil.which("systemd-analyze"):
        verify = subprocess.run(["systemd-analyze", "verify", str(UNIT)], capture_output=True, text=True)
        assert verify.returncode == 0, verify.stderr
    version = subprocess.run([str(LINK), "--version"], capture_output=True, text=True)
    assert version.stdout.startswith("gunwatch "), version.stderr
    assert (PREFIX / "models" / "gun-yolov3-tiny" / "model.weights").is_file()
    out = result.stdout
    if not Path("/run/systemd/system").is_dir():
        assert "systemd is not running here" in out and "runuser -u gunwatch" in out
        assert "journalctl" not in out and "tail -f /var/log/gunwatch.log" in out
    # Config errors point at the example an admin without the checkout can open.
    example = PREFIX / "gunwatch.example.yml"
    assert example.read_text() == (REPO / "install" / "gunwatch.example.yml").read_text()
    typo = STATE / "typo.yml"
    typo.write_text("detectr: {}\n")
    check = subprocess.run([str(LINK), "config", "check", "--config", str(typo)], capture_output=True, text=True)
    typo.unlink()
    assert check.returncode == 2 and f"(see {example})" in check.stderr, check.stderr
    assert "gunwatch doctor (as user gunwatch)" in out and "OK    model:" in out
    assert "ZoneMinder (same machine)" in out and "Frigate:" in out


def test_model_bundles_are_installed_without_their_training_logs(installed, monkeypatch):
    """A recorder gets what runs a model and its card; the training/ folder (logs, loss curves,
    the history of runs not shipped) stays in the checkout."""
    result, _ = installed
    monkeypatch.setenv("GUNWATCH_MODELS_DIR", str(PREFIX / "models"))  # members by name: the installed ones
    assert result.returncode == 0, result.stderr
    bundles = [d for d in (REPO / "models").iterdir() if (d / "model.json").is_file()]
    assert any((d / "training").is_dir() for d in bundles)   # there is something to leave out
    for bundle in bundles:
        target = PREFIX / "models" / bundle.name
        model = load_model(target)
        networks = model.members if isinstance(model, EnsembleBundle) else (model,)
        for network in networks:  # an ensemble's own members (the folders inside it) come along
            for path in (network.cfg, network.weights, network.source / "names"):
                assert path.is_file(), path
        assert (target / "model.json").is_file()
        if (bundle / "MODEL_CARD.md").is_file():
            assert (target / "MODEL_CARD.md").read_text() == (bundle / "MODEL_CARD.md").read_text()
        assert not (target / "training").exists(), f"{target}/training was installed"
    assert not list((PREFIX / "models").rglob("train.log")) and not list((PREFIX / "models").rglob("HISTORY.md"))
    assert (PREFIX / "models" / "drawn-pistol.jpg").is_file()   # doctor's model check reads it


def test_doctor_as_service_user_against_zoneminder_and_mosquitto(installed):
    try:
        up = requests.get(f"{ZM_URL}/api/host/getVersion.json", timeout=5).ok
    except requests.RequestException:
        up = False
    need(up, f"no ZoneMinder API at {ZM_URL} (bash install/zoneminder-test.sh start)")
    (ETC / "gunwatch.yml").write_text(f"""
state_dir: {STATE}
detector: {{backend: opencv}}
sources:
  - type: zoneminder
    url: {ZM_URL}
    monitors: [{ZM_MONITOR}]
    state_file: {STATE}/zoneminder.sqlite
    objdetect: false    # event folders are 0755 www-data: writing needs an ACL (doctor says so)
alerts:
  channels:
    bus: {{type: mqtt, host: 127.0.0.1, port: 1883}}
""")
    result = subprocess.run(["runuser", "-u", "gunwatch", "--", str(LINK), "--log-level", "ERROR",
                             "doctor", "--json"], capture_output=True, text=True, timeout=120)
    checks = json.loads(result.stdout)
    states = {c["check"]: c["state"] for c in checks}
    assert result.returncode == 0 and "FAIL" not in states.values(), json.dumps(checks, indent=1)
    assert {"config", "state_dir", "darknet", "model", "sources.0 (zoneminder)",
            "alerts.channels.bus (mqtt)", "clock"} <= set(states)
    zm = [c["detail"] for c in checks if c["check"] == "sources.0 (zoneminder)"]
    assert any("API" in d for d in zm) and any("events folder" in d for d in zm), zm

    # The same doctor with the broker's port closed: one FAIL, exit 1.
    text = (ETC / "gunwatch.yml").read_text().replace("port: 1883", "port: 1")
    (ETC / "gunwatch.yml").write_text(text)
    bad = subprocess.run(["runuser", "-u", "gunwatch", "--", str(LINK), "--log-level", "ERROR", "doctor"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1
    assert "FAIL  alerts.channels.bus (mqtt): cannot connect to 127.0.0.1:1" in bad.stdout
    (ETC / "gunwatch.yml").write_text(text.replace("port: 1\n", "port: 1883\n"))


def test_second_install_changes_nothing(installed):
    first = tree_snapshot()
    started = time.monotonic()
    again = installer("--yes")
    print(f"second install: {time.monotonic() - started:.1f} s")
    assert again.returncode == 0, again.stderr
    assert "installing gunwatch into" not in again.stdout and "wrote " not in again.stdout
    second = tree_snapshot()
    changed = sorted(k for k in first.keys() | second.keys() if first.get(k) != second.get(k))
    assert not changed, changed


def doctor_state_dir() -> dict:
    result = subprocess.run(["runuser", "-u", "gunwatch", "--", str(LINK), "--log-level", "ERROR",
                             "doctor", "--json"], capture_output=True, text=True, timeout=300)
    return next(c for c in json.loads(result.stdout) if c["check"] == "state_dir")


def test_reinstall_under_another_uid_takes_config_secrets_and_state_back(installed):
    """Uninstall keeps /etc/gunwatch and /var/lib/gunwatch; when another account has taken the
    old uid by the time gunwatch is installed again, that account must not keep the secrets, and
    the service must be able to write its files (issue 26: it could not, and doctor said OK)."""
    old = pwd.getpwnam("gunwatch")
    secrets, incidents = ETC / "environment", STATE / "incidents.jsonl"
    secrets.write_text("TWILIO_AUTH_TOKEN=reinstall-test-secret\n")
    incidents.write_text("{}\n")
    os.chown(incidents, old.pw_uid, old.pw_gid)
    assert installer("--uninstall", "--yes").returncode == 0
    subprocess.run(["groupadd", "--gid", str(old.pw_gid), "gwsquatter"], check=True)
    subprocess.run(["useradd", "--system", "--uid", str(old.pw_uid), "--gid", str(old.pw_gid),
                    "--no-create-home", "--shell", "/usr/sbin/nologin", "gwsquatter"], check=True)
    try:
        again = installer("--yes", env={"GUNWATCH_DOCTOR": "0"})
        assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
        new = pwd.getpwnam("gunwatch")
        assert new.pw_uid != old.pw_uid
        for path in (ETC / "gunwatch.yml", secrets, STATE, incidents):
            st = path.stat()
            assert (st.st_uid, st.st_gid) == (new.pw_uid, new.pw_gid), f"{path} still belongs to {st.st_uid}"
        assert secrets.stat().st_mode & 0o777 == 0o600
        assert f"gave {secrets} back to gunwatch" in again.stdout

        # A state file the service cannot write is a doctor FAIL naming it, not "state_dir OK".
        os.chown(incidents, old.pw_uid, old.pw_gid)
        incidents.chmod(0o644)
        check = doctor_state_dir()
        assert check["state"] == "FAIL" and str(incidents) in check["detail"], check
        assert "chown -R gunwatch:" in check["fix"]
        assert installer("--yes", env={"GUNWATCH_DOCTOR": "0"}).returncode == 0
        assert doctor_state_dir()["state"] == "OK"
    finally:
        subprocess.run(["userdel", "gwsquatter"], check=False)
        subprocess.run(["groupdel", "gwsquatter"], check=False, capture_output=True)


def test_uninstall_stops_the_service_started_by_hand(installed):
    """Without systemd the admin starts the service with the line the installer printed; the
    uninstall must stop it as systemd would, not refuse with a list of pids (admin trial)."""
    result, _ = installed
    started_by = [line.split("[install]", 1)[1].strip() for line in result.stdout.splitlines()
                  if "runuser -u gunwatch" in line and " run --config " in line]
    if not started_by:
        pytest.skip("systemd runs here: the installer started the service itself")
    subprocess.run(["bash", "-c", started_by[0]], check=True, timeout=30)
    running = lambda: subprocess.run(["pgrep", "-u", "gunwatch", "-f", "gunwatch run"],
                                     capture_output=True).returncode == 0
    assert wait_for(running, 30, interval=0.2), "the printed start line did not start gunwatch run"
    time.sleep(2)   # past start-up, with its sources and alert worker up
    removed = installer("--uninstall", "--yes")
    assert removed.returncode == 0, removed.stdout[-2000:] + removed.stderr[-2000:]
    assert "stopping gunwatch run" in removed.stdout and not running()
    assert installer("--yes", env={"GUNWATCH_DOCTOR": "0"}).returncode == 0


def test_uninstall_keeps_config_and_state_then_purge_restores(installed, before):
    kept = installer("--uninstall", "--yes")
    assert kept.returncode == 0, kept.stderr
    assert not PREFIX.exists() and not UNIT.exists() and not LINK.is_symlink() and not user_exists()
    assert (ETC / "gunwatch.yml").is_file() and STATE.is_dir()
    assert "kept /etc/gunwatch" in kept.stdout
    purged = installer("--uninstall", "--purge", "--yes")
    assert purged.returncode == 0, purged.stderr
    assert machine_state() == before
