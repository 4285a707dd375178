"""What does int8 cost a trained depth model? fp32 vs int8 graphs of the same weights, and vs fp32 fine-tuning.

Also times each ONNX variant at batch 1 on the model's registered input size (96 px for CrossInfoNet,
the size of the batch-1 target; random weights and inputs, which do not change the speed).

Two int8 graphs exist: int8 fully connected weights (``handpose export --quantize int8``: the FC
layers' memory traffic) and the static int8 graph (``handpose quantize``: every convolution and
image-shaped activation in int8 as well, the fast one). The static graph needs quantisation-aware
fine-tuning to keep the accuracy; fine-tuning also trains the model further, so the script compares:

- the starting weights in fp32, with int8 FC weights, and static int8 without fine-tuning;
- the fp32 control: the same fine-tuning in plain float (steps, learning rate, crops, order);
- quantisation-aware fine-tuning: its weights in fp32 and as the static int8 graph.

The static int8 graph keeps the accuracy when it is within 0.05 mm of both the fp32 graph of its own
weights and the fp32 control.

By default it takes CrossInfoNet as trained by the synthetic benchmark
(``python benchmarks/bench_synthetic_methods.py``), fine-tunes it in fp32 for ``--pretune-steps``
first (the 4-minute benchmark model is far from converged: the comparison should measure the
rounding, not the training that any extra steps buy), and scores on that benchmark's held-out frames:

    python benchmarks/bench_int8_accuracy.py
    python benchmarks/bench_int8_accuracy.py --checkpoint RUN/checkpoints/best.ckpt --test-cache CACHE
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from _docs import REPO, cpu_name, replace_section
from handpose.io import write_json_atomic

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

HEADING = "## int8 accuracy"
WORK = REPO / "runs" / "bench-synthetic"
RESULTS = WORK / "int8_results.json"
TARGET_MM = 0.05
TARGET_B1 = 200.0


def default_paths(model: str) -> tuple[Path, Path]:
    """The synthetic benchmark's checkpoint of ``model`` and its held-out depth cache."""
    checkpoint = WORK / "runs" / "depth" / model / "checkpoints" / "best.ckpt"
    results = WORK / "results.json"
    args = json.loads(results.read_text()).get("depth", {}).get("args", {}) if results.is_file() else {}
    if not args:
        return checkpoint, WORK / "cache" / "missing"
    name = f"depth_test_{args['test_frames']}_{args.get('hands', 'right')}_{args['input_size']}"
    return checkpoint, WORK / "cache" / name


def score(est: Any, cache: Path) -> dict[str, float]:
    from handpose.evaluation.checkpoint import score_depth
    from handpose.model_evaluation import open_eval_dataset, predict_dataset

    preds = predict_dataset(est, open_eval_dataset(est, "depth_cache", str(cache), "test"), progress=False)
    scores = score_depth(preds.pred_xyz, preds.gt_xyz)
    return {
        "mean_error_mm": float(scores["mean_error_mm"]),
        "median_error_mm": float(scores["median_error_mm"]),
        "frames": len(preds.gt_xyz),
        "_xyz": preds.pred_xyz,
    }


def score_graph(contract: dict[str, Any], graph: bytes, cache: Path) -> dict[str, Any]:
    from handpose.inference import Estimator
    from handpose.onnx_graph import ort_session

    return score(Estimator(None, contract, {}, onnx_session=ort_session(graph)), cache)


