"""The bindings against real libdarknet.so builds, one run per family: Debian's (pjreddie), and
the AlexeyAB and hank-ai CPU builds of install/darknet-forks.sh (tests/conftest.py finds them)."""

from __future__ import annotations

import ctypes
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from gunwatch.darknet import Network, library
from gunwatch.detectors.base import prepare_input
from gunwatch.errors import BackendUnavailable
from gunwatch.model import InputSpec

from ..conftest import DEBIAN_DARKNET as DEBIAN_LIB
from ..conftest import WEIGHTS, darknet_library_path, need

pytestmark = pytest.mark.darknet


@pytest.fixture(scope="module")
def debian_lib():
    need(DEBIAN_LIB.exists(), "Debian libdarknet.so missing (apt-get install darknet)")
    return library.load_library(DEBIAN_LIB)


@pytest.fixture(scope="module")
def network(darknet_library, coco_tiny_cfg):
    with Network(coco_tiny_cfg, WEIGHTS / "yolov3-tiny.weights", darknet_library) as net:
        yield net


@pytest.fixture(scope="module")
def debian_network(debian_lib, coco_tiny_cfg):
    with Network(coco_tiny_cfg, WEIGHTS / "yolov3-tiny.weights", debian_lib) as net:
        yield net


# From each family's darknet.h at the commit built (docs/darknet.md); the hank-ai build reports
# version 5.0.0, which alone would mean 88 bytes: the size is measured, not taken from it.
DETECTION_SIZE = {"pjreddie": 48, "alexeyab": 88, "hank-ai": 96}


def test_detection_layout_is_measured_at_load(network, darknet_library):
    assert darknet_library.api.layout_measured
    assert ctypes.sizeof(darknet_library.api.detection_struct) == DETECTION_SIZE[darknet_library.variant]
    assert f"{DETECTION_SIZE[darknet_library.variant]}-byte detection (measured)" in darknet_library.describe()


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


def test_same_scores_as_darknet_cli(debian_network, coco_tiny, sample_photos, tmp_path):
    """Fed darknet's own letterboxed input, the bindings return the very scores the darknet CLI
    prints (it lists every class above the threshold per box, rounded with %.0f)."""
    need(shutil.which("darknet") is not None, "darknet CLI missing")
    image_path = next(p for p in sample_photos if p.name == "dog.jpg")
    expected = darknet_cli_detections(image_path, tmp_path)
    assert len(expected) >= 4, f"darknet CLI printed too little: {expected}"
    bgr = cv2.imread(str(image_path))
    boxed = debian_network.letterbox(cv2.dnn.blobFromImage(bgr, 1 / 255.0, swapRB=True)[0], 416, 416)
    _, scores = debian_network.predict(boxed, 0.25)
    for label, percent in expected:
        column = scores[:, coco_tiny.names.index(label)]
        assert any(round(float(s) * 100) == percent for s in column), \
            f"darknet printed {label} {percent}%, bindings have {sorted(column[column > 0])}"


def test_letterbox_matches_darknets_own(network, sample_photos):
    if network.library.variant == "hank-ai":
        # letterbox_image is C++ (Darknet::letterbox_image) there: refused by name, not called.
        with pytest.raises(BackendUnavailable, match="letterbox_image"):
            network.letterbox(np.zeros((3, 8, 8), np.float32), 416, 416)
        return
    for path in sample_photos[:4]:
        bgr = cv2.imread(str(path))
        ours, _ = prepare_input(bgr, InputSpec(rect=False))
        theirs = network.letterbox(cv2.dnn.blobFromImage(bgr, 1 / 255.0, swapRB=True)[0], 416, 416)
        assert np.abs(ours - theirs).mean() < 0.01, path.name


def test_predict_rejects_wrong_input(network):
    with pytest.raises(ValueError, match="expected float32"):
        network.predict(np.zeros((3, 100, 100), np.float32), 0.5)


def test_resize_network(darknet_library, coco_tiny_cfg, sample_photos):
    with Network(coco_tiny_cfg, WEIGHTS / "yolov3-tiny.weights", darknet_library) as net:
        if darknet_library.variant == "hank-ai":
            # resize_network is C++ there; the detector then runs at the cfg's size (rect off).
            assert not net.can_resize
            with pytest.raises(BackendUnavailable, match="resize_network"):
                net.resize(320, 192)
            return
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


