"""``handpose predict MODEL INPUT... --camera NAME|fx,fy,cx,cy``: run a trained model on your own images."""

from __future__ import annotations

import argparse

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
    p.add_argument("--out", default="runs/predict", metavar="DIR", help="output folder (default: runs/predict)")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where to run the network")
    p.add_argument("--runtime", choices=("torch", "onnx"), default="torch", help="PyTorch or ONNX Runtime")
    p.add_argument("--batch-size", type=int, default=16, help="inputs per forward pass (default: 16)")
    p.add_argument("--every", type=int, default=1, metavar="N", help="use every N-th video frame (default: 1)")
    p.add_argument("--no-plots", action="store_true", help="write only the JSON files")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from handpose.training.cpu import configure_cpu_threads

    configure_cpu_threads()
    from handpose.errors import HandposeError
    from handpose.predict import predict_files

    if args.batch_size < 1:
        raise HandposeError("--batch-size must be >= 1")
    center = None
    if args.center:
        try:
            center = [float(v) for v in args.center.split(",")]
        except ValueError:
            center = []
        if len(center) != 3 or center[2] <= 0:
            raise HandposeError(f"--center {args.center!r} must be x,y,z in mm with z > 0")
    summary = predict_files(
        args.model,
        args.inputs,
        out=args.out,
        camera=args.camera,
        center=center,
        device=args.device,
        runtime=args.runtime,
        batch_size=args.batch_size,
        every=args.every,
        plots=not args.no_plots,
    )
    print(f"{len(summary['predictions'])} predictions written to {args.out}")
    return 0
