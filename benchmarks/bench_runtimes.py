"""Which runtime predicts fastest on this machine, and is it still correct?

For CrossInfoNet at the demo's 32-pixel crops and at its reference 96 pixels (random weights, BatchNorm
statistics set by a few training-mode passes), the deployed ``joints`` output is timed in:

- PyTorch fp32 (channels-last, BatchNorm folded), and PyTorch with bf16 autocast;
- ONNX Runtime fp32 and its int8 graph (block-wise int8 fully connected weights, ``export --quantize int8``).

Windows of ``--seconds`` alternate between the runtimes for ``--rounds`` rounds (best window kept), so
that load from outside hits them alike. Correct = the mean joint shift against PyTorch fp32 on the
same crops is under ``--tolerance-mm`` (in millimetres of a 250 mm cube). Writes the "Inference
runtimes" section of docs/benchmarks.md.

    python benchmarks/bench_runtimes.py
    python benchmarks/bench_runtimes.py --smoke
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from _docs import cpu_name, replace_section

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

REPO = Path(__file__).resolve().parents[1]
HEADING = "## Inference runtimes"
HALF_CUBE_MM = 125.0


def build(size: int) -> Any:
    import torch

    from handpose.models.batchnorm_folding import fold_batchnorm
    from handpose.models.registry import create_model

    torch.manual_seed(0)
    model = create_model("crossinfonet", input_size=size, dropout=0.0)
    model.train()
    with torch.no_grad():  # BatchNorm statistics of real-looking scale, not the identity
        for _ in range(3):
            model(torch.randn(8, 1, size, size))
    model.eval()
    return fold_batchnorm(model.joints_only()).to(memory_format=torch.channels_last)


def runtimes(model: Any, size: int, threads: int) -> dict[str, Any]:
    """name -> callable(batch numpy) -> joints numpy."""
    import torch

    from handpose.onnx_graph import onnx_bytes, ort_session, quantize_onnx

    def torch_fn(bf16: bool) -> Any:
        def run(x: np.ndarray) -> np.ndarray:
            t = torch.from_numpy(x).contiguous(memory_format=torch.channels_last)
            with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                return model(t)["joints"].float().numpy()

        return run

    graph = onnx_bytes(model, size, joints_only=True)
    out = {"pytorch fp32": torch_fn(False), "pytorch bf16": torch_fn(True)}
    for name, data in (("onnx fp32", graph), ("onnx int8 FC weights", quantize_onnx(graph, "int8"))):
        session = ort_session(data, threads=threads)
        input_name = session.get_inputs()[0].name
        joints = [o.name for o in session.get_outputs()].index("joints")
        out[name] = lambda x, s=session, i=input_name, j=joints: s.run(None, {i: x})[j]
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="32,96")
    p.add_argument("--batches", default="1,32")
    p.add_argument("--seconds", type=float, default=0.5)
    p.add_argument("--rounds", type=int, default=8)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--tolerance-mm", type=float, default=0.5)
    p.add_argument("--smoke", action="store_true")
    p.add_argument("--no-docs", action="store_true")
    args = p.parse_args(argv)
    if args.smoke:
        args.sizes, args.batches, args.seconds, args.rounds, args.no_docs = "32", "1,4", 0.05, 1, True
    import torch

    from handpose.runtime_choice import time_window

    torch.set_num_threads(args.threads)
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        model = build(size)
        fns = runtimes(model, size, args.threads)
        check = np.random.default_rng(1).standard_normal((32, 1, size, size)).astype(np.float32)
        reference = fns["pytorch fp32"](check)
        shift = {n: float(np.linalg.norm(f(check) - reference, axis=-1).mean() * HALF_CUBE_MM) for n, f in fns.items()}
        for batch in (int(b) for b in args.batches.split(",")):
            x = np.random.default_rng(2).standard_normal((batch, 1, size, size)).astype(np.float32)
            best = dict.fromkeys(fns, 0.0)
            for fn in fns.values():
                fn(x)
            for _ in range(args.rounds):
                for name, fn in fns.items():
                    best[name] = max(best[name], time_window(fn, x, args.seconds))
            correct = {n: shift[n] < args.tolerance_mm for n in fns}
            fastest = max((n for n in fns if correct[n]), key=lambda n: best[n])
            rows.append({"size": size, "batch": batch, "rate": best, "shift_mm": shift, "fastest": fastest})
            print(
                f"crossinfonet {size}px b{batch}: "
                + ", ".join(f"{n} {best[n]:.0f}/s ({shift[n]:.3f} mm)" for n in fns)
                + f" -> {fastest}",
                flush=True,
            )
    if not args.no_docs:
        replace_section(HEADING, render(rows, args, " ".join(argv if argv is not None else sys.argv[1:])))
    return 0


def render(rows: list[dict[str, Any]], args: argparse.Namespace, argv: str) -> str:
    from handpose.runtime_choice import BUDGET_S, TOLERANCE_MM

    names = list(rows[0]["rate"])
    lines = [
        f"Command: `python benchmarks/bench_runtimes.py {argv}`. Machine: {cpu_name()}, {os.cpu_count()} CPUs, "
        f"{args.threads} threads, shared with other work (load average {os.getloadavg()[0]:.1f} at the end); "
        f"best of {args.rounds} alternating {args.seconds:g}-second windows. CrossInfoNet `joints` output, random "
        "weights. Frames/s, and in brackets the mean joint shift against PyTorch fp32 (mm, 250 mm cube).",
        "",
        "| input | batch | " + " | ".join(names) + " | fastest correct |",
        "|---|---|" + "---|" * len(names) + "---|",
    ]
    for r in rows:
        cells = [f"{r['rate'][n]:.0f} ({r['shift_mm'][n]:.3f})" for n in names]
        lines.append(f"| {r['size']} | {r['batch']} | " + " | ".join(cells) + f" | {r['fastest']} |")
    lines += [
        "",
        f"Correct = mean shift under {args.tolerance_mm:g} mm. Since the fastest correct runtime depends on the "
        "input, the batch and the CPU, `handpose predict` (default `--runtime auto`) measures it for the model and "
        "batch size it runs: each runtime the package offers once against PyTorch fp32 on the same random crops "
        f"({TOLERANCE_MM:g} mm), then the correct ones in alternating windows ({BUDGET_S:g} s in all), and "
        "remembers the choice per machine; `--runtime torch|torch-bf16|onnx|onnx-int8` forces one.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
