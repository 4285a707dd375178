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


def replace_section(heading: str, body: str, path: Path = DOCS, within: str | None = None) -> None:
    """Rewrite the body of the section whose heading line starts with ``heading``, up to the next heading
    of its level or above (``## `` for a ``## `` section; ``## `` or ``### `` for a ``### `` one).

    A section the page does not have yet is appended: at the end of the section ``within`` (a
    higher-level heading) when given and present, else at the end of the page. The page is written
    atomically.
    """
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else ["# Benchmarks"]
    level = len(heading) - len(heading.lstrip("#"))

    def section_end(start: int, depth: int) -> int:
        closers = tuple("#" * k + " " for k in range(1, depth + 1))
        return next((i for i in range(start + 1, len(lines)) if lines[i].startswith(closers)), len(lines))

    start = next((i for i, line in enumerate(lines) if line.startswith(heading)), None)
    if start is None:
        parent = next((i for i, line in enumerate(lines) if within and line.startswith(within)), None)
        at = section_end(parent, len(within) - len(within.lstrip("#"))) if parent is not None else len(lines)
        while at > 0 and not lines[at - 1].strip():
            at -= 1
        lines[at:at] = ["", heading]
        start = at + 1
    end = section_end(start, level)
    new = [*lines[: start + 1], "", *body.strip("\n").splitlines(), "", *lines[end:]]
    write_text_atomic(path, "\n".join(new).rstrip("\n") + "\n")
