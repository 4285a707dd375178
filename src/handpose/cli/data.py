"""``handpose data``: inspect a dataset on disk through its registered reader.

- ``handpose data check --dataset NAME --root DIR [--split S] [--json OUT]`` reads every label and a
  sample of images, and reports frame counts, joint ranges, missing and unreadable files. Exit 0 when
  everything read, 1 when files are missing or unreadable, 2 when the layout is wrong (the message
  says what was expected where).
- ``handpose data show --dataset NAME --root DIR [--split S] [--count N] --out DIR`` writes PNG crops
  with the joints and bones drawn on them.
- ``handpose data cache --dataset NAME --root DIR [--split S] --out DIR`` decodes a depth split once
  into a hand-region cache (:mod:`handpose.datasets.depthcache`), read back as ``depth_cache``.
- ``handpose data list`` lists the registered datasets.

Both work for any registered reader (depth or RGB, real or synthetic); reader-specific arguments go
through ``--option KEY=VALUE``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from handpose.cli.numbers import MAX_CUBE_MM, MAX_FRAMES, MAX_PICTURE_SIDE, real, whole
from handpose.errors import HandposeError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "data",
        help="check a dataset on disk or draw labelled crops from it",
        description="Inspect a dataset through its reader: check labels and files, or draw crops with joints.",
    )
    sub = parser.add_subparsers(dest="data_command", metavar="COMMAND")
    sub.required = True

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--dataset", required=True, help="registered dataset name (see 'handpose data list')")
        p.add_argument("--root", required=True, type=Path, help="dataset root folder, laid out as published")
        p.add_argument("--split", default="train", help="split to read (default: train)")
        p.add_argument(
            "--option",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="reader argument, e.g. subject=3 (MSRA), joints=nyu14 (NYU), camera=icvl_eval; repeatable",
        )

    check = sub.add_parser("check", help="read all labels and a sample of images; report problems")
    common(check)
    check.add_argument(
        "--images", type=whole(0, MAX_FRAMES), default=32, help="images to decode, spread over the split (default 32)"
    )
    check.add_argument("--json", type=Path, help="also write the report as JSON here")
    check.set_defaults(func=_within_root(run_check))

    show = sub.add_parser("show", help="write PNG crops with joints drawn")
    common(show)
    show.add_argument(
        "--count", type=whole(1, 10_000), default=8, help="frames to draw, spread over the split (default 8)"
    )
    show.add_argument("--out", required=True, type=Path, help="output folder")
    show.add_argument("--size", type=whole(16, MAX_PICTURE_SIDE), default=256, help="crop side in pixels (default 256)")
    show.set_defaults(func=_within_root(run_show))

    cache = sub.add_parser("cache", help="decode a depth split once into a hand-region cache for fast training")
    common(cache)
    cache.add_argument("--out", required=True, type=Path, help="cache root (the split goes to OUT/SPLIT/)")
    cache.add_argument(
        "--cube", type=real(0, MAX_CUBE_MM, above=True), help="largest cube in mm (default: the dataset's largest)"
    )
    cache.add_argument("--margin", type=real(1, 10), default=1.75, help="patch side / cube (default 1.75)")
    cache.add_argument("--patch-size", type=whole(16, 1024), default=208, help="patch side in pixels (default 208)")
    cache.add_argument("--center", default="gt", choices=("gt", "com", "given"), help="patch centre (default gt)")
    cache.set_defaults(func=_within_root(run_cache))

    listing = sub.add_parser("list", help="list the registered datasets")
    listing.set_defaults(func=run_list)


def _within_root(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """``run`` with every file read from under ``--root`` held inside it (no symlink out of the dataset)."""

    def rooted(args: argparse.Namespace) -> int:
        from handpose.safe_read import dataset_root

        with dataset_root(args.root):
            return run(args)

    return rooted


def parse_options(items: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` strings -> keyword arguments (ints, floats and true/false/none converted)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.isidentifier():
            raise HandposeError(f"--option expects KEY=VALUE, got {item!r}")
        value: Any = raw
        lowered = raw.lower()
        if lowered in ("true", "false"):
            value = lowered == "true"
        elif lowered == "none":
            value = None
        else:
            for cast in (int, float):
                try:
                    value = cast(raw)
                    break
                except ValueError:
                    pass
        out[key] = value
    return out


def _open(args: argparse.Namespace) -> Any:
    from handpose.datasets import open_dataset

    options = parse_options(args.option)
    try:
        return open_dataset(args.dataset, args.root, args.split, **options)
    except TypeError as exc:
        raise HandposeError(f"dataset {args.dataset!r} does not take these options: {exc}") from None


def _spread(n: int, count: int) -> list[int]:
    import numpy as np

    if n <= 0 or count <= 0:
        return []
    return sorted(set(np.linspace(0, n - 1, min(count, n)).round().astype(int).tolist()))


def run_cache(args: argparse.Namespace) -> int:
    from handpose.datasets.depthcache import build_depth_cache
    from handpose.transforms.depth import default_cube

    reader = _open(args)
    cube = args.cube
    if cube is None:
        default = default_cube(reader.name, args.split)
        cube = float(default[1]) if isinstance(default, tuple) else float(default)
    folder = build_depth_cache(
        reader, args.out, cube=cube, margin=args.margin, patch_size=args.patch_size, center=args.center
    )
    print(f"cached {len(reader)} frames of {reader.name} {reader.split} in {folder}")
    print(f"read it with: --dataset depth_cache --root {args.out} --split {reader.split}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    from handpose.datasets import dataset_names, get_dataset_class

    for name in dataset_names():
        cls = get_dataset_class(name)
        print(f"{name:12s} {cls.modality:5s} {cls.skeleton:12s} splits: {', '.join(cls.splits)}")
    return 0


def build_report(reader: Any, images: int, progress: bool = True) -> dict[str, Any]:
    """Everything ``data check`` reports, as a JSON-ready dict."""
    import numpy as np

    n = len(reader)
    report: dict[str, Any] = {
        "dataset": reader.name,
        "split": reader.split,
        "root": str(reader.root),
        "modality": reader.modality,
        "skeleton": str(reader.skeleton),
        "frames": n,
        "joints": None,
        "frames_with_unknown_joints": None,
        "joint_range_mm": None,
        "missing_files": 0,
        "missing_examples": [],
        "images_checked": 0,
        "unreadable": [],
        "image_stats": None,
    }
    try:
        labels = np.asarray(reader.labels_xyz(), dtype=np.float64)
    except NotImplementedError:
        labels = None
    if labels is not None and labels.ndim == 3 and len(labels):
        finite = np.all(np.isfinite(labels), axis=-1)
        report["joints"] = int(labels.shape[1])
        report["frames_with_unknown_joints"] = int((~finite).any(axis=1).sum())
        if finite.any():
            pts = labels[finite]
            report["joint_range_mm"] = {
                "min": pts.min(axis=0).round(2).tolist(),
                "max": pts.max(axis=0).round(2).tolist(),
            }
    image_path = getattr(reader, "image_path", None)
    if callable(image_path) and n:
        missing = 0
        for i in _progress(range(n), "checking files", progress and n > 20000):
            path = Path(image_path(i))
            if not path.is_file():
                missing += 1
                if len(report["missing_examples"]) < 10:
                    report["missing_examples"].append(str(path))
        report["missing_files"] = missing
    lo, hi, shape = np.inf, -np.inf, None
    for i in _spread(n, images):
        if callable(image_path) and not Path(image_path(i)).is_file():
            continue  # already counted as missing
        try:
            sample = reader[i]
        except HandposeError as exc:
            report["unreadable"].append(str(exc))
            continue
        report["images_checked"] += 1
        if report["joints"] is None:
            report["joints"] = int(np.asarray(sample.joints_xyz).shape[0])
        img = np.asarray(sample.image)
        shape = list(img.shape)
        valid = img[img > 0] if sample.modality == "depth" else img
        if valid.size:
            lo, hi = min(lo, float(valid.min())), max(hi, float(valid.max()))
    if report["images_checked"]:
        report["image_stats"] = {
            "shape": shape,
            "min": None if lo == np.inf else lo,
            "max": None if hi == -np.inf else hi,
        }
    return report


def _progress(iterable: Any, label: str, enabled: bool) -> Any:
    if not enabled:
        return iterable
    from rich.progress import track

    return track(iterable, description=label, transient=True)


def _print_report(report: dict[str, Any]) -> None:
    print(f"dataset {report['dataset']} split {report['split']} ({report['modality']}, {report['skeleton']})")
    print(f"  frames: {report['frames']}   joints per frame: {report['joints']}")
    if report["frames_with_unknown_joints"]:
        print(f"  frames with unknown (NaN) joints: {report['frames_with_unknown_joints']}")
    if report["joint_range_mm"]:
        lo, hi = report["joint_range_mm"]["min"], report["joint_range_mm"]["max"]
        print("  joint range mm: " + "  ".join(f"{a} [{lo[k]:.1f}, {hi[k]:.1f}]" for k, a in enumerate("xyz")))
    print(f"  missing image files: {report['missing_files']}")
    for path in report["missing_examples"]:
        print(f"    missing: {path}")
    stats = report["image_stats"]
    print(f"  images decoded: {report['images_checked']}, unreadable: {len(report['unreadable'])}")
    if stats:
        unit = " mm (valid pixels)" if report["modality"] == "depth" else ""
        print(f"  image shape {stats['shape']}, values [{stats['min']}, {stats['max']}]{unit}")
    for line in report["unreadable"]:
        print(f"    unreadable: {line}")


def run_check(args: argparse.Namespace) -> int:
    from handpose.io import write_json_atomic

    if args.images < 0:
        raise HandposeError("--images must be 0 or more")
    reader = _open(args)
    report = build_report(reader, args.images)
    _print_report(report)
    if args.json is not None:
        write_json_atomic(args.json, report)
    return 1 if report["missing_files"] or report["unreadable"] else 0


# BGR per finger (thumb, index, middle, ring, little); palm bones white.
_FINGER_COLOURS = {
    "thumb": (60, 60, 230),
    "index": (60, 200, 60),
    "middle": (230, 160, 40),
    "ring": (40, 200, 230),
    "little": (200, 60, 200),
}


def _draw(canvas: Any, points: Any, skel: Any, visible: Any) -> Any:
    import cv2
    import numpy as np

    h, w = canvas.shape[:2]
    pts = np.asarray(points, dtype=np.float64)
    ok = np.isfinite(pts).all(axis=1) & np.asarray(visible, bool)
    for a, b in skel.bones:
        if ok[a] and ok[b]:
            pa = (round(float(pts[a, 0])), round(float(pts[a, 1])))
            pb = (round(float(pts[b, 0])), round(float(pts[b, 1])))
            colour = _FINGER_COLOURS.get(skel.joints[b].finger or "", (230, 230, 230))
            cv2.line(canvas, pa, pb, colour, 1, cv2.LINE_AA)
    radius = max(2, round(min(h, w) / 100))
    for j in np.flatnonzero(ok):
        cv2.circle(canvas, (round(float(pts[j, 0])), round(float(pts[j, 1]))), radius, (0, 0, 255), -1, cv2.LINE_AA)
    return canvas


def render_sample(sample: Any, size: int, cube: float) -> Any:
    """A ``size`` x ``size`` BGR picture of the hand crop with joints and bones drawn."""
    import cv2
    import numpy as np

    from handpose import skeleton as skeletons
    from handpose.codecs.heatmap import uv_to_pixels

    skel = skeletons.get(sample.skeleton)
    joints = np.asarray(sample.joints_xyz, dtype=np.float64)
    visible = np.asarray(sample.visibility, bool) & np.isfinite(joints).all(axis=1)
    if sample.modality == "depth":
        from handpose.transforms.depth import CenterMode, DepthCropTransform

        mode: CenterMode
        if visible.any():
            mode = "gt"
        elif sample.center_xyz is not None:
            mode = "given"
        else:
            mode = "detect"
        center_joint = None
        if mode == "gt" and not visible[skel.root_index]:
            center_joint = int(np.flatnonzero(visible)[0])
        out = DepthCropTransform(out_size=size, cube=cube, center=mode, center_joint=center_joint)(sample)
        depth = out["image"][0]
        grey = np.where(depth < 1, 255 - (depth + 1) * 100, 0).clip(0, 255).astype(np.uint8)
        canvas = cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)
        pts = uv_to_pixels(out["joints_crop"][:, :2].astype(np.float64), size)
        return _draw(canvas, pts, skel, out["visible"])
    # RGB: a square around the projected joints (or the whole image when none are known).
    img = np.asarray(sample.image)
    uv = np.asarray(sample.joints_uvd, dtype=np.float64)[:, :2]
    if visible.any():
        lo, hi = uv[visible].min(axis=0), uv[visible].max(axis=0)
        centre, half = (lo + hi) / 2, max(float((hi - lo).max()) * 0.75, 16.0)
    else:
        centre, half = np.array([img.shape[1] / 2, img.shape[0] / 2]), max(img.shape[:2]) / 2
    scale = size / (2 * half)
    m = np.array([[scale, 0, size / 2 - scale * centre[0] - 0.5], [0, scale, size / 2 - scale * centre[1] - 0.5]])
    canvas = cv2.warpAffine(np.ascontiguousarray(img[:, :, ::-1]), m, (size, size), flags=cv2.INTER_LINEAR)
    pts = uv * scale + (m[:, 2] + 0.0)
    return _draw(canvas, pts, skel, visible)


def run_show(args: argparse.Namespace) -> int:
    import cv2

    from handpose.io import write_bytes_atomic
    from handpose.transforms.depth import default_cube

    if args.count < 1 or args.size < 16:
        raise HandposeError("--count must be at least 1 and --size at least 16")
    reader = _open(args)
    cube = default_cube(reader.name, args.split)
    cube = float(cube[1]) if isinstance(cube, tuple) else float(cube)
    written = 0
    for i in _spread(len(reader), args.count):
        sample = reader[i]
        picture = render_sample(sample, args.size, cube)
        ok, buf = cv2.imencode(".png", picture)
        if not ok:  # pragma: no cover - OpenCV encodes any uint8 BGR array
            raise HandposeError("cannot encode PNG")
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in sample.frame_id)[-80:]
        path = args.out / f"{reader.name}_{args.split}_{i:07d}_{safe}.png"
        write_bytes_atomic(path, buf.tobytes())
        written += 1
    print(f"wrote {written} crops to {args.out}")
    return 0
