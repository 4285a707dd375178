"""``trainer.precision: auto``: the numeric precision a run trains in, chosen for the machine it runs on.

bf16 mixed precision (weights and optimiser in fp32, matrix products and convolutions in bfloat16)
can only pay on hardware with bfloat16 arithmetic: CUDA GPUs that support it, and CPUs with
AVX512-BF16 or AMX. Elsewhere bfloat16 is emulated and slower than fp32, so fp32 is kept. Having the
instructions is not enough on a CPU: on an AMD EPYC with AVX512-BF16 but no AMX, the convolution
backward passes of CrossInfoNet's 32-pixel crops run ten times slower in bf16 than in fp32 (the
matrix products themselves run 2.7 times faster). So on such CPUs a run times one training step of
its own network in both precisions first (:func:`bf16_speedup`, a few small-batch steps) and takes
bf16 only if it is clearly faster.
"""

from __future__ import annotations

import time
from copy import deepcopy
from pathlib import Path
from typing import Any

# CPU feature flags (as Linux names them in /proc/cpuinfo) that give bfloat16 dot products.
BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})
# bf16 must be at least this much faster than fp32 in the probe to be chosen (timing noise aside).
MIN_BF16_SPEEDUP = 1.15


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
    requested: str,
    accelerator: str,
    flags: frozenset[str] | set[str],
    cuda_bf16: bool = False,
    speedup: float | None = None,
) -> tuple[str, str]:
    """The Lightning precision of a run and why (the reason goes into the run's log line).

    Args:
        requested: ``trainer.precision``; anything but ``auto`` is kept.
        accelerator: ``cpu`` or ``gpu`` (resolved, not ``auto``).
        flags: The CPU's feature flags (:func:`cpu_flags`).
        cuda_bf16: Whether the GPU supports bfloat16.
        speedup: On a CPU with bfloat16 instructions, the measured bf16 / fp32 training speed of the
            run's network (:func:`bf16_speedup`); ``None``: not measured, the instructions decide.
    """
    if requested != "auto":
        return requested, "set in the config"
    if accelerator == "gpu":
        if cuda_bf16:
            return "bf16-mixed", "auto: the GPU supports bfloat16"
        return "16-mixed", "auto: the GPU lacks bfloat16"
    found = sorted(BF16_CPU_FLAGS & set(flags))
    if not found:
        return "32-true", "auto: the CPU has no bfloat16 instructions"
    has = f"the CPU has {'/'.join(f.upper() for f in found)}"
    if speedup is None:
        return "bf16-mixed", f"auto: {has}"
    measured = f"a bf16 training step of this network ran at {speedup:.2f}x the fp32 speed"
    if speedup >= MIN_BF16_SPEEDUP:
        return "bf16-mixed", f"auto: {has}; {measured}"
    return "32-true", f"auto: {has}, but {measured}"


def bf16_speedup(network: Any, example: Any, loss: Any = None, repeats: int = 2) -> float:
    """bf16-autocast training speed over fp32 for a copy of ``network`` (its own weights are untouched).

    Args:
        network: The model (its training-mode forward and backward are timed).
        example: An input batch (a few frames suffice).
        loss: ``outputs -> scalar``; default: the mean square of every tensor output.
        repeats: Timed steps per precision (after one untimed), alternating between the precisions.
    """
    import torch

    probe = deepcopy(network).train()

    def default_loss(outputs: Any) -> Any:
        tensors = outputs.values() if isinstance(outputs, dict) else [outputs]
        return sum(t.float().pow(2).mean() for t in tensors if torch.is_tensor(t) and t.is_floating_point())

    loss = loss or default_loss

    def step(bf16: bool) -> float:
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            value = loss(probe(example))
        value.backward()
        probe.zero_grad(set_to_none=True)
        return time.perf_counter() - start

    best = {False: float("inf"), True: float("inf")}
    with torch.random.fork_rng():  # dropout in the probe must not shift the run's random numbers
        for bf16 in (False, True):
            step(bf16)
        for _ in range(repeats):
            for bf16 in (False, True):
                best[bf16] = min(best[bf16], step(bf16))
    return best[False] / best[True]
