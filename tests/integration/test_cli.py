"""`gunwatch detect` and `gunwatch bench` as an admin runs them: a real process, real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import cv2
import pytest

from ..conftest import DARKNET_FAMILIES, darknet_library_path


def gunwatch(*args: str, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gunwatch", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


@pytest.fixture
def photo_folder(tmp_path, sample_photos):
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    for p in sample_photos[:2]:
        (folder / p.name).write_bytes(p.read_bytes())
    (folder / "sub" / "corrupt.jpg").write_bytes(sample_photos[0].read_bytes()[:200])
    (folder / "empty.png").write_bytes(b"")
    (folder / "notes.txt").write_text("ignored: not an image")
    return folder


def test_detect_folder_json_and_failures(photo_folder, coco_tiny_cfg, tmp_path):
    out = tmp_path / "out"
    result = gunwatch("detect", str(photo_folder), "--model", str(coco_tiny_cfg), "--backend", "opencv",
                      "--conf", "0.3", "--json", "--out", str(out))
    assert result.returncode == 1, result.stderr  # some inputs failed, the rest was done
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 2
    for line in lines:
        assert set(line) == {"source", "frame", "detections", "ms"}
        assert line["frame"] == 0 and line["ms"] > 0
        for det in line["detections"]:
            assert set(det) == {"label", "confidence", "box"}
            assert det["confidence"] >= 0.3 and len(det["box"]) == 4
    dog = next(line for line in lines if line["source"].endswith("dog.jpg"))
    assert "dog" in {d["label"] for d in dog["detections"]}
    assert "corrupt.jpg: not a readable image" in result.stderr
    assert "empty.png: empty file" in result.stderr
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.jpg"))
    assert written == sorted(p.name for p in photo_folder.glob("*.jpg"))
    assert cv2.imread(str(out / "dog.jpg")).shape == cv2.imread(str(photo_folder / "dog.jpg")).shape


def test_detect_video_frames_and_annotated_video(sample_photos, coco_tiny_cfg, tmp_path):
    video = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 5, (640, 480))
    for p in sample_photos[:3]:
        frame = cv2.resize(cv2.imread(str(p)), (640, 480))
        for _ in range(4):
            writer.write(frame)
    writer.release()
    out = tmp_path / "out"
    result = gunwatch("detect", str(video), "--model", str(coco_tiny_cfg), "--backend", "opencv",
                      "--stride", "4", "--json", "--out", str(out))
    assert result.returncode == 0, result.stderr
    frames = [json.loads(line)["frame"] for line in result.stdout.splitlines()]
    assert frames == [0, 4, 8]
    annotated = cv2.VideoCapture(str(out / "clip.mp4"))
    assert int(annotated.get(cv2.CAP_PROP_FRAME_COUNT)) == 3


def test_detect_human_output(sample_photos, coco_tiny_cfg):
    result = gunwatch("detect", str(sample_photos[0]), "--model", str(coco_tiny_cfg), "--backend", "opencv")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(str(sample_photos[0]))
    assert "1 frames from 1 of 1 inputs" in result.stderr


def test_missing_model_is_a_config_error(sample_photos, tmp_path):
    result = gunwatch("detect", str(sample_photos[0]), "--model", str(tmp_path / "nothing"))
    assert result.returncode == 2
    assert "model" in result.stderr and "not found" in result.stderr


def test_bad_threshold_is_a_usage_error(sample_photos):
    result = gunwatch("detect", str(sample_photos[0]), "--conf", "1.5")
    assert result.returncode == 2
    assert "--conf: must be between 0 and 1" in result.stderr


def test_help_reads_like_a_man_page():
    top = gunwatch("--help")
    assert "exit status:" in top.stdout and "GUNWATCH_DARKNET_LIB" in top.stdout
    detect = gunwatch("detect", "--help")
    assert "examples:" in detect.stdout and '"detections"' in detect.stdout


def test_bench_json(coco_tiny_cfg, sample_photos):
    result = gunwatch("bench", "--model", str(coco_tiny_cfg), "--frames", "3", "--backends", "opencv",
                      "--images", str(sample_photos[0].parent), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["baseline_ms"] > 0
    opencv = report["backends"]["opencv"]
    assert {"p50_ms", "p95_ms", "fps", "ratio_to_baseline", "peak_rss_mb"} <= set(opencv)
    assert opencv["ratio_to_baseline"] == pytest.approx(opencv["p50_ms"] / report["baseline_ms"], rel=0.01)


@pytest.mark.darknet
@pytest.mark.parametrize("family", DARKNET_FAMILIES)
def test_darknet_backend_keeps_stdout_clean_for_json(family, sample_photos, coco_tiny_cfg):
    """darknet builds print chatter on stdout (AlexeyAB " Used AVX ", hank-ai "AVX detected."
    on the first prediction): none may reach --json."""
    result = gunwatch("detect", str(sample_photos[0]), "--model", str(coco_tiny_cfg), "--backend", "darknet",
                      "--json", "--darknet-lib", str(darknet_library_path(family)))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["detections"]


def test_detect_http_mjpeg_stream(sample_photos, coco_tiny_cfg):
    from ..support.mjpeg_server import MjpegCamera

    jpegs = [cv2.imencode(".jpg", cv2.resize(cv2.imread(str(p)), (640, 480)))[1].tobytes()
             for p in sample_photos[:3]]
    with MjpegCamera(jpegs, repeat=3) as camera:
        result = gunwatch("detect", camera.url, "--model", str(coco_tiny_cfg), "--backend", "opencv",
                          "--max-frames", "5", "--json")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["frame"] for line in lines] == [0, 1, 2, 3, 4]
    assert all(line["source"] == camera.url for line in lines)
    assert any(line["detections"] for line in lines)


def test_detect_unreachable_stream_fails_cleanly(coco_tiny_cfg):
    result = gunwatch("detect", "http://127.0.0.1:9/none.mjpg", "--model", str(coco_tiny_cfg),
                      "--backend", "opencv", "--json")
    assert result.returncode == 1
    assert result.stdout == ""
    assert "cannot open as image, video or stream" in result.stderr


@pytest.mark.parametrize("verb, options", [("run", ["--for", "1"]), ("alert deliver", ["--until-empty"])])
def test_root_is_refused_in_the_service_users_state_dir(tmp_path, verb, options):
    """Run by hand as root, these would leave root's files in the service's state folder and the
    service (user gunwatch) could not write them afterwards."""
    if os.geteuid() != 0:
        pytest.skip("needs root, as the admin who typed the README's commands")
    state = tmp_path / "state"
    state.mkdir()
    os.chown(state, 65534, 65534)   # nobody, standing in for the gunwatch user
    (tmp_path / "pictures").mkdir()
    config = tmp_path / "gunwatch.yml"
    config.write_text(f"state_dir: {state}\nsources:\n  - {{type: folder, paths: [{tmp_path / 'pictures'}]}}\n")
    result = gunwatch(*verb.split(), *options, "--config", str(config), timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    assert f"state_dir {state} belongs to user nobody" in result.stderr
    assert f"runuser -u nobody -- gunwatch {verb} ..." in result.stderr
    assert list(state.iterdir()) == [], "nothing may be written before the refusal"
