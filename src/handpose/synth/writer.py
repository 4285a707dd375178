"""Write a synthetic dataset folder (the ``handpose-synth`` format) with atomic per-frame writes.

Layout::

    OUT/meta.json          {"format": "handpose-synth", "version": 1, "modality", "camera", "skeleton",
                            "count", "seed"}  -- written last: a folder without it is incomplete
    OUT/joints.npy         (N, 21, 3) float32, camera mm (x right, y down, z forward), canonical21
    OUT/visibility.npy     (N, 21) bool
    OUT/handedness.npy     (N,) unicode, "right" / "left"
    OUT/pose.npy           (N, 22) float32 pose parameters (radians, see handpose.synth.hand)
    OUT/shape.npy          (N, 39) float32 shape parameters (see handpose.synth.hand.HandShape.to_array)
    OUT/synth.json         generator settings (occluders, background, noise, depth range, hands, hand)
    OUT/depth/000000.png   uint16 millimetres (0 = missing)   or   OUT/rgb/000000.png  8-bit RGB

Every file goes to a temporary name first and is renamed into place, so an interrupted run never
leaves a half-written frame; the label arrays and ``meta.json`` appear only when every frame is done.
The same arguments give byte-identical files whatever the number of workers.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import shutil
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from handpose import __version__
from handpose.errors import HandposeError
from handpose.geometry import Camera
from handpose.io import write_bytes_atomic, write_json_atomic
from handpose.synth.frame import BACKGROUNDS, MODALITIES, check_hand_model, check_hands, render_frame, resolve_camera

FORMAT = "handpose-synth"
VERSION = 1
LABEL_FILES = ("joints.npy", "visibility.npy", "handedness.npy", "pose.npy", "shape.npy", "synth.json")


def frame_name(index: int) -> str:
    return f"{index:06d}.png"


@dataclass(frozen=True)
class SynthJob:
    """What to render: everything :func:`render_frame` needs besides the frame index."""

    out: Path
    modality: str
    camera: Camera
    seed: int
    occluders: bool = False
    background: str = "mixed"
    noise: bool = True
    depth_range: tuple[float, float] = (200.0, 900.0)
    hands: str = "both"
    hand_model: str = "mesh"


def encode_png(image: np.ndarray) -> bytes:
    """Lossless PNG bytes of a uint16 depth map or an RGB uint8 image."""
    import cv2

    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".png", image)
    if not ok:  # pragma: no cover - cv2 only fails on unsupported dtypes
        raise HandposeError("PNG encoding failed")
    return buf.tobytes()


def npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def render_and_write(job: SynthJob, index: int) -> dict[str, Any]:
    """Render frame ``index``, write its PNG atomically and return its labels."""
    image, labels = render_frame(
        job.seed,
        index,
        job.modality,
        job.camera,
        occluders=job.occluders,
        background=job.background,
        noise=job.noise,
        depth_range=job.depth_range,
        hands=job.hands,
        hand_model=job.hand_model,
    )
    write_bytes_atomic(job.out / job.modality / frame_name(index), encode_png(image))
    return {k: labels[k] for k in ("joints_xyz", "visibility", "handedness", "pose", "shape")}


_WORKER_JOB: SynthJob | None = None


def _init_worker(job: SynthJob) -> None:
    global _WORKER_JOB
    _WORKER_JOB = job
    # Ctrl-C goes to the whole process group: let the parent stop the pool (and tidy up) instead of
    # every worker printing its own traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _worker_frame(index: int) -> dict[str, Any]:
    assert _WORKER_JOB is not None
    return render_and_write(_WORKER_JOB, index)


def prepare_output(out: str | os.PathLike, overwrite: bool) -> Path:
    """Check that ``out`` can take a new dataset: empty (or ``overwrite``) and writable."""
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise HandposeError("output exists and is not a folder", path)
    if path.is_dir() and any(path.iterdir()):
        if not overwrite:
            raise HandposeError("output folder is not empty (pass --overwrite to replace its synthetic data)", path)
        # Drop the completion marker first, so the folder never looks complete while it is rewritten.
        (path / "meta.json").unlink(missing_ok=True)
        for name in LABEL_FILES:
            (path / name).unlink(missing_ok=True)
        for sub in MODALITIES:
            if (path / sub).is_dir():
                shutil.rmtree(path / sub)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".handpose-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise HandposeError(f"cannot write the output folder: {exc.strerror}", path) from None
    return path


def prepare_job(
    out: str | os.PathLike,
    count: int,
    seed: int = 0,
    modality: str = "depth",
    camera: str | Camera | None = "nyu",
    occluders: bool = False,
    background: str = "mixed",
    noise: bool = True,
    depth_range: tuple[float, float] = (200.0, 900.0),
    workers: int = 1,
    overwrite: bool = False,
    hands: str = "both",
    hand_model: str = "mesh",
) -> SynthJob:
    """Check every argument and the output folder; :class:`HandposeError` (one line) for the first problem."""
    if modality not in MODALITIES:
        raise HandposeError(f"unknown modality {modality!r}; expected depth or rgb")
    if background not in BACKGROUNDS:
        raise HandposeError(f"unknown background {background!r}; expected one of {', '.join(BACKGROUNDS)}")
    if int(count) <= 0:
        raise HandposeError(f"--count must be a positive number of frames, got {count}")
    if int(workers) <= 0:
        raise HandposeError(f"--workers must be at least 1, got {workers}")
    if not (0.0 < depth_range[0] < depth_range[1]):
        raise HandposeError(f"depth range must satisfy 0 < near < far, got {depth_range}")
    check_hands(hands)
    check_hand_model(hand_model)
    cam = resolve_camera(camera, modality)
    path = prepare_output(out, overwrite)
    near, far = float(depth_range[0]), float(depth_range[1])
    return SynthJob(
        path, modality, cam, int(seed), bool(occluders), background, bool(noise), (near, far), hands, hand_model
    )


def write_synthetic(
    out: str | os.PathLike,
    count: int,
    seed: int = 0,
    modality: str = "depth",
    camera: str | Camera | None = "nyu",
    occluders: bool = False,
    background: str = "mixed",
    noise: bool = True,
    depth_range: tuple[float, float] = (200.0, 900.0),
    workers: int = 1,
    overwrite: bool = False,
    on_frame: Callable[[int], None] | None = None,
    hands: str = "both",
    hand_model: str = "mesh",
) -> Path:
    """Render ``count`` frames into the folder ``out``.

    Args:
        out: Output folder (created; must be empty unless ``overwrite``).
        count: Number of frames (> 0).
        seed: Run seed; frame ``i`` depends only on ``(seed, i)``.
        modality: ``"depth"`` or ``"rgb"``.
        camera: Preset name, ``"fx,fy,cx,cy[,w,h]"`` or a :class:`Camera`.
        occluders: Add occluders to most frames.
        background: ``"mixed"``, ``"empty"`` or ``"cluttered"``.
        noise: Depth sensor effects.
        depth_range: Range of the hand centre's depth, mm.
        workers: Processes rendering in parallel (1 = in this process).
        overwrite: Replace the synthetic data already in ``out``.
        on_frame: Called with the number of frames finished after each one (progress bars).
        hands: ``"both"`` (left or right, even odds), ``"right"`` or ``"left"``.
        hand_model: ``"mesh"`` (skinned hand mesh, default) or ``"capsule"``.

    Returns:
        The output folder.
    """
    job = prepare_job(
        out,
        count,
        seed,
        modality,
        camera,
        occluders,
        background,
        noise,
        depth_range,
        workers,
        overwrite,
        hands,
        hand_model,
    )
    return run_job(job, int(count), int(workers), on_frame)


def run_job(job: SynthJob, count: int, workers: int = 1, on_frame: Callable[[int], None] | None = None) -> Path:
    """Render and write every frame of a prepared job, then the labels and (last) ``meta.json``."""
    path, modality, cam = job.out, job.modality, job.camera
    labels = []
    try:
        for done, frame_labels in enumerate(_render_all(job, count, workers), start=1):
            labels.append(frame_labels)
            if on_frame is not None:
                on_frame(done)
    except BaseException:
        # Workers killed mid-write can leave temporaries behind; finished frames stay, meta.json does not.
        for tmp in (path / modality).glob(".*.tmp"):
            tmp.unlink(missing_ok=True)
        raise
    write_bytes_atomic(path / "joints.npy", npy_bytes(np.stack([x["joints_xyz"] for x in labels]).astype(np.float32)))
    write_bytes_atomic(path / "visibility.npy", npy_bytes(np.stack([x["visibility"] for x in labels]).astype(bool)))
    write_bytes_atomic(path / "handedness.npy", npy_bytes(np.array([x["handedness"] for x in labels], dtype="<U5")))
    write_bytes_atomic(path / "pose.npy", npy_bytes(np.stack([x["pose"] for x in labels]).astype(np.float32)))
    write_bytes_atomic(path / "shape.npy", npy_bytes(np.stack([x["shape"] for x in labels]).astype(np.float32)))
    settings = {
        "camera_name": cam.name,
        "occluders": job.occluders,
        "background": job.background,
        "noise": job.noise,
        "depth_range": list(job.depth_range),
        "hands": job.hands,
        "hand": job.hand_model,
        "generator": f"handpose {__version__}",
    }
    write_json_atomic(path / "synth.json", settings)
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "modality": modality,
        "camera": {k: getattr(cam, k) for k in ("fx", "fy", "cx", "cy", "width", "height")},
        "skeleton": "canonical21",
        "count": int(count),
        "seed": int(job.seed),
    }
    write_json_atomic(path / "meta.json", meta)
    return path


def _render_all(job: SynthJob, count: int, workers: int) -> Iterator[dict[str, Any]]:
    if workers == 1 or count < 2:
        for i in range(count):
            yield render_and_write(job, i)
        return
    ctx = multiprocessing.get_context("fork") if hasattr(os, "fork") else multiprocessing.get_context()
    with ctx.Pool(min(workers, count), initializer=_init_worker, initargs=(job,)) as pool:
        yield from pool.imap(_worker_frame, range(count), chunksize=max(1, min(32, count // (8 * workers))))


def read_meta(root: str | os.PathLike) -> dict[str, Any]:
    """``meta.json`` of a synthetic folder, checked; :class:`HandposeError` naming the file otherwise."""
    path = Path(root) / "meta.json"
    if not path.is_file():
        raise HandposeError("no meta.json: not a handpose-synth folder, or its generation did not finish", path)
    from handpose.safe_read import read_json  # bounded size and nesting

    meta = read_json(path, "json", "meta.json")
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise HandposeError(
            f"not a {FORMAT} meta.json (format is {meta.get('format') if isinstance(meta, dict) else None!r})", path
        )
    if meta.get("version") != VERSION:
        raise HandposeError(f"unsupported {FORMAT} version {meta.get('version')!r} (this reader knows {VERSION})", path)
    if meta.get("modality") not in MODALITIES:
        raise HandposeError(f"modality must be depth or rgb, got {meta.get('modality')!r}", path)
    if meta.get("skeleton") != "canonical21":
        raise HandposeError(f"skeleton must be canonical21, got {meta.get('skeleton')!r}", path)
    count = meta.get("count")
    if not isinstance(count, int) or isinstance(count, bool) or not 0 < count <= 10_000_000:
        raise HandposeError(f"count must be a positive integer (at most 10000000), got {count!r}", path)
    camera = meta.get("camera")
    if not isinstance(camera, dict):
        raise HandposeError("camera must be an object with fx, fy, cx, cy, width, height", path)
    try:
        cam = Camera.from_dict({**camera, "name": "synthetic"})
    except HandposeError as exc:
        raise HandposeError(exc.reason, path) from None
    if cam.width <= 0 or cam.height <= 0:
        raise HandposeError("camera width and height must be positive", path)
    return meta
