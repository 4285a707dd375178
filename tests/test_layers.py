"""The import graph follows docs/architecture.md: lower layers never import higher ones, and no cycles.

Every module under ``src/handpose`` is parsed (not imported) with :mod:`ast`; every ``import`` in it
counts, at module level or inside a function, since a deferred import is still a dependency.
"""

from __future__ import annotations

import ast
import itertools
from collections import defaultdict
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "handpose"

# The layer table of docs/architecture.md: module (or package) prefix -> layer. The longest prefix wins.
LAYERS: dict[str, int] = {
    # 0: data and the contracts every layer shares
    "handpose": 0,
    "handpose.skeleton": 0,
    "handpose.geometry": 0,
    "handpose.errors": 0,
    "handpose.io": 0,
    "handpose.safe_read": 0,
    "handpose.batch": 0,
    "handpose.contract": 0,
    "handpose.hand_center": 0,
    "handpose.figures": 0,
    # 1: metrics, evaluation, readers, the synthetic engine, plots, checkpoint files
    "handpose.metrics": 1,
    "handpose.evaluation": 1,
    "handpose.datasets": 1,
    "handpose.synth": 1,
    "handpose.visualize": 1,
    "handpose.checkpoint_file": 1,
    # 2: crops, codecs, networks, losses, packages and ONNX graphs
    "handpose.transforms": 2,
    "handpose.codecs": 2,
    "handpose.models": 2,
    "handpose.losses": 2,
    "handpose.package": 2,
    "handpose.onnx_graph": 2,
    # 3: training, loading and running models, export, int8, scoring a model, the demo
    "handpose.training": 3,
    "handpose.loading": 3,
    "handpose.runtime_choice": 3,
    "handpose.prediction": 3,
    "handpose.inference": 3,
    "handpose.export": 3,
    "handpose.quantization": 3,
    "handpose.model_evaluation": 3,
    "handpose.fingertip_evaluation": 3,
    "handpose.folds": 3,
    "handpose.predict": 3,
    "handpose.inputs": 3,
    "handpose.demo": 3,
    "handpose.demo_report": 3,
    # 4: the command line
    "handpose.cli": 4,
    "handpose.__main__": 4,
}
# The package root re-exports a few names lazily (``handpose.Estimator``); it is a facade, not a dependency.
FACADES = {"handpose"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> int | None:
    best = None
    for prefix, layer in LAYERS.items():
        if (module == prefix or module.startswith(prefix + ".")) and (best is None or len(prefix) > len(best[0])):
            best = (prefix, layer)
    return None if best is None else best[1]


def unit_of(module: str) -> str:
    """The package or top-level module a module belongs to (``handpose.models.registry`` -> ``handpose.models``)."""
    return ".".join(module.split(".")[:2])


def imports_of(path: Path, module: str) -> list[tuple[str, int]]:
    """``(imported handpose module, line)`` for every import in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((target, node.lineno))
            # ``from handpose import skeleton`` imports the module handpose.skeleton.
            for alias in node.names:
                candidate = f"{target}.{alias.name}"
                if (PACKAGE.parent / (candidate.replace(".", "/") + ".py")).is_file() or (
                    PACKAGE.parent / candidate.replace(".", "/")
                ).is_dir():
                    found.append((candidate, node.lineno))
    return [(name, line) for name, line in found if name == "handpose" or name.startswith("handpose.")]


def graph() -> dict[str, list[tuple[str, int]]]:
    return {module_name(p): imports_of(p, module_name(p)) for p in sorted(PACKAGE.rglob("*.py"))}


GRAPH = graph()


def test_every_module_has_a_layer():
    missing = sorted(m for m in GRAPH if layer_of(m) is None)
    assert not missing, f"modules missing from the layer table (tests/test_layers.py, docs/architecture.md): {missing}"


def test_lower_layers_never_import_higher_ones():
    problems = []
    for module, imports in GRAPH.items():
        own = layer_of(module)
        if module in FACADES or own is None:
            continue
        for target, line in imports:
            other = layer_of(target)
            if other is not None and other > own:
                problems.append(f"{module} (layer {own}) imports {target} (layer {other}) at line {line}")
    assert not problems, "\n".join(problems)


def test_no_import_cycles_between_packages_and_modules():
    edges: dict[str, dict[str, str]] = defaultdict(dict)
    for module, imports in GRAPH.items():
        if module in FACADES:
            continue
        for target, line in imports:
            a, b = unit_of(module), unit_of(target)
            if a != b and b not in FACADES:
                edges[a].setdefault(b, f"{module} imports {target} at line {line}")
    cycle = _find_cycle(edges)
    assert cycle is None, "import cycle: " + "; ".join(edges[a][b] for a, b in itertools.pairwise(cycle))


def _find_cycle(edges: dict[str, dict[str, str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, {})):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state and (found := visit(start)):
            return found
    return None


@pytest.mark.parametrize(
    ("source", "target", "ok"),
    [("handpose.metrics", "handpose.skeleton", True), ("handpose.codecs.cube", "handpose.training.module", False)],
)
def test_the_rule_itself(source, target, ok):
    assert (layer_of(target) <= layer_of(source)) is ok
