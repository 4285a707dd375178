"""The cross-hand benchmark: trained on mesh or capsule hands, scored on both, for depth and RGB."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import bench_cross_hands as ch

HANDS = ("mesh", "capsule")


@pytest.mark.slow
def test_smoke_run_fills_both_tables_and_keeps_the_docs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rewritten = []
    # A smoke run never rewrites the docs.
    monkeypatch.setattr(ch, "replace_section", lambda *a, **k: rewritten.append(a))
    results_path = tmp_path / "cross.json"
    argv = ["--smoke", "--work", str(tmp_path / "work"), "--results", str(results_path)]
    assert ch.main(argv) == 0
    results = json.loads(results_path.read_text())
    assert set(results) == {"depth", "rgb"}
    for run in results.values():
        assert run["settings"]["steps"] == 2
        assert {h: run["runs"][h]["steps"] for h in HANDS} == {"mesh": 2, "capsule": 2}
        # The two trainings of a pair read folders rendered with their own hand model.
        assert set(run["cells"]) == set(HANDS) and all(set(run["cells"][t]) == set(HANDS) for t in HANDS)
        assert set(run["baselines"]) == set(HANDS)
        for scored in HANDS:
            base = run["baselines"][scored]["mean_error_mm"]
            assert math.isfinite(base) and base > 0
            for trained in HANDS:
                cell = run["cells"][trained][scored]
                assert cell["frames"] == 8 and cell["mean_error_mm"] > 0
                assert cell["ratio"] == pytest.approx(cell["mean_error_mm"] / base)
        assert "--work" not in run["command"] and "--smoke" in run["command"]
    for hand in HANDS:
        for folder in (f"depth_train_24_right_{hand}", f"depth_test_8_right_{hand}", f"rgb_train_24_{hand}"):
            settings = json.loads((tmp_path / "work" / "data" / folder / "synth.json").read_text())
            assert settings["hand"] == hand, folder
    text = ch.render(results)
    assert text.count("| trained on \\ scored on |") == 2
    assert text.count("(baseline) |") == 2
    assert rewritten == []


def _cell(err: float, base: float) -> dict:
    return {"frames": 10, "mean_error_mm": err, "ratio": err / base}


def _run(errors: dict[tuple[str, str], float], bases: dict[str, float]) -> dict:
    return {
        "settings": {
            "model": "crossinfonet",
            "steps": 7,
            "batch_size": 4,
            "train_frames": 30,
            "test_frames": 10,
            "input_size": 32,
            "hands": "right",
        },
        "runs": {h: {"steps": 7} for h in HANDS},
        "cells": {t: {s: _cell(errors[t, s], bases[s]) for s in HANDS} for t in HANDS},
        "baselines": {s: {"mean_error_mm": bases[s]} for s in HANDS},
        "command": "python benchmarks/bench_cross_hands.py --modalities depth",
        "machine": "x86_64",
        "cpu": "test CPU",
        "wall_s": 90.0,
    }


def test_render_puts_trained_on_in_rows_and_scored_on_in_columns() -> None:
    errors = {
        ("mesh", "mesh"): 20.0,
        ("mesh", "capsule"): 30.0,
        ("capsule", "mesh"): 35.0,
        ("capsule", "capsule"): 25.0,
    }
    text = ch.render({"depth": _run(errors, {"mesh": 50.0, "capsule": 40.0})})
    lines = text.splitlines()
    assert "| trained on \\ scored on | mesh test | capsule test |" in lines
    assert "| mesh (7 steps) | 20.00 mm (0.40) | 30.00 mm (0.75) |" in lines
    assert "| capsule (7 steps) | 35.00 mm (0.70) | 25.00 mm (0.62) |" in lines
    assert "| mean pose of the column's training frames (baseline) | 50.00 mm (1.00) | 40.00 mm (1.00) |" in lines
    assert any("Trained on mesh hands: 20.00 mm on mesh test frames, 30.00 mm on capsule ones (+10.00 mm)" in x
               for x in lines)  # fmt: skip
    assert any("Trained on capsule hands: 25.00 mm on capsule test frames, 35.00 mm on mesh ones (+10.00 mm)" in x
               for x in lines)  # fmt: skip
    assert "RGB:" not in text and "`python benchmarks/bench_cross_hands.py --modalities depth`" in text
    assert "No results yet" in ch.render({})


def test_command_line_leaves_out_scratch_and_results_paths() -> None:
    argv = ["--depth-steps", "50", "--work", "/tmp/w", "--results=/tmp/r.json", "--modalities", "depth"]
    assert ch.command_line(argv) == "python benchmarks/bench_cross_hands.py --depth-steps 50 --modalities depth"


@pytest.mark.parametrize(("steps", "interval"), [(1000, 200), (400, 80), (2, 1), (7, 1), (36, 6)])
def test_validation_interval_ends_on_the_last_step(steps: int, interval: int) -> None:
    assert ch.validation_interval(steps) == interval
