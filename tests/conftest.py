"""Shared fixtures. ``shared_data`` is the real third-party data beside the checkout (``../shared/data``)."""

from __future__ import annotations

import os
from pathlib import Path

# Before torch loads: OpenMP threads that spin while waiting steal the cores from subprocesses and
# data-loader workers the tests start, turning millisecond steps into seconds.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("HANDPOSE_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


def require_shared(*parts: str) -> Path:
    """Path under ``../shared/data``; skips when absent, but fails under ``CI=true`` (CI always has it)."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but the shared data is missing: {path}")
        pytest.skip(f"shared data not present: {path}")
    return path


@pytest.fixture
def shared_data() -> Path:
    return require_shared()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _few_threads():
    # Tests run beside each other on small machines; two threads is what every CPU here has.
    try:
        import torch
    except ImportError:  # pragma: no cover
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(min(before, 2))
    yield
    torch.set_num_threads(before)