def run(
    checkpoint: Path,
    cache: Path,
    steps: int,
    lr: float,
    pretune_steps: int,
    pretune_lr: float,
    calibration: int,
) -> dict[str, Any]:
    """Score every variant on ``cache``.

    Returns:
        ``{"rows": {name: row}, "changes": [...], "timings": {arm: seconds}, "calibration": crops}``.
    """
    import numpy as np

    from handpose.errors import HandposeError
    from handpose.onnx_graph import onnx_bytes, quantize_onnx
    from handpose.quantization.finetune import finetune, load_for_int8
    from handpose.quantization.static import quantize_static_onnx

    for path, what in ((checkpoint, "checkpoint"), (cache, "test cache")):
        if not path.exists():
            raise HandposeError(f"no {what} at {path}; run benchmarks/bench_synthetic_methods.py first or pass it")
    start = load_for_int8(checkpoint, calibration=calibration)
    contract, base, train_crops, crops = start.contract, start.network, start.train_crops, start.calibration
    size = contract.input_size
    timings: dict[str, float] = {}

    def tuned(network: Any, n: int, rate: float, fake_quant: bool, label: str, seed: int = 0) -> Any:
        start = time.perf_counter()
        finetune(network, train_crops, crops, n, rate, fake_quant=fake_quant, seed=seed, progress=sys.stderr.isatty())
        timings[label] = time.perf_counter() - start
        return network

    if pretune_steps:
        tuned(base, pretune_steps, pretune_lr, False, "pretune")
    control = tuned(copy.deepcopy(base), steps, lr, False, "control")
    # The same fp32 fine-tuning in another crop order: how far apart two equally good runs land.
    reorder = tuned(copy.deepcopy(base), steps, lr, False, "reorder", seed=1)
    qat = tuned(copy.deepcopy(base), steps, lr, True, "qat")
    start_fp32 = onnx_bytes(base, input_size=size, joints_only=True)
    control_fp32 = onnx_bytes(control, input_size=size, joints_only=True)
    qat_fp32 = onnx_bytes(qat, input_size=size, joints_only=True)
    graphs = {
        "start: fp32": start_fp32,
        "start: int8 FC weights": quantize_onnx(start_fp32, "int8"),
        "start: static int8, no fine-tuning": quantize_static_onnx(start_fp32, crops),
        "fp32 control: fp32": control_fp32,
        "fp32 control: static int8": quantize_static_onnx(control_fp32, crops),
        "fp32 control, other crop order: fp32": onnx_bytes(reorder, input_size=size, joints_only=True),
        "quantisation-aware: fp32": qat_fp32,
        "quantisation-aware: static int8": quantize_static_onnx(qat_fp32, crops),
    }
    rows = {name: score_graph(contract, graph, cache) for name, graph in graphs.items()}
    # (graph, fp32 reference): what each int8 graph costs against the comparisons that matter, after
    # how far apart two fp32 fine-tunings land that differ only in their crop order.
    pairs = [
        ("fp32 control, other crop order: fp32", "fp32 control: fp32"),
        ("start: int8 FC weights", "start: fp32"),
        ("start: static int8, no fine-tuning", "start: fp32"),
        ("fp32 control: static int8", "fp32 control: fp32"),
        ("quantisation-aware: static int8", "quantisation-aware: fp32"),
        ("quantisation-aware: static int8", "fp32 control: fp32"),
    ]
    changes = []
    for name, reference in pairs:
        shift = np.abs(rows[name]["_xyz"] - rows[reference]["_xyz"])
        changes.append(
            {
                "graph": name,
                "reference": reference,
                "change_mm": rows[name]["mean_error_mm"] - rows[reference]["mean_error_mm"],
                "mean_joint_shift_mm": float(shift.mean()),
                "max_joint_shift_mm": float(shift.max()),
            }
        )
    for row in rows.values():
        row.pop("_xyz")
    return {"rows": rows, "changes": changes, "timings": timings, "calibration": len(crops)}


SPEED_GRAPHS = ("fp32", "int8 FC weights", "static int8")


def batch1_speed(model: str, rounds: int, window: float, threads: int = 2) -> dict[str, Any]:
    """Batch-1 frames/s of ``model``'s fp32, int8-FC and static int8 graphs at its registered input size.

    The three sessions take turns in ``window``-second windows for ``rounds`` rounds, so a neighbour's
    load falls on all of them alike; the fp32 matmul peak is measured before and after.
    """
    import numpy as np
    import torch

    from bench_models import matmul_peak
    from handpose.models import create_model, get_spec
    from handpose.onnx_graph import onnx_bytes, ort_session, quantize_onnx
    from handpose.quantization.static import quantize_static_onnx

    torch.set_num_threads(threads)
    spec = get_spec(model)
    network = create_model(model, skeleton="nyu14").eval()
    size = spec.input_size
    fp32 = onnx_bytes(network, input_size=size, joints_only=True)
    rng = np.random.default_rng(0)
    calibration = rng.uniform(-1, 1, (8, spec.in_channels, size, size)).astype(np.float32)
    graphs = dict(zip(SPEED_GRAPHS, (fp32, quantize_onnx(fp32, "int8"), quantize_static_onnx(fp32, calibration))))
    image = {"image": calibration[:1]}
    sessions = {name: ort_session(graph, threads) for name, graph in graphs.items()}
    for session in sessions.values():
        for _ in range(20):
            session.run(None, image)
    peaks = [matmul_peak(1.0)]
    rates: dict[str, list[float]] = {name: [] for name in sessions}
    for _ in range(rounds):
        for name, session in sessions.items():
            calls, start = 0, time.perf_counter()
            while time.perf_counter() - start < window:
                session.run(None, image)
                calls += 1
            rates[name].append(calls / (time.perf_counter() - start))
    peaks.append(matmul_peak(1.0))
    return {
        "best": {n: max(r) for n, r in rates.items()},
        "median": {n: float(np.median(r)) for n, r in rates.items()},
        "peaks": peaks,
        "rounds": rounds,
        "window_s": window,
        "input_size": size,
    }


