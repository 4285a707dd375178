"""fp32 against bf16 mixed precision: training speed and the error after the same steps, two seeds.

CrossInfoNet (depth, the demo's 32-pixel crops) and Learnable Joint Groups K = 3 (RGB, 64-pixel crops,
small hourglass) train for the same steps in ``32-true`` and ``bf16-mixed`` with seeds 0 and 1 (the
set-up of ``bench_ablations.py``); the best validation checkpoint is scored on held-out frames. The
runs alternate between the precisions so that load from outside hits both alike; speed is images per
second of the whole run (training, validation, checkpoints), so compare the two precisions' ratio
from one run, not across machines. bf16 passes if its error stays within the seed-to-seed spread.

Results go to ``benchmarks/results/precision.json`` (committed; ``--render`` rewrites the docs section
from it). Finished runs are kept and skipped when the script is started again.

    python benchmarks/bench_precision.py
    python benchmarks/bench_precision.py --render
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

import bench_ablations as ab
from _docs import replace_section
from handpose.io import write_json_atomic

REPO = Path(__file__).resolve().parents[1]
HEADING = "## fp32 and bf16 training"
RESULTS = REPO / "benchmarks" / "results" / "precision.json"
METHODS = {m.name: m for m in ab.METHODS}
CASES = (("crossinfonet", "crossinfonet"), ("learnable_groups", "learnable_groups_k3"))
PRECISIONS = ("32-true", "bf16-mixed")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--seeds", default="0,1")
    p.add_argument("--work", default=str(REPO / "runs" / "bench-precision"))
    p.add_argument("--results", default=str(RESULTS))
    p.add_argument("--models", default=",".join(m for _, m in CASES), help="comma-separated subset")
    p.add_argument("--render", action="store_true", help="only rewrite the docs section from --results")
    p.add_argument("--smoke", action="store_true", help="tiny data and steps; no docs")
    args = p.parse_args(argv)
    results_path = Path(args.results)
    results: dict[str, Any] = json.loads(results_path.read_text()) if results_path.is_file() else {"runs": {}}
    command = " ".join(["python benchmarks/bench_precision.py", *(argv if argv is not None else sys.argv[1:])])
    if not args.render:
        import torch

        torch.set_num_threads(min(torch.get_num_threads(), 2))
        # Through the ablation script's own parser (per-method values), smoke run included.
        tiny = ["--batch-size", "4", "--train-frames", "24", "--test-frames", "8", "--smoke"] if args.smoke else []
        steps = "4" if args.smoke else str(args.steps)
        base = ab.build_parser().parse_args(["--steps", steps, "--work", args.work, *tiny])
        wanted = set(args.models.split(","))
        for method_name, model in CASES:
            if model not in wanted:
                continue
            method = METHODS[method_name]
            roots = ab.prepare(method, base, Path(args.work))
            for seed in (int(s) for s in args.seeds.split(",")):
                for precision in PRECISIONS:
                    key = f"{model}/{precision}/seed{seed}"
                    if key in results["runs"]:
                        continue
                    run = train_one(model, method, seed, precision, roots, base)
                    results["runs"][key] = {**run, "command": command, "machine": ab.machine()}
                    write_json_atomic(results_path, results)
    if args.smoke:
        return 0
    replace_section(HEADING, render(results))
    return 0


def train_one(model: str, method: ab.Method, seed: int, precision: str, roots: tuple[Path, Path], base: Any) -> dict:
    import shutil

    from handpose.training.config import config_from_dict
    from handpose.training.run import train

    base.precision = precision
    out = Path(base.work) / "runs" / precision
    config = ab.run_config(model, method, seed, roots[0], base, out)
    # Every run starts from scratch (no first stage): the two precisions are compared on the same steps.
    config["model"].pop("init_from", None)
    cfg = config_from_dict(config, source=model)
    shutil.rmtree(cfg.run_dir, ignore_errors=True)
    # Settings, not the raw arguments: those hold one value per method.
    batch_size = ab.settings(method, base).batch_size
    print(f"== {model} {precision} seed {seed}: {cfg.trainer.max_steps} steps", flush=True)
    summary = train(cfg)
    scores = ab.evaluate(summary["best_checkpoint"], method.modality, roots[1])
    metric = ab.METRIC[method.modality]
    return {
        "model": model,
        "precision": precision,
        "seed": seed,
        "steps": summary["global_step"],
        "batch": batch_size,
        "input": cfg.model.input_size,
        "wall_s": summary["wall_s"],
        "images_per_s": summary["global_step"] * batch_size / summary["wall_s"],
        "best_val_mean_error_mm": summary["best_val_mean_error_mm"],
        "metric": metric,
        "test_error_mm": scores[metric],
    }


def render(results: dict[str, Any]) -> str:
    runs = results["runs"]
    sources = dict.fromkeys((r["model"], r["command"], r["machine"]) for r in runs.values())
    lines = [
        *(f"- {model}: `{command}`; {machine}." for model, command, machine in sources),
        "",
        "A machine may have been shared with other work, so compare the two precisions' speed as a ratio "
        "within one model's runs (they alternate between the precisions).",
        "",
        "| model | input | precision | seed | steps | images/s (whole run) | test error (mm) | best validation (mm) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in runs.values():
        lines.append(
            f"| {r['model']} | {r['input']} | {r['precision']} | {r['seed']} | {r['steps']} | "
            f"{r['images_per_s']:.1f} | {r['test_error_mm']:.2f} | {r['best_val_mean_error_mm']:.2f} |"
        )
    lines.append("")
    for _, model in CASES:
        by = {p: [r for r in runs.values() if r["model"] == model and r["precision"] == p] for p in PRECISIONS}
        if not all(by.values()):
            lines.append(f"- {model}: not measured in this run (both precisions needed).")
            continue
        speed = np.mean([r["images_per_s"] for r in by["bf16-mixed"]]) / np.mean(
            [r["images_per_s"] for r in by["32-true"]]
        )
        err = {p: np.mean([r["test_error_mm"] for r in rs]) for p, rs in by.items()}
        spread = [abs(a["test_error_mm"] - b["test_error_mm"]) for rs in by.values() for a, b in itertools.pairwise(rs)]
        cost = err["bf16-mixed"] - err["32-true"]
        seeds = {p: ", ".join(str(r["seed"]) for r in rs) for p, rs in by.items()}
        verdict = (
            "**bf16 costs no accuracy beyond the seed spread**"
            if cost <= max(spread, default=0.0)
            else "**bf16 costs accuracy beyond the seed spread**"
        )
        lines.append(
            f"- {model}: bf16 trains at {speed:.2f}x the fp32 speed; mean test error {err['32-true']:.2f} mm (fp32, "
            f"seeds {seeds['32-true']}) vs {err['bf16-mixed']:.2f} mm (bf16, seeds {seeds['bf16-mixed']}), "
            f"difference {cost:+.2f} mm; seed-to-seed spread within one precision up to "
            f"{max(spread, default=float('nan')):.2f} mm: {verdict}."
        )
    if any(r["model"].startswith("learnable_groups") for r in runs.values()):
        lines.append(
            "- An RGB model learns little in a few hundred CPU steps (see the note on Learnable Groups under "
            "[Converged ablations](#converged-ablations-on-synthetic-data)): its rows say more about speed than "
            "about accuracy."
        )
    lines += [
        "",
        "`trainer.precision: auto` does not trust the CPU flags alone: on a CPU with AVX512-BF16 or AMX a run first "
        "times a small-batch training step of its network in both precisions and takes bf16 only at 1.15x or more "
        "(the run's first line gives the measured ratio).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