def test_closed_network_refuses(darknet_library, coco_tiny_cfg):
    net = Network(coco_tiny_cfg, WEIGHTS / "yolov3-tiny.weights", darknet_library)
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


# A stand-in for the CUDA runtime: cudaGetDeviceCount with a chosen answer.
FAKE_CUDART = r"""
int cudaGetDeviceCount(int *count) { *count = COUNT; return STATUS; }
"""


@pytest.mark.parametrize("status, count, expected", [
    (0, 2, 2),     # cudaSuccess: the count the runtime reports
    (100, 0, 0),   # cudaErrorNoDevice: a runtime but no GPU
    (35, 3, 0),    # cudaErrorInsufficientDriver: whatever it left in count is not a GPU
])
def test_cuda_probe_reads_the_runtimes_answer(monkeypatch, tmp_path, status, count, expected):
    need(shutil.which("gcc") is not None, "gcc missing")
    source = tmp_path / "cudart.c"
    source.write_text(FAKE_CUDART.replace("COUNT", str(count)).replace("STATUS", str(status)))
    fake = tmp_path / "libcudart-fake.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(fake), str(source)], check=True)
    monkeypatch.setattr(library, "CUDART_NAMES", ("libcudart-not-installed.so.99", str(fake)))
    assert library.cuda_device_count() == expected


def test_cuda_probe_answers_without_a_gpu(monkeypatch):
    monkeypatch.setattr(library, "CUDART_NAMES", ("libcudart-not-installed.so.99",))
    assert library.cuda_device_count() == 0   # no runtime: no GPU, and no exception
    monkeypatch.undo()
    if not list(Path("/dev").glob("nvidia[0-9]*")):   # this machine has no NVIDIA GPU
        assert library.cuda_device_count() == 0
    elif shutil.which("nvidia-smi"):
        listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True).stdout
        assert library.cuda_device_count() in (0, listed.count("GPU "))   # 0: no CUDA runtime installed


@pytest.mark.parametrize("family", ["alexeyab", "hank-ai"])
def test_other_forks_agree_with_debian(family, debian_network, coco_tiny_cfg, sample_photos):
    lib = library.load_library(darknet_library_path(family))
    with Network(coco_tiny_cfg, WEIGHTS / "yolov3-tiny.weights", lib) as other:
        for photo in sample_photos[:3]:
            chw, _ = prepare_input(cv2.imread(str(photo)), InputSpec(rect=False))
            b1, s1 = debian_network.predict(chw, 0.25)
            b2, s2 = other.predict(chw, 0.25)
            order1, order2 = np.lexsort(b1.T), np.lexsort(b2.T)
            np.testing.assert_allclose(b1[order1], b2[order2], atol=1e-3)
            np.testing.assert_allclose(s1[order1], s2[order2], atol=1e-3)


# Run in a process of its own: in the test process, threads that earlier tests left behind
# (watchers, MQTT clients) allocate while it measures, and their growth is not the library's.
LEAK_PROBE = """
import json, os, sys
import cv2
from gunwatch.darknet import Network, load_library
from gunwatch.detectors.base import prepare_input
from gunwatch.model import InputSpec

cfg, weights, lib, *pictures = sys.argv[1:]
def rss_mb():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
photos = [prepare_input(cv2.imread(p), InputSpec(width=128, height=128, rect=False))[0] for p in pictures]
with Network(cfg, weights, load_library(lib)) as net:
    sum(len(net.predict(photos[i % 4], 0.001)[0]) for i in range(100))
    before = rss_mb()
    boxes = sum(len(net.predict(photos[i % 4], 0.001)[0]) for i in range(1000))
    grown = rss_mb() - before
print(json.dumps({"boxes": boxes, "grown_mb": grown}))
"""


