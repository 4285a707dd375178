"""CPU thread settings applied before torch loads (the command-line verbs call this first).

OpenMP threads spin for a while before sleeping when they run out of work. When the cores are shared
with other processes (data loader workers, other jobs) the spinning threads steal the time the busy
ones need, and a training step can take ten times longer: those runs get passive waiting. When the
process has the cores to itself, passive waiting is what costs: every small kernel then pays for
waking its threads (the demo's 32-pixel CrossInfoNet makes about a third fewer steps on two idle
cores), so OpenMP's own default is kept.
"""

from __future__ import annotations

import os
import sys


def configure_cpu_threads(shared: bool = True) -> None:
    """Make OpenMP threads wait passively when ``shared``, if torch is not loaded yet and the user chose nothing.

    Args:
        shared: Whether other busy processes (data loader workers, other jobs) will share the cores.
    """
    if shared and "torch" not in sys.modules:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
