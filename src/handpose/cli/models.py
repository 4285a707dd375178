"""``handpose models [--json] [--modality M] [--skeleton S] [PATTERN]``: the registered networks.

One row per registered name: modality, family, input (channels x side x side), output space, loss,
parameters and GFLOPs of one frame (counted for ``--skeleton``; the joint count changes the
output layers only), and the one-line description. ``--json`` prints the rows as a JSON list.

The rows come from the stored table of :mod:`handpose.models.stats`, so listing builds no network;
only a ``--skeleton`` the table does not hold is counted on the spot.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
from importlib import resources
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


def _stored_table() -> dict[str, dict[str, Any]]:
    # Read as package data, without importing handpose.models (and torch).
    text = resources.files("handpose").joinpath("models").joinpath("model_stats.json").read_text(encoding="utf-8")
    table: dict[str, dict[str, Any]] = json.loads(text)
    return table


def _row(name: str, entry: dict[str, Any], skeleton: str | None) -> dict[str, Any]:
    """One listing row; counts a skeleton the table does not hold on a freshly built model."""
    choice = skeleton or next(iter(entry["counts"]), "canonical21")
    counts = entry["counts"].get(choice)
    if counts is None:
        from handpose.models.stats import fresh_counts

        counts = fresh_counts(name, choice)
    fields = {k: v for k, v in entry.items() if k != "counts"}
    return {
        "name": name,
        **fields,
        "skeleton": choice,
        "parameters": counts["parameters"],
        "gflops": round(counts["flops"] / 1e9, 3),
    }


def run(args: argparse.Namespace) -> int:
    from handpose import skeleton as skeletons
    from handpose.errors import HandposeError

    table = _stored_table()
    names = sorted(
        n
        for n, entry in table.items()
        if fnmatch.fnmatch(n, args.pattern) and args.modality in (None, entry["modality"])
    )
    if not names:
        raise HandposeError(f"no model matches {args.pattern!r}; available: {', '.join(sorted(table))}")
    if args.skeleton is not None:
        skeletons.get(args.skeleton)  # unknown names fail here, listing what exists
    rows = [_row(name, table[name], args.skeleton) for name in names]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    header = ("name", "modality", "input", "output", "skeleton", "params (M)", "GFLOPs", "description")
    cells = [
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
    widths = [max(len(str(row[i])) for row in (header, *cells)) for i in range(len(header) - 1)]
    for row in (header, *cells):
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)) + "  " + str(row[-1]))
    return 0