def test_native_memory_is_freed_over_1000_detections(darknet_library, coco_tiny_cfg, sample_photos, tmp_path):
    """At threshold 0.001 every prediction returns ~40 detections (each with an 80-float prob
    array, ~16 KB a frame): without free_detections 1,000 frames would grow ~16 MB. A 128x128
    cfg keeps it fast; hank-ai cannot resize at run time, so the cfg says the size."""
    cfg = tmp_path / "yolov3-tiny-128.cfg"
    cfg.write_text(re.sub(r"(?m)^(width|height)=\d+", r"\1=128", coco_tiny_cfg.read_text()))
    probe = subprocess.run([sys.executable, "-c", LEAK_PROBE, str(cfg), str(WEIGHTS / "yolov3-tiny.weights"),
                            str(darknet_library.path), *(str(p) for p in sample_photos[:4])],
                           capture_output=True, text=True, timeout=900)
    assert probe.returncode == 0, probe.stderr[-2000:]
    result = json.loads(probe.stdout.strip().splitlines()[-1])
    assert result["boxes"] >= 30_000, f"only {result['boxes']} detections: too few for a leak to show"
    assert result["grown_mb"] < 5, f"RSS grew {result['grown_mb']:.1f} MB over 1,000 predictions"


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


def test_each_family_refuses_yolov4_tiny_or_answers_it_as_opencv(darknet_library, coco_v4_tiny, sample_photos):
    """No family may answer a cfg it builds wrongly: pjreddie refuses yolov4-tiny (above; built
    anyway it scores the dog below 0.25), the forks read groups= and scale_x_y= and must find it
    as OpenCV does (0.81 there, 0.87 in both forks: the engines differ by 0.06 on this model)."""
    cfg, weights = coco_v4_tiny
    if darknet_library.variant == "pjreddie":
        with pytest.raises(BackendUnavailable, match="pjreddie API"):
            Network(cfg, weights, darknet_library)
        return
    bgr = cv2.imread(str(next(p for p in sample_photos if p.name == "dog.jpg")))
    blob = cv2.dnn.blobFromImage(bgr, 1 / 255.0, (416, 416), swapRB=True, crop=False)
    reference = cv2.dnn.readNetFromDarknet(str(cfg), str(weights))
    reference.setInput(blob)
    rows = np.concatenate(reference.forward(reference.getUnconnectedOutLayersNames()))
    dog = 16
    with Network(cfg, weights, darknet_library) as net:
        _, scores = net.predict(blob[0], 0.25)
    assert scores[:, dog].max(initial=0) == pytest.approx((rows[:, 4] * rows[:, 5 + dog]).max(), abs=0.1)


FAKE_WIDE_DETECTION_LIB = r"""
/* An AlexeyAB-style library whose detection struct is 104 bytes, a layout gunwatch does not know:
   every box says 80 classes, so any stride but 104 reads something else there. */
#include <stdlib.h>
#include <string.h>
typedef struct { float x, y, w, h; int classes, best; float *prob, *mask; float obj; int sort;
                 char future[56]; } det;
static int net_dummy;
void *load_network_custom(char *c, char *w, int clear, int batch) { return &net_dummy; }
float *network_predict_ptr(void *n, float *in) { return 0; }
det *get_network_boxes(void *n, int w, int h, float t, float hi, int *m, int r, int *num, int l) {
    det *d = calloc(100, sizeof(det));
    for (int i = 0; i < 100; i++) {
        d[i].x = d[i].y = d[i].w = d[i].h = 0.5f; d[i].classes = 80;
        d[i].prob = calloc(80, sizeof(float)); memset(d[i].future, 0x7f, sizeof d[i].future);
    }
    *num = 100;
    return d;
}
void free_detections(det *d, int n) { for (int i = 0; i < n; i++) free(d[i].prob); free(d); }
void free_network_ptr(void *n) {}
int network_width(void *n) { return 416; }
int network_height(void *n) { return 416; }
void set_track_id(void) {}
"""


def test_unknown_detection_layout_is_a_clear_error_not_a_crash(tmp_path, coco_tiny_cfg):
    need(shutil.which("gcc") is not None, "gcc missing")
    source = tmp_path / "wide.c"
    source.write_text(FAKE_WIDE_DETECTION_LIB)
    fake = tmp_path / "libdarknet-wide.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(fake), str(source)], check=True)
    lib = library.load_library(fake)
    with pytest.raises(BackendUnavailable, match=r"libdarknet-wide.so \(alexeyab API\) returns detections "
                                                 r"gunwatch cannot read: .*none of the known layouts.*opencv"):
        Network(coco_tiny_cfg, WEIGHTS / "yolov3-tiny.weights", lib)
