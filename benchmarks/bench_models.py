"""Model benchmark: parameters, GFLOPs and CPU frames/s of every registered model.

For each model (built for ``--skeleton``, default canonical21; depth models that cannot serve it use
nyu14): parameters, GFLOPs per frame, inference frames/s at batch 1 and 32 in eager PyTorch
(channels_last, BatchNorm folded, ``torch.inference_mode``; models with training-only heads run
as deployed, ``joints`` only) and in ONNX Runtime (fp32; plus
weight-only int8 FC weights for the depth models), and the achieved GFLOP/s of the best
configuration as a fraction of this machine's fp32 matmul peak, measured in the same run with a
2048x2048 matrix product on the same threads.

Writes the "## Models" section of ``docs/benchmarks.md`` (the command is written above the table)
unless ``--no-docs``; ``--json PATH`` also writes the rows.
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from _docs import cpu_name, replace_section
from handpose.io import write_json_atomic

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "benchmarks.md"
SECTION = "## Models (parameters, GFLOPs, CPU frames/s)"
SUBSECTIONS = {"depth": "### Depth models", "rgb": "### RGB models"}


def timed_rate(step: Callable[[], object], frames_per_call: int, seconds: float, warmup: int = 2) -> float:
    """Frames/s of ``step``: after ``warmup`` calls, calls it for at least ``seconds`` and 3 calls.

    A step slower than a second (the 256-pixel RGB models at batch 32) gets one warm-up and 2 timed calls.
    """
    start = time.perf_counter()
    step()
    slow = time.perf_counter() - start > 1.0
    for _ in range(0 if slow else warmup - 1):
        step()
    least = 2 if slow else 3
    calls, start = 0, time.perf_counter()
    while calls < least or time.perf_counter() - start < seconds:
        step()
        calls += 1
    return calls * frames_per_call / (time.perf_counter() - start)


def matmul_peak(seconds: float, n: int = 2048) -> float:
    """Sustained fp32 GFLOP/s of an ``n x n`` matrix product on the current torch threads."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    out = torch.empty(n, n)
    rate = timed_rate(lambda: torch.matmul(a, b, out=out), 1, seconds)
    return rate * 2 * n**3 / 1e9


def bench_model(name: str, skeleton: str, batches: list[int], seconds: float, threads: int) -> dict[str, object]:
    from handpose.models import create_model, get_spec
    from handpose.models._flops import count_flops, count_parameters
    from handpose.models.batchnorm_folding import fold_batchnorm_checked
    from handpose.onnx_graph import onnx_bytes, ort_session, quantize_onnx

    spec = get_spec(name)
    model = create_model(name, skeleton=skeleton).eval()
    size, channels = spec.input_size, spec.in_channels
    row: dict[str, object] = {
        "name": name,
        "modality": spec.modality,
        "skeleton": skeleton,
        "input": f"{channels}x{size}x{size}",
        "parameters": count_parameters(model),
        "gflops": count_flops(model, size, channels) / 1e9,
    }
    if hasattr(model, "joints_only"):
        # Inference needs only ``joints``: time the graph without the training-only heads.
        model.joints_only()
    row["deploy_gflops"] = count_flops(model, size, channels) / 1e9
    fast = fold_batchnorm_checked(model, torch.randn(2, channels, size, size)).to(memory_format=torch.channels_last)
    data = onnx_bytes(model, input_size=size)
    sessions = {"onnx": ort_session(data, threads)}
    if spec.modality == "depth":
        sessions["onnx_int8"] = ort_session(quantize_onnx(data, "int8"), threads)
    for batch in batches:
        image = torch.randn(batch, channels, size, size)
        image_cl = image.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            row[f"eager_b{batch}"] = timed_rate(lambda: fast(image_cl), batch, seconds)  # noqa: B023
        feed = {"image": image.numpy()}
        for key, session in sessions.items():
            row[f"{key}_b{batch}"] = timed_rate(lambda: session.run(None, feed), batch, seconds)  # noqa: B023
    return row


