"""The converged-ablation benchmark: a run resumes after an interruption and the docs render from results."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import bench_ablations as ab


@pytest.mark.slow
def test_smoke_runs_resume_and_render(tmp_path: Path, capsys) -> None:
    work, results = tmp_path / "work", tmp_path / "results"
    argv = ["--smoke", "--methods", "crossinfonet", "--seeds", "0", "--work", str(work), "--results", str(results)]
    assert ab.main(argv) == 0
    files = sorted((results / "crossinfonet").glob("*.json"))
    assert [f.stem for f in files] == sorted(f"{v}_seed0" for v in ab.METHODS[0].variants)
    first = json.loads(files[0].read_text())
    assert first["steps"] == 4 and first["curve"] and first["test"]["mean_error_mm"] > 0

    # An interrupted run: its result file is gone, its checkpoints are left. It resumes, not restarts.
    files[0].unlink()
    capsys.readouterr()
    assert ab.main(argv) == 0
    out = capsys.readouterr().out
    assert "resuming" in out and out.count("== ") == 1
    again = json.loads(files[0].read_text())
    assert again["resumed"] and again["steps"] == 4

    found = ab.load_results(results)
    text = ab.render(found, "curves.png")
    assert "### crossinfonet" in text and "seed 0:" in text
    ab.plot(found, tmp_path / "curves.png")
    assert (tmp_path / "curves.png").stat().st_size > 0


def _run(model: str, seed: int, err: float) -> dict:
    return {"test": {"mean_error_mm": err}, "curve": [[10, err + 5], [20, err]], "seed": seed, "model": model}


def test_verdict_states_order_margins_and_seed_noise() -> None:
    method = ab.METHODS[0]
    errs = {0: [10.0, 11.0, 12.0, 13.0], 1: [10.5, 10.8, 12.5, 13.1]}
    runs = {v: {s: _run(v, s, errs[s][k]) for s in (0, 1)} for k, v in enumerate(method.variants)}
    lines = ab.verdict(method, runs)
    assert lines[0].startswith("- seed 0: **holds**")
    assert "cross − full = +1.00 mm" in lines[0]
    assert "mean of seeds 0, 1: **holds**" in lines[2]
    assert "largest 0.50 mm" in lines[2]
    runs[method.variants[1]][1]["test"]["mean_error_mm"] = 9.0
    assert ab.verdict(method, runs)[1].startswith("- seed 1: **does not hold**")


def test_first_beats_all_check_and_flattening() -> None:
    method = ab.METHODS[1]
    runs = {v: {0: _run(v, 0, e)} for v, e in zip(method.variants, (5.0, 6.0, 5.5))}
    assert "**holds**" in ab.verdict(method, runs)[0]
    runs[method.variants[2]][0]["test"]["mean_error_mm"] = 4.0
    assert "**does not hold**" in ab.verdict(method, runs)[0]
    assert ab.flattening([[0, 20.0], [50, 12.0], [75, 10.5], [100, 10.0]]) == pytest.approx(0.05)
