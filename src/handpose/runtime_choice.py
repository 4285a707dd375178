"""``--runtime auto``: the fastest runtime of this machine that still predicts what PyTorch fp32 predicts.

Which runtime is fastest depends on the CPU, the input size and the batch (docs/benchmarks.md,
"Inference runtimes"), so it is measured rather than assumed. :func:`open_auto` opens every runtime a
model offers here (PyTorch fp32; PyTorch under bfloat16 autocast on CPUs with bfloat16 instructions;
ONNX Runtime fp32 when the package has ``model.onnx``; its int8 graph when it has ``model.int8.onnx``),
runs each once on the same random crops at the batch size of the caller, and keeps those whose
joints stay within :data:`TOLERANCE_MM` of PyTorch fp32's. Those are timed in short alternating
windows (:data:`BUDGET_S` in all) and the fastest is taken; PyTorch fp32 is always correct, so it is
the fallback.

The choice is remembered per machine in a small JSON file (:func:`cache_path`), keyed by the CPU model
and flags, the torch and ONNX Runtime versions, the model's weights and graphs, the batch size, the
input shape, the device and the thread count, so that later calls skip the timing. A damaged or
oversized file is ignored and rewritten.

Shifts are in camera millimetres: a depth model's normalised joints times half its cube edge. RGB
models predict in units of the scale bone (2.5D depth, root-relative joints) and of the crop
(``[-1, 1]``); both are taken at the model's hand scale (the contract's ``hand_scale_mm``, else
:data:`NOMINAL_HAND_SCALE_MM`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from handpose.errors import HandposeError
from handpose.io import write_json_atomic
from handpose.loading import ModelFile, check_device, open_runtime, output_names, read_model_file
from handpose.safe_read import loads_json, read_bytes

AUTO = "auto"
TOLERANCE_MM = 0.5  # the criterion of benchmarks/bench_runtimes.py
BUDGET_S = 0.6  # timing windows of all candidates together, after one untimed call each
MAX_ROUNDS = 3
UNUSABLE = 1e9  # the shift recorded for a runtime that cannot run the model (JSON has no infinity)
# A middle MCP-PIP bone of about 30 mm (docs/reproduction.md), for RGB models that store no hand scale.
NOMINAL_HAND_SCALE_MM = 30.0
# CPU flags (as /proc/cpuinfo names them) with bfloat16 dot products; without them bf16 is emulated.
BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})
CACHE_FORMAT = "handpose-runtimes"
CACHE_VERSION = 1
CACHE_FILE = "runtimes.json"
MAX_CACHE_BYTES = 256 * 1024
MAX_CACHE_ENTRIES = 64

Runner = Callable[[np.ndarray], Mapping[str, np.ndarray]]


@dataclass(frozen=True)
class RuntimeChoice:
    """What ``--runtime auto`` took and the measurements behind it.

    Attributes:
        runtime: The runtime taken.
        rates: Frames per second of each timed runtime.
        shifts_mm: Mean joint shift against PyTorch fp32 of each other runtime.
        cached: Whether the choice came from the cache instead of a measurement.
        note: Why nothing was measured, when nothing was.
    """

    runtime: str
    rates: dict[str, float] = field(default_factory=dict)
    shifts_mm: dict[str, float] = field(default_factory=dict)
    cached: bool = False
    note: str = ""

    def line(self) -> str:
        """One line saying what was chosen and why."""
        if self.note:
            return f"runtime auto: {self.runtime} ({self.note})"
        slower = sorted((n for n in self.rates if n != self.runtime), key=self.rates.__getitem__, reverse=True)
        others = [f"{n} {self.rates[n]:.0f}" for n in slower]
        parts = [f"{self.rates.get(self.runtime, 0.0):.0f} frames/s" + (f" vs {', '.join(others)}" if others else "")]
        parts += [_rejected(n, s) for n, s in self.shifts_mm.items() if n not in self.rates and n != "torch"]
        when = "measured earlier on this machine: " if self.cached else ""
        return f"runtime auto: {self.runtime} ({when}{', '.join(parts)})"

    def to_dict(self) -> dict[str, Any]:
        return {"runtime": self.runtime, "rates": self.rates, "shifts_mm": self.shifts_mm}


def decide(rates: Mapping[str, float], shifts_mm: Mapping[str, float], tolerance_mm: float = TOLERANCE_MM) -> str:
    """The fastest runtime whose shift is under ``tolerance_mm``; ``torch`` (the reference) when none is timed.

    Args:
        rates: Frames per second of the timed runtimes.
        shifts_mm: Mean joint shift against PyTorch fp32 per runtime (``torch`` itself needs none).
        tolerance_mm: Largest shift still called correct.
    """
    correct = [n for n in rates if n == "torch" or shifts_mm.get(n, float("inf")) < tolerance_mm]
    return max(correct, key=lambda n: rates[n]) if correct else "torch"


def time_window(fn: Callable[[np.ndarray], Any], x: np.ndarray, seconds: float) -> float:
    """Frames per second of ``fn`` on the batch ``x``, over calls for ``seconds`` (at least one call)."""
    count, start = 0, time.perf_counter()
    while True:
        fn(x)
        count += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return count * x.shape[0] / elapsed


def time_runners(
    runners: Mapping[str, Callable[[np.ndarray], Any]], x: np.ndarray, budget_s: float, call_s: float
) -> dict[str, float]:
    """Best frames per second of each runner over alternating windows, so outside load hits them alike.

    Args:
        runners: name -> callable on the batch.
        x: The batch.
        budget_s: Seconds for all windows together.
        call_s: Seconds one call of every runner took (the untimed first calls): fewer rounds when slow.
    """
    rounds = int(max(1, min(MAX_ROUNDS, budget_s // max(call_s, 1e-9))))
    window = budget_s / (rounds * max(len(runners), 1))
    best = dict.fromkeys(runners, 0.0)
    for _ in range(rounds):
        for name, fn in runners.items():
            best[name] = max(best[name], time_window(fn, x, window))
    return best


def mm_per_unit(model: ModelFile) -> float:
    """Millimetres of one unit of the model's outputs (see the module docstring)."""
    contract = model.contract
    if contract.modality == "depth":
        return float(max(contract.depth_crop.cube_mm, 1e-9)) / 2.0
    return float(contract.hand_scale_mm or NOMINAL_HAND_SCALE_MM)


