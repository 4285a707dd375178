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

    # A result from a run with fewer steps, replaced: it is kept as a shorter rung, not lost.
    older = {**again, "steps": 2, "planned_steps": 2}
    older["config"]["trainer"]["max_steps"] = 2
    files[0].write_text(json.dumps(older))
    shorter = tmp_path / "shorter"
    assert ab.main([*argv, "--replace", "--shorter", str(shorter)]) == 0
    assert json.loads(files[0].read_text())["steps"] == 4
    assert ab.load_shorter(shorter)["crossinfonet"][2][again["model"]][0]["steps"] == 2

    found = ab.load_results(results)
    text = ab.render(found, "curves.png", ab.load_shorter(shorter))
    assert "### crossinfonet" in text and "seed 0:" in text and "More steps, 2 → 4: the same 1 variant/seed" in text
    ab.plot(found, tmp_path / "curves.png", ab.load_shorter(shorter))
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


def _fake_result(method: ab.Method, model: str, seed: int, argv: list[str], **changes) -> dict:
    """A finished result file as the script writes it, for the settings ``argv`` asks for."""
    args = ab.build_parser().parse_args(argv)
    s = ab.settings(method, args)
    result = {
        "method": method.name,
        "model": model,
        "seed": seed,
        "steps": s.steps,
        "planned_steps": s.steps,
        "precision": s.precision,
        "best_val_mean_error_mm": 20.0,
        "test": {"mean_error_mm": 21.0},
        "metric": "mean_error_mm",
        "curve": [[s.steps // 2, 25.0], [s.steps, 20.0]],
        "config": ab.run_config(model, method, seed, Path("TRAIN_DATA"), args, Path("WORK")),
        "frames": {"train": s.train_frames, "test": s.test_frames},
        "machine": "Test CPU, 2 CPUs (torch threads 2), Python 3, torch 2",
    }
    result.update(changes)
    return result


def _write(results: Path, result: dict) -> None:
    path = results / result["method"] / f"{result['model']}_seed{result['seed']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result))


def test_settings_per_method_shared_by_variants() -> None:
    args = ab.build_parser().parse_args(
        ["--steps", "800,fingerposenet=300", "--model-kwargs", 'fingerposenet={"width": 0.5}', "--input-size", "48"]
    )
    by_name = {m.name: m for m in ab.METHODS}
    fpn, cin, lg = by_name["fingerposenet"], by_name["crossinfonet"], by_name["learnable_groups"]
    configs = [ab.run_config(v, fpn, 0, Path("T"), args, Path("W")) for v in fpn.variants]
    assert {c["trainer"]["max_steps"] for c in configs} == {300}
    assert all(c["model"]["kwargs"] == {"width": 0.5} and c["model"]["input_size"] == 48 for c in configs)
    assert ab.settings(cin, args).steps == 800 and ab.settings(cin, args).model_kwargs == {}
    # Method arguments go over the method's defaults, they do not replace them.
    assert ab.settings(lg, args).model_kwargs == ab.SMALL_HOURGLASS and ab.settings(lg, args).input_size == 64
    with pytest.raises(SystemExit):
        ab.build_parser().parse_args(["--rgb-input-size", "crossinfonet=64"])
    with pytest.raises(SystemExit):
        ab.build_parser().parse_args(["--steps", "crossinfonet=0"])


def test_finished_results_of_other_settings_are_refused(tmp_path: Path, monkeypatch) -> None:
    from handpose.errors import HandposeError

    results, work = tmp_path / "results", tmp_path / "work"
    method = ab.METHODS[0]
    asked = ["--methods", "crossinfonet", "--seeds", "0", "--steps", "crossinfonet=600", "--no-docs",
             "--results", str(results), "--work", str(work)]  # fmt: skip
    for model in method.variants:
        _write(results, _fake_result(method, model, 0, asked))
    # The same settings: every run is finished, nothing is trained and no frames are rendered.
    monkeypatch.setattr(ab, "run_one", lambda *a: pytest.fail("a finished run was trained again"))
    assert ab.main(asked) == 0 and not work.exists()

    # One run made with fewer steps, another in another precision: refused before any training.
    _write(results, _fake_result(method, method.variants[1], 0, [*asked, "--steps", "300"]))
    _write(results, _fake_result(method, method.variants[2], 0, asked, precision="bf16-mixed"))
    with pytest.raises(HandposeError, match="--replace") as err:
        ab.main(asked)
    assert "trainer.max_steps: 300 -> 600" in str(err.value) and "precision: bf16-mixed -> 32-true" in str(err.value)
    assert not work.exists()

    # Other frame counts count as other settings too.
    assert ab.stale_result(
        method.variants[0], method, 0, ab.build_parser().parse_args([*asked, "--train-frames", "99"])
    )


def test_render_states_command_machine_and_unfair_comparisons(tmp_path: Path) -> None:
    method = ab.METHODS[0]
    asked = ["--steps", "crossinfonet=600", "--train-frames", "800", "--precision", "32-true"]
    for seed in (0, 1):
        for model in method.variants:
            _write(tmp_path, _fake_result(method, model, seed, asked))
    text = ab.render(ab.load_results(tmp_path), "curves.png")
    command = (
        "python benchmarks/bench_ablations.py --methods crossinfonet --seeds 0,1 --steps 600 --batch-size 32 "
        "--lr 0.001 --input-size 32 --train-frames 800 --test-frames 500 --precision 32-true"
    )
    assert f"`{command}`" in text
    assert "- Machine: Test CPU, 2 CPUs" in text
    assert "fair comparison" not in text
    # Only methods without any result file are "not run yet".
    assert text.count("Not run yet") == 2 and "### crossinfonet\n\nClaim" in text

    # One run that trained in bf16: every verdict line of the method says the comparison is unfair.
    _write(tmp_path, _fake_result(method, method.variants[3], 0, asked, precision="bf16-mixed"))
    text = ab.render(ab.load_results(tmp_path), "curves.png")
    assert (
        "**Not a fair comparison**: mixed precision (bf16-mixed: crossinfonet_base seed 0; 32-true: the other 7" in text
    )
    verdicts = [line for line in text.splitlines() if line.startswith(("- seed ", "- mean of seeds"))]
    assert len(verdicts) == 3 and all("not a fair comparison" in line for line in verdicts)

    # One run with fewer steps: two commands, each naming its runs.
    _write(tmp_path, _fake_result(method, method.variants[1], 1, [*asked, "--steps", "300"]))
    text = ab.render(ab.load_results(tmp_path), "curves.png")
    assert text.count("- Command: ") == 2 and "--steps 300" in text and "Runs: crossinfonet_cross seed 1." in text
    assert "2 different sets of steps/sizes/frames" in text


def test_render_compares_rung_by_rung_with_the_same_runs_trained_for_fewer_steps(tmp_path: Path) -> None:
    method = ab.METHODS[1]
    long_dir, short_dir = tmp_path / "long", tmp_path / "short"
    for seed in (0, 1):
        for k, model in enumerate(method.variants):
            _write(long_dir, _fake_result(method, model, seed, ["--steps", "3000"], test={"mean_error_mm": 20.0 + k}))
            for steps, err in ((1000, 23.0 + k + 0.4 * seed), (500, 30.0 + k)):
                run = _fake_result(method, model, seed, ["--steps", str(steps)], test={"mean_error_mm": err})
                # Folders only organise the rungs: a run is placed by its own method and steps.
                _write(short_dir / f"any_folder_{steps}", run)
    shorter = ab.load_shorter(short_dir)
    assert sorted(shorter[method.name]) == [500, 1000]
    section = ab.render(ab.load_results(long_dir), "curves.png", shorter).split("### fingerposenet")[1].split("###")[0]
    assert "More steps, 500 → 1000: the same 6 variant/seed runs" in section
    assert "More steps, 1000 → 3000" in section and "trained for 1000 steps (32-true)" in section
    assert "+3.20 mm on average against 3000 steps" in section and "per run +3.00 to +3.40 mm" in section
    assert "at 1000 steps: largest 0.40 mm" in section
    # The longest runs' seeds agree exactly, so the last rung's 3.2 mm is far outside their noise.
    assert "**Not converged**: the last increase in steps changed the test error by +3.20 mm" in section
    assert "(0.00 mm)" in section
    assert "At 1000 steps, mean of seeds 0, 1: **holds**" in section and "At 500 steps" in section
    ab.plot(ab.load_results(long_dir), tmp_path / "curves.png", shorter)
    assert (tmp_path / "curves.png").stat().st_size > 0

    # The last rung within the seed noise: converged.
    for seed in (0, 1):
        for k, model in enumerate(method.variants):
            run = _fake_result(method, model, seed, ["--steps", "1000"], test={"mean_error_mm": 20.1 + k})
            _write(short_dir / "any_folder_1000", run)
    _write(long_dir, _fake_result(method, method.variants[0], 1, ["--steps", "3000"], test={"mean_error_mm": 20.3}))
    text = ab.render(ab.load_results(long_dir), "curves.png", ab.load_shorter(short_dir))
    assert "**Converged within the noise**" in text
    # A change within the noise that every run shares is still the steps at work, not noise.
    _write(long_dir, _fake_result(method, method.variants[0], 1, ["--steps", "3000"], test={"mean_error_mm": 20.05}))
    _write(long_dir, _fake_result(method, method.variants[1], 1, ["--steps", "3000"], test={"mean_error_mm": 20.7}))
    text = ab.render(ab.load_results(long_dir), "curves.png", ab.load_shorter(short_dir))
    assert "**Not converged**" in text and "within the largest" in text and "every one of the 6 runs moved" in text
    # Without shorter runs the section says nothing about them.
    assert "More steps" not in ab.render(ab.load_results(long_dir), "curves.png")


def test_a_result_replaced_by_more_steps_is_kept_as_a_shorter_rung(tmp_path: Path) -> None:
    method = ab.METHODS[0]
    results, shorter = tmp_path / "results", tmp_path / "shorter"
    path = results / method.name / "crossinfonet_seed0.json"
    _write(results, _fake_result(method, "crossinfonet", 0, ["--steps", "1500"], precision="32-true"))
    longer = _fake_result(method, "crossinfonet", 0, ["--steps", "4500", "--precision", "bf16-mixed"])
    assert ab.keep_as_shorter(method, path, longer, shorter) == shorter / method.name / "1500_steps" / path.name
    assert not path.exists() and ab.load_shorter(shorter)[method.name][1500]["crossinfonet"][0]["steps"] == 1500

    # Another crop is not the same run at fewer steps; fewer or equal steps are no rung either: left in place.
    for argv in (["--steps", "1500", "--input-size", "48"], ["--steps", "9000"]):
        _write(results, _fake_result(method, "crossinfonet", 0, argv))
        assert ab.keep_as_shorter(method, path, longer, shorter) is None and path.is_file()


def test_learnable_groups_variants_start_from_their_seeds_first_stage(tmp_path: Path) -> None:
    from handpose.training.config import config_from_dict

    lg = {m.name: m for m in ab.METHODS}["learnable_groups"]
    argv = ["--steps", "learnable_groups=900", "--pretrain-steps", "learnable_groups=300",
            "--model-kwargs", 'learnable_groups={"features": 32, "depth": 2}']  # fmt: skip
    args = ab.build_parser().parse_args(argv)
    variant = ab.run_config("learnable_groups_k3", lg, 1, Path("T"), args, Path("W"))
    assert variant["model"]["init_from"] == str(Path("W/learnable_groups_hourglass_seed1/checkpoints/best.ckpt"))
    assert variant["trainer"]["max_steps"] == 900 and "group_lr" in variant["optim"]
    stage1 = ab.run_config(lg.pretrain, lg, 1, Path("T"), args, Path("W"))
    # The hourglass takes the variants' hourglass arguments only, and trains its own steps.
    assert stage1["model"]["kwargs"] == {"features": 32, "depth": 2, "num_modules": 1}
    assert stage1["trainer"]["max_steps"] == 300 and "init_from" not in stage1["model"]
    assert "group_lr" not in stage1["optim"] and "temperature" not in stage1["optim"]
    for cfg in (variant, stage1):
        config_from_dict(cfg, source="test")
    ab.check_variants(lg, args)
    cin = ab.run_config("crossinfonet", ab.METHODS[0], 0, Path("T"), args, Path("W"))
    assert "init_from" not in cin["model"]

    # A variant whose first stage trained other steps is stale, and says why.
    results = tmp_path / "results"
    asked = [*argv, "--results", str(results)]
    _write(results, _fake_result(lg, lg.pretrain, 0, asked))
    _write(results, _fake_result(lg, "learnable_groups_k3", 0, asked, pretrain={"model": lg.pretrain, "steps": 300}))
    assert ab.stale_result("learnable_groups_k3", lg, 0, ab.build_parser().parse_args(asked)) == []
    other = ab.build_parser().parse_args([*asked, "--pretrain-steps", "learnable_groups=400"])
    assert ab.stale_result("learnable_groups_k3", lg, 0, other) == ["stage 1 steps: 300 -> 400"]
    assert "trainer.max_steps: 300 -> 400" in ab.stale_result(lg.pretrain, lg, 0, other)


@pytest.mark.slow
def test_smoke_learnable_groups_trains_its_first_stage_once_per_seed(tmp_path: Path, capsys) -> None:
    work, results = tmp_path / "work", tmp_path / "results"
    argv = ["--smoke", "--methods", "learnable_groups", "--seeds", "0", "--work", str(work), "--results", str(results)]
    assert ab.main(argv) == 0
    out = capsys.readouterr().out
    assert out.count("== learnable_groups_hourglass seed 0: training") == 1
    lg = {m.name: m for m in ab.METHODS}["learnable_groups"]
    for variant in lg.variants:
        r = json.loads((results / "learnable_groups" / f"{variant}_seed0.json").read_text())
        assert r["pretrain"] == {"model": lg.pretrain, "steps": 4}
        assert r["config"]["model"]["init_from"] == str(
            Path("WORK/learnable_groups_hourglass_seed0/checkpoints/best.ckpt")
        )

    # The first stage's checkpoint is gone and one variant is unfinished: both train again, nothing else.
    (work / "runs" / "learnable_groups" / "learnable_groups_hourglass_seed0" / "checkpoints" / "best.ckpt").unlink()
    (results / "learnable_groups" / f"{lg.variants[2]}_seed0.json").unlink()
    assert ab.main(argv) == 0
    out = capsys.readouterr().out
    assert "== learnable_groups_hourglass seed 0: training" in out and f"== {lg.variants[2]} seed 0: training" in out
    assert out.count("== ") == 2
