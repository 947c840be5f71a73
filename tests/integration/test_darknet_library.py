"""The bindings against real libdarknet.so builds: Debian's (pjreddie) always, others when the
environment names them (GUNWATCH_TEST_ALEXEYAB_LIB, GUNWATCH_TEST_HANKAI_LIB)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from gunwatch.darknet import Network, library
from gunwatch.detectors.base import prepare_input
from gunwatch.errors import BackendUnavailable
from gunwatch.model import InputSpec

from ..conftest import WEIGHTS, need

pytestmark = pytest.mark.darknet
DEBIAN_LIB = Path("/usr/lib/darknet/libdarknet.so")


@pytest.fixture(scope="module")
def debian_lib():
    need(DEBIAN_LIB.exists(), "Debian libdarknet.so missing (apt-get install darknet)")
    return library.load_library(DEBIAN_LIB)


@pytest.fixture(scope="module")
def network(debian_lib, coco_tiny_cfg):
    with Network(coco_tiny_cfg, WEIGHTS / "yolov3-tiny.weights", debian_lib) as net:
        yield net


def test_debian_library_is_pjreddie_cpu(debian_lib):
    assert debian_lib.variant == "pjreddie"
    assert not debian_lib.cuda


def darknet_cli_detections(image: Path, tmp_path: Path) -> list[tuple[str, int]]:
    """What `darknet detector test` prints, e.g. `dog: 56%`, as (label, percent)."""
    data = tmp_path / "coco.data"
    data.write_text(f"classes=80\nnames={WEIGHTS / 'coco.names'}\n")
    out = subprocess.run(
        ["darknet", "detector", "test", str(data), str(WEIGHTS / "yolov3-tiny.cfg"),
         str(WEIGHTS / "yolov3-tiny.weights"), str(image), "-thresh", "0.25",
         "-out", str(tmp_path / "pred")], capture_output=True, text=True, timeout=120, check=True)
    return [(m[0], int(m[1])) for m in re.findall(r"^(\w[\w ]*): (\d+)%$", out.stdout, re.MULTILINE)]


def test_same_scores_as_darknet_cli(network, coco_tiny, sample_photos, tmp_path):
    """Fed darknet's own letterboxed input, the bindings return the very scores the darknet CLI
    prints (it lists every class above the threshold per box, rounded with %.0f)."""
    need(shutil.which("darknet") is not None, "darknet CLI missing")
    image_path = next(p for p in sample_photos if p.name == "dog.jpg")
    expected = darknet_cli_detections(image_path, tmp_path)
    assert len(expected) >= 4, f"darknet CLI printed too little: {expected}"
    bgr = cv2.imread(str(image_path))
    boxed = network.letterbox(cv2.dnn.blobFromImage(bgr, 1 / 255.0, swapRB=True)[0], 416, 416)
    _, scores = network.predict(boxed, 0.25)
    for label, percent in expected:
        column = scores[:, coco_tiny.names.index(label)]
        assert any(round(float(s) * 100) == percent for s in column), \
            f"darknet printed {label} {percent}%, bindings have {sorted(column[column > 0])}"


def test_letterbox_matches_darknets_own(network, sample_photos):
    for path in sample_photos[:4]:
        bgr = cv2.imread(str(path))
        ours, _ = prepare_input(bgr, InputSpec(rect=False))
        theirs = network.letterbox(cv2.dnn.blobFromImage(bgr, 1 / 255.0, swapRB=True)[0], 416, 416)
        assert np.abs(ours - theirs).mean() < 0.01, path.name


def test_predict_rejects_wrong_input(network):
    with pytest.raises(ValueError, match="expected float32"):
        network.predict(np.zeros((3, 100, 100), np.float32), 0.5)


def test_resize_network(debian_lib, coco_tiny_cfg, sample_photos):
    with Network(coco_tiny_cfg, WEIGHTS / "yolov3-tiny.weights", debian_lib) as net:
        net.resize(320, 192)
        assert (net.width, net.height) == (320, 192)
        chw, _ = prepare_input(cv2.imread(str(sample_photos[0])), InputSpec(width=320, height=192, rect=False))
        boxes, scores = net.predict(chw, 0.25)
        assert len(boxes) == len(scores)
        with pytest.raises(ValueError, match="multiple of 32"):
            net.resize(300, 200)


def test_threads_share_one_network_safely(network, sample_photos):
    images = [prepare_input(cv2.imread(str(p)), InputSpec(rect=False))[0] for p in sample_photos[:3]]
    expected = [network.predict(x, 0.3)[1].max(initial=0) for x in images]
    results: dict[int, list[float]] = {}

    def work(k: int) -> None:
        results[k] = [network.predict(images[(k + i) % 3], 0.3)[1].max(initial=0) for i in range(3)]

    threads = [threading.Thread(target=work, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k, got in results.items():
        assert got == pytest.approx([expected[(k + i) % 3] for i in range(3)]), k


def test_closed_network_refuses(debian_lib, coco_tiny_cfg):
    net = Network(coco_tiny_cfg, WEIGHTS / "yolov3-tiny.weights", debian_lib)
    net.close()
    net.close()  # twice is harmless
    with pytest.raises(BackendUnavailable, match="closed"):
        net.predict(np.zeros((3, 416, 416), np.float32), 0.5)


def test_search_reports_every_attempt(monkeypatch, tmp_path):
    not_darknet = tmp_path / "libfake.so"
    shutil.copy("/lib/x86_64-linux-gnu/libm.so.6" if Path("/lib/x86_64-linux-gnu/libm.so.6").exists()
                else "/usr/lib/libm.so.6", not_darknet)
    monkeypatch.setenv(library.ENV_LIBRARY, str(not_darknet))
    monkeypatch.setattr(library, "STANDARD_LOCATIONS", (tmp_path / "nowhere/libdarknet.so",))
    monkeypatch.setattr(library.ctypes.util, "find_library", lambda name: None)
    library._cache.clear()
    with pytest.raises(BackendUnavailable) as exc:
        library.load_library()
    message = str(exc.value)
    assert f"{not_darknet}: incompatible" in message
    assert "nowhere/libdarknet.so: not found" in message
    assert "apt-get install darknet" in message
    library._cache.clear()


FAKE_CUDA_LIB = r"""
/* A stand-in for a CUDA build of libdarknet: pjreddie's exports plus a GPU-only symbol.
   Loading a network from it would abort, as real CUDA builds do on GPU-less machines. */
