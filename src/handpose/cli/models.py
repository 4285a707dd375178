"""``handpose models [--json] [--modality M] [--skeleton S] [PATTERN]``: the registered networks.

One row per registered name: modality, family, input (channels x side x side), output space, loss,
parameters and GFLOPs of one frame (counted for ``--skeleton``; the joint count changes the
output layers only), and the one-line description. ``--json`` prints the rows as a JSON list.
"""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "models",
        help="list the registered models with their input, parameters and GFLOPs",
        description="List every registered model: modality, input spec, output space, loss, parameters, GFLOPs.",
    )
    parser.add_argument("pattern", nargs="?", default="*", help="glob over model names (default: all)")
    parser.add_argument("--modality", choices=("depth", "rgb"), help="only this modality")
    parser.add_argument(
        "--skeleton",
        help="skeleton to build each model for when counting (default: canonical21; a model that cannot serve it"
        " is built for its first of icvl16/nyu14/msra21 it can)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(func=run)


def _fits(spec: Any, skeleton_name: str) -> bool:
    from handpose import skeleton as skeletons

    return spec.skeleton_check is None or spec.skeleton_check(skeletons.get(skeleton_name)) is None


def run(args: argparse.Namespace) -> int:
    from handpose import skeleton as skeletons
    from handpose.errors import HandposeError
    from handpose.models import get_spec, list_models
    from handpose.models._flops import model_summary

    names = list_models(args.pattern, modality=args.modality)
    if not names:
        raise HandposeError(f"no model matches {args.pattern!r}; available: {', '.join(list_models())}")
    if args.skeleton is not None:
        skeletons.get(args.skeleton)  # unknown names fail here, listing what exists
    rows = []
    for name in names:
        spec = get_spec(name)
        choice = args.skeleton or next(
            (s for s in ("canonical21", "icvl16", "nyu14", "msra21") if _fits(spec, s)), "canonical21"
        )
        rows.append(model_summary(name, choice))
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    header = ("name", "modality", "input", "output", "skeleton", "params (M)", "GFLOPs", "description")
    table = [
        (
            r["name"],
            r["modality"],
            r["input"],
            r["output_space"],
            r["skeleton"],
            f"{r['parameters'] / 1e6:.2f}",
            f"{r['gflops']:.3f}",
            r["description"],
        )
        for r in rows
    ]
    widths = [max(len(str(row[i])) for row in (header, *table)) for i in range(len(header) - 1)]
    for row in (header, *table):
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)) + "  " + str(row[-1]))
    return 0
