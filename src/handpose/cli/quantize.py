"""``handpose quantize CKPT OUT``: quantisation-aware fine-tuning and a static int8 package of a depth model."""

from __future__ import annotations

import argparse

from handpose.cli.numbers import MAX_BATCH, MAX_FRAMES, MAX_LR, real, whole


def register(subparsers: argparse._SubParsersAction) -> None:
    from handpose.quantization import DEFAULT_CALIBRATION, DEFAULT_LR, DEFAULT_STEPS

    p = subparsers.add_parser(
        "quantize",
        help="fine-tune a depth checkpoint for int8 and write its package with a static int8 graph",
        description=(
            "Fine-tune CKPT for a few steps with its weights and activations rounded as the int8 graph rounds "
            "them, then write the package OUT: the fine-tuned weights, their fp32 ONNX graph and OUT/model.int8.onnx, "
            "with convolutions and activations in int8 (run it with 'handpose predict OUT --runtime onnx-int8'). "
            "Data defaults to the checkpoint's training frames; --steps 0 quantises without fine-tuning."
        ),
    )
    p.add_argument("checkpoint", metavar="CKPT", help="training checkpoint (.ckpt) of a depth model")
    p.add_argument("out", metavar="OUT", help="package folder")
    p.add_argument("--data", metavar="NAME", help="dataset to fine-tune and calibrate on (default: the checkpoint's)")
    p.add_argument("--root", metavar="DIR", help="its root folder (default: the checkpoint's)")
    p.add_argument("--split", help="its split (default: the checkpoint's, else train)")
    p.add_argument(
        "--steps", type=whole(0, MAX_FRAMES), default=DEFAULT_STEPS, help=f"fine-tuning steps (default {DEFAULT_STEPS})"
    )
    p.add_argument(
        "--lr",
        type=real(0, MAX_LR, above=True),
        default=DEFAULT_LR,
        help=f"initial learning rate (default {DEFAULT_LR:g})",
    )
    p.add_argument("--batch-size", type=whole(1, MAX_BATCH), default=32, help="crops per step (default 32)")
    p.add_argument(
        "--calibration",
        type=whole(1, MAX_FRAMES),
        default=DEFAULT_CALIBRATION,
        help=f"crops that fix the activation ranges (default {DEFAULT_CALIBRATION})",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from handpose.training.cpu import configure_cpu_threads

    configure_cpu_threads()
    from handpose.quantization import quantize_checkpoint

    description = quantize_checkpoint(
        args.checkpoint,
        args.out,
        dataset=args.data,
        root=args.root,
        split=args.split,
        steps=args.steps,
        lr=args.lr,
        calibration=args.calibration,
        batch_size=args.batch_size,
    )
    int8 = description["onnx_int8"]
    print(
        f"quantised {description['model']} ({int8['recipe']['method']}, {args.steps} steps) to {args.out}; "
        f"int8 max |diff| vs PyTorch on calibration crops {int8['max_abs_diff']:.1e}"
    )
    return 0
