"""int8 deployment of the depth models: fake quantisation, quantisation-aware fine-tuning, static int8 graphs.

- :class:`~handpose.quantization.simulate.QuantSimulation` — the int8 graph's rounding inside PyTorch.
- :func:`~handpose.quantization.finetune.quantize_checkpoint` — ``handpose quantize``: fine-tune a
  checkpoint under that rounding and write its package with a static int8 graph.
- :func:`~handpose.quantization.static.quantize_static_onnx` — ONNX Runtime's calibrated int8 graph.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

# The recipe measured in docs/benchmarks.md (section "int8 accuracy").
DEFAULT_STEPS = 100
DEFAULT_LR = 2e-5
DEFAULT_CALIBRATION = 400

__all__ = ["QuantSimulation", "finetune", "prepare_for_int8", "quantize_checkpoint", "quantize_static_onnx"]

if TYPE_CHECKING:
    from handpose.quantization.finetune import finetune, prepare_for_int8, quantize_checkpoint
    from handpose.quantization.simulate import QuantSimulation
    from handpose.quantization.static import quantize_static_onnx

_HOMES = {
    "QuantSimulation": "simulate",
    "finetune": "finetune",
    "prepare_for_int8": "finetune",
    "quantize_checkpoint": "finetune",
    "quantize_static_onnx": "static",
}


def __getattr__(name: str) -> Any:
    # torch and ONNX Runtime load on first use, so the CLI's parser stays fast.
    if name in _HOMES:
        import importlib

        return getattr(importlib.import_module(f"handpose.quantization.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'handpose.quantization' has no attribute {name!r}")
