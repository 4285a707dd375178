"""Batch prediction over files, folders and videos, with JSON, overlay and 3D-skeleton outputs per input."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from handpose.errors import HandposeError
from handpose.io import write_json_atomic


def predict_files(
    model: str | Path,
    inputs: Sequence[str | Path],
    out: str | Path,
    camera: str | None = None,
    center: Sequence[float] | None = None,
    box: Sequence[float] | None = None,
    hand: str = "right",
    hand_scale_mm: float | None = None,
    device: str = "cpu",
    runtime: str = "torch",
    batch_size: int = 16,
    every: int = 1,
    plots: bool = True,
    estimator: Any | None = None,
) -> dict[str, Any]:
    """Predict every input and write ``OUT/NAME.json`` (+ overlay and 3D PNGs) and ``OUT/predictions.json``.

    ``center`` (depth) and ``box``, ``hand``, ``hand_scale_mm`` (RGB) apply to every input; see
    :meth:`handpose.inference.Estimator.predict`.

    Raises:
        HandposeError: A bad model, camera or input (the message names the file).
    """
    from handpose.geometry import get_camera
    from handpose.inference import Estimator
    from handpose.inputs import expand_inputs, iter_frames

    est = estimator or Estimator.load(model, device=device, runtime=runtime)
    if hand_scale_mm is not None:
        est.scale_override_mm = float(hand_scale_mm)
    cam = get_camera(camera) if camera else est._camera(None)
    files = expand_inputs(inputs, est.modality)
    out = Path(out)
    entries: list[dict[str, Any]] = []
    used: set[str] = set()
    pending: list[Any] = []

    def flush() -> None:
        try:
            n = len(pending)
            preds = est.predict_batch([f.image for f in pending], [cam] * n, [center] * n, [box] * n, [hand] * n)
        except HandposeError as exc:
            if len(pending) == 1 or exc.path:
                raise HandposeError(exc.reason, pending[0].source if not exc.path else exc.path) from None
            # Find the frame at fault so the message names its file.
            for frame in pending:
                try:
                    est.predict(frame.image, cam, center, box, hand)
                except HandposeError as inner:
                    raise HandposeError(inner.reason, frame.source) from None
            raise
        for frame, pred in zip(pending, preds):
            name = _unique(frame.name, used)
            record = {"input": str(frame.source), "name": name, "camera": cam.to_dict(), **pred.to_dict()}
            write_json_atomic(out / f"{name}.json", record)
            if plots:
                from handpose.visualize import plot_overlay, plot_skeleton_3d

                plot_overlay(frame.image, pred.uvd, pred.skeleton, out / f"{name}_overlay.png", title=name)
                # Without a hand-scale assumption a photo has no camera-space joints: draw the root-relative ones.
                shape = pred.xyz if pred.has_camera_xyz or pred.root_relative is None else pred.root_relative
                plot_skeleton_3d(shape, pred.skeleton, out / f"{name}_3d.png", title=name)
            entries.append({"input": str(frame.source), "name": name, "json": f"{name}.json"})
        pending.clear()

    with _Bar(len(files)) as advance:
        for frame in iter_frames(files, est.modality, every):
            pending.append(frame)
            if len(pending) >= batch_size:
                flush()
            advance(frame.source)
        if pending:
            flush()
    summary = {"model": str(model), "camera": cam.to_dict(), "predictions": entries}
    write_json_atomic(out / "predictions.json", summary)
    return summary


def _unique(name: str, used: set[str]) -> str:
    candidate, k = name, 1
    while candidate in used:
        k += 1
        candidate = f"{name}_{k}"
    used.add(candidate)
    return candidate


class _Bar:
    """Progress over input files on a terminal (rich); silent otherwise."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.progress: Any = None
        self.task: Any = None
        self.seen: set[Path] = set()

    def __enter__(self) -> Any:
        if sys.stderr.isatty():
            from rich.progress import Progress

            self.progress = Progress()
            self.progress.__enter__()
            self.task = self.progress.add_task("predicting", total=self.total)

        def advance(source: Path) -> None:
            if self.progress is not None and source not in self.seen:
                self.seen.add(source)
                self.progress.update(self.task, advance=1)

        return advance

    def __exit__(self, *exc: Any) -> None:
        if self.progress is not None:
            self.progress.__exit__(*exc)