def render(
    result: dict[str, Any], speed: dict[str, Any], checkpoint: Path, cache: Path, commands: str, args: Any
) -> str:
    rows, changes, timings = result["rows"], result["changes"], result["timings"]
    shown = checkpoint.relative_to(REPO) if checkpoint.is_relative_to(REPO) else checkpoint
    pretune = (
        f"first fine-tuned in fp32 for {args.pretune_steps} steps (Adam {args.pretune_lr:g}, cosine decay; "
        f"{timings['pretune']:.0f} s) — the benchmark's 4-minute model is far from converged, and the "
        "comparison should measure the rounding, not what extra training buys; "
        if args.pretune_steps
        else ""
    )
    lines = [
        f"Command: {commands}",
        "",
        f"Checkpoint: `{shown}`, {pretune}this is the *start*. Held-out frames: `{cache.name}` "
        f"({rows['start: fp32']['frames']} frames). From the start, three fine-tunings of {args.steps} steps "
        f"(Adam {args.lr:g}, cosine decay, batch 32, augmented training crops, BatchNorm frozen, dropout off): "
        f"the *fp32 control* in plain float ({timings['control']:.0f} s), the same in another crop order "
        f"({timings['reorder']:.0f} s), and *quantisation-aware* in the control's crop order (`handpose "
        f"quantize`: weights and activations rounded as the static int8 graph rounds them; {timings['qat']:.0f} s). "
        "int8 FC weights = block-wise int8 fully connected weights (`handpose export --quantize int8`); "
        "static int8 = also per-channel 7-bit convolution weights and uint8 activations "
        f"(Conv, Add, Sub, Concat, Relu, MaxPool, Resize) calibrated on {result['calibration']} training crops. "
        "Every graph runs in ONNX Runtime.",
        "",
        "| weights: graph | mean error (mm) | median (mm) |",
        "|---|---|---|",
    ]
    for name, row in rows.items():
        lines.append(f"| {name} | {row['mean_error_mm']:.3f} | {row['median_error_mm']:.3f} |")
    lines += [
        "",
        "| graph | compared with | change of the mean (mm) | mean / largest joint shift (mm) | within 0.05 mm |",
        "|---|---|---|---|---|",
    ]
    for c in changes:
        ok = "yes" if abs(c["change_mm"]) < TARGET_MM else "no"
        lines.append(
            f"| {c['graph']} | {c['reference']} | {c['change_mm']:+.4f} | "
            f"{c['mean_joint_shift_mm']:.3f} / {c['max_joint_shift_mm']:.2f} | {ok} |"
        )

    def change(graph: str, reference: str) -> float:
        return next(c["change_mm"] for c in changes if c["graph"] == graph and c["reference"] == reference)

    qat = "quantisation-aware: static int8"
    fc_ok = abs(change("start: int8 FC weights", "start: fp32")) < TARGET_MM
    static_ok = abs(change(qat, "quantisation-aware: fp32")) < TARGET_MM
    versus_control = change(qat, "fp32 control: fp32")
    reorder = change("fp32 control, other crop order: fp32", "fp32 control: fp32")
    best, median, peaks = speed["best"], speed["median"], speed["peaks"]
    lines += [
        "",
        f"Batch-1 speed: ONNX Runtime, 2 threads, {speed['input_size']} px, random weights and input; the three "
        f"graphs take turns in {speed['window_s']:g}-second windows for {speed['rounds']} rounds "
        f"(best and median window). Machine: {cpu_name()}, {os.cpu_count()} logical CPUs, shared with "
        f"other work; fp32 matmul peak {peaks[0]:.0f} GFLOP/s before and {peaks[1]:.0f} after.",
        "",
        "| graph | best frames/s | median frames/s |",
        "|---|---|---|",
    ]
    for name in SPEED_GRAPHS:
        lines.append(f"| {name} | {best[name]:.1f} | {median[name]:.1f} |")
    keeps = {"fp32": True, "int8 FC weights": fc_ok, "static int8": static_ok}
    eligible = {n: best[n] for n in SPEED_GRAPHS if keeps[n]}
    winner = max(eligible, key=eligible.get)
    verdict = "met" if eligible[winner] >= TARGET_B1 else "NOT met"
    lines += [
        "",
        f"- Target: int8 moves the mean error by less than {TARGET_MM} mm (the int8 graph against the fp32 graph "
        f"of the same weights). int8 FC weights: {'met' if fc_ok else 'NOT met'}; static int8 after "
        f"quantisation-aware fine-tuning: {'met' if static_ok else 'NOT met'}.",
        f"- Against the fp32 control (the same fine-tuning without rounding), the static int8 graph's mean moves by "
        f"{versus_control:+.4f} mm; two fp32 fine-tunings that differ only in their crop order land {reorder:+.4f} mm "
        "apart, the resolution of that comparison.",
        f"- Target: batch 1 >= {TARGET_B1:g} frames/s with the accuracy kept: best {eligible[winner]:.1f} "
        f"({winner}, median {median[winner]:.1f}) — {verdict}",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="crossinfonet", help="model trained by the synthetic benchmark")
    parser.add_argument("--checkpoint", help="a depth checkpoint (default: the synthetic benchmark's)")
    parser.add_argument("--test-cache", help="a depth cache with a 'test' split (default: the benchmark's)")
    parser.add_argument("--steps", type=int, default=100, help="fine-tuning steps of both arms (default 100)")
    parser.add_argument("--lr", type=float, default=2e-5, help="their learning rate (default 2e-5)")
    parser.add_argument("--pretune-steps", type=int, default=200, help="fp32 steps before both arms (default 200)")
    parser.add_argument("--pretune-lr", type=float, default=1e-4, help="their learning rate (default 1e-4)")
    parser.add_argument("--calibration", type=int, default=400, help="training crops for the int8 ranges")
    parser.add_argument("--rounds", type=int, default=20, help="timing rounds (default 20)")
    parser.add_argument("--window", type=float, default=0.5, help="seconds per graph and round (default 0.5)")
    stored_at = str(RESULTS.relative_to(REPO))
    parser.add_argument(
        "--speed-only", action="store_true", help=f"re-time only, with the accuracy results stored in {stored_at}"
    )
    parser.add_argument(
        "--from-results", action="store_true", help=f"run nothing: re-render the section from {stored_at}"
    )
    parser.add_argument("--no-docs", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()
    default_ckpt, default_test = default_paths(args.model)
    checkpoint = Path(args.checkpoint) if args.checkpoint else default_ckpt
    cache = Path(args.test_cache) if args.test_cache else default_test
    from handpose.errors import HandposeError

    accuracy_flags = ("model", "checkpoint", "test_cache", "steps", "lr", "pretune_steps", "pretune_lr", "calibration")
    command = ("python benchmarks/bench_int8_accuracy.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])).strip()
    try:
        stored: dict[str, Any] = {}
        if args.speed_only or args.from_results:
            if not RESULTS.is_file():
                raise HandposeError(f"no stored results at {RESULTS}; run without --speed-only/--from-results first")
            stored = json.loads(RESULTS.read_text())
            if args.from_results and "speed" not in stored:
                raise HandposeError(f"{RESULTS} holds no timing; run with --speed-only first")
            for flag in accuracy_flags:
                setattr(args, flag, stored["args"][flag])
            checkpoint, cache = Path(stored["checkpoint"]), Path(stored["cache"])
        if args.from_results:
            result, speed, commands = stored["result"], stored["speed"], stored["commands"]
        elif args.speed_only:
            result, speed = stored["result"], batch1_speed(args.model, args.rounds, args.window)
            commands = f"`{stored['command']}` (accuracy), then `{command}` (speed)"
        else:
            result = run(checkpoint, cache, args.steps, args.lr, args.pretune_steps, args.pretune_lr, args.calibration)
            speed, commands = batch1_speed(args.model, args.rounds, args.window), f"`{command}`"
            stored = {"result": result, "command": command, "checkpoint": str(checkpoint), "cache": str(cache)}
            stored["args"] = {flag: getattr(args, flag) for flag in accuracy_flags}
    except HandposeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not args.from_results:
        write_json_atomic(RESULTS, {**stored, "speed": speed, "commands": commands})
    body = render(result, speed, checkpoint, cache, commands, args)
    print(body)
    if not args.no_docs:
        replace_section(HEADING, body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
