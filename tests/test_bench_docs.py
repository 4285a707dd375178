"""The benchmark scripts own sections of docs/benchmarks.md: rewriting one leaves the others alone."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from _docs import replace_section

PAGE = """# Benchmarks

## Models

### Depth models

old depth

### RGB models

rgb rows

## Next

next body
"""


def test_a_subsection_is_rewritten_up_to_the_next_heading_of_its_level_or_above(tmp_path: Path) -> None:
    page = tmp_path / "b.md"
    page.write_text(PAGE)
    replace_section("### Depth models", "new depth", page, within="## Models")
    replace_section("### RGB models", "new rgb", page, within="## Models")
    text = page.read_text()
    assert "old depth" not in text and "rgb rows" not in text
    assert text.index("new depth") < text.index("### RGB models") < text.index("new rgb") < text.index("## Next")
    assert "next body" in text


def test_a_missing_subsection_goes_at_the_end_of_its_parent(tmp_path: Path) -> None:
    page = tmp_path / "b.md"
    page.write_text(PAGE)
    replace_section("### GPU", "gpu rows", page, within="## Models")
    replace_section("## Last", "last body", page)
    text = page.read_text()
    assert text.index("rgb rows") < text.index("### GPU") < text.index("gpu rows") < text.index("## Next")
    assert text.rstrip().endswith("## Last\n\nlast body")


def test_a_section_is_rewritten_whole(tmp_path: Path) -> None:
    page = tmp_path / "b.md"
    page.write_text(PAGE)
    replace_section("## Models", "one table", page)
    text = page.read_text()
    assert "### Depth models" not in text and "one table" in text and "next body" in text


def test_throughput_table_covers_every_seed_model_in_both_precisions() -> None:
    import json

    import bench_training_throughput as bench

    results = json.loads(bench.RESULTS.read_text())
    measured = {(r["model"], r["precision"]) for r in results["rows"]}
    seeds = ("crossinfonet", "fingerposenet", "learnable_groups_k3", "resunet")
    assert {(m, p) for m in seeds for p in ("32-true", "bf16-mixed")} <= measured
    text = bench.render(results)
    assert all(f"| {m} |" in text for m in seeds)
    assert all(r["command"] in text for r in results["rows"])


def test_precision_results_have_two_seeds_per_precision_for_a_depth_and_an_rgb_model() -> None:
    import json

    import bench_precision as bench

    results = json.loads(bench.RESULTS.read_text())
    for model in ("crossinfonet", "learnable_groups_k3"):
        for precision in bench.PRECISIONS:
            assert {f"{model}/{precision}/seed{s}" for s in (0, 1)} <= set(results["runs"])
    text = bench.render(results)
    assert all(f"`{r['command']}`" in text for r in results["runs"].values())
    assert text.count("costs no accuracy") + text.count("costs accuracy") == 2
