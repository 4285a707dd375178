"""Smoke runs of the speed benchmarks: fp32/bf16 training, training throughput and inference runtimes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _run(script: str, *argv: str) -> str:
    done = subprocess.run(
        [sys.executable, str(BENCH / script), *argv], capture_output=True, text=True, timeout=900, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.slow
def test_precision_benchmark_runs_both_precisions(tmp_path: Path) -> None:
    results = tmp_path / "precision.json"
    # Learnable Groups as well: its ablation variants start from a first stage, its precision runs do not.
    _run("bench_precision.py", "--smoke", "--seeds", "0", "--models", "crossinfonet,learnable_groups_k3",
         "--work", str(tmp_path), "--results", str(results))  # fmt: skip
    runs = json.loads(results.read_text())["runs"]
    assert set(runs) == {
        f"{m}/{p}/seed0" for m in ("crossinfonet", "learnable_groups_k3") for p in ("32-true", "bf16-mixed")
    }
    assert all(r["steps"] == 4 and r["images_per_s"] > 0 and r["test_error_mm"] > 0 for r in runs.values())


@pytest.mark.slow
def test_throughput_benchmark_reports_both_precisions(tmp_path: Path) -> None:
    out = _run("bench_training_throughput.py", "--smoke", "--work", str(tmp_path))
    assert "32-true" in out and "bf16-mixed" in out and "ratio" in out


@pytest.mark.slow
def test_runtime_benchmark_names_the_fastest_correct_runtime() -> None:
    out = _run("bench_runtimes.py", "--smoke")
    lines = [ln for ln in out.splitlines() if ln.startswith("crossinfonet 32px")]
    assert len(lines) == 2 and all("onnx fp32" in ln and "->" in ln for ln in lines)
