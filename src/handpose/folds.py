"""Leave-one-subject-out folds (MSRA): train and score every fold, resume what is missing, pool the scores.

MSRA's published numbers are one mean over all 76,375 frames of the nine folds, each frame predicted
by the model that did not see its subject (the reference concatenates the nine prediction files,
CrossInfoNet's ``network/MSRA/combtxt.py``). :func:`run_folds` does that:

- fold ``K`` is the run ``<name>_subject<K>`` under the config's ``out_dir``, trained with
  ``data.subject=K``; a run with ``summary.json`` is finished and kept, a run with only
  ``checkpoints/last.ckpt`` is resumed, anything else starts fresh;
- each finished fold is scored on its held-out subject by ``evaluate --checkpoint`` (its report and
  public uvd file go to ``<run>/eval/``; a report newer than the checkpoint is reused);
- the folds' prediction files are concatenated in subject order (the order of the public
  ``msra_test_list.txt``) and scored together: mean, median and success curve over all frames.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from handpose.errors import HandposeError
from handpose.io import write_json_atomic, write_text_atomic

SUBJECTS = tuple(range(9))
EVAL_DIR = "eval"


@dataclass(frozen=True)
class FoldPaths:
    """Where fold ``subject`` keeps its run and its scores."""

    subject: int
    run_dir: Path

    @property
    def summary(self) -> Path:
        return self.run_dir / "summary.json"

    @property
    def last(self) -> Path:
        return self.run_dir / "checkpoints" / "last.ckpt"

    @property
    def best(self) -> Path:
        return self.run_dir / "checkpoints" / "best.ckpt"

    @property
    def report(self) -> Path:
        return self.run_dir / EVAL_DIR / "report.json"


def parse_subjects(text: str | None) -> list[int]:
    """``"0-8"``, ``"0,3,5"`` or ``None`` (all nine) -> sorted subject list."""
    if text is None or text.strip() in ("", "all"):
        return list(SUBJECTS)
    out: set[int] = set()
    try:
        for part in text.replace(" ", "").split(","):
            lo, _, hi = part.partition("-")
            out.update(range(int(lo), int(hi or lo) + 1))
    except ValueError:
        raise HandposeError(f"--subjects must look like 0-8 or 0,3,5, got {text!r}") from None
    if not out or min(out) < 0 or max(out) >= len(SUBJECTS):
        raise HandposeError(f"--subjects must name subjects 0-8, got {text!r}")
    return sorted(out)


def fold_paths(cfg: Any, subject: int) -> FoldPaths:
    return FoldPaths(subject, Path(cfg.out_dir) / f"{cfg.name}_subject{subject}")


def run_folds(
    cfg: Any,
    subjects: Sequence[int] = SUBJECTS,
    train_missing: bool = True,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Train (or resume) and score each requested fold, then pool every scored fold.

    Args:
        cfg: The resolved :class:`~handpose.training.config.RunConfig` of one fold (``data.dataset: msra``);
            ``data.subject`` is set per fold.
        subjects: Folds to run.
        train_missing: Train folds that are missing or unfinished (``False``: only pool what exists).
        log: Called with one line per step.

    Returns:
        The pooled report (also written to ``<out_dir>/<name>_folds.json``).
    """
    import dataclasses

    from handpose.training.run import train

    say = log or (lambda _line: None)
    if cfg.data.dataset != "msra":
        raise HandposeError(f"leave-one-subject-out folds are MSRA's protocol; the config trains {cfg.data.dataset!r}")
    if not cfg.data.root:
        raise HandposeError("data.root (the folder holding P0..P8) is needed")
    for subject in subjects:
        paths = fold_paths(cfg, subject)
        if paths.summary.is_file():
            say(f"subject {subject}: trained ({paths.run_dir})")
        elif not train_missing:
            say(f"subject {subject}: not trained, skipped")
            continue
        else:
            resume = paths.last.is_file()
            say(f"subject {subject}: {'resuming' if resume else 'training'} {paths.run_dir}")
            fold_cfg = dataclasses.replace(
                cfg, name=paths.run_dir.name, data=dataclasses.replace(cfg.data, subject=subject)
            )
            train(fold_cfg, resume=True if resume else None)
        report = score_fold(cfg, paths)
        say(f"subject {subject}: {report['frames']} frames, mean {report['mean_error_mm']:.2f} mm")
    return pool_folds(cfg, subjects)


