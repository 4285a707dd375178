"""``--runtime auto``: the fastest correct runtime wins, the choice is cached per machine, and a bad cache is ignored."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from handpose import runtime_choice
from handpose.inference import Estimator
from handpose.loading import RuntimeFailureError, read_model_file
from handpose.runtime_choice import RuntimeChoice, decide, mean_shift_mm, measure, offered_runtimes
from training_helpers import cli

V1 = Path(__file__).resolve().parent / "fixtures" / "contract_v1"


@pytest.fixture
def package(tmp_path: Path) -> Path:
    folder = tmp_path / "package"
    shutil.copytree(V1 / "package", folder)
    return folder


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("HANDPOSE_CACHE_DIR", str(folder))
    return folder


@pytest.fixture
def fake_measure(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Replace the timing by a fixed answer (onnx wins); record the runtimes each measurement was offered."""
    calls: list[list[str]] = []

    def fake(runners, example, scale_mm, budget_s=0.0):
        calls.append(sorted(runners))
        return RuntimeChoice("onnx", {"torch": 100.0, "onnx": 300.0}, {"torch": 0.0, "onnx": 0.01})

    monkeypatch.setattr(runtime_choice, "measure", fake)
    return calls


def test_the_fastest_correct_runtime_wins():
    rates = {"torch": 140.0, "torch-bf16": 200.0, "onnx": 312.0}
    assert decide(rates, {"torch": 0.0, "torch-bf16": 0.04, "onnx": 0.001}) == "onnx"


def test_an_incorrect_fast_runtime_is_skipped():
    rates = {"torch": 140.0, "onnx": 120.0, "onnx-int8": 500.0}
    assert decide(rates, {"torch": 0.0, "onnx": 0.001, "onnx-int8": 0.8}) == "torch"
    rates["onnx"] = 160.0
    assert decide(rates, {"torch": 0.0, "onnx": 0.001, "onnx-int8": 0.8}) == "onnx"
    # A runtime without a known shift is never taken.
    assert decide({"torch": 1.0, "onnx": 9.0}, {}) == "torch"


def test_torch_is_the_fallback_when_nothing_else_is_timed():
    assert decide({}, {}) == "torch"


def test_measure_checks_against_torch_then_times_only_the_correct_runtimes():
    base = np.zeros((2, 21, 3))
    timed: list[str] = []

    def runner(name: str, offset: float):
        def run(x):
            timed.append(name)
            return {"joints": base + offset}

        return run

    # 0.004 of a 250 mm cube's half edge = 0.5 mm: int8 is exactly at the limit, so not correct.
    runners = {"torch": runner("torch", 0.0), "onnx": runner("onnx", 1e-5), "onnx-int8": runner("onnx-int8", 0.004)}
    choice = measure(runners, np.zeros((2, 1, 8, 8), np.float32), scale_mm=125.0, budget_s=0.01)
    assert choice.shifts_mm["onnx-int8"] == pytest.approx(0.004 * 125.0 * np.sqrt(3))
    assert choice.shifts_mm["onnx"] < 0.01
    assert set(choice.rates) == {"torch", "onnx"}
    assert timed.count("onnx-int8") == 1  # the correctness check only
    assert choice.runtime in ("torch", "onnx")
    assert "onnx-int8 not correct" in choice.line()


def test_measure_with_nothing_but_torch_correct_says_so():
    runners = {"torch": lambda x: {"joints": np.zeros((1, 21, 3))}, "onnx": lambda x: {"joints": np.ones((1, 21, 3))}}
    choice = measure(runners, np.zeros((1, 1, 8, 8), np.float32), scale_mm=125.0, budget_s=0.01)
    assert choice.runtime == "torch" and not choice.rates
    assert "onnx not correct" in choice.line()


def test_a_runtime_that_cannot_run_the_model_is_skipped():
    from handpose.errors import HandposeError

    def old_graph(x):
        raise HandposeError("the model's ONNX graph has no uv output")

    runners = {"torch": lambda x: {"joints": np.zeros((1, 21, 3))}, "onnx": old_graph}
    choice = measure(runners, np.zeros((1, 1, 8, 8), np.float32), scale_mm=30.0, budget_s=0.01)
    assert choice.runtime == "torch" and "onnx not usable" in choice.line()


