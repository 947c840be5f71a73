"""The darknet C APIs in the wild, behind one Python interface.

- pjreddie (Debian's `darknet` package): network_predict(network*), 8-argument
  get_network_boxes, 48-byte detection.
- AlexeyAB: network_predict and free_network take the network *by value*, so bindings must use
  network_predict_ptr / free_network_ptr; get_network_boxes gains a `letter` argument; the
  detection struct grew over the years (structs.py).
- hank-ai (AlexeyAB's maintained successor, "Darknet V3+"): keeps that V2 API with C linkage,
  but network_width/height and letterbox_image became C++ (mangled), so sizes come from
  darknet_network_dimensions.

Each class declares argtypes/restype for exactly the functions gunwatch calls, so a 64-bit
pointer is never truncated to an int. Facts and commit ids: docs/darknet.md.
"""

from __future__ import annotations

import ctypes
import re
from ctypes import POINTER, c_char_p, c_float, c_int, c_void_p

from . import structs
from .structs import Image


class DarknetApi:
    """Calls every variant offers; subclasses declare the rest."""

    name = "unknown"
    # Only hank-ai builds say which version they are (darknet_version_short).
    version = "not exported by the library"

    def __init__(self, lib: ctypes.CDLL, detection_struct: type[ctypes.Structure]):
        self.lib = lib
        self.layout_measured = False
        self._use_layout(detection_struct)
        self.can_resize = hasattr(lib, "resize_network")
        if self.can_resize:
            lib.resize_network.argtypes = [c_void_p, c_int, c_int]
            lib.resize_network.restype = c_int
        self.can_letterbox = hasattr(lib, "letterbox_image") and hasattr(lib, "free_image")
        if self.can_letterbox:
            lib.letterbox_image.argtypes = [Image, c_int, c_int]
            lib.letterbox_image.restype = Image
            lib.free_image.argtypes = [Image]
            lib.free_image.restype = None

    def _use_layout(self, detection_struct: type[ctypes.Structure]) -> None:
        self.detection_struct = detection_struct
        self.lib.free_detections.argtypes = [POINTER(detection_struct), c_int]
        self.lib.free_detections.restype = None
        self.lib.get_network_boxes.restype = POINTER(detection_struct)

    def describe(self) -> str:
        measured = "measured" if self.layout_measured else "guessed from its symbols until a network loads"
        return (f"{self.name} API, version {self.version}, "
                f"{ctypes.sizeof(self.detection_struct)}-byte detection ({measured})")

    def measure_layout(self, net: int, classes: int) -> None:
        """Check the detection layout guessed from symbols and version against what this
        library returns for `net`, and switch to the layout that fits.

        Asks for every box (threshold -1: raw outputs are all above it, even before a
        prediction), reads them as each known layout, guess first, and frees them with the
        library's own free_detections, which knows the true size. Raises LookupError when no
        known layout fits: reading on would give garbage boxes or a segmentation fault.
        """
        w, h = self.network_size(net)
        num = ctypes.c_int(0)
        dets = self.get_network_boxes(net, w, h, -1.0, num)
        try:
            address = ctypes.cast(dets, c_void_p).value
            if not address:
                raise LookupError("get_network_boxes returned no array for a freshly loaded network")
            guess = self.detection_struct
            others = tuple(s for s in structs.LAYOUTS if s is not guess)
            try:
                fitting = structs.fitting_layout(address, num.value, classes, (guess,) + others)
            except ValueError as exc:
                raise LookupError(f"cannot check the detection layout: {exc}") from exc
        finally:
            self.lib.free_detections(dets, num.value)
        if fitting is None:
            tried = ", ".join(str(ctypes.sizeof(s)) for s in structs.LAYOUTS)
            raise LookupError(f"its detection struct matches none of the known layouts ({tried} "
                              f"bytes; {classes} classes expected in each box)")
        self._use_layout(fitting)
        self.layout_measured = True

    def load_network(self, cfg: bytes, weights: bytes) -> int:
        raise NotImplementedError

    def predict(self, net: int, data) -> None:
        raise NotImplementedError

    def get_network_boxes(self, net: int, w: int, h: int, thresh: float, num: ctypes.c_int):
        raise NotImplementedError

    def free_network(self, net: int) -> None:
        raise NotImplementedError

    def network_size(self, net: int) -> tuple[int, int]:
        lib = self.lib
        lib.network_width.argtypes = lib.network_height.argtypes = [c_void_p]
        lib.network_width.restype = lib.network_height.restype = c_int
        return lib.network_width(net), lib.network_height(net)


class PjreddieApi(DarknetApi):
    name = "pjreddie"

    def __init__(self, lib: ctypes.CDLL):
        super().__init__(lib, structs.DetectionPjreddie)
        lib.load_network.argtypes = [c_char_p, c_char_p, c_int]
        lib.load_network.restype = c_void_p
        lib.set_batch_network.argtypes = [c_void_p, c_int]
        lib.set_batch_network.restype = None
        lib.network_predict.argtypes = [c_void_p, POINTER(c_float)]
        lib.network_predict.restype = POINTER(c_float)
        lib.get_network_boxes.argtypes = [
            c_void_p, c_int, c_int, c_float, c_float, POINTER(c_int), c_int, POINTER(c_int)]
        lib.free_network.argtypes = [c_void_p]
        lib.free_network.restype = None

    def load_network(self, cfg, weights):
        net = self.lib.load_network(cfg, weights, 0)
        if net:
            self.lib.set_batch_network(net, 1)
        return net

    def predict(self, net, data):
        self.lib.network_predict(net, data)

    def get_network_boxes(self, net, w, h, thresh, num):
        # relative=1 with w,h equal to the network size: boxes come back as fractions of the
        # network input, and gunwatch undoes its own letterbox/resize, the same way for every
        # backend.
        return self.lib.get_network_boxes(net, w, h, thresh, 0.5, None, 1, ctypes.byref(num))

    def free_network(self, net):
        self.lib.free_network(net)


