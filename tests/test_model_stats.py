"""The stored model table (handpose/models/model_stats.json) matches the registry and fresh counts, and
``handpose models`` lists from it without importing torch."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from handpose.models import get_spec, list_models
from handpose.models.stats import (
    SKELETONS,
    fresh_counts,
    fresh_table,
    read_table,
    serves,
    spec_fields,
    table_differences,
)

REWRITE = "run `python -m handpose.models.stats --write` and commit the table"


def test_table_holds_every_registered_model_with_its_spec() -> None:
    table = read_table()
    assert sorted(table) == list_models(), REWRITE
    for name, entry in table.items():
        spec = get_spec(name)
        assert {k: v for k, v in entry.items() if k != "counts"} == spec_fields(spec), f"{name}: {REWRITE}"
        assert list(entry["counts"]) == [s for s in SKELETONS if serves(spec, s)], f"{name}: {REWRITE}"


@pytest.mark.parametrize(("name", "skeleton"), [("holistic_resnet18", "nyu14"), ("crossinfonet_base", "icvl16")])
def test_stored_counts_match_a_fresh_count(name: str, skeleton: str) -> None:
    # Two cheap models here; every model and skeleton in the slow test below.
    assert read_table()[name]["counts"][skeleton] == fresh_counts(name, skeleton), REWRITE


@pytest.mark.slow
def test_every_stored_count_matches_a_fresh_count() -> None:
    assert table_differences(read_table(), fresh_table()) == []


def test_differences_name_the_model_and_field() -> None:
    stored = {"a": {"modality": "depth", "counts": {"nyu14": {"parameters": 1, "flops": 2}}}, "gone": {}}
    fresh = {"a": {"modality": "depth", "counts": {"nyu14": {"parameters": 1, "flops": 3}}}, "new": {}}
    assert table_differences(stored, fresh) == [
        "new: not in the stored table",
        "gone: stored but not registered",
        "a.counts: stored {'nyu14': {'parameters': 1, 'flops': 2}}, now {'nyu14': {'parameters': 1, 'flops': 3}}",
    ]


def test_listing_builds_no_network() -> None:
    code = (
        "import sys\n"
        "from handpose.cli import main\n"
        "assert main(['models', '--json']) == 0\n"
        "assert 'torch' not in sys.modules, 'listing imported torch'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert [r["name"] for r in rows] == list_models()
    table = read_table()
    for row in rows:
        counts = next(iter(table[row["name"]]["counts"].values()))
        assert row["parameters"] == counts["parameters"]
        assert row["gflops"] == round(counts["flops"] / 1e9, 3)


def test_a_skeleton_the_table_lacks_is_counted_on_the_spot(capsys: pytest.CaptureFixture[str]) -> None:
    from handpose.cli import main

    assert "bighand21" not in SKELETONS
    assert main(["models", "--json", "--skeleton", "bighand21", "holistic_resnet18"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    counts = fresh_counts("holistic_resnet18", "bighand21")
    assert (row["skeleton"], row["parameters"]) == ("bighand21", counts["parameters"])
    assert row["gflops"] == round(counts["flops"] / 1e9, 3)