#include <stdlib.h>
void *load_network(char *c, char *w, int clear) { abort(); }
void set_batch_network(void *n, int b) { abort(); }
float *network_predict(void *n, float *in) { abort(); }
void *get_network_boxes(void *n, int w, int h, float t, float hi, int *m, int r, int *num) { abort(); }
void free_detections(void *d, int n) {}
void free_network(void *n) {}
int network_width(void *n) { return 0; }
int network_height(void *n) { return 0; }
float *cuda_make_array(float *x, size_t n) { abort(); }
"""


def test_cuda_build_without_gpu_falls_back_to_cpu_library(monkeypatch, tmp_path, debian_lib):
    need(shutil.which("gcc") is not None, "gcc missing")
    source = tmp_path / "fake.c"
    source.write_text(FAKE_CUDA_LIB)
    fake = tmp_path / "libdarknet-cuda.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(fake), str(source)], check=True)
    monkeypatch.setenv(library.ENV_LIBRARY, str(fake))
    monkeypatch.setattr(library, "cuda_device_count", lambda: 0)
    library._cache.clear()
    try:
        loaded = library.load_library()
        assert loaded.path == DEBIAN_LIB and not loaded.cuda
        monkeypatch.setattr(library, "cuda_device_count", lambda: 1)
        library._cache.clear()
        loaded = library.load_library()
        assert loaded.path == fake and loaded.cuda
    finally:
        library._cache.clear()


def test_cuda_probe_answers_without_a_gpu():
    assert library.cuda_device_count() >= 0


@pytest.mark.parametrize("env, variant", [("GUNWATCH_TEST_ALEXEYAB_LIB", "alexeyab"),
                                          ("GUNWATCH_TEST_HANKAI_LIB", "hank-ai")])
def test_other_forks_agree_with_debian(env, variant, network, coco_tiny_cfg, sample_photos):
    path = os.environ.get(env)
    if not path:
        pytest.skip(f"{env} not set (point it at a CPU build of that fork to run this)")
    lib = library.load_library(path)
    assert lib.variant == variant
    with Network(coco_tiny_cfg, WEIGHTS / "yolov3-tiny.weights", lib) as other:
        for photo in sample_photos[:3]:
            chw, _ = prepare_input(cv2.imread(str(photo)), InputSpec(rect=False))
            b1, s1 = network.predict(chw, 0.25)
            b2, s2 = other.predict(chw, 0.25)
            order1, order2 = np.lexsort(b1.T), np.lexsort(b2.T)
            np.testing.assert_allclose(b1[order1], b2[order2], atol=1e-3)
            np.testing.assert_allclose(s1[order1], s2[order2], atol=1e-3)


@pytest.fixture(scope="module")
def coco_v4_tiny():
    cfg, weights = WEIGHTS / "yolov4-tiny.cfg", WEIGHTS / "yolov4-tiny.weights"
    need(cfg.exists() and weights.exists(), f"no COCO yolov4-tiny in {WEIGHTS}")
    return cfg, weights


def test_pjreddie_refuses_yolov4_tiny_naming_the_layers(debian_lib, coco_v4_tiny):
    with pytest.raises(BackendUnavailable, match=r"\[route\] at line \d+ \(groups=2 group_id=1\)"
                                                 r".*detector.backend: opencv"):
        Network(*coco_v4_tiny, debian_lib)


def test_pjreddie_would_answer_yolov4_tiny_wrongly(monkeypatch, debian_lib, coco_v4_tiny, sample_photos):
    """Why the refusal: let the Debian library load yolov4-tiny anyway and it misses the dog
    that OpenCV, which reads groups= and scale_x_y=, finds at over 0.5."""
    from gunwatch.darknet import network as network_module

    monkeypatch.setattr(network_module, "_refuse_what_pjreddie_ignores", lambda *_: None)
    cfg, weights = coco_v4_tiny
    bgr = cv2.imread(str(next(p for p in sample_photos if p.name == "dog.jpg")))
    blob = cv2.dnn.blobFromImage(bgr, 1 / 255.0, (416, 416), swapRB=True, crop=False)
    reference = cv2.dnn.readNetFromDarknet(str(cfg), str(weights))
    reference.setInput(blob)
    rows = np.concatenate(reference.forward(reference.getUnconnectedOutLayersNames()))
    dog = 16
    assert (rows[:, 4] * rows[:, 5 + dog]).max() > 0.5
    with Network(cfg, weights, debian_lib) as net:
        _, scores = net.predict(blob[0], 0.25)
    assert scores[:, dog].max(initial=0) < 0.25
