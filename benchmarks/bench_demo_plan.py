"""The full demo with some of its plan changed: how a setting moves the demo's error.

Runs :func:`handpose.demo.run_demo` in this process with ``DemoPlan`` fields replaced (``KEY=VALUE``;
``none`` for an optional field), on the demo's own frames (the test frames and the training stream are
the same for every variant), and prints one JSON line with the scores. A run repeats exactly on the
same machine and precision, so a difference between two variants is the setting's, not noise of the
data. docs/training.md ("BatchNorm statistics for the last steps") lists the variants behind the plan.

    python benchmarks/bench_demo_plan.py coordinate_loss=l2 heatmap_weight=0.01 freeze_batchnorm_at=none
    python benchmarks/bench_demo_plan.py --quick train_steps=300 --out runs/bench-demo-plan
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def overrides(items: list[str], plan: Any) -> dict[str, Any]:
    """``{field: value}`` from ``KEY=VALUE`` items, each converted to the type of the plan's field."""
    fields = {f.name: getattr(plan, f.name) for f in dataclasses.fields(plan)}
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or key not in fields:
            raise SystemExit(f"expected KEY=VALUE with KEY one of {', '.join(fields)}, got {item!r}")
        current = fields[key]
        if text.lower() == "none":
            out[key] = None
        elif isinstance(current, bool):
            out[key] = text.lower() in ("1", "true", "yes")
        elif current is None or isinstance(current, float):
            out[key] = float(text)
        else:
            out[key] = type(current)(text)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("changes", nargs="*", metavar="KEY=VALUE", help="DemoPlan fields to change")
    p.add_argument("--quick", action="store_true", help="start from the --quick plan")
    p.add_argument("--precision", default="auto", choices=("auto", "32-true", "bf16-mixed"))
    p.add_argument("--out", default=str(REPO / "runs" / "bench-demo-plan"))
    args = p.parse_args(argv)
    from handpose import demo

    base = demo.QUICK if args.quick else demo.FULL
    changed = overrides(args.changes, base)
    m = demo.run_demo(args.out, plan=dataclasses.replace(base, **changed), precision=args.precision)
    keys = ("mean_error_mm", "median_error_mm", "mean_pose_error_mm", "ratio", "precision", "train_steps")
    print(json.dumps({"plan": "quick" if args.quick else "full", "changes": changed, **{k: m[k] for k in keys}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
