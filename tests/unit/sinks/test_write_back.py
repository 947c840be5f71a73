"""The write-back journal and its worker: one pending job per key, kept across a reopen (kill -9),
retried while the recorder is unavailable, dropped when refused or too old."""

from __future__ import annotations

import threading
import time

from gunwatch.sinks.write_back import (Job, Later, RecorderUnavailable, WriteBackJournal, WriteBackWorker,
                                       WriteRefused)

from ...support.wait import wait_for


def test_a_key_has_one_pending_job_with_the_newest_payload(tmp_path):
    journal = WriteBackJournal(tmp_path / "wb.sqlite")
    journal.put("zm", "notes", "notes:7", {"confidence": 0.7})
    journal.put("zm", "notes", "notes:7", {"confidence": 0.9})
    journal.put("zm", "notes", "notes:8", {"confidence": 0.5})
    journal.put("frigate", "sub_label", "sub_label:x", {})
    assert [(j.key, j.payload) for j in journal.pending("zm")] == [("notes:7", {"confidence": 0.9}),
                                                                 ("notes:8", {"confidence": 0.5})]
    assert [j.key for j in journal.pending()] == ["notes:7", "notes:8", "sub_label:x"]


def test_pending_jobs_survive_a_reopen_and_finished_ones_do_not_come_back(tmp_path):
    journal = WriteBackJournal(tmp_path / "wb.sqlite")
    journal.put("zm", "objdetect", "objdetect:7", {"frame": "alarm"}, blob=b"\xff\xd8jpeg")
    journal.put("zm", "notes", "notes:7", {})
    (objdetect, notes) = journal.pending("zm")
    journal.finish(notes, "done")
    reopened = WriteBackJournal(tmp_path / "wb.sqlite")   # as after a kill -9
    assert [(j.key, j.blob) for j in reopened.pending("zm")] == [("objdetect:7", b"\xff\xd8jpeg")]
    assert reopened.state("zm", "notes:7") == "done"
    reopened.put("zm", "notes", "notes:7", {})             # a finished key may be filed again
    assert reopened.state("zm", "notes:7") == "pending"


def test_reschedule_moves_a_pending_job_and_plain_put_does_not(tmp_path):
    journal = WriteBackJournal(tmp_path / "wb.sqlite")
    journal.put("zm", "alarm_off", "alarm_off:1", {}, delay_s=30)
    journal.put("zm", "alarm_off", "alarm_off:1", {}, delay_s=0)
    assert journal.due("zm") == []
    journal.put("zm", "alarm_off", "alarm_off:1", {}, delay_s=0, reschedule=True)
    assert [j.key for j in journal.due("zm")] == ["alarm_off:1"]


class Recorder:
    """Answers the worker's deliveries with a script of outcomes per key."""

    def __init__(self, script: dict[str, list]):
        self.script, self.calls = script, []
        self.lock = threading.Lock()

    def deliver(self, job: Job) -> Later | None:
        with self.lock:
            self.calls.append(job.key)
            outcome = self.script[job.key].pop(0) if self.script[job.key] else None
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def test_the_worker_retries_an_unavailable_recorder_and_keeps_later_out_of_the_count(tmp_path):
    journal = WriteBackJournal(tmp_path / "wb.sqlite")
    recorder = Recorder({"notes:1": [RecorderUnavailable("down"), RecorderUnavailable("down"), Later(0.1)],
                         "notes:2": [WriteRefused("HTTP 403")],
                         "notes:3": [ValueError("a bug")],
                         "notes:4": []})
    for key in recorder.script:
        journal.put("zm", "notes", key, {})
    worker = WriteBackWorker(journal, "zm", recorder.deliver)
    try:
        assert wait_for(lambda: not journal.pending("zm"), 15), journal.pending("zm")
    finally:
        worker.close()
    assert recorder.calls.count("notes:1") == 4        # two failures, one Later, then done
    assert [journal.state("zm", k) for k in ("notes:1", "notes:2", "notes:3", "notes:4")] == \
        ["done", "failed", "failed", "done"]


def test_the_worker_gives_up_after_retry_for_s(tmp_path):
    journal = WriteBackJournal(tmp_path / "wb.sqlite")
    journal.put("zm", "notes", "notes:1", {})
    recorder = Recorder({"notes:1": [RecorderUnavailable("down")] * 100})
    worker = WriteBackWorker(journal, "zm", recorder.deliver, retry_for_s=0.5)
    try:
        assert wait_for(lambda: journal.state("zm", "notes:1") == "failed", 15)
    finally:
        worker.close()
    assert 1 <= len(recorder.calls) <= 3


def test_a_restarted_worker_tries_at_once_what_was_waiting(tmp_path):
    journal = WriteBackJournal(tmp_path / "wb.sqlite")
    journal.put("zm", "notes", "notes:1", {}, delay_s=3600)   # a long backoff when gunwatch stopped
    recorder = Recorder({"notes:1": []})
    started = time.monotonic()
    worker = WriteBackWorker(WriteBackJournal(tmp_path / "wb.sqlite"), "zm", recorder.deliver)
    try:
        assert wait_for(lambda: journal.state("zm", "notes:1") == "done", 10)
    finally:
        worker.close()
    assert time.monotonic() - started < 10
