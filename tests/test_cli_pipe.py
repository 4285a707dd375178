"""A reader that closes the pipe early (`handpose models | head -1`) ends the listing quietly."""

from __future__ import annotations

import subprocess
import sys


def test_closed_pipe_ends_without_a_traceback() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "handpose", "models"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before the listing is written
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141
    assert "Traceback" not in stderr
    assert "BrokenPipeError" not in stderr
