"""ctypes bindings to libdarknet.so (pjreddie and AlexeyAB/hank-ai APIs, CPU or CUDA builds)."""

from .library import DarknetLibrary, load_library
from .network import Network

__all__ = ["DarknetLibrary", "Network", "load_library"]
