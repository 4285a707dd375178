"""The stored table of every registered model's spec, parameter count and FLOPs (``model_stats.json``).

``handpose models`` lists the models from this table instead of building each network, so it answers
without importing torch. Counting builds every model once per skeleton; after adding or changing a
model, rewrite the table and commit it::

    python -m handpose.models.stats --write

``python -m handpose.models.stats --check`` compares the table with fresh counts (exit status 1 on a
difference); the tests do the same.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from handpose import skeleton as skeletons
from handpose.io import write_text_atomic
from handpose.models._flops import count_flops, count_parameters
from handpose.models.registry import ModelSpec, create_model, get_spec, list_models

STATS_FILE = Path(__file__).with_name("model_stats.json")

# The skeletons counted for each model, in order of preference: the listing counts a model for the
# first it can serve unless told otherwise. The joint count changes only the output layers.
SKELETONS = ("canonical21", "icvl16", "nyu14", "msra21")


def spec_fields(spec: ModelSpec) -> dict[str, Any]:
    """The spec fields ``handpose models`` shows, as JSON values."""
    return {
        "modality": spec.modality,
        "family": spec.family,
        "input": f"{spec.in_channels}x{spec.input_size}x{spec.input_size}",
        "output_space": spec.output_space,
        "loss": spec.loss,
        "description": spec.description,
    }


def serves(spec: ModelSpec, skeleton: str) -> bool:
    """Whether the model can be built for ``skeleton``."""
    return spec.skeleton_check is None or spec.skeleton_check(skeletons.get(skeleton)) is None


def fresh_counts(name: str, skeleton: str) -> dict[str, int]:
    """Parameters and FLOPs of one frame at the default input size, counted on a freshly built model."""
    spec = get_spec(name)
    model = create_model(name, skeleton=skeleton)
    return {
        "parameters": count_parameters(model),
        "flops": count_flops(model, spec.input_size, spec.in_channels),
    }


def fresh_entry(name: str, skeletons_to_count: tuple[str, ...] = SKELETONS) -> dict[str, Any]:
    """The table entry of one model, counted now for each skeleton of ``skeletons_to_count`` it serves."""
    spec = get_spec(name)
    counts = {s: fresh_counts(name, s) for s in skeletons_to_count if serves(spec, s)}
    return {**spec_fields(spec), "counts": counts}


def fresh_table() -> dict[str, dict[str, Any]]:
    """The whole table, counted now (a few seconds per model)."""
    return {name: fresh_entry(name) for name in list_models()}


def read_table(path: Path = STATS_FILE) -> dict[str, dict[str, Any]]:
    """The stored table."""
    table: dict[str, dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    return table


def table_differences(stored: dict[str, dict[str, Any]], fresh: dict[str, dict[str, Any]]) -> list[str]:
    """One line per model whose stored entry differs from the fresh one (or is missing on one side)."""
    lines = [f"{name}: not in the stored table" for name in sorted(set(fresh) - set(stored))]
    lines += [f"{name}: stored but not registered" for name in sorted(set(stored) - set(fresh))]
    for name in sorted(set(fresh) & set(stored)):
        for key in sorted(set(fresh[name]) | set(stored[name])):
            if fresh[name].get(key) != stored[name].get(key):
                lines.append(f"{name}.{key}: stored {stored[name].get(key)!r}, now {fresh[name].get(key)!r}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m handpose.models.stats", description="Write or check the stored model table."
    )
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", action="store_true", help=f"count every model and write {STATS_FILE.name}")
    action.add_argument("--check", action="store_true", help="count every model and compare with the stored table")
    args = parser.parse_args(argv)
    fresh = fresh_table()
    if args.write:
        write_text_atomic(STATS_FILE, json.dumps(fresh, indent=2) + "\n")
        print(f"wrote {len(fresh)} models to {STATS_FILE}")
        return 0
    differences = table_differences(read_table(), fresh) if STATS_FILE.exists() else [f"{STATS_FILE} is missing"]
    for line in differences:
        print(line)
    if differences:
        print("run `python -m handpose.models.stats --write` and commit the table", file=sys.stderr)
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
