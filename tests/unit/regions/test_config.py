"""The `regions:` settings: defaults, per-camera overrides, and refusals that name the key."""

from __future__ import annotations

import numpy as np
import pytest

from gunwatch.app import App
from gunwatch.config import parse_config
from gunwatch.errors import ConfigError


def test_defaults_are_auto_and_a_camera_overrides_key_by_key():
    config = parse_config("defaults: {regions: {modes: [whole, person], max_regions: 6}}\n"
                          "cameras: {yard: {regions: {max_regions: 2}}}\n")
    assert config.camera("yard").regions.modes == ["whole", "person"]  # kept from defaults
    assert config.camera("yard").regions.max_regions == 2
    assert parse_config("").camera("any").regions.modes == ["auto"]


@pytest.mark.parametrize("text, key, words", [
    ("defaults: {regions: {modes: [persons]}}", "defaults.regions.modes", "unknown region mode 'persons'"),
    ("cameras: {yard: {regions: {modes: [motion, tile]}}}", "cameras.yard.regions.modes", "unknown region mode 'tile'"),
    ("defaults: {regions: {modes: [auto, tiles]}}", "defaults.regions.modes", "auto stands alone"),
    ("defaults: {regions: {modes: []}}", "defaults.regions.modes", "at least one mode"),
    ("defaults: {regions: {tiles: [3, 0]}}", "defaults.regions.tiles", "1 to 8"),
    ("defaults: {regions: {max_regions: 0}}", "defaults.regions.max_regions", "greater than or equal to 1"),
    ("cameras: {yard: {regions: {mode: [whole]}}}", "cameras.yard.regions.mode", "remove it or check its spelling"),
    ("detector: {person_input: 500}", "detector.person_input", "multiple of 32"),
])
def test_a_bad_region_setting_is_refused_naming_its_key(text, key, words):
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert key in str(caught.value) and words in str(caught.value)


def test_a_missing_person_model_is_refused_naming_its_key(tmp_path):
    config = parse_config(f"state_dir: {tmp_path}\ndetector: {{backend: opencv, person_model: no-such-model}}\n"
                          f"sources: [{{type: folder, paths: [{tmp_path}], camera: door}}]\n")
    with pytest.raises(ConfigError) as caught:
        App(config)
    message = str(caught.value)
    assert message.startswith("detector.person_model:") and "no-such-model" in message and "[whole]" in message


def test_whole_only_cameras_need_no_person_model(tmp_path):
    config = parse_config(f"state_dir: {tmp_path}\ndetector: {{backend: opencv, person_model: no-such-model}}\n"
                          "defaults: {regions: {modes: [whole]}}\n"
                          f"sources: [{{type: folder, paths: [{tmp_path}], camera: door}}]\n")
    app = App(config)
    try:
        assert app.person is None
        # and its sources may decode reduced pictures: the spec they got is the model's
        assert app.sources[0].spec == app.model.meta.input
        small = np.zeros((120, 160, 3), np.uint8)
        assert app.runner.detector.detect_regions("door", small, 0.0).regions[0].kind == "whole"
    finally:
        app.detector.close()
