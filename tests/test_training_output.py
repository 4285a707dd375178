"""A normal training run speaks in handpose lines only: its set-up, progress with an ETA, its end."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from handpose.training.config import load_config
from handpose.training.precision import cpu_flags, cpu_has_bf16
from handpose.training.progress import LineProgress, format_duration
from training_helpers import render, train_args

LIBRARY_CHATTER = ("Tip", "litlogger", "LeafSpec", "limit_val_batches", "GPU available", "TPU", "Warning", "warn")


def test_a_run_to_a_file_prints_its_stages_and_progress_and_nothing_else(tmp_path: Path) -> None:
    data = render(40, 1)
    argv = train_args(tmp_path, data, "r", "trainer.max_epochs=2", "trainer.progress=rich", "trainer.precision=auto")
    code = "import sys; from handpose.cli import main; sys.exit(main(sys.argv[1:]))"
    done = subprocess.run(
        [sys.executable, "-c", code, *map(str, argv)], capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr
    lines = (done.stdout + done.stderr).splitlines()
    assert not [ln for ln in lines if any(word in ln for word in LIBRARY_CHATTER)], lines
    assert all(ln.startswith(("[train] ", "best checkpoint: ")) for ln in lines), lines
    # The choice (measured on this CPU when it has bfloat16 instructions) is stated and saved.
    saved = load_config(tmp_path / "r" / "config.yaml", []).trainer.precision
    assert saved in ("32-true", "bf16-mixed")
    assert f"precision {saved} (auto: the CPU has" in lines[0]
    if not cpu_has_bf16(cpu_flags()):
        assert saved == "32-true"
    # Output to a pipe gets progress lines (a bar would redraw in place); the last one closes the run.
    assert any(ln.startswith("[train] step ") and ln.endswith(("done", "mm")) and "done" in ln for ln in lines)


def test_progress_line_has_rate_eta_and_validation() -> None:
    bar = LineProgress(total_steps=600)
    bar.times.extend([(100, 10.0), (150, 20.0)])
    bar.validation = 31.25
    assert bar.line(150) == "[train] step 150/600 (25%), 5.0 steps/s, ETA 1:30, validation 31.25 mm"
    assert bar.line(600, done=True).endswith("5.0 steps/s, done, validation 31.25 mm")
    assert format_duration(3909) == "1:05:09" and format_duration(59.6) == "1:00"
