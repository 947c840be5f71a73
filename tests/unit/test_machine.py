"""The CPU description that benchmark figures and the cached backend race carry."""
from __future__ import annotations

import os

from gunwatch.machine import describe_cpu

EPYC = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC
flags\t\t: fpu sse sse2 fma avx avx2
processor\t: 1
model name\t: AMD EPYC
flags\t\t: fpu sse sse2 fma avx avx2
"""
XEON = """model name\t: Intel(R) Xeon(R) Processor
flags\t\t: fpu avx avx2 avx512f avx512_bf16 amx_bf16 amx_tile
"""


def test_two_cpus_of_the_same_architecture_are_told_apart(tmp_path):
    (tmp_path / "epyc").write_text(EPYC)
    (tmp_path / "xeon").write_text(XEON)
    assert describe_cpu(tmp_path / "epyc") == f"AMD EPYC (avx2), {os.cpu_count()} CPUs"
    assert describe_cpu(tmp_path / "xeon").startswith("Intel(R) Xeon(R) Processor "
                                                      "(avx2, avx512f, avx512_bf16, amx_bf16)")


def test_no_cpuinfo_still_names_the_architecture(tmp_path):
    described = describe_cpu(tmp_path / "missing")
    assert "none of avx2/" in described and described.endswith(f"{os.cpu_count()} CPUs")
