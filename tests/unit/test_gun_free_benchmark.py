"""How benchmarks/gun_free.py counts false alarms: a painted-out picture that by eye still shows a
gun (painted_out_audit.csv) is not a gun-free picture, and a boxed picture nobody has looked at
is named."""

import importlib.util
from pathlib import Path

import pytest

SPEC = importlib.util.spec_from_file_location(
    "gun_free_benchmark", Path(__file__).resolve().parents[2] / "benchmarks" / "gun_free.py")
gun_free = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(gun_free)

AUDIT = {"rifle.jpg": gun_free.STILL_ARMED, "taser.jpg": gun_free.GUN_FREE}
NAMES = ["rifle.jpg", "taser.jpg", "hand.jpg"] + [f"room{i}.jpg" for i in range(97)]


def test_pictures_that_still_show_a_gun_leave_the_share():
    report = gun_free.tally([("rifle.jpg", 0.8), ("taser.jpg", 0.7), ("hand.jpg", 0.6)], NAMES, AUDIT)
    assert (report["pictures"], report["with_a_gun_box"]) == (99, 2)
    assert report["still_shows_a_gun_left_out"] == 1
    assert report["as_painted"]["pictures"] == 100 and report["as_painted"]["with_a_gun_box"] == 3
    assert report["boxed_confidences"] == [0.7, 0.6]
    assert report["boxed_not_audited"] == ["hand.jpg"]
    assert not report["meets_target"]


def test_a_folder_of_gun_free_pictures_needs_no_audit():
    report = gun_free.tally([("room1.jpg", 0.9)], NAMES, None)
    assert (report["pictures"], report["with_a_gun_box"], report["meets_target"]) == (100, 1, True)
    assert "as_painted" not in report and "boxed_not_audited" not in report


def test_the_committed_audit_reads_and_an_unknown_verdict_is_refused(tmp_path):
    audit = gun_free.load_audit()
    assert set(audit.values()) == {gun_free.STILL_ARMED, gun_free.GUN_FREE}
    assert all(name.startswith("armas--") and name.endswith(".jpg") for name in audit)
    bad = tmp_path / "audit.csv"
    bad.write_text("# comment\npicture,verdict,what\na.jpg,maybe,?\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="unknown verdict.*maybe"):
        gun_free.load_audit(bad)