def test_the_choice_line_names_the_rates_and_the_rejected_runtimes():
    choice = RuntimeChoice("onnx", {"torch": 140.0, "onnx": 312.0}, {"torch": 0.0, "onnx": 0.01, "onnx-int8": 0.8})
    assert choice.line() == "runtime auto: onnx (312 frames/s vs torch 140, onnx-int8 not correct: 0.80 mm)"


def test_shift_is_in_millimetres_and_nan_is_never_correct():
    ref = {"joints": np.zeros((1, 2, 3))}
    assert mean_shift_mm(ref, {"joints": np.full((1, 2, 3), [0.0, 0.0, 0.01])}, 125.0) == pytest.approx(1.25)
    assert mean_shift_mm(ref, {"joints": np.full((1, 2, 3), np.nan)}, 125.0) == float("inf")
    assert decide({"torch": 1.0, "onnx": 2.0}, {"onnx": float("inf")}) == "torch"


def test_offered_runtimes_follow_the_files_and_the_cpu():
    package = read_model_file(V1 / "package")
    assert offered_runtimes(package, "cpu", frozenset()) == ["torch", "onnx"]
    assert offered_runtimes(package, "cpu", frozenset({"avx512_bf16"})) == ["torch", "torch-bf16", "onnx"]
    assert offered_runtimes(read_model_file(V1 / "old.ckpt"), "cpu", frozenset()) == ["torch"]


def test_a_checkpoint_without_alternatives_runs_torch_without_timing(cache_dir, fake_measure, monkeypatch):
    monkeypatch.setattr(runtime_choice, "cpu_info", lambda: ("test cpu", frozenset()))
    est = Estimator.load(V1 / "old.ckpt", runtime="auto")
    assert est.runtime == "torch" and est.network is not None
    assert not fake_measure and not (cache_dir / "runtimes.json").exists()
    assert "only runtime" in est.runtime_choice.line()


def test_a_cached_choice_skips_the_timing(package, cache_dir, fake_measure):
    first = Estimator.load(package, runtime="auto", batch_size=4)
    assert first.runtime == "onnx" and first.onnx_session is not None and not first.runtime_choice.cached
    assert len(fake_measure) == 1
    again = Estimator.load(package, runtime="auto", batch_size=4)
    assert len(fake_measure) == 1, "a cache hit must not measure again"
    assert again.runtime == "onnx" and again.runtime_choice.cached
    assert "measured earlier" in again.runtime_choice.line()
    # Another batch size is another measurement.
    Estimator.load(package, runtime="auto", batch_size=8)
    assert len(fake_measure) == 2
    entries = json.loads((cache_dir / "runtimes.json").read_text())["entries"]
    assert len(entries) == 2


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b'{"format": "handpose-runtimes", "version": 1, "entries": []}',
        b"[" * 100 + b"]" * 100,
        b"x" * 300_000,
    ],
    ids=["garbage", "wrong-shape", "deep", "oversized"],
)
def test_a_corrupt_cache_is_ignored_and_rewritten(package, cache_dir, fake_measure, content):
    cache_dir.mkdir()
    (cache_dir / "runtimes.json").write_bytes(content)
    est = Estimator.load(package, runtime="auto")
    assert est.runtime == "onnx" and len(fake_measure) == 1
    data = json.loads((cache_dir / "runtimes.json").read_text())
    assert data["format"] == "handpose-runtimes" and len(data["entries"]) == 1


