"""Model packages and checkpoints: files of the previous format still load, and damaged files are refused."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from handpose.errors import HandposeError
from handpose.inference import Estimator
from handpose.package import PACKAGE_ONNX, PACKAGE_WEIGHTS, read_package, write_package

V1 = Path(__file__).parent / "fixtures" / "contract_v1"


@pytest.fixture(scope="module")
def expected() -> dict:
    return json.loads((V1 / "expected.json").read_text())


@pytest.fixture(scope="module")
def depth() -> np.ndarray:
    return np.load(V1 / "depth.npy").astype(np.float32)


@pytest.mark.parametrize("name", ["checkpoint", "package"])
def test_previous_format_predicts_what_it_predicted_then(name, expected, depth):
    est = Estimator.load(V1 / ("old.ckpt" if name == "checkpoint" else "package"))
    np.testing.assert_allclose(est.predict(depth, camera="nyu").xyz, expected[name], atol=1e-3)
    given = est.predict(depth, camera="nyu", center=[-20.0, 10.0, 410.0]).xyz
    np.testing.assert_allclose(given, expected[name + "_given_center"], atol=1e-3)


def test_previous_format_onnx_graph_runs(expected, depth):
    est = Estimator.load(V1 / "package", runtime="onnx")
    np.testing.assert_allclose(est.predict(depth, camera="nyu").xyz, expected["package_onnx"], atol=1e-3)


def test_loading_a_package_imports_neither_lightning_nor_training():
    code = (
        "import sys; from handpose.inference import Estimator; "
        f"Estimator.load({str(V1 / 'package')!r}); "
        "bad = sorted(m for m in sys.modules if m.startswith(('lightning', 'handpose.training'))); print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def _copy(tmp_path: Path) -> Path:
    folder = tmp_path / "pkg"
    shutil.copytree(V1 / "package", folder)
    return folder


@pytest.mark.parametrize("name", [PACKAGE_WEIGHTS, PACKAGE_ONNX])
def test_a_changed_file_is_refused_naming_it(tmp_path, name):
    folder = _copy(tmp_path)
    path = folder / name
    data = bytearray(path.read_bytes())
    data[-100] ^= 0x01  # one bit of one weight: still a valid file, but not the exported one
    path.write_bytes(bytes(data))
    runtime = "torch" if name == PACKAGE_WEIGHTS else "onnx"
    with pytest.raises(HandposeError) as info:
        Estimator.load(folder, runtime=runtime)
    text = str(info.value)
    assert name in text and "SHA-256" in text and "\n" not in text


def test_a_file_without_checksum_is_refused(tmp_path):
    folder = _copy(tmp_path)
    meta = json.loads((folder / "model.json").read_text())
    del meta["files"][PACKAGE_WEIGHTS]
    (folder / "model.json").write_text(json.dumps(meta))
    with pytest.raises(HandposeError, match="no checksum"):
        read_package(folder)


def test_a_malformed_contract_in_a_package_is_one_line(tmp_path):
    folder = _copy(tmp_path)
    meta = json.loads((folder / "model.json").read_text())
    meta["contract"]["model_kwargs"]["fc_dim"] = 1e7
    (folder / "model.json").write_text(json.dumps(meta))
    with pytest.raises(HandposeError) as info:
        read_package(folder)
    assert "fc_dim" in str(info.value) and "model.json" in str(info.value)


def test_write_then_read_round_trips_and_drops_stale_graphs(tmp_path):
    old = read_package(V1 / "package")
    out = _copy(tmp_path)  # holds a model.onnx that the new package does not
    description = write_package(out, old.weights, old.contract, {"epoch": 3}, "x.ckpt")
    assert not (out / PACKAGE_ONNX).exists() and "onnx" not in description
    again = read_package(out)
    assert again.contract == old.contract
    assert again.weights.keys() == old.weights.keys()
    assert all(np.array_equal(again.weights[k].numpy(), old.weights[k].numpy()) for k in old.weights)
    assert json.loads((out / "model.json").read_text())["contract"]["version"] == old.contract.version


@pytest.mark.parametrize("runtime", ["torch", "onnx"])
def test_nan_in_a_user_depth_map_reaches_no_network(runtime, depth):
    # Missing depth as NaN (and other non-positive values) goes through the training transform's one
    # missing-depth policy: the hand is found, and the joints are those of the same map with zeros.
    est = Estimator.load(V1 / "package", runtime=runtime)
    holes = depth.copy()
    holes[depth == 0] = np.nan
    holes[:5, :5] = -np.inf
    holes[50, 60] = np.nan  # a hole inside the hand too
    zeros = np.nan_to_num(holes, nan=0.0, neginf=0.0)
    got = est.predict(holes, camera="nyu").xyz
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, est.predict(zeros, camera="nyu").xyz, atol=1e-4)


@pytest.mark.parametrize(
    ("field", "value"),
    [("version", "abc"), ("input_size", 1e6), ("model_kwargs", {"fc_dim": 1e7}), ("crop", {"kind": "cube"})],
)
def test_handpose_predict_refuses_a_malformed_contract_in_one_line(tmp_path, capsys, field, value):
    from handpose.cli import main

    folder = _copy(tmp_path)
    meta = json.loads((folder / "model.json").read_text())
    meta["contract"][field] = value
    (folder / "model.json").write_text(json.dumps(meta))
    assert main(["predict", str(folder), str(V1 / "depth.npy"), "--camera", "nyu", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "model.json" in err and "preprocessing contract" in err and "\n" not in err
