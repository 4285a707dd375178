"""``handpose synth``: render a synthetic hand dataset folder (depth or RGB) with exact labels."""

from __future__ import annotations

import argparse

from handpose.cli.numbers import MAX_FRAMES, whole


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "synth",
        help="render a synthetic hand dataset (depth or RGB) with exact labels",
        description=(
            "Render articulated synthetic hands to a handpose-synth folder: meta.json, joints.npy, "
            "visibility.npy and depth/NNNNNN.png (uint16 mm) or rgb/NNNNNN.png. The same seed gives "
            "byte-identical output."
        ),
    )
    parser.add_argument("out", help="output folder (created; must be empty unless --overwrite)")
    parser.add_argument("--modality", choices=("depth", "rgb"), default="depth", help="image type (default: depth)")
    parser.add_argument(
        "--camera",
        default=None,
        help="camera preset (nyu, icvl, msra, hands2017, ...) or fx,fy,cx,cy[,width,height] "
        "(default: nyu for depth, a 256x256 camera for rgb)",
    )
    parser.add_argument("--count", type=whole(1, MAX_FRAMES), default=1000, help="number of frames (default: 1000)")
    parser.add_argument("--seed", type=whole(0, 2**63 - 1), default=0, help="run seed (default: 0)")
    parser.add_argument("--occluders", action="store_true", help="add occluders (in front, near, or held)")
    parser.add_argument(
        "--background",
        choices=("mixed", "empty", "cluttered"),
        default="mixed",
        help="background: empty, cluttered (depth: walls, tables, blobs; rgb: a surface behind the hand) "
        "or mixed (default)",
    )
    parser.add_argument("--no-noise", action="store_true", help="exact depth without sensor effects")
    parser.add_argument(
        "--hands",
        choices=("both", "right", "left"),
        default="both",
        help="which hands: both (even odds, default), or only right or only left ones",
    )
    parser.add_argument(
        "--hand",
        choices=("mesh", "capsule"),
        default="mesh",
        help="hand model: mesh (skinned hand mesh, default) or capsule (rounded cones)",
    )
    parser.add_argument("--workers", type=whole(1, 256), default=1, help="rendering processes (default: 1)")
    parser.add_argument("--overwrite", action="store_true", help="replace synthetic data already in OUT")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from handpose.synth.writer import prepare_job, run_job

    job = prepare_job(
        args.out,
        args.count,
        seed=args.seed,
        modality=args.modality,
        camera=args.camera,
        occluders=args.occluders,
        background=args.background,
        noise=not args.no_noise,
        workers=args.workers,
        overwrite=args.overwrite,
        hands=args.hands,
        hand_model=args.hand,
    )
    with Progress(TextColumn("synth"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()) as progress:
        task = progress.add_task("frames", total=args.count)
        out = run_job(job, args.count, args.workers, on_frame=lambda done: progress.update(task, completed=done))
    print(f"wrote {args.count} {args.modality} frames to {out}")
    return 0
