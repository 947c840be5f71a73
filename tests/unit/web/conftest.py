"""A review app over a real store, sink and runner (not started), fed real sightings
(tests/support/review_app.py)."""

from __future__ import annotations

import pytest

from ...support.review_app import PASSWORD, TOKEN, Review, make_review, sighting  # noqa: F401 (the tests import them from here)


@pytest.fixture
def review(tmp_path):
    r = make_review(tmp_path)
    yield r
    r.sink.close()
    r.app.extensions["gunwatch"]["store"].close()


@pytest.fixture
def guarded(tmp_path):
    r = make_review(tmp_path, {"listen": "0.0.0.0", "token": TOKEN, "user": "admin", "password": PASSWORD})
    yield r
    r.sink.close()
    r.app.extensions["gunwatch"]["store"].close()
