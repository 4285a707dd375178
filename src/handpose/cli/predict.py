"""``handpose predict MODEL INPUT... --camera NAME|fx,fy,cx,cy``: run a trained model on your own images."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from typing import Any

from handpose.cli.numbers import MAX_BATCH, MAX_FRAMES, MAX_HAND_SCALE_MM, real, whole

# handpose.loading.RUNTIMES and "auto", spelled out so that building the parser does not import torch.
RUNTIME_CHOICES = ("auto", "torch", "torch-bf16", "onnx", "onnx-int8")

EPILOG = """\
inputs: depth as 16-bit PNG (mm), NYU-packed RGB PNG, MSRA .bin or .npy (H x W, mm); colour as PNG/JPG
or video (MP4/AVI/MOV/MKV, one prediction per frame). Folders are expanded (sorted).
outputs per input, in --out: NAME.json (joints xyz in mm, camera frame x right / y down / z forward, and
u v d), NAME_overlay.png and NAME_3d.png; predictions.json lists them all.

examples:
  handpose predict runs/demo/package frames/ --camera nyu --out preds/
  handpose predict model.ckpt depth.png --camera 475.07,475.07,315.94,245.29 --center 12,-30,410
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "predict",
        help="predict 3D joints for images, folders or videos",
        description=(
            "Run a model package (handpose export) or a training checkpoint on images. The model's stored "
            "preprocessing contract (input size, crop cube, normalisation) is applied; the hand centre is found "
            "in the depth unless --center is given."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", metavar="MODEL", help="model package folder or .ckpt checkpoint")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders or videos")
    p.add_argument("--camera", help="intrinsics of the inputs: a preset name or fx,fy,cx,cy (default: the model's)")
    p.add_argument(
        "--center",
        metavar="X,Y,Z",
        help="hand centre in camera mm (depth models; default: from the depth); write --center=X,Y,Z when X < 0",
    )
    p.add_argument(
        "--box",
        metavar="X,Y,W,H",
        help="hand box in pixels (RGB models; default: the whole image, for photos cropped to the hand)",
    )
    p.add_argument("--hand", choices=("right", "left"), default="right", help="which hand (RGB models)")
    p.add_argument(
        "--hand-scale",
        type=real(0, MAX_HAND_SCALE_MM, above=True),
        metavar="MM",
        help=(
            "middle MCP-PIP length assumed for RGB photos (default: the training data's median, stored in the "
            "model); without one, photos get 2D and root-relative joints only"
        ),
    )
    p.add_argument("--out", default="runs/predict", metavar="DIR", help="output folder (default: runs/predict)")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where to run the network")
    p.add_argument(
        "--runtime",
        choices=RUNTIME_CHOICES,
        default="auto",
        help=(
            "auto (default): the fastest runtime of this machine whose joints stay within 0.5 mm of PyTorch fp32, "
            "timed once at this batch size and remembered; or force PyTorch (fp32, bf16 autocast), ONNX Runtime "
            "(packages from export --onnx), or the int8 graph (export --quantize int8 or handpose quantize)"
        ),
    )
    p.add_argument("--batch-size", type=whole(1, MAX_BATCH), default=16, help="inputs per forward pass (default: 16)")
    p.add_argument(
        "--every", type=whole(1, MAX_FRAMES), default=1, metavar="N", help="use every N-th video frame (default: 1)"
    )
    p.add_argument("--no-plots", action="store_true", help="write only the JSON files")
    p.add_argument("--quiet", action="store_true", help="do not say which runtime --runtime auto chose")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from handpose.training.cpu import configure_cpu_threads

    configure_cpu_threads()
    from handpose.errors import HandposeError
    from handpose.inference import Estimator
    from handpose.predict import predict_files

    if args.batch_size < 1:
        raise HandposeError("--batch-size must be >= 1")
    center = _numbers(
        args.center, 3, "--center", "x,y,z in mm with 10 <= z <= 10000 (in front of the camera)", _center_ok
    )
    box = _numbers(args.box, 4, "--box", "x,y,width,height in pixels with a positive size", _box_ok)
    if args.hand_scale is not None and not args.hand_scale > 0:
        raise HandposeError(f"--hand-scale must be a positive length in mm, got {args.hand_scale}")
    est = Estimator.load(args.model, device=args.device, runtime=args.runtime, batch_size=args.batch_size)
    summary = predict_files(
        args.model,
        args.inputs,
        out=args.out,
        camera=args.camera,
        center=center,
        box=box,
        hand=args.hand,
        hand_scale_mm=args.hand_scale,
        device=args.device,
        runtime=args.runtime,
        batch_size=args.batch_size,
        every=args.every,
        plots=not args.no_plots,
        estimator=est,
    )
    # Said after the predictions, so that a refused input stays the one line on stderr.
    if est.runtime_choice is not None and not args.quiet:
        print(f"[predict] {est.runtime_choice.line()}", file=sys.stderr, flush=True)
    print(f"{len(summary['predictions'])} predictions written to {args.out}")
    return 0


# A hand centre closer than 1 cm or farther than 10 m is not one a depth camera sees.
MIN_CENTER_Z_MM, MAX_CENTER_Z_MM = 10.0, 10_000.0
MAX_BOX_PIXELS = 100_000.0


def _center_ok(values: list[float]) -> bool:
    return MIN_CENTER_Z_MM <= values[2] <= MAX_CENTER_Z_MM and max(abs(values[0]), abs(values[1])) <= MAX_CENTER_Z_MM


def _box_ok(values: list[float]) -> bool:
    return min(values[2:]) > 0 and max(abs(v) for v in values) <= MAX_BOX_PIXELS


def _numbers(text: str | None, count: int, option: str, meaning: str, valid: Callable[[list[float]], bool]) -> Any:
    """``count`` comma-separated numbers from an option, or ``None`` when it was not given."""
    from handpose.errors import HandposeError

    if not text:
        return None
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != count or not all(math.isfinite(v) for v in values) or not valid(values):
        raise HandposeError(f"{option} {text!r} must be {meaning}")
    return values
