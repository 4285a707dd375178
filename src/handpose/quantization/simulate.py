"""Fake quantisation that mirrors ONNX Runtime's static int8 graph, for quantisation-aware fine-tuning.

:func:`~handpose.quantization.static.quantize_static_onnx` turns a network into a graph whose
convolution weights are per-output-channel symmetric 7-bit integers and whose every image-shaped
activation is a per-tensor uint8 with the calibration set's minimum and maximum as its range.
:class:`QuantSimulation` rounds the same tensors the same way inside PyTorch, with straight-through
gradients, so fine-tuning can adapt the weights to the rounding they will meet.

The network must be BatchNorm-folded with ``fold_batchnorm(..., keep_modules=True)`` first: the
convolution weights are then the deployed ones, and the BatchNorm modules left behind only add a bias.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.fx as fx
import torch.nn.functional as F
from torch import Tensor, nn
from torch.fx.passes.shape_prop import ShapeProp
from torch.nn.utils import parametrize

from handpose.errors import HandposeError

WEIGHT_LEVELS = 64
"""Largest weight code: 7-bit weights in [-64, 64] (``reduce_range``; see :mod:`.static` for why)."""


class ActivationFakeQuant(nn.Module):
    """Per-tensor uint8 rounding over a range fixed by calibration (ONNX Runtime's MinMax calibrator).

    While ``calibrating`` the module passes its input through and widens the range to cover it (and 0,
    which uint8 must represent exactly); afterwards it rounds to 256 levels across that range.

    Args:
        follow: Another instance whose range this one uses: ONNX Runtime gives the outputs of
            max-pooling and resizing the quantisation of their input.
    """

    # Buffers and plain attributes, declared so that type checkers do not read them as submodules.
    low: Tensor
    high: Tensor
    follow: ActivationFakeQuant | None
    calibrating: bool
    enabled: bool

    def __init__(self, follow: ActivationFakeQuant | None = None) -> None:
        super().__init__()
        self.register_buffer("low", torch.tensor(0.0))
        self.register_buffer("high", torch.tensor(0.0))
        self.calibrating = True
        self.enabled = True
        # A plain attribute, not a submodule: the followed instance is registered where it is used.
        self.__dict__["follow"] = follow

    def forward(self, x: Tensor) -> Tensor:
        if self.calibrating:
            self.low = torch.minimum(self.low, x.detach().min())
            self.high = torch.maximum(self.high, x.detach().max())
            return x
        source = self.follow if self.follow is not None else self
        if not self.enabled or source.high <= source.low:
            return x
        scale = float(source.high - source.low) / 255.0
        zero_point = round(-float(source.low) / scale)
        return torch.fake_quantize_per_tensor_affine(x, scale, zero_point, 0, 255)


class WeightFakeQuant(nn.Module):
    """Per-output-channel symmetric rounding of a convolution weight to ``[-64, 64]`` (a parametrisation)."""

    enabled: bool

    def __init__(self) -> None:
        super().__init__()
        self.enabled = True

    def forward(self, weight: Tensor) -> Tensor:
        if not self.enabled:
            return weight
        reduce = tuple(range(1, weight.ndim))
        scale = (weight.detach().abs().amax(dim=reduce) / WEIGHT_LEVELS).clamp_min(1e-12)
        zero = torch.zeros(scale.shape, dtype=torch.int32, device=weight.device)
        return torch.fake_quantize_per_channel_affine(weight, scale, zero, 0, -WEIGHT_LEVELS, WEIGHT_LEVELS)


class QuantSimulation:
    """A traced copy of a network's forward with fake quantisation at the int8 graph's rounding points.

    Activations are rounded where the int8 graph holds an image-shaped (4-D) tensor in uint8: the
    input and the output of every convolution, sum, difference, concatenation, pooling and resize,
    with the graph's fusions: a convolution feeding only a BatchNorm is rounded after it (the
    exporter folds the BatchNorm into its bias), a tensor feeding only ReLUs is rounded after the ReLU
    (the uint8 range starting at 0 is the ReLU), and max-pooling and resizing round onto their input's
    grid. Convolution weights are rounded per output channel. Fully connected layers are left alone:
    the int8 graph quantises their weights in blocks of 32 and their inputs on the fly, which moves
    the joints by a few micrometres.

    Args:
        network: A BatchNorm-folded network (``keep_modules=True``); its parameters are shared, so
            fine-tuning ``module`` trains ``network``.
        example: A batch of inputs for tracing the tensor shapes.

    Raises:
        HandposeError: The network cannot be traced symbolically.
    """

    def __init__(self, network: nn.Module, example: Tensor) -> None:
        try:
            traced = fx.symbolic_trace(network)
            ShapeProp(traced).propagate(example)
        except Exception as exc:  # tracing fails in many ways on dynamic code
            message = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
            raise HandposeError(f"{type(network).__name__} cannot be traced for fake quantisation: {message}") from None
        self.module = traced
        self.activations: list[ActivationFakeQuant] = []
        for node in list(traced.graph.nodes):
            if self._rounds_output(traced, node):
                self._insert_after(node)
        traced.graph.lint()
        traced.recompile()
        self.convolutions = [m for m in network.modules() if isinstance(m, nn.Conv2d)]
        self.weight_rounding = [WeightFakeQuant() for _ in self.convolutions]
        for conv, rounding in zip(self.convolutions, self.weight_rounding, strict=True):
            parametrize.register_parametrization(conv, "weight", rounding)

    @staticmethod
    def _rounds_output(traced: fx.GraphModule, node: fx.Node) -> bool:
        meta = node.meta.get("tensor_meta")
        if node.op == "output" or meta is None or not hasattr(meta, "shape") or len(meta.shape) != 4:
            return False
        if not meta.dtype.is_floating_point:
            return False
        users = list(node.users)
        if users and all(_is_relu(traced, user) for user in users):
            return False  # the ReLU's rounding is this tensor's
        # A convolution feeding only a BatchNorm: the exporter folds that BatchNorm into its bias.
        feeds_only_batchnorm = len(users) == 1 and isinstance(_module(traced, users[0]), nn.BatchNorm2d)
        return not (isinstance(_module(traced, node), nn.Conv2d) and feeds_only_batchnorm)

    def _insert_after(self, node: fx.Node) -> None:
        name = f"activation_fake_quant_{len(self.activations)}"
        source = node.args[0] if node.args and isinstance(node.args[0], fx.Node) else None
        follows = None
        if _keeps_input_grid(self.module, node) and source is not None:
            candidate = _module(self.module, source)
            follows = candidate if isinstance(candidate, ActivationFakeQuant) else None
        fake_quant = ActivationFakeQuant(follows)
        self.module.add_submodule(name, fake_quant)
        self.activations.append(fake_quant)
        with self.module.graph.inserting_after(node):
            rounded = self.module.graph.call_module(name, (node,))
        node.replace_all_uses_with(rounded)
        rounded.args = (node,)

    @torch.no_grad()
    def calibrate(self, batches: Iterable[Tensor]) -> None:
        """Set every activation range from ``batches`` (the calibration crops), then start rounding."""
        for fake_quant in self.activations:
            fake_quant.calibrating = True
            fake_quant.low.zero_()
            fake_quant.high.zero_()
        # The int8 graph is calibrated on the float network: float weights here too.
        states = [r.enabled for r in self.weight_rounding]
        for r in self.weight_rounding:
            r.enabled = False
        seen = 0
        try:
            for batch in batches:
                self.module(batch)
                seen += 1
        finally:
            for r, state in zip(self.weight_rounding, states, strict=True):
                r.enabled = state
            for fake_quant in self.activations:
                fake_quant.calibrating = False
        if not seen:
            raise HandposeError("calibration needs at least one batch")

    def set_enabled(self, enabled: bool) -> None:
        """Round (``True``) or run in plain float (``False``, the fp32 control of an experiment)."""
        roundings: list[ActivationFakeQuant | WeightFakeQuant] = [*self.activations, *self.weight_rounding]
        for rounding in roundings:
            rounding.enabled = enabled

    def remove(self) -> None:
        """Detach the weight rounding from the network, leaving its trained float weights."""
        for conv in self.convolutions:
            if parametrize.is_parametrized(conv, "weight"):
                parametrize.remove_parametrizations(conv, "weight", leave_parametrized=False)


def _module(traced: fx.GraphModule, node: fx.Node) -> nn.Module | None:
    """The module a ``call_module`` node runs (``None`` for other nodes)."""
    return traced.get_submodule(str(node.target)) if node.op == "call_module" else None


def _is_relu(traced: fx.GraphModule, node: fx.Node) -> bool:
    if node.op == "call_module":
        return isinstance(_module(traced, node), nn.ReLU)
    return node.op in ("call_function", "call_method") and node.target in (torch.relu, F.relu, "relu", "relu_")


def _keeps_input_grid(traced: fx.GraphModule, node: fx.Node) -> bool:
    """Max-pooling and resizing: ONNX Runtime quantises their output with their input's parameters."""
    if node.op == "call_module":
        return isinstance(_module(traced, node), (nn.MaxPool2d, nn.Upsample))
    return node.op == "call_function" and node.target in (F.interpolate, F.max_pool2d)
