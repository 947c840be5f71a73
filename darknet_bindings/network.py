"""One loaded darknet network: numpy in, raw candidate boxes out, native memory always freed.

Thread safety: a darknet network keeps its activations inside the struct, so two threads
predicting on one network would overwrite each other. Every call into a Network holds that
network's lock; for parallel inference load one Network per worker thread. ctypes releases the
GIL during the C call, so other Python threads keep running meanwhile.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..errors import BackendUnavailable
from . import cfg as darknet_cfg
from .weights import check_weights
from .library import DarknetLibrary, load_library
from .structs import Image

log = logging.getLogger(__name__)

_FLOAT_P = ctypes.POINTER(ctypes.c_float)


class _NativeOutput:
    """Sends what C code writes to fds 1 and 2 during library calls to the DEBUG log.

    darknet prints its layer table to stderr while loading, and AlexeyAB/hank-ai builds print
    CPU-feature lines (" Used AVX ", "AVX detected.") to stdout on the first prediction, where
    they would corrupt `gunwatch detect --json`. The descriptors are process-wide, so nested and
    concurrent captures share one redirect: the first one in swaps the descriptors, the last
    one out restores them and logs what was caught. Networks on other threads keep predicting
    in parallel; only the swaps are serialised.

    Safe only because cfg and weights were validated first: darknet's own error paths call
    exit() and would take this redirect with them.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._saved: dict[int, int] = {}
        self._users: dict[int, int] = {}
        self._sink = None

    @contextmanager
    def __call__(self, fds: tuple[int, ...]):
        with self._lock:
            if self._sink is None:
                self._sink = tempfile.TemporaryFile()
            for fd in fds:
                if not self._users.get(fd):
                    (sys.stdout if fd == 1 else sys.stderr).flush()
                    self._saved[fd] = os.dup(fd)
                    os.dup2(self._sink.fileno(), fd)
                self._users[fd] = self._users.get(fd, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                # C stdio buffers stdout when it is not a terminal: flush it into the sink.
                _libc.fflush(None)
                for fd in fds:
                    self._users[fd] -= 1
                    if not self._users[fd]:
                        os.dup2(self._saved[fd], fd)
                        os.close(self._saved.pop(fd))
                if not any(self._users.values()):
                    self._sink.seek(0)
                    chatter = self._sink.read().decode(errors="replace").strip()
                    self._sink.seek(0)
                    self._sink.truncate()
                    if chatter:
                        log.debug("darknet says:\n%s", chatter)


_libc = ctypes.CDLL(None)
_native_output = _NativeOutput()
LOADING_FDS = (1, 2)
# stderr stays open while predicting: it carries gunwatch's own log, from every thread.
PREDICTING_FDS = (1,)


def _refuse_what_pjreddie_ignores(cfg: Path, sections: list[darknet_cfg.Section],
                                  library: DarknetLibrary) -> None:
    problems = darknet_cfg.beyond_pjreddie(sections)
    if problems:
        more = f" and {len(problems) - 2} more" if len(problems) > 2 else ""
        raise BackendUnavailable(
            f"{library.path} has the pjreddie API (Debian's darknet package) and cannot run "
            f"{cfg}: it ignores {', '.join(problems[:2])}{more}, and would answer with wrong "
            "boxes. Use `detector.backend: opencv`, or set `detector.darknet_library` to an "
            "AlexeyAB or hank-ai build.")


class Network:
    """A darknet network loaded through libdarknet.so."""

    def __init__(self, cfg: str | os.PathLike, weights: str | os.PathLike,
                 library: DarknetLibrary | str | os.PathLike | None = None):
        self.cfg, self.weights = Path(cfg), Path(weights)
        sections = darknet_cfg.read_cfg(self.cfg)
        check_weights(self.cfg, self.weights, sections)
        self.library = library if isinstance(library, DarknetLibrary) else load_library(library)
        self._api = self.library.api
        if self._api.name == "pjreddie":
            _refuse_what_pjreddie_ignores(self.cfg, sections, self.library)
        self._lock = threading.Lock()
        with _native_output(LOADING_FDS):
            net = self._api.load_network(str(self.cfg).encode(), str(self.weights).encode())
        if not net:
            raise BackendUnavailable(f"libdarknet could not load {self.cfg} / {self.weights}")
        self._net: int | None = net
        self.classes = max(darknet_cfg.output_classes(sections) or {0})
        if not self._api.layout_measured:
            self._measure_layout()
        self._read_size()

    def _measure_layout(self) -> None:
        try:
            with _native_output(LOADING_FDS):
                self._api.measure_layout(self._net, self.classes)
        except LookupError as exc:
            self.close()
            raise BackendUnavailable(
                f"{self.library.path} ({self._api.name} API) returns detections gunwatch cannot "
                f"read: {exc}. Use `detector.backend: opencv`, or a library whose darknet.h "
                "docs/darknet.md lists, and report this build.") from exc
        log.info("darknet library %s: %s", self.library.path, self._api.describe())

    def _read_size(self) -> None:
        self.width, self.height = self._api.network_size(self._net)

    @property
    def can_resize(self) -> bool:
        return self._api.can_resize

    def resize(self, width: int, height: int) -> None:
        """Change the input size (multiples of 32); YOLO layers are fully convolutional."""
        if width % 32 or height % 32:
            raise ValueError(f"network input must be a multiple of 32, got {width}x{height}")
        if (width, height) == (self.width, self.height):
            return
        if not self._api.can_resize:
            raise BackendUnavailable(f"{self.library.path} cannot resize networks (resize_network "
                                     f"not exported); set width={width} height={height} in {self.cfg}")
        with self._lock:
            self._require_open()
            with _native_output(PREDICTING_FDS):
                self._api.lib.resize_network(self._net, width, height)
            self._read_size()

    def predict(self, chw: np.ndarray, thresh: float) -> tuple[np.ndarray, np.ndarray]:
        """Run the network on one prepared input.

        `chw` is float32 RGB in 0..1, shape (3, height, width) of the network. Returns
        (boxes, scores): boxes (N, 4) as centre x, centre y, width, height in fractions of the
        network input; scores (N, classes) = objectness x class probability, zero below `thresh`.
        """
        if chw.shape != (3, self.height, self.width) or chw.dtype != np.float32:
            raise ValueError(f"expected float32 (3, {self.height}, {self.width}), got "
                             f"{chw.dtype} {chw.shape}")
        chw = np.ascontiguousarray(chw)
        num = ctypes.c_int(0)
        with self._lock:
            self._require_open()
            with _native_output(PREDICTING_FDS):
                self._api.predict(self._net, chw.ctypes.data_as(_FLOAT_P))
                dets = self._api.get_network_boxes(self._net, self.width, self.height, thresh, num)
            try:
                return self._copy_out(dets, num.value)
            finally:
                self._api.lib.free_detections(dets, num.value)

    def _copy_out(self, dets, count: int) -> tuple[np.ndarray, np.ndarray]:
        boxes = np.empty((count, 4), np.float32)
        scores = np.empty((count, self.classes), np.float32)
        for i in range(count):
            det = dets[i]
            b = det.bbox
            boxes[i] = (b.x, b.y, b.w, b.h)
            scores[i] = np.ctypeslib.as_array(det.prob, shape=(det.classes,))[: self.classes]
        return boxes, scores

    def letterbox(self, chw: np.ndarray, width: int, height: int) -> np.ndarray:
        """darknet's own letterbox_image, for checking that gunwatch's matches it."""
        if not self._api.can_letterbox:
            raise BackendUnavailable(f"{self.library.path} does not export letterbox_image")
        chw = np.ascontiguousarray(chw, dtype=np.float32)
        source = Image(chw.shape[2], chw.shape[1], chw.shape[0], chw.ctypes.data_as(_FLOAT_P))
        with _native_output(PREDICTING_FDS):
            boxed = self._api.lib.letterbox_image(source, width, height)
        try:
            return np.ctypeslib.as_array(boxed.data, shape=(boxed.c, boxed.h, boxed.w)).copy()
        finally:
            self._api.lib.free_image(boxed)

    def _require_open(self) -> None:
        if self._net is None:
            raise BackendUnavailable("darknet network already closed")

    def close(self) -> None:
        with self._lock:
            if self._net is not None:
                with _native_output(PREDICTING_FDS):
                    self._api.free_network(self._net)
                self._net = None

    def __enter__(self) -> Network:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
