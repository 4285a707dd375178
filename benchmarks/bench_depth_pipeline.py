"""Depth data pipeline throughput: 96x96 crops per second on one core from 640x480 NYU-format frames.

Writes synthetic frames in NYU's on-disk format (depth packed in RGB PNGs as ``(G << 8) | B``, labels
in ``joint_data.mat``) to a temporary folder: a hand of 36 joint discs in front of a slanted, noisy
wall, so the PNGs compress like real depth frames rather than like empty images. Then times,
single-threaded (OpenCV and BLAS limited to one thread), with NYU's training settings (cube sampled
from 250-300 mm, reference augmentation, 96x96 output):

- ``load + centre + crop + normalise + augment``: ``NYUReader[i]`` (PNG decode, unpacking) followed by
  ``DepthCropTransform`` — the whole per-sample cost of a data loader worker;
- ``PNG load only``: ``NYUReader[i]``;
- ``centre + crop + normalise + augment``: the transform on frames already in memory;
- ``cache load + centre + crop + normalise + augment``: the same from the hand-region cache
  (``handpose data cache``: each frame decoded once, a 208x208 uint16 patch kept, memory-mapped),
  which is how training reads a large depth set.

each with the ground-truth centre (``center="gt"``) and with DeepPrior++'s iterative centre of mass
(``center="com"``). Rewrites the "## Depth data pipeline" section of ``docs/benchmarks.md``
(``--no-docs`` to skip).

Usage: ``python benchmarks/bench_depth_pipeline.py [--frames 48] [--repeats 3]``
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from _docs import cpu_name, replace_section

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import scipy.io  # noqa: E402

from handpose.datasets import open_dataset  # noqa: E402
from handpose.datasets.depthcache import build_depth_cache  # noqa: E402
from handpose.datasets.imageio import encode_nyu_depth  # noqa: E402
from handpose.geometry import CAMERAS, xyz_to_uvd  # noqa: E402
from handpose.io import write_bytes_atomic  # noqa: E402
from handpose.transforms.depth import DepthCropTransform  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs" / "benchmarks.md"
SECTION = "## Depth data pipeline (crops/s per core)"


def synthetic_frame(rng: np.random.Generator, joints_xyz: np.ndarray) -> np.ndarray:
    """A 640x480 depth frame (mm): a slanted wall with sensor noise and holes, and the hand in front."""
    cam = CAMERAS["nyu"]
    yy, xx = np.mgrid[0:480, 0:640]
    depth = 1400.0 + 0.6 * xx + 0.25 * yy + rng.normal(0, 3, (480, 640))
    depth[rng.random((480, 640)) < 0.02] = 0  # missing pixels
    uvd = xyz_to_uvd(joints_xyz, cam)
    for u, v, d in uvd:
        radius = max(int(12 * 600 / d), 3)
        cv2.circle(depth, (round(float(u)), round(float(v))), radius, float(d), -1)
    return depth.astype(np.float32)


def write_dataset(root: Path, frames: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    cam = CAMERAS["nyu"]
    centers = np.stack([rng.uniform(-120, 120, frames), rng.uniform(-80, 80, frames), rng.uniform(550, 900, frames)], 1)
    xyz = centers[:, None, :] + rng.normal(0, 40, (frames, 36, 3))
    xyz_file = xyz.copy()
    xyz_file[..., 1] *= -1
    (root / "train").mkdir(parents=True)
    scipy.io.savemat(
        str(root / "train/joint_data.mat"),
        {"joint_xyz": xyz_file[None], "joint_uvd": xyz_to_uvd(xyz, cam)[None]},
    )
    for i in range(frames):
        ok, buf = cv2.imencode(".png", encode_nyu_depth(synthetic_frame(rng, xyz[i])))
        assert ok
        write_bytes_atomic(root / f"train/depth_1_{i + 1:07d}.png", buf.tobytes())


def best_rate(fn, count: int, repeats: int) -> tuple[float, float]:
    """Items per CPU second and per wall second, each the best of ``repeats`` runs of ``fn`` (``count`` items).

    CPU time of this (single-threaded) process is what one core spends; wall time also counts the
    time the process waited for a core on a shared machine.
    """
    best_cpu = best_wall = float("inf")
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        best_cpu = min(best_cpu, time.process_time() - cpu)
        best_wall = min(best_wall, time.perf_counter() - wall)
    return count / best_cpu, count / best_wall


def run(frames: int, repeats: int) -> list[tuple[str, str, tuple[float, float]]]:
    cv2.setNumThreads(1)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_dataset(root, frames)
        reader = open_dataset("nyu", root, "train")
        samples = [reader[i] for i in range(frames)]
        png_bytes = sum((root / fid).stat().st_size for fid in reader.frame_ids) / frames

        def load() -> None:
            for i in range(frames):
                reader[i]

        rows.append(("PNG load only", "-", best_rate(load, frames, repeats)))
        build_depth_cache(reader, root / "cache", cube=300.0, progress=False)
        cached = open_dataset("depth_cache", root / "cache", "train")
        for center in ("gt", "com"):
            transform = DepthCropTransform.for_dataset("nyu", "train", center=center, out_size=96)
            rng = np.random.default_rng(1)

            def full(transform: DepthCropTransform = transform, rng: np.random.Generator = rng) -> None:
                for i in range(frames):
                    transform(reader[i], rng)

            def crop_only(transform: DepthCropTransform = transform, rng: np.random.Generator = rng) -> None:
                for _ in range(4):
                    for s in samples:
                        transform(s, rng)

            rows.append(("load + centre + crop + normalise + augment", center, best_rate(full, frames, repeats)))

            def from_cache(transform: DepthCropTransform = transform, rng: np.random.Generator = rng) -> None:
                for _ in range(4):
                    for i in range(frames):
                        transform(cached[i], rng)

            rows.append(("centre + crop + normalise + augment", center, best_rate(crop_only, 4 * frames, repeats)))
            rows.append(
                ("cache load + centre + crop + normalise + augment", center, best_rate(from_cache, 4 * frames, repeats))
            )
    print(f"mean PNG size {png_bytes / 1024:.0f} KiB")
    return rows


def machine() -> str:
    cpu = cpu_name()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{cpu}, {os.cpu_count()} logical CPUs, load average {load:.1f} at start, Python {platform.python_version()}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    where = machine()
    rows = run(args.frames, args.repeats)
    table = ["| stage | centre | crops per CPU-second (one core) | crops per wall-second |", "|---|---|---|---|"]
    table += [f"| {stage} | {center} | {cpu:,.0f} | {wall:,.0f} |" for stage, center, (cpu, wall) in rows]
    print("\n".join(table))
    if not args.no_docs:
        command = f"python benchmarks/bench_depth_pipeline.py --frames {args.frames} --repeats {args.repeats}"
        body = "\n".join(
            [
                f"Command: `{command}`",
                "",
                f"Machine: {where}.",
                "",
                f"{args.frames} synthetic 640x480 frames in NYU's format (packed-RGB PNG, `joint_data.mat`), "
                "96x96 output, NYU training settings (cube 250-300 mm, reference augmentation), one thread; "
                f"best of {args.repeats} runs. Target: 2,000 crops/s per core for the whole pipeline. "
                "Per core = crops per CPU-second of the single-threaded process; the wall-clock rate is "
                "lower when the machine is shared (see the load average).",
                "",
                *table,
                "",
                "Meeting the target: "
                + (
                    "; ".join(f"{stage} ({center}): {cpu:,.0f}" for stage, center, (cpu, _) in rows if cpu >= 2000)
                    or "no stage"
                )
                + ". PNG decoding of a 640x480 frame costs more than the whole crop, so the full rate from PNG "
                "files stays far below the target; `handpose data cache` decodes each frame once and the cached "
                "pipeline is what training should use.",
            ]
        )
        replace_section(SECTION, body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