class AlexeyABApi(DarknetApi):
    name = "alexeyab"

    def __init__(self, lib: ctypes.CDLL, detection_struct: type[ctypes.Structure]):
        super().__init__(lib, detection_struct)
        lib.load_network_custom.argtypes = [c_char_p, c_char_p, c_int, c_int]
        lib.load_network_custom.restype = c_void_p
        lib.network_predict_ptr.argtypes = [c_void_p, POINTER(c_float)]
        lib.network_predict_ptr.restype = POINTER(c_float)
        lib.get_network_boxes.argtypes = [
            c_void_p, c_int, c_int, c_float, c_float, POINTER(c_int), c_int, POINTER(c_int), c_int]
        lib.free_network_ptr.argtypes = [c_void_p]
        lib.free_network_ptr.restype = None

    def load_network(self, cfg, weights):
        return self.lib.load_network_custom(cfg, weights, 0, 1)

    def predict(self, net, data):
        self.lib.network_predict_ptr(net, data)

    def get_network_boxes(self, net, w, h, thresh, num):
        return self.lib.get_network_boxes(net, w, h, thresh, 0.5, None, 1, ctypes.byref(num), 0)

    def free_network(self, net):
        self.lib.free_network_ptr(net)


class HankAIApi(AlexeyABApi):
    name = "hank-ai"

    def __init__(self, lib: ctypes.CDLL, detection_struct: type[ctypes.Structure], version: str):
        super().__init__(lib, detection_struct)
        self.version = version
        lib.darknet_network_dimensions.argtypes = [c_void_p] + [POINTER(c_int)] * 3
        lib.darknet_network_dimensions.restype = None

    def network_size(self, net):
        w, h, c = c_int(), c_int(), c_int()
        self.lib.darknet_network_dimensions(net, ctypes.byref(w), ctypes.byref(h), ctypes.byref(c))
        return w.value, h.value


PJREDDIE_REQUIRED = ("load_network", "set_batch_network", "network_predict", "get_network_boxes",
                     "free_detections", "free_network", "network_width", "network_height")
# network_predict_ptr marks AlexeyAB from 2019-02 on and every hank-ai build.
ALEXEYAB_REQUIRED = ("load_network_custom", "network_predict_ptr", "get_network_boxes",
                     "free_detections", "free_network_ptr")
HANKAI_MARKER = "darknet_version_short"
# AlexeyAB added these symbols in the same commits that grew `detection` (newest first).
ALEXEYAB_ERAS = (
    ("set_track_id", structs.DetectionAlexeyAB),
    ("get_embedding", structs.DetectionAlexeyAB2020Embeddings),
    ("diounms_sort", structs.DetectionAlexeyAB2019Points),
    ("get_gaussian_yolo_detections", structs.DetectionAlexeyAB2019Uc),
)


def missing_symbols(lib: ctypes.CDLL, names: tuple[str, ...]) -> list[str]:
    return [n for n in names if not hasattr(lib, n)]


def hankai_detection_struct(version: str) -> type[ctypes.Structure]:
    """hank-ai inserted sort_score on 2025-12-02 without a new symbol. The version is only the
    first guess: builds from an archive carry whatever tag the builder gave them (the CI build of
    V5 f684e1d reports 5.0.0 and has sort_score), so measure_layout checks it."""
    match = re.match(r"v?(\d+)\.(\d+)(?:\.(\d+))?", version.strip())
    if not match:
        raise LookupError(f"hank-ai build with unreadable version {version!r}: cannot tell "
                          "its detection layout (rebuild from a git checkout)")
    major, minor, commits = (int(g or 0) for g in match.groups())
    if major >= 6 or (major, minor) == (5, 1) and commits >= 60:
        return structs.DetectionHankAI
    return structs.DetectionAlexeyAB


def api_for(lib: ctypes.CDLL) -> DarknetApi:
    """Pick the variant from exported symbols; raise LookupError naming what is missing."""
    if hasattr(lib, HANKAI_MARKER):
        missing = missing_symbols(lib, ALEXEYAB_REQUIRED + ("darknet_network_dimensions",))
        if missing:
            raise LookupError(f"hank-ai library lacks {', '.join(missing)}")
        lib.darknet_version_short.restype = c_char_p
        version = lib.darknet_version_short().decode(errors="replace")
        return HankAIApi(lib, hankai_detection_struct(version), version)
    if hasattr(lib, "network_predict_ptr"):
        missing = missing_symbols(lib, ALEXEYAB_REQUIRED + ("network_width", "network_height"))
        if missing:
            raise LookupError(f"AlexeyAB-style library lacks {', '.join(missing)}")
        struct = next((s for symbol, s in ALEXEYAB_ERAS if hasattr(lib, symbol)),
                      structs.DetectionPjreddie)
        return AlexeyABApi(lib, struct)
    if hasattr(lib, "load_network_custom"):
        # Its network_predict takes the struct by value: calling it as pjreddie's would crash.
        raise LookupError("AlexeyAB build from before 2019-02 (no network_predict_ptr); "
                          "rebuild from a newer AlexeyAB or hank-ai checkout")
    missing = missing_symbols(lib, PJREDDIE_REQUIRED)
    if missing:
        raise LookupError(f"not a darknet library gunwatch knows: missing {', '.join(missing)}")
    return PjreddieApi(lib)
