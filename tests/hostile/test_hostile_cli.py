"""Every hostile case through the real CLI in a subprocess, under a memory limit and a timeout.

Each case must end with exit status 2 and exactly one line on stderr that names the offending file
(or option), with no traceback, no marker file from a payload, within 30 s, a peak resident memory
of at most 1 GiB, and a cap on address space (1 GiB; 1.5 GiB for train, folds and demo, whose
Lightning import alone reserves more than 1 GiB of addresses without touching them) so that a
blow-up is stopped early; each valid baseline must exit 0. The fast cases run in ``make test``; the
whole corpus under ``pytest -m slow``.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from hostile.corpus import CASES, MARKER, by_id

TIME_LIMIT = 30.0
RSS_LIMIT = 2**30
CASES_BY_ID = by_id()


def _limiter(limit: int):
    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return limit_memory


def _run_measured(argv: list[str], cwd: Path, env: dict[str, str], run) -> tuple[int | None, int, str]:
    """Run one case; return its exit status (None after the time limit), peak RSS in bytes, stderr.

    The child is reaped with ``os.wait4`` so that its own resource usage is read, not the running
    maximum over every child this test process has had.
    """
    with tempfile.TemporaryFile() as stdin, tempfile.TemporaryFile() as stderr:
        stdin.write(run.stdin or b"")
        stdin.seek(0)
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=stdin,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            preexec_fn=_limiter(run.memory),
        )
        deadline = time.monotonic() + TIME_LIMIT
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                return None, 0, ""
            time.sleep(0.02)
        stderr.seek(0)
        err = stderr.read().decode("utf-8", "replace").strip()
    proc.returncode = os.waitstatus_to_exitcode(status)  # keeps Popen from waiting on a reaped child
    return proc.returncode, usage.ru_maxrss * 1024, err  # ru_maxrss is in KiB on Linux


def run_case(case_id: str, tmp: Path) -> None:
    case = CASES_BY_ID[case_id]
    run = case.build(tmp)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    env.pop("HANDPOSE_DEBUG", None)
    start = time.monotonic()
    returncode, peak_rss, err = _run_measured([sys.executable, "-m", "handpose", *run.argv], tmp, env, run)
    if returncode is None:
        pytest.fail(f"{case_id}: still running after {TIME_LIMIT:.0f} s (a hang or an unbounded loop)")
    elapsed = time.monotonic() - start
    assert peak_rss <= RSS_LIMIT, f"{case_id}: peak resident memory {peak_rss / 2**20:.0f} MiB > 1 GiB"
    assert not (tmp / MARKER).exists(), f"{case_id}: a payload ran code (marker file created)"
    assert "Traceback" not in err, f"{case_id}: traceback:\n{err[-3000:]}"
    assert "MemoryError" not in err, f"{case_id}: ran out of memory:\n{err[-2000:]}"
    assert elapsed < TIME_LIMIT
    if run.expect == 0:
        assert returncode == 0, f"{case_id}: valid input refused (exit {returncode}): {err[-2000:]}"
        return
    assert returncode == 2, f"{case_id}: exit {returncode}, expected 2; stderr: {err[-2000:]!r}"
    assert err and "\n" not in err, f"{case_id}: expected exactly one stderr line, got:\n{err[-2000:]}"
    assert "error:" in err
    # Refused before allocating, not after the memory limit stopped an allocation (handlers that turn a
    # MemoryError into a line would otherwise hide a blow-up).
    ran_out = re.search(r"(fits in|out of|enough) memory|allocat", err, re.IGNORECASE)
    assert not ran_out, f"{case_id}: refused only when memory ran out: {err}"
    assert run.names is None or run.names in err, f"{case_id}: the error does not name {run.names!r}: {err}"


FAST = [c.id for c in CASES if c.fast]
SLOW = [c.id for c in CASES if not c.fast]


@pytest.mark.parametrize("case_id", FAST)
def test_hostile_input_fast(case_id, tmp_path):
    run_case(case_id, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("case_id", SLOW)
def test_hostile_input(case_id, tmp_path):
    run_case(case_id, tmp_path)


def test_corpus_covers_every_class_reader_and_verb():
    from handpose.cli import VERBS
    from hostile.datasets import WRITERS

    assert len(CASES) >= 250
    classes = {c.klass for c in CASES}
    for klass in (
        "fifo",
        "dev-zero",
        "symlink-escape",
        "sparse-5GB",
        "zip-bomb",
        "size-bomb",
        "alias-bomb",
        "deep-nesting",
        "code-payload",
        "path-escape",
        "non-finite",
        "huge-value",
        "wrong-type",
        "range",
        "checksum",
        "output-path",
        "baseline",
    ):
        assert klass in classes, klass
    ids = " ".join(c.id for c in CASES)
    for reader in WRITERS:
        assert f"baseline-check-{reader}" in ids and f"label-fifo-{reader}" in ids
    argvs = {c.id: c for c in CASES}
    verbs_seen = {v for v in VERBS if any(f"{v}-" in i or f"-{v}" in i for i in argvs)}
    assert set(VERBS) - {"data"} <= verbs_seen | {"evaluate", "train", "predict", "export"}, set(VERBS) - verbs_seen
