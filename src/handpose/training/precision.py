"""``trainer.precision: auto``: the numeric precision a run trains in, chosen for the machine it runs on.

bf16 mixed precision (weights and optimiser in fp32, matrix products and convolutions in bfloat16)
pays on hardware with bfloat16 arithmetic: CUDA GPUs that support it, and CPUs with AVX512-BF16 or
AMX. Elsewhere bfloat16 is emulated and slower than fp32, so fp32 is kept.
"""

from __future__ import annotations

from pathlib import Path

# CPU feature flags (as Linux names them in /proc/cpuinfo) that give bfloat16 dot products.
BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags from Linux's ``/proc/cpuinfo`` (empty elsewhere: fp32 is the safe choice)."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        try:
            text = cpuinfo.read_text(errors="replace")
        except OSError:
            return frozenset()
        for line in text.splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("flags", "Features"):
                return frozenset(value.split())
        return frozenset()
    return frozenset()


def cpu_has_bf16(flags: frozenset[str] | set[str]) -> bool:
    """Whether these CPU flags include native bfloat16 arithmetic."""
    return bool(BF16_CPU_FLAGS & set(flags))


def choose_precision(
    requested: str, accelerator: str, flags: frozenset[str] | set[str], cuda_bf16: bool = False
) -> tuple[str, str]:
    """The Lightning precision of a run and why (the reason goes into the run's log line).

    Args:
        requested: ``trainer.precision``; anything but ``auto`` is kept.
        accelerator: ``cpu`` or ``gpu`` (resolved, not ``auto``).
        flags: The CPU's feature flags (:func:`cpu_flags`).
        cuda_bf16: Whether the GPU supports bfloat16.
    """
    if requested != "auto":
        return requested, "set in the config"
    if accelerator == "gpu":
        if cuda_bf16:
            return "bf16-mixed", "auto: the GPU supports bfloat16"
        return "16-mixed", "auto: the GPU lacks bfloat16"
    found = sorted(BF16_CPU_FLAGS & set(flags))
    if found:
        return "bf16-mixed", f"auto: the CPU has {'/'.join(f.upper() for f in found)}"
    return "32-true", "auto: the CPU has no bfloat16 instructions"
