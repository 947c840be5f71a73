"""The ZoneMinder ledger: what survives a restart, so that no event is skipped or analysed twice."""

from gunwatch.integrations.zoneminder.ledger import EventLedger


def test_a_restart_sees_what_the_last_run_did(tmp_path):
    path = tmp_path / "state" / "zoneminder.sqlite"
    first = EventLedger(path)
    assert first.high_water() is None                 # very first start
    first.raise_high_water(41)
    first.begin(40, monitor_id=2)
    first.record_frame(40, "alarm")
    first.record_frame(40, "6")
    first.begin(41, monitor_id=2)
    first.finish(41, "gun confirmed", gun=True)

    again = EventLedger(path)
    assert again.high_water() == 41
    assert again.unfinished() == [(40, 2)]
    assert again.frames(40) == {"alarm", "6"}
    assert again.is_finished(41) and not again.is_finished(40) and not again.is_finished(99)


def test_high_water_only_rises_and_finish_drops_the_frame_list():
    ledger = EventLedger(None)
    ledger.raise_high_water(10)
    ledger.raise_high_water(7)
    assert ledger.high_water() == 10
    ledger.begin(10, 1)
    ledger.record_frame(10, "3")
    ledger.record_frame(10, "3")
    assert ledger.frames(10) == {"3"}
    ledger.finish(10, "all frames analysed", gun=False)
    assert ledger.frames(10) == set() and ledger.unfinished() == []