def render(rows: list[dict[str, object]], peak: float, command: str, threads: int, load: float) -> str:
    batches = sorted({int(k.split("_b")[-1]) for r in rows for k in r if k.split("_b")[-1].isdigit()})
    peaks = [float(r["peak_gflops"]) for r in rows if "peak_gflops" in r]
    lines = [
        f"Command: `{command}`",
        "",
        f"Machine: {cpu_name()}, {os.cpu_count()} logical CPUs, torch "
        f"{torch.__version__}, {threads} threads; 1-minute load average {load:.1f} when it started. "
        f"Measured fp32 matmul peak (2048x2048, same threads): **{peak:.0f} GFLOP/s** at the start"
        + (
            f"; {min(peaks):.0f}-{max(peaks):.0f} GFLOP/s as the higher of two measurements before and after "
            "each model ('% peak' uses that)."
            if peaks
            else "."
        ),
        "",
        "Frames/s of inference on random input. eager = PyTorch channels_last with BatchNorm folded; "
        "onnx = ONNX Runtime fp32; int8 = ONNX Runtime with weight-only int8 FC weights (depth models). "
        "GFLOP/s and '% peak' use the fastest fp32 configuration at the largest batch. "
        "GFLOPs count 2 per multiply-add of convolutions and matrix products; 'timed GFLOPs' is the graph "
        "that was timed: models with training-only heads (CrossInfoNet's heatmaps) are timed as deployed, "
        "computing only `joints` (`model.joints_only()`, identical joints).",
        "",
    ]
    header = ["model", "input", "params (M)", "GFLOPs", "timed GFLOPs"]
    for b in batches:
        header += [f"eager b{b}", f"onnx b{b}", f"int8 b{b}"]
    header += ["GFLOP/s", "% peak"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        cells = [str(r["name"]), str(r["input"]), f"{r['parameters'] / 1e6:.2f}", f"{r['gflops']:.3f}"]
        cells.append(f"{r['deploy_gflops']:.3f}")
        for b in batches:
            for key in ("eager", "onnx", "onnx_int8"):
                value = r.get(f"{key}_b{b}")
                cells.append("–" if value is None else f"{value:.1f}")
        top = max(batches)
        best = max(float(r.get(f"eager_b{top}", 0.0)), float(r.get(f"onnx_b{top}", 0.0)))
        achieved = best * float(r["deploy_gflops"])
        cells += [f"{achieved:.0f}", f"{100 * achieved / float(r.get('peak_gflops', peak)):.0f} %"]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", *target_lines(rows, load)]
    return "\n".join(lines) + "\n\n"


# CrossInfoNet's speed targets on this machine class (frames/s): batch 32 in fp32, batch 1 any precision.
TARGETS = {"crossinfonet": {32: 175.0, 1: 200.0}}
STATIC_INT8_NOTE = (
    "; the static int8 graph (`handpose quantize`, convolutions in int8 too) is timed with its accuracy under "
    "[int8 accuracy](#int8-accuracy)"
)


def target_lines(rows: list[dict[str, object]], load: float) -> list[str]:
    out = []
    for r in rows:
        for batch, goal in TARGETS.get(str(r["name"]), {}).items():
            keys = ("eager", "onnx") if batch == 32 else ("eager", "onnx", "onnx_int8")
            rates = {k: float(r[f"{k}_b{batch}"]) for k in keys if f"{k}_b{batch}" in r}
            if not rates:
                continue
            best = max(rates, key=rates.get)
            verdict = "met" if rates[best] >= goal else "NOT met"
            out.append(
                f"- Target {r['name']} batch {batch} >= {goal:.0f} frames/s: best {rates[best]:.1f} ({best}) — {verdict}"
                + (" (machine loaded: rerun quietly)" if load > 1.5 else "")
                + (STATIC_INT8_NOTE if batch == 1 else "")
            )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="*", help="glob over registered names (default: all)")
    parser.add_argument("--modality", choices=("depth", "rgb"), help="only models of this modality")
    parser.add_argument("--skeleton", default="canonical21", help="skeleton to build the models for")
    parser.add_argument("--batches", default="1,32", help="comma-separated batch sizes (default 1,32)")
    parser.add_argument("--seconds", type=float, default=3.0, help="timed seconds per configuration (default 3)")
    parser.add_argument("--threads", type=int, default=2, help="torch and ONNX Runtime intra-op threads (default 2)")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    parser.add_argument("--no-docs", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args(argv)

    from rich.progress import Progress

    from handpose import skeleton as skeletons
    from handpose.models import get_spec, list_models

    torch.set_num_threads(args.threads)
    load = os.getloadavg()[0]
    names = [n for n in list_models(modality=args.modality) if fnmatch.fnmatch(n, args.models)]
    if not names:
        print(f"no model matches {args.models!r}", file=sys.stderr)
        return 2
    batches = [int(b) for b in args.batches.split(",") if b.strip()]
    peak = matmul_peak(max(1.0, args.seconds))
    print(f"fp32 matmul peak: {peak:.0f} GFLOP/s", flush=True)
    rows = []
    with Progress() as progress:
        task = progress.add_task("models", total=len(names))
        for name in names:
            spec = get_spec(name)
            skel = args.skeleton
            if spec.skeleton_check is not None and spec.skeleton_check(skeletons.get(skel)):
                skel = "nyu14"
            progress.update(task, description=name)
            # The peak is re-measured before and after every model (on a shared machine it drifts with
            # the load); the higher one is the model's reference, so a dip cannot inflate '% peak'.
            before = matmul_peak(1.0)
            row = bench_model(name, skel, batches, args.seconds, args.threads)
            row["peak_gflops"] = max(before, matmul_peak(1.0))
            rows.append(row)
            progress.advance(task)
    command = "python benchmarks/bench_models.py" + "".join(
        f" {flag} {value}"
        for flag, value, default in (
            ("--models", f"'{args.models}'", "'*'"),
            ("--modality", str(args.modality), "None"),
            ("--skeleton", args.skeleton, "canonical21"),
            ("--batches", args.batches, "1,32"),
            ("--seconds", f"{args.seconds:g}", "3"),
            ("--threads", str(args.threads), "2"),
        )
        if value != default
    )
    body = render(rows, peak, command, args.threads, load)
    print(body)
    if args.json:
        write_json_atomic(args.json, {"peak_gflops": peak, "load": load, "rows": rows})
    if not args.no_docs:
        # One subsection per modality, so a depth run keeps the (slow to produce) RGB rows and vice versa.
        heading = SECTION if args.modality is None else SUBSECTIONS[args.modality]
        replace_section(heading, body, within=SECTION)
        print(f"wrote '{heading}' in {DOCS}")
    return 0


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    sys.exit(main())
