"""The shipped person model is the stock COCO yolov4-tiny that its model.json says it is."""

from __future__ import annotations

import hashlib

from gunwatch.model import load_model


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_person_bundle_files_match_their_recorded_sha256():
    bundle = load_model("person-yolov4-tiny")
    recorded = bundle.meta.provenance
    assert sha256(bundle.weights) == recorded["weights_sha256"]
    assert sha256(bundle.cfg) == recorded["cfg_sha256"]
    assert sha256(bundle.source / "names") == recorded["names_sha256"]
    assert "person" in bundle.names and len(bundle.names) == 80


def test_person_model_runs_at_a_larger_input_when_asked():
    bundle = load_model("person-yolov4-tiny").at_input_size(608)
    assert (bundle.meta.input.width, bundle.meta.input.height) == (608, 608)
    assert load_model("person-yolov4-tiny").meta.input.width == 416  # the bundle itself unchanged
