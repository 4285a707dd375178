"""CPU thread settings applied before torch loads (the command-line verbs call this first).

OpenMP's default is to spin while waiting for work; when the cores are shared with other processes
(data loader workers, other jobs) the spinning threads steal the time the busy ones need, and a
training step can take ten times longer. Passive waiting costs little when the machine is idle and
removes that cliff, so it is the default unless the user set ``OMP_WAIT_POLICY`` themselves.
"""

from __future__ import annotations

import os
import sys


def configure_cpu_threads() -> None:
    """Make OpenMP threads wait passively, if torch is not loaded yet and the user chose nothing."""
    if "torch" not in sys.modules:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
