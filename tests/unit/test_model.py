"""Model bundles: what loads, and what each broken bundle says."""

import json
import shutil

import pytest

from gunwatch.errors import ConfigError
from gunwatch.model import load_model

from ..conftest import WEIGHTS, need


@pytest.fixture
def bundle(tmp_path):
    need((WEIGHTS / "yolov3-tiny.weights").exists(), f"no weights in {WEIGHTS}")
    folder = tmp_path / "coco-tiny"
    folder.mkdir()
    shutil.copy(WEIGHTS / "yolov3-tiny.cfg", folder / "model.cfg")
    (folder / "model.weights").symlink_to(WEIGHTS / "yolov3-tiny.weights")
    shutil.copy(WEIGHTS / "coco.names", folder / "names")
    (folder / "model.json").write_text(json.dumps({
        "name": "coco-tiny", "architecture": "yolov3-tiny",
        "input": {"width": 416, "height": 416, "letterbox": True},
        "thresholds": {"confidence": 0.3, "nms": 0.4}, "metrics": {"note": "COCO"}}))
    return folder


def test_bundle_loads(bundle):
    model = load_model(bundle)
    assert model.name == "coco-tiny"
    assert len(model.names) == 80 and model.names[0] == "person"
    assert model.meta.thresholds.confidence == 0.3
    assert model.meta.input.letterbox is True


def test_bundle_found_by_name(bundle, monkeypatch):
    monkeypatch.setenv("GUNWATCH_MODELS_DIR", str(bundle.parent))
    assert load_model("coco-tiny").source == bundle


def test_missing_files_named(bundle):
    (bundle / "names").unlink()
    with pytest.raises(ConfigError, match="missing names"):
        load_model(bundle)


def test_unknown_key_in_model_json_named(bundle):
    meta = json.loads((bundle / "model.json").read_text())
    meta["thresholds"]["confidnce"] = 0.2
    (bundle / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ConfigError, match=r"model.json: thresholds.confidnce: Extra inputs"):
        load_model(bundle)


def test_out_of_range_threshold_named(bundle):
    meta = json.loads((bundle / "model.json").read_text())
    meta["thresholds"]["confidence"] = 7
    (bundle / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ConfigError, match=r"thresholds.confidence: .*less than or equal to 1 \(got 7\)"):
        load_model(bundle)


def test_names_must_match_cfg_classes(bundle):
    (bundle / "names").write_text("gun\n")
    with pytest.raises(ConfigError, match=r"lists 1 classes but .* detects \[80\]"):
        load_model(bundle)


def test_bad_json(bundle):
    (bundle / "model.json").write_text("{nope")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_model(bundle)


def test_loose_cfg_with_names_beside(coco_tiny_cfg):
    model = load_model(coco_tiny_cfg)
    assert model.weights == coco_tiny_cfg.with_suffix(".weights")
    assert model.meta.input.width == 416 and model.meta.input.letterbox


def test_unknown_reference():
    with pytest.raises(ConfigError, match="model 'no-such-model' not found"):
        load_model("no-such-model")


def ensemble(tmp_path, bundle, **spec):
    folder = tmp_path / "pair"
    folder.mkdir()
    (folder / "model.json").write_text(json.dumps({
        "thresholds": {"confidence": 0.4, "nms": 0.45},
        "ensemble": {"members": [f"../{bundle.name}", str(bundle)], **spec}}))
    return folder


def test_ensemble_bundle_loads_its_members(tmp_path, bundle):
    model = load_model(ensemble(tmp_path, bundle, fusion_iou=0.55))
    assert model.name == "pair"
    assert [m.name for m in model.members] == ["coco-tiny", "coco-tiny"]
    assert model.names[0] == "person" and model.spec.fusion_iou == 0.55
    assert model.meta.input == model.members[0].meta.input
    assert model.meta.thresholds.confidence == 0.4
    assert not model.spec.mirrored  # twice the time: only when a bundle asks for it


def test_mirror_trigger_without_mirrored_names_both_keys(tmp_path, bundle):
    folder = ensemble(tmp_path, bundle, mirror_trigger=0.25)
    with pytest.raises(ConfigError, match="mirror_trigger is set but mirrored is false"):
        load_model(folder)
    meta = json.loads((folder / "model.json").read_text())
    meta["ensemble"]["mirrored"] = True
    (folder / "model.json").write_text(json.dumps(meta))
    assert load_model(folder).spec.mirror_trigger == 0.25


def test_ensemble_of_one_member_refused(tmp_path, bundle):
    folder = ensemble(tmp_path, bundle)
    meta = json.loads((folder / "model.json").read_text())
    meta["ensemble"]["members"] = meta["ensemble"]["members"][:1]
    (folder / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ConfigError, match=r"ensemble.members: List should have at least 2 items"):
        load_model(folder)


def test_ensemble_members_with_other_classes_named(tmp_path, bundle):
    other = tmp_path / "other"
    shutil.copytree(bundle, other, symlinks=True)
    (other / "names").write_text("\n".join(f"thing{i}" for i in range(80)))
    folder = ensemble(tmp_path, bundle)
    meta = json.loads((folder / "model.json").read_text())
    meta["ensemble"]["members"][1] = str(other)
    (folder / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ConfigError, match=r"ensemble.members: coco-tiny detects \['thing0'.* must share their class names"):
        load_model(folder)


def test_ensemble_member_not_found_named(tmp_path, bundle):
    folder = ensemble(tmp_path, bundle)
    meta = json.loads((folder / "model.json").read_text())
    meta["ensemble"]["members"][1] = "no-such-model"
    (folder / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ConfigError, match="model 'no-such-model' not found"):
        load_model(folder)