def fold_checkpoint(paths: FoldPaths) -> Path:
    """The checkpoint a finished fold is scored with: the best on validation, else the last."""
    for path in (paths.best, paths.last):
        if path.is_file():
            return path
    raise HandposeError("finished fold has no checkpoint (checkpoints/best.ckpt or last.ckpt)", paths.run_dir)


def score_fold(cfg: Any, paths: FoldPaths) -> dict[str, Any]:
    """``evaluate --checkpoint`` of one fold on its held-out subject; a report newer than the checkpoint is reused."""
    from handpose.model_evaluation import EvaluationRequest, evaluate_model

    ckpt = fold_checkpoint(paths)
    if paths.report.is_file() and paths.report.stat().st_mtime >= ckpt.stat().st_mtime:
        report = json.loads(paths.report.read_text(encoding="utf-8"))
        if Path(report.get("predictions_uvd", "")).is_file():
            return report
    request = EvaluationRequest(
        model=ckpt,
        dataset="msra",
        root=str(cfg.data.root),
        split="test",
        json_path=paths.report,
        progress=False,
        reader_options={"subject": paths.subject},
    )
    return evaluate_model(request)


def pool_folds(cfg: Any, subjects: Sequence[int]) -> dict[str, Any]:
    """One score over all frames of every scored fold (the published MSRA protocol when all nine are there)."""
    from handpose.datasets import open_dataset
    from handpose.evaluation.checkpoint import score_depth
    from handpose.evaluation.evaluator import get_benchmark, load_ground_truth

    bench = get_benchmark("msra")
    preds, gts, folds, lines = [], [], [], []
    for subject in sorted(subjects):
        paths = fold_paths(cfg, subject)
        if not paths.report.is_file():
            continue
        report = json.loads(paths.report.read_text(encoding="utf-8"))
        uvd_file = Path(report["predictions_uvd"])
        # The public file's u v d come back to mm through the table's intrinsics, as any scorer reads them.
        pred_uvd = load_ground_truth(uvd_file, bench)
        labels = open_dataset("msra", cfg.data.root, "test", subject=subject).labels_xyz()
        if len(labels) != pred_uvd.frames:
            raise HandposeError(
                f"{pred_uvd.frames} predictions but subject {subject} has {len(labels)} frames", uvd_file
            )
        preds.append(pred_uvd.xyz)
        gts.append(labels)
        lines.append(uvd_file.read_text(encoding="utf-8").rstrip("\n"))
        folds.append({"subject": subject, "frames": report["frames"], "mean_error_mm": report["mean_error_mm"]})
    if not folds:
        raise HandposeError("no fold has been scored yet", Path(cfg.out_dir))
    pooled = score_depth(np.concatenate(preds), np.concatenate(gts))
    out_dir = Path(cfg.out_dir)
    uvd_path = out_dir / f"{cfg.name}_folds_uvd.txt"
    write_text_atomic(uvd_path, "\n".join(lines) + "\n")
    missing = [s for s in SUBJECTS if s not in {f["subject"] for f in folds}]
    result = {
        "dataset": "msra",
        "protocol": "leave-one-subject-out, mean over all frames of the scored folds",
        "complete": not missing,
        "missing_subjects": missing,
        "folds": folds,
        **pooled,
        "predictions_uvd": str(uvd_path),
    }
    write_json_atomic(out_dir / f"{cfg.name}_folds.json", result)
    return result
