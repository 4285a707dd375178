"""docs/reproduction.md names only configs that exist and load, and defines every deviation a row cites."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from handpose.training.config import load_config

REPO = Path(__file__).resolve().parents[1]
DOC = (REPO / "docs" / "reproduction.md").read_text(encoding="utf-8")
CONFIG_PATHS = sorted(set(re.findall(r"configs/[\w/.-]+?\.yaml", DOC)))


def test_the_page_names_configs_of_every_paper() -> None:
    folders = {Path(p).parts[1] for p in CONFIG_PATHS}
    assert {"crossinfonet", "learnable_groups", "resunet", "fingerposenet"} <= folders
    assert len(CONFIG_PATHS) >= 30


@pytest.mark.parametrize("path", CONFIG_PATHS)
def test_every_config_named_exists_and_loads(path: str) -> None:
    from handpose.models import list_models

    assert (REPO / path).is_file(), f"docs/reproduction.md names {path}, which does not exist"
    cfg = load_config(REPO / path)
    assert cfg.model.name in list_models()


def test_every_cited_deviation_is_defined() -> None:
    defined = set(re.findall(r"\*\*([A-Z]\d+) ", DOC))
    cited: set[str] = set()
    for first, last in re.findall(r"\b([A-Z]\d+)(?:-([A-Z]\d+))?\b", DOC.split("## ", 1)[1]):
        if last and first[0] == last[0]:
            cited |= {f"{first[0]}{i}" for i in range(int(first[1:]), int(last[1:]) + 1)}
        else:
            cited.add(first)
    cited = {c for c in cited if c[0] in "CLRF"}
    assert cited <= defined, f"cited but not defined: {sorted(cited - defined)}"
    assert "@@" not in DOC
