"""``handpose export CKPT OUT [--onnx]``: a self-contained model package from a training checkpoint."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "export",
        help="write a model package (safetensors + model.json [+ ONNX])",
        description=(
            "Write OUT/model.safetensors (weights), OUT/model.json (model, skeleton, preprocessing contract, "
            "training data, metrics) and with --onnx OUT/model.onnx, checked against PyTorch before it is kept. "
            "'handpose predict OUT ...' and handpose.Estimator.load(OUT) need nothing else."
        ),
    )
    p.add_argument("checkpoint", metavar="CKPT", help="training checkpoint (.ckpt)")
    p.add_argument("out", metavar="OUT", help="package folder")
    p.add_argument("--onnx", action="store_true", help="also export an ONNX graph (verified against PyTorch)")
    p.add_argument(
        "--quantize",
        choices=("int8",),
        help="also write model.int8.onnx with int8 fully connected weights (fast batch-1 CPU inference)",
    )
    p.add_argument("--metrics", metavar="JSON", help="evaluation results to record (handpose evaluate --json output)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from handpose.training.cpu import configure_cpu_threads

    configure_cpu_threads()
    from handpose.errors import HandposeError
    from handpose.export import export_package

    metrics = None
    if args.metrics:
        from handpose.safe_read import read_json

        metrics = read_json(args.metrics, "json", "metrics file")  # bounded size and nesting
        if not isinstance(metrics, dict):
            raise HandposeError("metrics must be a JSON object", args.metrics)
    description = export_package(args.checkpoint, args.out, onnx=args.onnx, metrics=metrics, quantize=args.quantize)
    line = f"exported {description['model']} ({description['skeleton']}) to {args.out}"
    if "onnx" in description:
        line += f"; ONNX max |diff| vs PyTorch {description['onnx']['max_abs_diff']:.1e}"
    print(line)
    return 0