def mean_shift_mm(reference: Mapping[str, np.ndarray], got: Mapping[str, np.ndarray], scale_mm: float) -> float:
    """Mean joint shift of ``got`` from ``reference`` over every output, in mm (NaN or inf: infinite)."""
    shifts = []
    for name, ref in reference.items():
        diff = np.asarray(got[name], dtype=np.float64) - np.asarray(ref, dtype=np.float64)
        shifts.append(np.linalg.norm(diff, axis=-1).mean() * scale_mm)
    value = float(np.mean(shifts))
    return value if np.isfinite(value) else float("inf")


def cpu_info() -> tuple[str, frozenset[str]]:
    """The CPU model name and feature flags from Linux's ``/proc/cpuinfo`` (the platform's name elsewhere)."""
    name, flags = "", frozenset[str]()
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        text = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key in ("model name", "Hardware", "cpu model") and not name:
            name = value.strip()
        elif key in ("flags", "Features") and not flags:
            flags = frozenset(value.split())
    return name or platform.processor() or platform.machine(), flags


def offered_runtimes(model: ModelFile, device: str, flags: frozenset[str]) -> list[str]:
    """The runtimes a model can run in here: PyTorch always, the others when the machine and files allow."""
    offered = ["torch"]
    if device == "cpu" and BF16_CPU_FLAGS & flags:
        offered.append("torch-bf16")
    if device == "cpu":
        offered += [r for r in ("onnx", "onnx-int8") if model.graph_sha256(r) is not None]
    return offered


