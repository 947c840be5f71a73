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
from .library import DarknetLibrary, load_library
from .structs import Image

log = logging.getLogger(__name__)

_FLOAT_P = ctypes.POINTER(ctypes.c_float)


@contextmanager
def _native_output_to_log():
    """darknet prints its layer table to stderr, and AlexeyAB/hank-ai builds print loading
    chatter to stdout, where it would corrupt `gunwatch detect --json`. Both go to the DEBUG log.

    Safe only because cfg and weights were validated first: darknet's own error paths call
    exit() and would take this redirect with them.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    with tempfile.TemporaryFile() as sink:
        saved = {fd: os.dup(fd) for fd in (1, 2)}
        for fd in saved:
            os.dup2(sink.fileno(), fd)
        try:
            yield
        finally:
            libc_flush()
            for fd, copy in saved.items():
                os.dup2(copy, fd)
                os.close(copy)
            sink.seek(0)
            chatter = sink.read().decode(errors="replace").strip()
            if chatter:
                log.debug("darknet says:\n%s", chatter)


def libc_flush() -> None:
    """C stdio buffers stdout when it is not a terminal; flush it into the redirect target."""
    try:
        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):
        pass


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
        darknet_cfg.check_weights(self.cfg, self.weights, sections)
        self.library = library if isinstance(library, DarknetLibrary) else load_library(library)
        self._api = self.library.api
        if self._api.name == "pjreddie":
            _refuse_what_pjreddie_ignores(self.cfg, sections, self.library)
        self._lock = threading.Lock()
        with _native_output_to_log():
            net = self._api.load_network(str(self.cfg).encode(), str(self.weights).encode())
        if not net:
            raise BackendUnavailable(f"libdarknet could not load {self.cfg} / {self.weights}")
        self._net: int | None = net
        self.classes = max(darknet_cfg.output_classes(sections) or {0})
        self._read_size()

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
                self._api.free_network(self._net)
                self._net = None

    def __enter__(self) -> Network:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
