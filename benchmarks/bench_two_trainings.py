"""Two trainings on the same cores: how much does each slow the other, per OpenMP wait policy?

Each worker is a training process as ``handpose train`` runs one (the demo's CrossInfoNet on a decoded
hand-region cache, its DataLoader, forward + backward + Adam, in the run's precision), timed over
``--seconds`` after a warm-up. For each policy, one worker runs alone, then two start together; the
slowdown is the lone rate over the mean rate of the pair (2.0 = the cores are shared fairly, more =
the processes waste the cores fighting over them). The policies are run in turns, so that load from
outside the benchmark hits them alike; every figure is a ratio from one run.

    python benchmarks/bench_two_trainings.py                  # docs section "Two trainings at once"
    python benchmarks/bench_two_trainings.py --smoke          # seconds, no docs
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _docs import cpu_name, replace_section
from handpose.io import write_json_atomic

REPO = Path(__file__).resolve().parents[1]
HEADING = "## Two trainings at once"
# Environment of each policy; "handpose" is what the command-line verbs set (handpose.training.cpu).
POLICIES: dict[str, dict[str, str]] = {
    "spinning (OpenMP default)": {"OMP_WAIT_POLICY": "ACTIVE"},
    "short spin (GOMP_SPINCOUNT=10000)": {"GOMP_SPINCOUNT": "10000"},
    "handpose (passive)": {},
    # handpose demo's choice on a 2-core CPU (handpose.demo.training_threads): one thread, passive.
    "handpose (passive; one thread)": {"OMP_NUM_THREADS": "1"},
}


def worker(args: argparse.Namespace) -> int:
    """One training process: prints its steps/s as JSON."""
    from handpose.training.cpu import configure_cpu_threads

    # As the command-line verbs set it; a policy in the environment wins.
    configure_cpu_threads()
    import torch

    from handpose.training.config import config_from_dict
    from handpose.training.run import build_run, resolve_precision

    cfg = config_from_dict(
        {
            "name": "two",
            "model": {"name": "crossinfonet", "input_size": args.input_size, "kwargs": {"dropout": 0.0}},
            "data": {
                "dataset": "depth_cache",
                "root": args.cache,
                "train_split": "all",
                "val_split": "holdout",
                "cube": 250.0,
                "center": "gt",
                "eval_center": "gt",
                "augment": True,
                "batch_size": args.batch_size,
                "num_workers": 0,
            },
            "trainer": {"accelerator": "cpu", "precision": args.precision},
        },
        source="two-trainings",
    )
    cfg, _ = resolve_precision(cfg, "cpu")
    module, dm, _ = build_run(cfg)
    module.setup("fit")
    module.train()
    loader = dm._loader(dm.train_dataset(), train=True)
    opt = torch.optim.Adam(module.parameters(), 1e-4)
    bf16 = cfg.trainer.precision.startswith("bf16")

    def batches() -> Any:
        while True:
            yield from loader

    steps, start, warm = 0, None, time.perf_counter()
    for batch in batches():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = module.compute_loss(module(batch["image"]), batch)["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        now = time.perf_counter()
        if start is None:
            if now - warm >= args.warmup:
                start, steps = now, 0
            continue
        steps += 1
        if now - start >= args.seconds:
            break
    rate = steps / (time.perf_counter() - start)
    print(json.dumps({"steps_per_s": rate, "threads": torch.get_num_threads(), "precision": cfg.trainer.precision}))
    return 0


def launch(env_extra: dict[str, str], count: int, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Start ``count`` workers together; their results."""
    from handpose.training.cpu import USER_SETTINGS

    env = {k: v for k, v in os.environ.items() if k not in (*USER_SETTINGS, "OMP_NUM_THREADS")}
    env.update(env_extra)
    argv = [sys.executable, str(Path(__file__).resolve()), "--worker", "--cache", args.cache]
    argv += ["--seconds", str(args.seconds), "--warmup", str(args.warmup), "--precision", args.precision]
    argv += ["--input-size", str(args.input_size), "--batch-size", str(args.batch_size)]
    procs = [subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, text=True) for _ in range(count)]
    out = []
    for p in procs:
        stdout, _ = p.communicate(timeout=args.seconds * 20 + 600)
        if p.returncode != 0:
            raise SystemExit(f"worker failed with exit code {p.returncode}")
        out.append(json.loads(stdout.strip().splitlines()[-1]))
    return out


