"""``handpose demo [--quick] [--out DIR]``: render, train, evaluate, export and predict on synthetic hands."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "demo",
        help="train CrossInfoNet on synthetic hands and write a report (CPU, minutes)",
        description=(
            "Render synthetic depth frames (NYU camera), train CrossInfoNet on the CPU, evaluate it on held-out "
            "frames against the mean-pose baseline, export a model package, predict a few frames, and write "
            "DIR/report.md and DIR/metrics.json. Every planned training step is trained (progress lines show the time "
            "left); goals on two cores, also beside other work: under 10 minutes, --quick under 3 "
            "(measured runs: docs/benchmarks.md, Demo runs)."
        ),
    )
    p.add_argument("--quick", action="store_true", help="small, fast version (goal: under 3 minutes)")
    p.add_argument("--out", default="runs/demo", metavar="DIR", help="output folder (default: runs/demo)")
    p.add_argument(
        "--budget",
        type=float,
        metavar="MINUTES",
        help="stop training after this many minutes even if planned steps remain (the report says so first); "
        "default: train every planned step",
    )
    p.add_argument(
        "--precision",
        choices=("auto", "32-true", "bf16-mixed"),
        default="auto",
        help="training precision (default: auto, bf16 where a timed step says it is faster; 32-true trains as a "
        "CPU without bf16 does)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from handpose.training.cpu import configure_cpu_threads

    # Passive OpenMP waiting: the demo neither starves nor is starved by other work on the same cores.
    configure_cpu_threads()
    from handpose.demo import run_demo

    if args.budget is not None and not args.budget > 0:
        from handpose.errors import HandposeError

        raise HandposeError(f"--budget must be a positive number of minutes, got {args.budget:g}")
    run_demo(args.out, quick=args.quick, budget_minutes=args.budget, precision=args.precision)
    return 0