def cache_path() -> Path | None:
    """``$HANDPOSE_CACHE_DIR/runtimes.json``, else under ``$XDG_CACHE_HOME/handpose`` or ``~/.cache/handpose``.

    ``None`` when there is no home folder to find (the choice is then measured on every call).
    """
    override = os.environ.get("HANDPOSE_CACHE_DIR")
    if override:
        return Path(override) / CACHE_FILE
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        try:
            base = str(Path.home() / ".cache")
        except (RuntimeError, KeyError):
            return None
    return Path(base) / "handpose" / CACHE_FILE


def cache_key(
    model: ModelFile, offered: Sequence[str], batch_size: int, device: str, cpu: str, flags: frozenset[str]
) -> str:
    """Everything the timing depends on, hashed."""
    import torch

    try:
        # Read from the installed metadata: importing ONNX Runtime maps hundreds of MB of libraries.
        ort_version = metadata.version("onnxruntime")
    except metadata.PackageNotFoundError:  # pragma: no cover - a dependency
        ort_version = None
    contract = model.contract
    parts = {
        "cpu": cpu,
        "flags": hashlib.sha256(" ".join(sorted(flags)).encode()).hexdigest()[:16],
        "torch": torch.__version__,
        "onnxruntime": ort_version,
        "threads": torch.get_num_threads(),
        "device": device,
        "weights": model.weights_sha256,
        "graphs": {r: model.graph_sha256(r) for r in offered if r.startswith("onnx")},
        "batch": int(batch_size),
        "input": [contract.in_channels, contract.input_size, contract.input_size],
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def read_cache(path: Path | None) -> dict[str, Any]:
    """The cache's entries; a missing, damaged or oversized file reads as none."""
    if path is None or not path.exists():
        return {}
    try:
        data = loads_json(read_bytes(path, "json", "runtime cache", cap=MAX_CACHE_BYTES), path, "runtime cache")
    except HandposeError:
        return {}
    if not isinstance(data, dict) or data.get("format") != CACHE_FORMAT or data.get("version") != CACHE_VERSION:
        return {}
    entries = data.get("entries")
    return dict(entries) if isinstance(entries, dict) else {}


def cached_choice(entries: Mapping[str, Any], key: str, offered: Sequence[str]) -> RuntimeChoice | None:
    """The remembered choice for ``key``, if there is a valid one among the runtimes offered."""
    entry = entries.get(key)
    if not isinstance(entry, dict) or entry.get("runtime") not in offered:
        return None
    rates, shifts = entry.get("rates"), entry.get("shifts_mm")
    if not (isinstance(rates, dict) and isinstance(shifts, dict) and _numbers(rates) and _numbers(shifts)):
        return None
    return RuntimeChoice(str(entry["runtime"]), dict(rates), dict(shifts), cached=True)


def _numbers(value: dict[Any, Any]) -> bool:
    return all(isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool) for k, v in value.items())


def remember(path: Path | None, entries: Mapping[str, Any], key: str, choice: RuntimeChoice) -> None:
    """Add ``choice`` under ``key`` (dropping the oldest entries beyond :data:`MAX_CACHE_ENTRIES`), atomically.

    A cache that cannot be written costs the next call a measurement, nothing more.
    """
    if path is None:
        return
    kept = {k: v for k, v in entries.items() if k != key}
    kept[key] = {**choice.to_dict(), "shifts_mm": {k: _finite(v) for k, v in choice.shifts_mm.items()}}
    kept = dict(list(kept.items())[-MAX_CACHE_ENTRIES:])
    with contextlib.suppress(HandposeError):
        write_json_atomic(path, {"format": CACHE_FORMAT, "version": CACHE_VERSION, "entries": kept})