def test_the_cache_lives_under_the_user_cache_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("HANDPOSE_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert runtime_choice.cache_path() == tmp_path / "handpose" / "runtimes.json"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert runtime_choice.cache_path() == tmp_path / "home" / ".cache" / "handpose" / "runtimes.json"


def test_without_a_home_folder_nothing_is_cached_and_nothing_fails(package, fake_measure, monkeypatch):
    monkeypatch.setattr(runtime_choice, "cache_path", lambda: None)
    assert Estimator.load(package, runtime="auto").runtime == "onnx"
    assert Estimator.load(package, runtime="auto").runtime == "onnx"
    assert len(fake_measure) == 2


def test_a_cached_runtime_the_package_no_longer_offers_is_measured_again(package, cache_dir, fake_measure):
    Estimator.load(package, runtime="auto")
    path = cache_dir / "runtimes.json"
    data = json.loads(path.read_text())
    for entry in data["entries"].values():
        entry["runtime"] = "onnx-int8"  # this package has no int8 graph
    path.write_text(json.dumps(data))
    assert Estimator.load(package, runtime="auto").runtime == "onnx"
    assert len(fake_measure) == 2


def test_forced_bf16_predicts_close_to_fp32():
    depth = np.load(V1 / "depth.npy").astype(np.float32)
    fp32 = Estimator.load(V1 / "package", runtime="torch").predict(depth, camera="nyu").xyz
    bf16 = Estimator.load(V1 / "package", runtime="torch-bf16")
    assert bf16.runtime == "torch-bf16"
    # bf16 keeps 8 bits of mantissa: close, but not the same numbers.
    assert np.abs(bf16.predict(depth, camera="nyu").xyz - fp32).max() < 20.0


def test_predict_on_the_command_line_chooses_by_default_and_says_so(package, cache_dir, tmp_path, capsys):
    out = tmp_path / "out"
    args = ("predict", package, V1 / "depth.npy", "--camera", "nyu", "--out", out, "--no-plots", "--batch-size", "2")
    assert cli(*args) == 0
    err = capsys.readouterr().err
    line = next(x for x in err.splitlines() if x.startswith("[predict] runtime auto: "))
    chosen = line.removeprefix("[predict] runtime auto: ").split()[0]
    assert chosen in ("torch", "torch-bf16", "onnx")
    record = json.loads((out / "depth.json").read_text())
    assert np.isfinite(np.asarray(record["xyz_mm"], dtype=float)).all()
    assert (cache_dir / "runtimes.json").is_file()
    # The second run reads the cache; --quiet drops the line.
    assert cli(*args) == 0
    assert "measured earlier on this machine" in capsys.readouterr().err
    assert cli(*args, "--quiet") == 0
    assert "runtime auto" not in capsys.readouterr().err


def test_a_forced_runtime_the_package_lacks_is_one_line(package, capsys):
    args = ("predict", package, V1 / "depth.npy", "--camera", "nyu", "--no-plots", "--runtime", "onnx-int8")
    assert cli(*args, "--out", package.parent / "x") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--runtime onnx-int8 needs a package exported with --quantize int8" in err[0]


class _NoBf16Kernels(torch.nn.Module):
    """A network whose bf16 kernels cannot be built here, as oneDNN's under a tight address-space limit."""

    def forward(self, x):
        if torch.is_autocast_enabled("cpu"):
            raise RuntimeError("could not create a primitive")
        return {"joints": torch.zeros(x.shape[0], 21, 3)}


def test_bf16_that_fails_at_prediction_falls_back_to_fp32_only_when_auto_chose_it(caplog):
    contract = read_model_file(V1 / "package").contract
    x = np.zeros((1, 1, contract.input_size, contract.input_size), np.float32)
    forced = Estimator(_NoBf16Kernels(), contract, bf16=True)
    with pytest.raises(RuntimeFailureError, match=r"bf16 autocast failed here \(could not create a primitive\)"):
        forced.forward(x)
    chosen = Estimator(_NoBf16Kernels(), contract, bf16=True)
    chosen.runtime_choice = RuntimeChoice("torch-bf16", {"torch": 1.0, "torch-bf16": 2.0}, {"torch-bf16": 0.1})
    assert chosen.forward(x).shape == (1, 21, 3)
    assert chosen.runtime == "torch" and chosen.runtime_choice.runtime == "torch"
    assert "running PyTorch fp32 instead" in caplog.text
