"""Estimated GPU hours of a seed experiment's training run, from its config.

    python benchmarks/gpu_hours.py configs/crossinfonet/nyu_cross_hm.yaml configs/resunet/stb.yaml ...

hours = training frames per epoch x epochs x the model's GFLOPs per frame / an effective training rate.
The rate is calibrated on the one training time a seed paper reports for a config we reproduce:
CrossInfoNet on NYU took 6.5 h on an RTX 2080 Ti (110 epochs of 72,757 frames at 1.131 GFLOPs per
frame), so the hours printed are 2080 Ti-equivalent hours, assuming every network trains at the same
effective FLOP rate (a rough guide: data loading and small layers make real rates differ by 2x or more).

Frames per epoch are the public training split sizes (notes in ../shared/notes; approximate where
marked), less the 5 % validation hold-out the configs keep; MSRA folds train on eight of nine subjects.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Training frames of each dataset's training split (the configs hold out val_fraction of them).
TRAIN_FRAMES = {
    "icvl": 331_006,  # with the in-plane rotated copies; genuine_only: about 22,000 (CrossInfoNet)
    "nyu": 72_757,
    "msra": 76_375,  # all nine subjects; a fold trains on eight
    "hands2017": 957_032,
    "hands2019": 175_951,
    "ho3d": 78_297,
    "rhd": 41_258,
    "stb": 15_000,  # B2-B6, counting + random, 1,500 frames each
    "freihand": 130_240,
    "ganerated": 330_000,  # approximate (third-party count, unconfirmed)
    "synthhands": 210_000,  # approximate upper bound: 2 x 2 x 7 sequences x 5 cameras x 3 x 500 frames
}
ICVL_GENUINE_FRAMES = 22_000  # approximate

# Calibration: CrossInfoNet (1.131 GFLOPs per 96 px frame) on NYU, 110 epochs, 6.5 h on an RTX 2080 Ti.
CALIBRATION_GFLOP_PER_HOUR = 1.131 * 72_757 * 110 / 6.5


def training_frames(cfg: object) -> float:
    """Frames one epoch of the config trains on."""
    data = cfg.data  # type: ignore[attr-defined]
    if data.mix:  # several datasets trained together: their frames add up
        frames = float(sum(TRAIN_FRAMES[source.dataset] for source in data.mix))
    else:
        frames = float(TRAIN_FRAMES[data.dataset])
    if data.dataset == "icvl" and data.reader_kwargs.get("genuine_only"):
        frames = ICVL_GENUINE_FRAMES
    if data.dataset == "msra":
        frames *= 8 / 9
    if data.val_split == "holdout":
        frames *= 1 - data.val_fraction
    return frames


def gflops(cfg: object) -> float:
    """GFLOPs per frame of the config's model (the stored table; counted now for other input sizes)."""
    from handpose.models import get_spec
    from handpose.models.stats import fresh_counts, read_table

    model = cfg.model  # type: ignore[attr-defined]
    spec = get_spec(model.name)
    entry = read_table().get(spec.name)
    if entry is not None and model.input_size in (None, spec.input_size) and not model.kwargs:
        counts = next(iter(entry["counts"].values()))
        return float(counts["flops"]) / 1e9
    return fresh_counts(spec.name, "canonical21")["flops"] / 1e9


def estimate(path: str) -> tuple[float, float, float, int]:
    """``(hours, frames per epoch, GFLOPs per frame, epochs)`` of one config."""
    from handpose.training.config import load_config

    cfg = load_config(path)
    frames, per_frame, epochs = training_frames(cfg), gflops(cfg), cfg.trainer.max_epochs
    return frames * epochs * per_frame / CALIBRATION_GFLOP_PER_HOUR, frames, per_frame, epochs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Estimated 2080 Ti-equivalent GPU hours of training configs.")
    parser.add_argument("configs", nargs="+", metavar="CONFIG")
    args = parser.parse_args(argv)
    print("| config | frames/epoch | epochs | GFLOPs/frame | est. GPU h |")
    print("|---|---|---|---|---|")
    for path in args.configs:
        hours, frames, per_frame, epochs = estimate(path)
        print(f"| {path} | {frames:,.0f} | {epochs} | {per_frame:.3f} | {hours:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