def prepare_cache(work: Path, frames: int, input_size: int) -> Path:
    from handpose.datasets import open_dataset
    from handpose.datasets.depthcache import build_depth_cache
    from handpose.synth.writer import write_synthetic

    folder = work / f"depth_{frames}"
    if not (folder / "meta.json").is_file():
        write_synthetic(folder, frames, seed=1, camera="nyu", workers=2, overwrite=True, hands="right")
    cache = work / f"cache_{frames}_{input_size}"
    if not (cache / "all" / "info.json").is_file():
        patch = int(-(-input_size * 1.75 * 1.1 // 16) * 16)
        reader = open_dataset("synthetic", folder, "all")
        build_depth_cache(reader, cache, cube=250.0, patch_size=patch, center="gt", progress=False)
    return cache


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--cache", help=argparse.SUPPRESS)
    p.add_argument("--seconds", type=float, default=30.0, help="timed seconds per worker")
    p.add_argument("--warmup", type=float, default=8.0, help="untimed seconds first")
    p.add_argument("--rounds", type=int, default=1, help="turns over the policies")
    p.add_argument("--policies", default=",".join(POLICIES), help="comma-separated subset (names hold no commas)")
    p.add_argument("--precision", default="auto")
    p.add_argument("--input-size", type=int, default=32)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--frames", type=int, default=600)
    p.add_argument("--work", default=str(REPO / "runs" / "bench-two-trainings"))
    p.add_argument("--smoke", action="store_true", help="a few seconds per worker, no docs")
    p.add_argument("--no-docs", action="store_true")
    args = p.parse_args()
    if args.worker:
        return worker(args)
    if args.smoke:
        args.seconds, args.warmup, args.frames, args.batch_size, args.no_docs = 2.0, 1.0, 40, 8, True
    work = Path(args.work)
    args.cache = str(prepare_cache(work, args.frames, args.input_size))
    names = [n for n in args.policies.split(",") if n]
    unknown = [n for n in names if n not in POLICIES]
    if unknown:
        raise SystemExit(f"unknown policies {unknown}; known: {', '.join(POLICIES)}")
    rows: dict[str, dict[str, Any]] = {n: {"alone": [], "pair": []} for n in names}
    load_before = os.getloadavg()[0]
    for _ in range(args.rounds):
        for name in names:
            alone = launch(POLICIES[name], 1, args)
            pair = launch(POLICIES[name], 2, args)
            rows[name]["alone"].append(alone[0]["steps_per_s"])
            rows[name]["threads"], rows[name]["precision"] = alone[0]["threads"], alone[0]["precision"]
            rows[name]["pair"].extend(r["steps_per_s"] for r in pair)
            slow = alone[0]["steps_per_s"] / (sum(r["steps_per_s"] for r in pair) / 2)
            print(
                f"{name}: alone {alone[0]['steps_per_s']:.2f} steps/s, pair {[round(r['steps_per_s'], 2) for r in pair]}, slowdown {slow:.2f}x",
                flush=True,
            )
    result = {
        "command": "python benchmarks/bench_two_trainings.py " + " ".join(sys.argv[1:]),
        "machine": f"{cpu_name()}, {os.cpu_count()} CPUs",
        "load_before": round(load_before, 1),
        "load_after": round(os.getloadavg()[0], 1),
        "seconds": args.seconds,
        "handpose_policy": describe_handpose_policy(),
        "rows": {n: {**r, "slowdown": slowdown(r)} for n, r in rows.items()},
    }
    write_json_atomic(work / "result.json", result)
    if not args.no_docs:
        replace_section(HEADING, render(result))
    return 0


def slowdown(r: dict[str, list[float]]) -> float:
    """Lone rate over the pair's mean rate (means over rounds)."""
    return (sum(r["alone"]) / len(r["alone"])) / (sum(r["pair"]) / len(r["pair"]))


def describe_handpose_policy() -> str:
    from handpose.training.cpu import POLICY_TEXT

    return POLICY_TEXT


def render(result: dict[str, Any]) -> str:
    lines = [
        f"Command: `{result['command']}`. Machine: {result['machine']} (load average {result['load_before']} "
        f"before, {result['load_after']} after); each worker the demo's CrossInfoNet (32-pixel crops, batch 32) "
        f"with its data pipeline, in the precision shown (`--precision`; `auto` lets each worker choose), {result['seconds']:g} s timed per worker.",
        "",
        "| OpenMP waiting | torch threads | precision | alone (steps/s) | each of two at once (steps/s) | slowdown |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in result["rows"].items():
        alone = sum(r["alone"]) / len(r["alone"])
        pair = " / ".join(f"{v:.2f}" for v in r["pair"])
        lines.append(f"| {name} | {r['threads']} | {r['precision']} | {alone:.2f} | {pair} | {r['slowdown']:.2f}x |")
    lines += [
        "",
        f"`handpose` = what the command-line verbs set: {result['handpose_policy']}. On an otherwise idle "
        "machine the fair slowdown is 2x when each process's threads fill the cores, and 1x when two "
        "processes' threads together fit them (one thread each on two cores); another value means the "
        "load from outside the benchmark changed between the lone and the paired runs, so compare the "
        "policies' rates within a row and across rows of one run.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
