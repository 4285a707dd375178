"""How OpenMP threads wait: passively (a machine is never idle), the user's choice kept."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from handpose.training.cpu import thread_environment

REPO = Path(__file__).resolve().parents[1]


def test_threads_wait_passively() -> None:
    env = thread_environment({})
    assert env["OMP_WAIT_POLICY"] == "PASSIVE" and env["KMP_BLOCKTIME"] == "0"


@pytest.mark.parametrize("name", ["OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME"])
def test_a_users_setting_is_kept(name: str) -> None:
    assert thread_environment({name: "1"}) == {}


@pytest.mark.slow
def test_two_trainings_at_once_report_their_slowdown(tmp_path: Path) -> None:
    script = REPO / "benchmarks" / "bench_two_trainings.py"
    done = subprocess.run(
        [
            sys.executable,
            str(script),
            "--smoke",
            "--work",
            str(tmp_path),
            "--policies",
            "spinning (OpenMP default),handpose (passive)",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads((tmp_path / "result.json").read_text())
    for row in result["rows"].values():
        assert len(row["alone"]) == 1 and len(row["pair"]) == 2
        assert all(rate > 0 for rate in (*row["alone"], *row["pair"]))
        assert row["slowdown"] == pytest.approx(row["alone"][0] / (sum(row["pair"]) / 2))
    assert "slowdown" in done.stdout
