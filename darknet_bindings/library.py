"""Find, probe and load libdarknet.so. Nothing happens at import time.

Search order: an explicit path (config or --darknet-lib), $GUNWATCH_DARKNET_LIB, Debian's
/usr/lib/darknet/libdarknet.so, /opt/gunwatch/lib and /usr/local/lib, then the dynamic linker's
search path (ldconfig). A CUDA build is skipped, with a warning, when no GPU answers: darknet's
CUDA builds allocate device memory while parsing maxpool/route/yolo layers even with
gpu_index=-1 and abort the whole process on a GPU-less machine, so a CPU library further down the
list must win instead.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from ..errors import BackendUnavailable
from .variants import DarknetApi, api_for

log = logging.getLogger(__name__)

ENV_LIBRARY = "GUNWATCH_DARKNET_LIB"
STANDARD_LOCATIONS = (
    Path("/usr/lib/darknet/libdarknet.so"),
    Path("/opt/gunwatch/lib/libdarknet.so"),
    Path("/usr/local/lib/libdarknet.so"),
)
INSTALL_HINT = (
    "install the CPU library with `apt-get install darknet` (Debian/Ubuntu), or point "
    f"${ENV_LIBRARY} at a libdarknet.so you built"
)
# Exported only by CUDA builds: CPU builds compile cuda.c/dark_cuda.c down to a cuda_set_device
# stub, so that one proves nothing. hank-ai compiles it as C++, hence the mangled name.
CUDA_ONLY_SYMBOLS = ("cuda_make_array", "_Z15cuda_make_arrayPfm")
CUDART_NAMES = ("libcudart.so", "libcudart.so.13", "libcudart.so.12", "libcudart.so.11.0")


@dataclass(frozen=True)
class DarknetLibrary:
    """A loaded libdarknet.so and what was learned about it."""

    path: Path
    api: DarknetApi
    cuda: bool

    @property
    def variant(self) -> str:
        return self.api.name

    def describe(self) -> str:
        return f"{self.path} ({self.api.describe()}, {'CUDA' if self.cuda else 'CPU'} build)"


def cuda_device_count() -> int:
    """Number of CUDA devices the runtime sees; 0 when there is no driver, runtime or GPU.

    cudaGetDeviceCount reports a missing driver as an error code instead of aborting, which is
    why it is safe to call in-process, unlike loading a network with a CUDA libdarknet.
    """
    for name in CUDART_NAMES:
        try:
            cudart = ctypes.CDLL(name)
        except OSError:
            continue
        count = ctypes.c_int(0)
        status = cudart.cudaGetDeviceCount(ctypes.byref(count))
        return count.value if status == 0 else 0
    return 0


def candidate_paths(explicit: str | os.PathLike | None = None) -> list[Path]:
    candidates: list[Path] = []
    if explicit:
        candidates.append(Path(explicit))
    if os.environ.get(ENV_LIBRARY):
        candidates.append(Path(os.environ[ENV_LIBRARY]))
    candidates.extend(STANDARD_LOCATIONS)
    found = ctypes.util.find_library("darknet")
    if found:
        candidates.append(Path(found))
    unique: list[Path] = []
    for path in candidates:
        if path not in unique:
            unique.append(path)
    return unique


_cache: dict[Path | None, DarknetLibrary] = {}
_cache_lock = threading.Lock()


def load_library(explicit: str | os.PathLike | None = None) -> DarknetLibrary:
    """Load the first usable libdarknet.so, or raise BackendUnavailable listing every attempt.

    The same library is returned on every call: dlopen would share it anyway, and argtypes are
    declared once.
    """
    key = Path(explicit) if explicit else None
    with _cache_lock:
        if key in _cache:
            return _cache[key]
        tried: list[str] = []
        gpus: int | None = None
        for path in candidate_paths(explicit):
            # find_library returns a bare soname; CDLL resolves it through ldconfig.
            if path.is_absolute() and not path.exists():
                tried.append(f"{path}: not found")
                continue
            try:
                lib = ctypes.CDLL(str(path), mode=ctypes.RTLD_LOCAL)
            except OSError as exc:
                tried.append(f"{path}: cannot load ({exc})")
                continue
            try:
                api = api_for(lib)
            except LookupError as exc:
                tried.append(f"{path}: incompatible ({exc})")
                continue
            cuda = any(hasattr(lib, s) for s in CUDA_ONLY_SYMBOLS)
            if cuda:
                gpus = cuda_device_count() if gpus is None else gpus
                if gpus == 0:
                    log.warning("darknet library %s is a CUDA build but no GPU answers; "
                                "looking for a CPU build instead", path)
                    tried.append(f"{path}: CUDA build, but no usable GPU")
                    continue
            loaded = DarknetLibrary(path=path, api=api, cuda=cuda)
            log.info("darknet library loaded: %s", loaded.describe())
            _cache[key] = loaded
            return loaded
        raise BackendUnavailable(
            "no usable libdarknet.so; tried:\n  " + "\n  ".join(tried) + f"\nFix: {INSTALL_HINT}")
