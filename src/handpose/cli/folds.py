"""``handpose folds --config FILE [--subjects 0-8] [key=value ...]``: MSRA's nine leave-one-subject-out folds."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "folds",
        help="train and score MSRA's leave-one-subject-out folds, pooled over all frames",
        description=(
            "Run the folds of MSRA's leave-one-subject-out protocol from one config: fold K trains on the other "
            "eight subjects (run OUT/NAME_subjectK, data.subject=K) and is scored on subject K with evaluate "
            "--checkpoint. Finished folds are kept, interrupted ones resumed from checkpoints/last.ckpt. The "
            "folds' prediction files are then concatenated in subject order and scored together: the published "
            "MSRA number is this mean over all 76,375 frames. Writes OUT/NAME_folds.json and OUT/NAME_folds_uvd.txt."
        ),
    )
    p.add_argument("--config", required=True, metavar="FILE", help="YAML run config of one fold (data.dataset: msra)")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides, e.g. data.root=/data/msra")
    p.add_argument("--out", metavar="DIR", help="parent folder of the fold runs (config key out_dir)")
    p.add_argument("--name", help="run name prefix (config key name)")
    p.add_argument("--subjects", metavar="LIST", help="folds to run, e.g. 0-8 (default) or 0,4")
    p.add_argument(
        "--score-only",
        action="store_true",
        help="train nothing: score and pool the folds already trained",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from handpose.folds import parse_subjects
    from handpose.training.config import load_config

    subjects = parse_subjects(args.subjects)
    overrides = list(args.overrides)
    if args.out:
        overrides.append(f"out_dir={args.out}")
    if args.name:
        overrides.append(f"name={args.name}")
    cfg = load_config(args.config, overrides)
    from handpose.folds import run_folds
    from handpose.training.cpu import configure_cpu_threads

    configure_cpu_threads()
    result = run_folds(cfg, subjects, train_missing=not args.score_only, log=print)
    scope = "all nine folds" if result["complete"] else f"folds {[f['subject'] for f in result['folds']]} only"
    print(
        f"MSRA, {scope}: {result['frames']} frames, mean {result['mean_error_mm']:.2f} mm, "
        f"median {result['median_error_mm']:.2f} mm"
    )
    print(f"predictions_uvd: {result['predictions_uvd']}")
    return 0
