"""The GPU benchmark's stages run end to end on the CPU (its dry run) and write their section."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import bench_gpu


@pytest.mark.slow
def test_dry_run_trains_evaluates_exports_predicts_and_times(tmp_path: Path) -> None:
    page = tmp_path / "benchmarks.md"
    page.write_text("# Benchmarks\n\n## Other\n\nkept\n")
    assert bench_gpu.main(["--dry-run", "--work", str(tmp_path / "w"), "--docs", str(page)]) == 0
    text = page.read_text()
    assert "kept" in text and "## GPU" in text and "CPU dry run" in text
    for stage in (
        "train (bf16-mixed, 1 device, 3 steps)",
        "evaluate --checkpoint",
        "export --onnx",
        "predict --device cpu",
    ):
        assert f"| {stage} |" in text
    assert "2 predictions written" in text
    assert "| crossinfonet | 32 | bf16 |" in text


def test_without_cuda_it_refuses_unless_dry_run(tmp_path: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(SystemExit, match="no CUDA device"):
        bench_gpu.main(["--work", str(tmp_path)])
