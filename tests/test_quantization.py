"""int8 deployment: BatchNorm folding that keeps the modules, the fake-quantisation simulation, the static
int8 graph, quantisation-aware fine-tuning and ``handpose quantize``."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from handpose.models import create_model
from handpose.models.batchnorm_folding import fold_batchnorm
from handpose.onnx_graph import onnx_bytes, ort_session
from handpose.quantization.finetune import prepare_for_int8
from handpose.quantization.simulate import ActivationFakeQuant, QuantSimulation, WeightFakeQuant
from handpose.quantization.static import quantize_static_onnx
from training_helpers import cli, tiny_run

SIZE = 32


@pytest.fixture(scope="module")
def run():
    # Module scope: trained before any test captures stderr (Lightning binds its log handler at import).
    return tiny_run()


def _network(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    net = create_model("crossinfonet", skeleton="nyu14", input_size=SIZE, width=0.25, channels=32, fc_dim=64)
    _randomise_batchnorm(net)
    return net.eval()


def _randomise_batchnorm(net: torch.nn.Module) -> None:
    # Non-trivial BatchNorm statistics, so folding has something to move.
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.1, 0.1)


def _crops(count: int, seed: int = 0) -> np.ndarray:
    # Depth-crop-like: a smooth hand-sized blob in front of a +1 background.
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:SIZE, :SIZE] / SIZE
    crops = np.ones((count, 1, SIZE, SIZE), np.float32)
    for i in range(count):
        cy, cx, r = rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7), rng.uniform(0.2, 0.35)
        blob = (yy - cy) ** 2 + (xx - cx) ** 2 < r**2
        crops[i, 0][blob] = rng.uniform(-0.6, 0.2) + 0.3 * ((yy - cy) + (xx - cx))[blob]
    return crops


def test_folding_into_kept_batchnorms_keeps_outputs_and_state_dict_keys() -> None:
    net = _network()
    folded = fold_batchnorm(net, keep_modules=True)
    x = torch.from_numpy(_crops(3))
    with torch.no_grad():
        expected, got = net(x)["joints"], folded(x)["joints"]
    assert torch.allclose(got, expected, atol=1e-5)
    assert folded.state_dict().keys() == net.state_dict().keys()
    bn = folded.palm_block.bn1
    assert torch.all(bn.weight == 1) and torch.all(bn.running_mean == 0)
    # The convolution now carries the scale the exporter folds: exporting either gives the same graph weights.
    assert not torch.allclose(folded.palm_block.conv1.weight, net.palm_block.conv1.weight)


def _conv_bn_relu(cin: int, cout: int, stride: int = 1) -> torch.nn.Sequential:
    return torch.nn.Sequential(
        torch.nn.Conv2d(cin, cout, 3, stride, 1, bias=False), torch.nn.BatchNorm2d(cout), torch.nn.ReLU()
    )


class _EveryRoundingPoint(torch.nn.Module):
    """Each kind of tensor the int8 graph rounds: stem, max-pool, residual sum, bilinear resize,
    FPN sum, CrossInfoNet's difference and concatenation."""

    def __init__(self) -> None:
        super().__init__()
        self.stem, self.pool = _conv_bn_relu(1, 8, 2), torch.nn.MaxPool2d(3, 1, 1)
        self.block = torch.nn.Sequential(
            _conv_bn_relu(8, 8), torch.nn.Conv2d(8, 8, 1, bias=False), torch.nn.BatchNorm2d(8)
        )
        self.down, self.lateral = _conv_bn_relu(8, 8, 2), torch.nn.Conv2d(8, 8, 1)
        self.palm, self.finger, self.head = (
            _conv_bn_relu(8, 8),
            _conv_bn_relu(8, 8),
            torch.nn.Conv2d(16, 4, 3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        x = self.pool(self.stem(x))
        x = torch.relu(self.block(x) + x)
        top = self.down(x)
        x = self.lateral(x) + torch.nn.functional.interpolate(top, size=x.shape[-2:], mode="bilinear")
        out = self.head(torch.cat([self.palm(x), x - self.finger(x)], 1))
        return {"joints": out.flatten(1)[:, :12].reshape(-1, 4, 3)}


def test_simulation_rounds_like_the_static_int8_graph() -> None:
    from unittest import mock

    torch.manual_seed(0)
    net = _EveryRoundingPoint().eval()
    _randomise_batchnorm(net)
    net = fold_batchnorm(net, keep_modules=True)
    crops = _crops(16)
    sim = QuantSimulation(net, torch.from_numpy(crops[:2]))
    # input, stem, max-pool, block ReLU, block output, residual sum (after its ReLU), down, lateral,
    # resize, FPN sum, palm, finger, difference, concatenation, head
    assert len(sim.activations) == 15
    sim.calibrate([torch.from_numpy(crops)])
    assert all(float(f.low) <= 0.0 <= float(f.high) for f in sim.activations)

    x = torch.from_numpy(crops[:8])
    with torch.no_grad():
        simulated = sim.module(x)["joints"].numpy()
        sim.set_enabled(False)
        plain = sim.module(x)["joints"].numpy()
        assert np.allclose(plain, net(x)["joints"].numpy(), atol=1e-6)
    sim.remove()
    # The graph without the fully connected layers' block-wise int8 (this toy has none to match).
    with mock.patch("handpose.onnx_graph.quantize_onnx", lambda data, mode: data):
        int8 = quantize_static_onnx(onnx_bytes(net, input_size=SIZE, joints_only=True), crops)
    (ort_int8,) = ort_session(int8).run(["joints"], {"image": crops[:8]})
    rounding = np.abs(plain - ort_int8).mean()
    assert rounding > 1e-4
    # Same rounding points, ranges and grids: only rare ties round the other way.
    assert np.abs(simulated - ort_int8).mean() < 0.25 * rounding


def test_simulating_crossinfonet_rounds_its_whole_trunk() -> None:
    net = prepare_for_int8(_network())
    sim = QuantSimulation(net, torch.from_numpy(_crops(2)))
    assert len(sim.convolutions) == sum(isinstance(m, torch.nn.Conv2d) for m in net.modules()) > 40
    assert len(sim.activations) > 60
    sim.calibrate([torch.from_numpy(_crops(8))])
    with torch.no_grad():
        rounded = sim.module(torch.from_numpy(_crops(4)))["joints"]
        sim.set_enabled(False)
        plain = sim.module(torch.from_numpy(_crops(4)))["joints"]
    assert 0 < float((rounded - plain).abs().mean()) < 0.1 * float(plain.abs().mean())
    sim.remove()


def test_removing_the_simulation_leaves_plain_float_weights() -> None:
    net = prepare_for_int8(_network())
    before = {k: v.clone() for k, v in net.state_dict().items()}
    sim = QuantSimulation(net, torch.from_numpy(_crops(2)))
    assert isinstance(net.palm_block.conv2.parametrizations.weight[0], WeightFakeQuant)
    sim.remove()
    after = net.state_dict()
    assert after.keys() == before.keys()
    assert all(torch.equal(after[k], before[k]) for k in before)
    assert not any(isinstance(m, ActivationFakeQuant) for m in net.modules())


def test_weight_rounding_is_per_channel_7_bit() -> None:
    weight = torch.randn(4, 3, 3, 3) * torch.tensor([0.01, 0.1, 1.0, 10.0]).reshape(4, 1, 1, 1)
    rounded = WeightFakeQuant()(weight)
    for channel in range(4):
        step = weight[channel].abs().max() / 64
        codes = rounded[channel] / step
        assert torch.allclose(codes, codes.round(), atol=1e-3)
        assert codes.abs().max() <= 64 + 1e-3
        assert (rounded[channel] - weight[channel]).abs().max() <= step / 2 + 1e-6


def test_static_int8_needs_calibration_crops() -> None:
    from handpose.errors import HandposeError

    data = onnx_bytes(prepare_for_int8(_network()), input_size=SIZE, joints_only=True)
    with pytest.raises(HandposeError, match="calibration"):
        quantize_static_onnx(data, np.zeros((0, 1, SIZE, SIZE), np.float32))


def test_quantize_cli_fine_tunes_and_writes_a_static_int8_package(run, tmp_path, capsys) -> None:
    out = tmp_path / "pkg"
    args = ["quantize", run.best, out, "--steps", "4", "--batch-size", "4", "--calibration", "8", "--lr", "1e-3"]
    assert cli(*args) == 0
    assert "quantisation-aware fine-tuning" in capsys.readouterr().out
    info = json.loads((out / "model.json").read_text())
    recipe = info["onnx_int8"]["recipe"]
    assert recipe["steps"] == 4 and recipe["calibration_frames"] == 8
    assert recipe["data"]["root"] == str(run.train_data)
    assert "static int8" in info["onnx_int8"]["quantize"]
    assert {"model.safetensors", "model.onnx", "model.int8.onnx"} <= set(info["files"])

    from handpose.inference import Estimator

    trained = Estimator.load(run.best)
    tuned = Estimator.load(out)
    # Fine-tuning changed the weights, and the package loads into the registered architecture.
    original = dict(trained.network.named_parameters())["palm_block.conv2.weight"]
    assert not torch.allclose(dict(tuned.network.named_parameters())["palm_block.conv2.weight"], original)
    image = np.full((120, 160), 800.0, np.float32)
    image[40:80, 60:100] = 560.0
    float_pred = tuned.predict(image, camera="nyu")
    int8_pred = Estimator.load(out, runtime="onnx-int8").predict(image, camera="nyu")
    shift = np.abs(np.asarray(int8_pred.xyz) - np.asarray(float_pred.xyz))
    assert np.isfinite(shift).all() and shift.max() < 30.0


def test_quantize_cli_refuses_bad_settings_and_rgb_models(run, tmp_path, capsys) -> None:
    assert cli("quantize", run.best, tmp_path / "a", "--steps", "-1") != 0
    assert "--steps" in capsys.readouterr().err
    assert cli("quantize", run.best, tmp_path / "b", "--calibration", "0") != 0
    assert "--calibration" in capsys.readouterr().err
    assert cli("quantize", run.best, tmp_path / "d", "--data", "nyu") != 0
    assert "--root DIR is needed with --data nyu" in capsys.readouterr().err
    assert not (tmp_path / "a" / "model.int8.onnx").exists()

    ckpt = torch.load(run.best, weights_only=True)
    ckpt["hyper_parameters"]["contract"]["modality"] = "rgb"
    rgb = tmp_path / "rgb.ckpt"
    torch.save(ckpt, rgb)
    assert cli("quantize", rgb, tmp_path / "c") != 0
    err = capsys.readouterr().err.strip()
    assert "depth models" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "c").exists()