def _finite(value: float) -> float:
    return float(min(value, UNUSABLE)) if np.isfinite(value) else UNUSABLE


def _rejected(name: str, shift: float) -> str:
    return f"{name} not usable" if shift >= UNUSABLE else f"{name} not correct: {shift:.2f} mm"


def measure(
    runners: Mapping[str, Runner], example: np.ndarray, scale_mm: float, budget_s: float = BUDGET_S
) -> RuntimeChoice:
    """Check every runner against ``runners["torch"]`` on ``example``, time the correct ones, take the fastest.

    Args:
        runners: name -> callable returning the model's outputs for the batch; must hold ``"torch"``.
        example: The batch (the caller's batch size).
        scale_mm: Millimetres per output unit (:func:`mm_per_unit`).
        budget_s: Seconds for the timing windows.
    """
    start = time.perf_counter()
    reference = runners["torch"](example)  # also the untimed first call of each runner
    shifts = {"torch": 0.0}
    for name, fn in runners.items():
        if name != "torch":
            try:
                shifts[name] = mean_shift_mm(reference, fn(example), scale_mm)
            except HandposeError:  # e.g. a graph exported before it carried an output this model needs
                shifts[name] = UNUSABLE
    correct = {n: fn for n, fn in runners.items() if n == "torch" or shifts[n] < TOLERANCE_MM}
    rates = time_runners(correct, example, budget_s, time.perf_counter() - start) if len(correct) > 1 else {}
    if not rates:
        return RuntimeChoice("torch", {}, shifts, note=_nothing_else(shifts))
    return RuntimeChoice(decide(rates, shifts), rates, shifts)


def _nothing_else(shifts: Mapping[str, float]) -> str:
    wrong = [_rejected(n, s) for n, s in shifts.items() if n != "torch"]
    return ", ".join(wrong) if wrong else "the only runtime this model offers here"


def open_auto(path: str | Path, device: str = "cpu", batch_size: int = 16, budget_s: float = BUDGET_S) -> Any:
    """Open a model file in the fastest correct runtime of this machine at ``batch_size``.

    Returns:
        A :class:`handpose.loading.LoadedModel` whose ``choice`` says what was taken and why.

    Raises:
        HandposeError: What :func:`handpose.loading.open_model` raises.
    """
    check_device(device, AUTO)
    if batch_size < 1:
        raise HandposeError(f"batch size must be >= 1, got {batch_size}")
    model = read_model_file(path)
    if device != "cpu":
        loaded = open_runtime(model, device, "torch")
        loaded.choice = RuntimeChoice("torch", note=f"--device {device} runs PyTorch")
        return loaded
    cpu, flags = cpu_info()
    offered = offered_runtimes(model, device, flags)
    if offered == ["torch"]:
        loaded = open_runtime(model, device, "torch")
        loaded.choice = RuntimeChoice("torch", note="the only runtime this model offers here")
        return loaded
    key = cache_key(model, offered, batch_size, device, cpu, flags)
    cache = cache_path()
    entries = read_cache(cache)
    choice = cached_choice(entries, key, offered)
    if choice is not None:
        loaded = open_runtime(model, device, choice.runtime)
        loaded.choice = choice
        return loaded
    torch_model = open_runtime(model, device, "torch")
    opened = {"torch": torch_model}
    for runtime in offered[1:]:
        opened[runtime] = open_runtime(model, device, runtime, network=torch_model.network)
    names = output_names(model.contract)
    runners: dict[str, Runner] = {r: partial(m.run, names=names) for r, m in opened.items()}
    from handpose.onnx_graph import random_inputs

    contract = model.contract
    example = random_inputs(batch_size, contract.in_channels, contract.input_size, seed=0).numpy()
    choice = measure(runners, example, mm_per_unit(model), budget_s)
    remember(cache, entries, key, choice)
    loaded = opened[choice.runtime]
    loaded.choice = choice
    return loaded
