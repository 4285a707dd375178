"""``handpose evaluate``: score prediction files against a depth benchmark's ground truth.

Two modes share this verb:

- prediction files: ``handpose evaluate PRED [PRED ...] --dataset {icvl,nyu,msra} --gt FILE``
  (:mod:`handpose.evaluation.evaluator`);
- a trained model: ``handpose evaluate --checkpoint CKPT --dataset NAME --root DIR [--split test]``,
  handled by :func:`handpose.model_evaluation.evaluate_model`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from handpose.cli.numbers import whole
from handpose.errors import HandposeError

if TYPE_CHECKING:
    from handpose.evaluation.evaluator import GroundTruth, MethodResult

EXAMPLES = """\
examples:
  handpose evaluate results/nyu/*.txt --dataset nyu --gt nyu_test_groundtruth_label.txt
  handpose evaluate CVPR18_ICVL_denseReg_ori.txt CVPR18_ICVL_HandPointNet_ori.mat \\
      --dataset icvl --gt icvl_test_groundtruth_label.txt --json scores.json --plot figures/
  handpose evaluate IJCV16_NYU_LieX_ori.txt --dataset nyu --gt nyu_test_groundtruth_label.txt \\
      --joint-order 11,10,9,8,7,6,5,4,3,2,1,12,13,0

formats (--format auto): uvd text (J*3 numbers per line), xyz text with a leading image-name column,
MATLAB .mat, .npy/.npz. Plain numbers whose coordinates are not stated, and the y direction of xyz
files, are read the way that matches the ground truth; the table's "read as" column says how.
"""

SUCCESS_COLUMNS_MM = (20, 40)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="score prediction files (or a checkpoint) against ground truth",
        description=(
            "Score hand-pose predictions against a benchmark's ground truth with the public tables' protocol: "
            "mean/median 3D joint error (mm), per-joint error, and the max-error success-rate curve (0-80 mm)."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("predictions", nargs="*", metavar="PRED", help="prediction files (text, .mat, .npy, .npz)")
    p.add_argument(
        "--dataset",
        required=True,
        metavar="{icvl,nyu,msra}",
        help="benchmark of the prediction files (with --checkpoint: any dataset name)",
    )
    p.add_argument("--gt", metavar="FILE", help="ground-truth file, u v d per joint (text, .mat, .npy/.npz)")
    p.add_argument(
        "--format",
        choices=("auto", "uvd", "xyz"),
        default="auto",
        help="coordinates of the prediction files (default: auto)",
    )
    p.add_argument(
        "--joint-order",
        metavar="I,J,...",
        help="joint k of the reordered prediction is joint I_k of the file (applies to every PRED)",
    )
    p.add_argument("--names", metavar="A,B,...", help="method names, one per PRED (default: from the file names)")
    p.add_argument("--json", metavar="OUT", help="write the results as JSON")
    p.add_argument("--plot", metavar="DIR", help="write success-rate and per-joint error figures (PNG) here")
    p.add_argument("--markdown", action="store_true", help="print the table as Markdown instead of a terminal table")
    model = p.add_argument_group("evaluating a trained model")
    model.add_argument("--checkpoint", metavar="CKPT", help="model checkpoint to run on the dataset")
    model.add_argument("--root", metavar="DIR", help="dataset root folder (with --checkpoint)")
    model.add_argument("--split", default="test", help="dataset split (with --checkpoint; default: test)")
    model.add_argument(
        "--runtime",
        choices=("torch", "onnx", "onnx-int8"),
        default="torch",
        help="run the network in PyTorch or, for a package, its ONNX graph or its int8 graph (default: torch)",
    )
    model.add_argument(
        "--subject",
        type=whole(0, 1000),
        metavar="K",
        help="MSRA: score on held-out subject K (default: the checkpoint's data.subject; also data.subject=K)",
    )
    model.add_argument(
        "--centers",
        metavar="FILE",
        help="crop depth frames on this centre file (A2J *_center_test.mat or V2V text), one entry per frame",
    )
    model.add_argument(
        "--visible-only",
        action="store_true",
        help="RGB: score only joints labelled visible (Zimmermann) instead of all joints (Learnable Groups)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.checkpoint:
        return _run_checkpoint(args)
    return _run_files(args)


def _checkpoint_options(args: argparse.Namespace) -> dict[str, Any]:
    """Reader options of ``--checkpoint``: ``--subject`` and the ``data.subject=K`` /
    ``data.reader_kwargs.KEY=VALUE`` words (the training overrides' spelling) in place of PRED files."""
    from handpose.safe_read import loads_yaml

    options: dict[str, Any] = {}
    for word in args.predictions:
        key, sep, value = word.partition("=")
        if not sep or not (key == "data.subject" or key.startswith("data.reader_kwargs.")):
            raise HandposeError(
                f"give either prediction files or --checkpoint, not both ({word!r} is not data.subject=K "
                "or data.reader_kwargs.KEY=VALUE)"
            )
        # Bounded YAML: an alias bomb or a parse error is one line naming the word, never a traceback.
        options[key.removeprefix("data.reader_kwargs.").removeprefix("data.")] = loads_yaml(value, key)
    if args.subject is not None:
        options["subject"] = args.subject
    return options


def _run_checkpoint(args: argparse.Namespace) -> int:
    options = _checkpoint_options(args)
    # Imported here: running a model needs torch, which scoring prediction files does not.
    from handpose.evaluation.checkpoint import report_lines
    from handpose.model_evaluation import EvaluationRequest, evaluate_model
    from handpose.training.cpu import configure_cpu_threads

    configure_cpu_threads()
    request = EvaluationRequest(
        model=args.checkpoint,
        dataset=args.dataset,
        root=args.root,
        split=args.split,
        runtime=args.runtime,
        json_path=args.json,
        plot_dir=args.plot,
        reader_options=options,
        centers=args.centers,
        visible_only=args.visible_only,
    )
    from handpose import fingertip_evaluation

    report = evaluate_model(request)
    if "auc_0_100" in report:
        lines = fingertip_evaluation.report_lines(report)
    elif not report.get("scored", True):
        lines = [f"{report['dataset']} {report['split']} has no labels here ({report['frames']} frames predicted)"]
        lines.append(f"submission for the benchmark's server: {report['submission']}")
    else:
        lines = report_lines(report)
    for line in lines:
        print(line)
    return 0


def _run_files(args: argparse.Namespace) -> int:
    from handpose.evaluation.evaluator import (
        evaluate_predictions,
        get_benchmark,
        load_ground_truth,
        parse_joint_order,
        results_json,
    )

    if not args.predictions:
        raise HandposeError("no prediction files given (or use --checkpoint to evaluate a model)")
    if not args.gt:
        raise HandposeError("--gt FILE is needed to score prediction files")
    if args.root:
        raise HandposeError("--root is only used with --checkpoint")
    for name in ("subject", "centers"):
        if getattr(args, name) is not None:
            raise HandposeError(f"--{name} is only used with --checkpoint")
    bench = get_benchmark(args.dataset)
    order = parse_joint_order(args.joint_order, bench.num_joints) if args.joint_order else None
    names = [n.strip() for n in args.names.split(",")] if args.names else None
    if names is not None and len(names) != len(args.predictions):
        raise HandposeError(f"--names gives {len(names)} names for {len(args.predictions)} prediction files")

    gt = load_ground_truth(args.gt, bench)
    results = _with_progress(
        args.predictions,
        lambda tick: evaluate_predictions(args.predictions, gt, args.format, order, names, on_file=tick),
    )

    if args.markdown:
        print(markdown_table(results))
    else:
        _print_table(gt, results)
    if args.json:
        from handpose.io import write_json_atomic

        write_json_atomic(args.json, results_json(gt, results))
        print(f"wrote {args.json}", file=sys.stderr)
    if args.plot:
        for path in _write_plots(Path(args.plot), gt, results):
            print(f"wrote {path}", file=sys.stderr)
    return 0


def _with_progress(paths: Sequence[str], work: Any) -> list[MethodResult]:
    if len(paths) < 2 or not sys.stderr.isatty():
        return work(None)
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("evaluating", total=len(paths))
        return work(lambda _path: progress.advance(task))


def _print_table(gt: GroundTruth, results: Sequence[MethodResult]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"{gt.benchmark.name.upper()}: {gt.frames} frames x {gt.benchmark.num_joints} joints, sorted by mean error",
        title_justify="left",
    )
    table.add_column("#", justify="right")
    table.add_column("method")
    table.add_column("mean mm", justify="right")
    table.add_column("median mm", justify="right")
    for t in SUCCESS_COLUMNS_MM:
        table.add_column(f"<={t} mm", justify="right")
    table.add_column("read as")
    table.add_column("file", overflow="fold")
    for rank, r in enumerate(results, start=1):
        table.add_row(
            str(rank),
            r.method,
            f"{r.mean_error_mm:.3f}",
            f"{r.median_error_mm:.3f}",
            *(f"{100 * r.success_at(t):.1f}%" for t in SUCCESS_COLUMNS_MM),
            r.read_as,
            Path(r.prediction).name,
        )
    # A wide fixed width when piped, so that logs keep one row per method.
    Console(width=None if sys.stdout.isatty() else 200).print(table)


def markdown_table(results: Sequence[MethodResult]) -> str:
    """The results as a Markdown table (the same columns as the terminal table)."""
    head = ["#", "method", "mean (mm)", "median (mm)", *(f"≤{t} mm" for t in SUCCESS_COLUMNS_MM), "read as", "file"]
    lines = [
        "| " + " | ".join(head) + " |",
        "|" + "|".join("---" if h in ("method", "read as", "file") else "---:" for h in head) + "|",
    ]
    for rank, r in enumerate(results, start=1):
        cells = [
            str(rank),
            r.method,
            f"{r.mean_error_mm:.3f}",
            f"{r.median_error_mm:.3f}",
            *(f"{100 * r.success_at(t):.1f}%" for t in SUCCESS_COLUMNS_MM),
            r.read_as,
            f"`{Path(r.prediction).name}`",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _write_plots(folder: Path, gt: GroundTruth, results: Sequence[MethodResult]) -> list[Path]:
    from handpose import skeleton
    from handpose.evaluation.plots import plot_per_joint_errors, plot_success_curves

    name = gt.benchmark.name
    joint_names = skeleton.get(gt.benchmark.skeleton).joint_names
    return [
        plot_success_curves(results, folder / f"success_rate_{name}.png", f"{name.upper()}: max-error success rate"),
        plot_per_joint_errors(
            results, joint_names, folder / f"per_joint_{name}.png", f"{name.upper()}: per-joint error"
        ),
    ]
