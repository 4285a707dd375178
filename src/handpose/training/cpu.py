"""CPU thread settings applied before torch loads (the command-line verbs call this first).

OpenMP threads spin for a while before sleeping when they run out of work. When the cores are shared
with other processes (data loader workers, another training, the user's other work) the spinning
threads steal the time the busy ones need, and a training step can take ten times longer. Sleeping
at once (passive waiting) costs a little when the process has the cores to itself (every small
kernel pays for waking its threads), but handpose never knows that it does: a user's machine is never
idle. Measured with ``benchmarks/bench_two_trainings.py`` on an idle 2-core machine (docs/benchmarks.md,
"Two trainings at once"), two trainings at once made 0.8 steps/s each with spinning threads, 0.85
with a short bounded spin (``GOMP_SPINCOUNT=10000``) and 3.2 with passive waiting, where one alone
made 7.4, 7.2 and 4.5. So every
verb waits passively (``OMP_WAIT_POLICY=PASSIVE``; ``KMP_BLOCKTIME=0`` for Intel's OpenMP), unless
the user set ``OMP_WAIT_POLICY``, ``GOMP_SPINCOUNT`` or ``KMP_BLOCKTIME``.
"""

from __future__ import annotations

import os
import sys

USER_SETTINGS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")
POLICY_TEXT = "OMP_WAIT_POLICY=PASSIVE (threads sleep as soon as they run out of work), unless the user set one"


def thread_environment(environ: dict[str, str] | os._Environ[str]) -> dict[str, str]:
    """The variables :func:`configure_cpu_threads` would set, given the current environment."""
    if any(name in environ for name in USER_SETTINGS):
        return {}
    return {"OMP_WAIT_POLICY": "PASSIVE", "KMP_BLOCKTIME": "0"}


def configure_cpu_threads() -> None:
    """Make OpenMP threads wait passively, if torch is not loaded yet (OpenMP reads this once) and the user chose nothing."""
    if "torch" in sys.modules:
        return
    os.environ.update(thread_environment(os.environ))
