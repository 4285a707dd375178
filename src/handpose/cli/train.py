"""``handpose train --config FILE [key=value ...]``: train any registered model on any data source."""

from __future__ import annotations

import argparse

from handpose.cli.numbers import whole


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train",
        help="train a model from a YAML config",
        description=(
            "Train a registered model on a dataset, a synthetic folder or synthetic frames rendered on the fly. "
            "Settings come from a YAML config (see configs/) and key=value overrides such as optim.lr=5e-4. "
            "Outputs go to OUT/NAME: config.yaml, checkpoints/best.ckpt (chosen on the validation split), "
            "checkpoints/last.ckpt, logs/metrics.csv and tb/ (TensorBoard)."
        ),
    )
    p.add_argument("--config", required=True, metavar="FILE", help="YAML run config")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides, e.g. trainer.max_epochs=5")
    p.add_argument("--out", metavar="DIR", help="parent folder of the run folder (config key out_dir)")
    p.add_argument("--name", help="run name (config key name)")
    p.add_argument(
        "--resume",
        nargs="?",
        const=True,
        default=None,
        metavar="CKPT",
        help="continue the run from its last checkpoint (or from CKPT)",
    )
    p.add_argument("--devices", help="devices per node (int or 'auto'; config key trainer.devices)")
    p.add_argument("--num-nodes", type=whole(1, 4096), help="number of machines (config key trainer.num_nodes)")
    p.add_argument("--accelerator", choices=("auto", "cpu", "gpu"), help="config key trainer.accelerator")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from handpose.training.config import load_config

    overrides = list(args.overrides)
    if args.out:
        overrides.append(f"out_dir={args.out}")
    if args.name:
        overrides.append(f"name={args.name}")
    if args.devices:
        overrides.append(f"trainer.devices={args.devices}")
    if args.num_nodes:
        overrides.append(f"trainer.num_nodes={args.num_nodes}")
    if args.accelerator:
        overrides.append(f"trainer.accelerator={args.accelerator}")
    cfg = load_config(args.config, overrides)
    from handpose.training.cpu import configure_cpu_threads

    configure_cpu_threads()
    from handpose.training.run import train

    summary = train(cfg, resume=args.resume)
    best = summary["best_val_mean_error_mm"]
    score = f"{best:.2f} mm" if best is not None else "n/a"
    if summary.get("world_size", 1) == 1 or _is_main():
        print(f"best checkpoint: {summary['best_checkpoint']} (validation mean error {score})")
    return 0


def _is_main() -> bool:
    import os

    return os.environ.get("RANK", os.environ.get("LOCAL_RANK", "0")) == "0"
