"""What the CPU can do natively, for choices that depend on it (bf16 inference and training)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

PRECISIONS = ("auto", "fp32", "bf16")  # the choices of every precision setting (training, query embedding)


@lru_cache(maxsize=1)
def cpu_supports_bf16() -> bool:
    """True where the CPU has native bfloat16 matrix instructions (AVX512-BF16 or AMX), read from /proc/cpuinfo.

    Elsewhere bf16 is emulated and slower than fp32, so every ``auto`` precision keeps fp32 there.
    """
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="ignore")
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags
