"""Variant detection from exported symbols, on stand-in library objects."""

import ctypes

import pytest

from gunwatch.darknet import structs, variants


class FakeFunction:
    def __init__(self, result=None):
        self.result = result
        self.argtypes = self.restype = None

    def __call__(self, *args):
        return self.result


class FakeLib:
    def __init__(self, *symbols, version=b"5.1.104"):
        for name in symbols:
            setattr(self, name, FakeFunction())
        if "darknet_version_short" in symbols:
            self.darknet_version_short = FakeFunction(version)


PJREDDIE = variants.PJREDDIE_REQUIRED + ("resize_network", "letterbox_image", "free_image")
ALEXEYAB = variants.ALEXEYAB_REQUIRED + ("network_width", "network_height", "load_network",
                                         "network_predict", "free_network")


def test_pjreddie():
    api = variants.api_for(FakeLib(*PJREDDIE))
    assert api.name == "pjreddie"
    assert api.detection_struct is structs.DetectionPjreddie
    assert api.can_resize and api.can_letterbox


@pytest.mark.parametrize("era_symbol, size", [
    ("set_track_id", 88), ("get_embedding", 72), ("diounms_sort", 64),
    ("get_gaussian_yolo_detections", 56), (None, 48)])
def test_alexeyab_eras(era_symbol, size):
    symbols = ALEXEYAB + ((era_symbol,) if era_symbol else ())
    api = variants.api_for(FakeLib(*symbols))
    assert api.name == "alexeyab"
    assert ctypes.sizeof(api.detection_struct) == size
    # by-value network_predict must never be the one bound
    assert api.lib.network_predict_ptr.restype is not None
    assert api.lib.network_predict.argtypes is None


@pytest.mark.parametrize("version, size", [
    (b"5.1.59", 88), (b"5.1.60", 96), (b"v6.0.0", 96), (b"4.0.80", 88), (b"3.1.2", 88)])
def test_hankai_versions(version, size):
    lib = FakeLib(*ALEXEYAB, "darknet_version_short", "darknet_network_dimensions", version=version)
    api = variants.api_for(lib)
    assert api.name == "hank-ai"
    assert ctypes.sizeof(api.detection_struct) == size
    assert not api.can_letterbox


def test_hankai_unreadable_version_refused():
    lib = FakeLib(*ALEXEYAB, "darknet_version_short", "darknet_network_dimensions", version=b"unknown")
    with pytest.raises(LookupError, match="unreadable version"):
        variants.api_for(lib)


def test_old_alexeyab_refused_not_mistaken_for_pjreddie():
    lib = FakeLib(*PJREDDIE, "load_network_custom")
    with pytest.raises(LookupError, match="before 2019-02"):
        variants.api_for(lib)


def test_not_darknet():
    with pytest.raises(LookupError, match="missing load_network"):
        variants.api_for(FakeLib("sin", "cos"))
