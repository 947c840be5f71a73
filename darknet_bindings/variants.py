"""The two darknet C APIs in the wild, behind one Python interface.

pjreddie's API (Debian's `darknet` package) and AlexeyAB's API (also exported by hank-ai
builds) differ in the `detection` struct, in which functions take `network*` versus `network`
by value, and in an extra `letter` argument to get_network_boxes. Each class below declares
argtypes/restype for exactly the functions gunwatch calls, so a 64-bit pointer is never
truncated to an int.
"""

from __future__ import annotations

import ctypes
from ctypes import POINTER, c_char_p, c_float, c_int, c_void_p

from .structs import DetectionAlexeyAB, DetectionPjreddie, Image


class DarknetApi:
    """Calls shared by both variants; subclasses fill in what differs."""

    name = "unknown"
    detection_struct: type[ctypes.Structure]

    def __init__(self, lib: ctypes.CDLL):
        self.lib = lib
        lib.network_width.argtypes = [c_void_p]
        lib.network_width.restype = c_int
        lib.network_height.argtypes = [c_void_p]
        lib.network_height.restype = c_int
        lib.resize_network.argtypes = [c_void_p, c_int, c_int]
        lib.resize_network.restype = c_int
        lib.free_detections.argtypes = [POINTER(self.detection_struct), c_int]
        lib.free_detections.restype = None
        lib.letterbox_image.argtypes = [Image, c_int, c_int]
        lib.letterbox_image.restype = Image
        lib.free_image.argtypes = [Image]
        lib.free_image.restype = None

    def load_network(self, cfg: bytes, weights: bytes) -> int:
        raise NotImplementedError

    def predict(self, net: int, data: ctypes.Array | ctypes._Pointer) -> None:
        raise NotImplementedError

    def get_network_boxes(self, net: int, w: int, h: int, thresh: float, num: ctypes.c_int):
        raise NotImplementedError

    def free_network(self, net: int) -> None:
        raise NotImplementedError


class PjreddieApi(DarknetApi):
    name = "pjreddie"
    detection_struct = DetectionPjreddie

    def __init__(self, lib: ctypes.CDLL):
        super().__init__(lib)
        lib.load_network.argtypes = [c_char_p, c_char_p, c_int]
        lib.load_network.restype = c_void_p
        lib.set_batch_network.argtypes = [c_void_p, c_int]
        lib.set_batch_network.restype = None
        lib.network_predict.argtypes = [c_void_p, POINTER(c_float)]
        lib.network_predict.restype = POINTER(c_float)
        lib.get_network_boxes.argtypes = [
            c_void_p, c_int, c_int, c_float, c_float, POINTER(c_int), c_int, POINTER(c_int)]
        lib.get_network_boxes.restype = POINTER(DetectionPjreddie)
        lib.free_network.argtypes = [c_void_p]
        lib.free_network.restype = None

    def load_network(self, cfg: bytes, weights: bytes) -> int:
        net = self.lib.load_network(cfg, weights, 0)
        if net:
            self.lib.set_batch_network(net, 1)
        return net

    def predict(self, net, data):
        self.lib.network_predict(net, data)

    def get_network_boxes(self, net, w, h, thresh, num):
        # relative=1 with w,h equal to the network size: boxes come back as fractions of the
        # network input, and gunwatch undoes its own letterbox/resize in one place for both
        # backends.
        return self.lib.get_network_boxes(net, w, h, thresh, 0.5, None, 1, ctypes.byref(num))

    def free_network(self, net):
        self.lib.free_network(net)


class AlexeyABApi(DarknetApi):
    name = "alexeyab"
    detection_struct = DetectionAlexeyAB

    def __init__(self, lib: ctypes.CDLL):
        super().__init__(lib)
        lib.load_network_custom.argtypes = [c_char_p, c_char_p, c_int, c_int]
        lib.load_network_custom.restype = c_void_p
        lib.network_predict_ptr.argtypes = [c_void_p, POINTER(c_float)]
        lib.network_predict_ptr.restype = POINTER(c_float)
        lib.get_network_boxes.argtypes = [
            c_void_p, c_int, c_int, c_float, c_float, POINTER(c_int), c_int, POINTER(c_int), c_int]
        lib.get_network_boxes.restype = POINTER(DetectionAlexeyAB)
        lib.free_network_ptr.argtypes = [c_void_p]
        lib.free_network_ptr.restype = None

    def load_network(self, cfg: bytes, weights: bytes) -> int:
        return self.lib.load_network_custom(cfg, weights, 0, 1)

    def predict(self, net, data):
        self.lib.network_predict_ptr(net, data)

    def get_network_boxes(self, net, w, h, thresh, num):
        return self.lib.get_network_boxes(net, w, h, thresh, 0.5, None, 1, ctypes.byref(num), 0)

    def free_network(self, net):
        self.lib.free_network_ptr(net)


# Symbols only AlexeyAB-derived libraries export; pjreddie's network_predict takes network*,
# AlexeyAB's takes the struct by value and adds network_predict_ptr for bindings.
ALEXEYAB_MARKERS = ("network_predict_ptr", "load_network_custom")
PJREDDIE_REQUIRED = ("load_network", "network_predict", "get_network_boxes", "set_batch_network")
COMMON_REQUIRED = ("network_width", "network_height", "resize_network", "free_detections",
                   "letterbox_image", "free_image")


def missing_symbols(lib: ctypes.CDLL, names: tuple[str, ...]) -> list[str]:
    return [n for n in names if not hasattr(lib, n)]


def api_for(lib: ctypes.CDLL) -> DarknetApi:
    """Pick the variant from exported symbols; raise LookupError naming what is missing."""
    if not missing_symbols(lib, ALEXEYAB_MARKERS):
        missing = missing_symbols(lib, COMMON_REQUIRED + ("get_network_boxes", "free_network_ptr"))
        if missing:
            raise LookupError(f"AlexeyAB-style library lacks {', '.join(missing)}")
        return AlexeyABApi(lib)
    missing = missing_symbols(lib, PJREDDIE_REQUIRED + COMMON_REQUIRED + ("free_network",))
    if missing:
        raise LookupError(f"not a darknet library I know: missing {', '.join(missing)}")
    return PjreddieApi(lib)
