"""What every benchmark script shares: the CPU's name and rewriting its own section of docs/benchmarks.md."""

from __future__ import annotations

import platform
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs" / "benchmarks.md"
sys.path.insert(0, str(REPO / "src"))

from handpose.io import write_text_atomic  # noqa: E402


def cpu_name() -> str:
    """The CPU model as /proc/cpuinfo names it (or what the platform module knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def replace_section(heading: str, body: str, path: Path = DOCS) -> None:
    """Rewrite the body of the section whose heading line starts with ``heading``, up to the next ``## ``.

    The section is appended when the page does not have it yet; the page is written atomically.
    """
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else ["# Benchmarks"]
    start = next((i for i, line in enumerate(lines) if line.startswith(heading)), None)
    if start is None:
        lines += ["", heading]
        start = len(lines) - 1
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    new = [*lines[: start + 1], "", *body.strip("\n").splitlines(), "", *lines[end:]]
    write_text_atomic(path, "\n".join(new).rstrip("\n") + "\n")
