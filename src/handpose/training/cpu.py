"""CPU thread settings applied before torch loads (the command-line verbs call this first).

OpenMP threads spin for a while before sleeping when they run out of work. When the cores are shared
with other processes (data loader workers, another training, the user's other work) the spinning
threads steal the time the busy ones need, and a training step can take ten times longer. Sleeping
at once (passive waiting) is fair to the other processes but makes every small kernel pay for waking
its threads when the process has the cores to itself. handpose never knows which case it is in (a
user's machine is never idle), so:

- with loader workers in the same run (the cores are certainly shared): passive waiting;
- otherwise: a short, bounded spin (``GOMP_SPINCOUNT``; ``KMP_BLOCKTIME`` for Intel's OpenMP) that
  bridges the gaps between the kernels of one step but yields the core soon after, instead of
  OpenMP's default of spinning for up to hundreds of microseconds per wait.

A setting the user made (``OMP_WAIT_POLICY``, ``GOMP_SPINCOUNT``, ``KMP_BLOCKTIME``) is kept.
``benchmarks/bench_two_trainings.py`` measures the policies with two trainings on the same cores.
"""

from __future__ import annotations

import os
import sys

# Spins before a waiting GNU OpenMP thread sleeps (its default is 300000 with OMP_WAIT_POLICY unset).
SHORT_SPIN_COUNT = 10_000
# Milliseconds an Intel OpenMP thread spins before sleeping (its default is 200).
SHORT_BLOCKTIME_MS = 1
USER_SETTINGS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")
POLICY_TEXT = (
    f"OpenMP threads spin at most {SHORT_SPIN_COUNT} times (GOMP_SPINCOUNT) before sleeping; "
    "passive waiting (OMP_WAIT_POLICY=PASSIVE) when the run has loader workers"
)


def thread_environment(shared: bool, environ: dict[str, str] | os._Environ[str]) -> dict[str, str]:
    """The variables :func:`configure_cpu_threads` would set, given the current environment."""
    if any(name in environ for name in USER_SETTINGS):
        return {}
    if shared:
        return {"OMP_WAIT_POLICY": "PASSIVE", "KMP_BLOCKTIME": "0"}
    return {"GOMP_SPINCOUNT": str(SHORT_SPIN_COUNT), "KMP_BLOCKTIME": str(SHORT_BLOCKTIME_MS)}


def configure_cpu_threads(shared: bool = True) -> None:
    """Set how OpenMP threads wait, if torch is not loaded yet (OpenMP reads these once) and the user chose nothing.

    Args:
        shared: Whether the run itself will share the cores (data loader workers): then threads wait
            passively; otherwise they spin briefly (see the module's docstring).
    """
    if "torch" in sys.modules:
        return
    os.environ.update(thread_environment(shared, os.environ))
