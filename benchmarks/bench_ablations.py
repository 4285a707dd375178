"""Ablations trained to convergence on synthetic data: does each method's ablation order hold?

For each method, every ablation variant trains for the same number of optimiser steps on the same
synthetic frames (Adam, cosine decay to zero over the steps, BatchNorm statistics fixed for the last
fifth of the steps, validation every tenth of the run), with
two seeds (weights and data order; the frames are the same). Sizes are reduced to fit a CPU (crop,
hourglass width), identically for every variant. The best validation checkpoint is scored on held-out
frames rendered from another seed.

Claims checked (best first, as the papers' ablation tables order them):

- CrossInfoNet (Table 1): Cross + HM < Cross < Base + HM < Base.
- FingerPoseNet: sharing and fusion help (the full model beats both ablations).
- Learnable Joint Groups: learned groups + fusion < learned groups < manual groups < one group.

A method may have a first stage that trains once per seed and initialises every variant (Learnable Groups:
the hourglass alone on 2D joints, ``--pretrain-steps``, as the paper trains it).

Each finished run leaves ``RESULTS/<method>/<model>_seed<k>.json`` (test scores, validation curve,
steps, wall time, machine); those files are committed, so ``--render`` rewrites the docs section and
the curve plot without training. A run interrupted mid-way resumes from its last checkpoint (end of
its latest epoch) when the script is started again with the same arguments; finished runs are skipped.
Result files of the same variants trained for fewer steps (``--shorter``, one folder per step count) are
compared with them in the docs, rung by rung: what each increase in steps still bought. Training longer is
``--steps N --replace``: a finished result that differs only in its steps (or precision) then moves to
``--shorter`` as a rung rather than being lost.

Every setting (steps, batch, learning rate, crop, frames, precision) is one value for all methods or a
per-method list, so methods may differ while the variants of one method always share their settings.
A finished result or a checkpoint made with other settings than the ones asked for is never reused
silently: a stale checkpoint is trained again from scratch, a stale result stops the script before
any training unless ``--replace`` says to train it again.

    python benchmarks/bench_ablations.py                      # everything (hours on 2 cores)
    python benchmarks/bench_ablations.py --methods crossinfonet --seeds 0
    python benchmarks/bench_ablations.py --steps crossinfonet=600,learnable_groups=1500,fingerposenet=600 \
        --model-kwargs 'fingerposenet={"width": 0.5}'
    python benchmarks/bench_ablations.py --methods crossinfonet --steps 9000 --replace   # train longer;
                                                      # the finished shorter runs move to --shorter
    python benchmarks/bench_ablations.py --render             # docs + plot from RESULTS only
    python benchmarks/bench_ablations.py --smoke --work DIR --results DIR2   # seconds, no docs
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import itertools
import json
import os
import platform
import shlex
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from _docs import cpu_name, replace_section
from handpose.io import write_json_atomic

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

REPO = Path(__file__).resolve().parents[1]
HEADING = "## Converged ablations on synthetic data"
RESULTS = REPO / "benchmarks" / "results" / "ablations"
# The same variants trained for fewer steps: how much the longer runs still gained.
SHORTER = REPO / "benchmarks" / "results" / "ablations_shorter"
PLOT = REPO / "docs" / "ablation_curves.png"
SMALL_HOURGLASS = {"features": 64, "stem_channels": 32, "num_modules": 1}
TINY_DEPTH = {"width": 0.25, "channels": 32, "fc_dim": 64}


@dataclasses.dataclass(frozen=True)
class Method:
    """One paper's ablation: its variants, best first as the paper orders them."""

    name: str
    modality: str
    variants: tuple[str, ...]
    claim: str
    # "order": the whole ranking must hold; "first": the first variant must beat every other.
    check: str
    # Shown under the method's heading (what limits its runs here).
    note: str = ""
    # A model trained first, once per seed, whose best checkpoint initialises every variant
    # (``model.init_from``); empty: the variants train from scratch.
    pretrain: str = ""


METHODS = (
    Method(
        "crossinfonet",
        "depth",
        ("crossinfonet", "crossinfonet_cross", "crossinfonet_base_hm", "crossinfonet_base"),
        "Cross + HM < Cross < Base + HM < Base (CrossInfoNet, Table 1)",
        "order",
    ),
    Method(
        "fingerposenet",
        "depth",
        ("fingerposenet", "fingerposenet_no_sharing", "fingerposenet_no_fusion"),
        "sharing and fusion help: the full model beats both ablations (FingerPoseNet)",
        "first",
    ),
    Method(
        "learnable_groups",
        "rgb",
        (
            "learnable_groups_k3",
            "learnable_groups_k3_nofusion",
            "learnable_groups_manual",
            "learnable_groups_one_group",
        ),
        "learned groups + fusion < learned groups < manual groups < one group (Learnable Joint Groups)",
        "order",
        "An RGB model learns too slowly on a 2-core CPU for this ablation to converge there: after 1500 steps on "
        "64-pixel crops Learnable Groups was still at 0.95-0.97 of the mean-pose error (see "
        "[Mesh and capsule hands](#mesh-and-capsule-hands-synthetic-benchmark-trained-on-one-hand-model-scored-on-both)), "
        "so no order among its variants can show on a CPU. The same script trains them on a GPU with "
        "`--accelerator gpu` (and more steps and frames than a CPU allows); no CPU runs are kept. "
        "As in the paper, the hourglass first trains alone on 2D joints (stage 1, `--pretrain-steps`, once per seed) "
        "and every variant starts from it: trained from scratch, Eq. 10's depth term (weight 20, in mm) dominates "
        "the loss and the 2D joints are learned last.",
        pretrain="learnable_groups_hourglass",
    ),
)
METRIC = {"depth": "mean_error_mm", "rgb": "mean_error_mm"}  # RGB: root-relative joints
# Result files written before they recorded their frame counts all used the script's only defaults so
# far (4000 training, 500 test frames; the data folders of those runs are named after the counts).
LEGACY_FRAMES = {"train": 4000, "test": 500}


class PerMethod:
    """Argument type: one value for every method (``600``) or per method (``crossinfonet=600,...``).

    A bare value in the list applies to the methods it does not name; methods named nowhere keep the
    flag's default. Returns ``{method name: value}`` for every method.
    """

    def __init__(self, convert: Any, default: Any, modality: str | None = None) -> None:
        self.convert = convert
        self.default = default
        self.modality = modality

    def __call__(self, text: str) -> dict[str, Any]:
        methods = {m.name: m for m in METHODS}
        bare, named = self.default, {}
        for item in text.split(","):
            name, sep, value = item.strip().rpartition("=")
            if not value:
                raise argparse.ArgumentTypeError(f"empty item in {text!r}")
            if not sep:
                bare = self._value(value)
                continue
            if name not in methods:
                raise argparse.ArgumentTypeError(f"unknown method {name!r}; methods: {', '.join(methods)}")
            if self.modality and methods[name].modality != self.modality:
                raise argparse.ArgumentTypeError(f"{name} is not a {self.modality} method")
            named[name] = self._value(value)
        return {m: named.get(m, bare) for m in methods}

    def _value(self, text: str) -> Any:
        try:
            value = self.convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {self.convert.__name__}") from None
        if isinstance(value, (int, float)) and not value > 0:
            raise argparse.ArgumentTypeError(f"{text!r} must be > 0")
        return value


def method_kwargs(text: str) -> tuple[str, dict[str, Any]]:
    """Argument type of ``--model-kwargs``: ``METHOD={"key": value, ...}`` (a JSON object)."""
    name, sep, value = text.partition("=")
    if not sep or name not in {m.name for m in METHODS}:
        raise argparse.ArgumentTypeError(f"expected METHOD=JSON with METHOD one of {[m.name for m in METHODS]}")
    try:
        kwargs = json.loads(value)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"{name}: not JSON ({exc.msg})") from None
    if not isinstance(kwargs, dict):
        raise argparse.ArgumentTypeError(f"{name}: expected a JSON object of model arguments")
    return name, kwargs


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    each = " (N, or METHOD=N,... per method)"
    p.add_argument("--methods", default=",".join(m.name for m in METHODS), help="comma-separated methods")
    p.add_argument("--seeds", default="0,1", help="comma-separated training seeds")
    p.add_argument("--steps", type=PerMethod(int, 1000), default="1000", help="optimiser steps" + each)
    p.add_argument(
        "--pretrain-steps",
        type=PerMethod(int, 1000),
        default="1000",
        help="steps of a method's first stage (Learnable Groups: the hourglass on 2D joints)" + each,
    )
    p.add_argument("--batch-size", type=PerMethod(int, 32), default="32", help="batch size" + each)
    p.add_argument("--lr", type=PerMethod(float, 1e-3), default="1e-3", help="Adam learning rate" + each)
    p.add_argument("--input-size", type=PerMethod(int, 32, "depth"), default="32", help="depth crop, pixels" + each)
    p.add_argument("--rgb-input-size", type=PerMethod(int, 64, "rgb"), default="64", help="RGB crop, pixels" + each)
    p.add_argument("--train-frames", type=PerMethod(int, 4000), default="4000", help="training frames" + each)
    p.add_argument("--test-frames", type=PerMethod(int, 500), default="500", help="test frames" + each)
    p.add_argument("--precision", type=PerMethod(str, "32-true"), default="32-true", help="trainer.precision" + each)
    p.add_argument(
        "--model-kwargs",
        type=method_kwargs,
        action="append",
        default=[],
        metavar="METHOD=JSON",
        help="model arguments over the defaults for every variant of METHOD, e.g. "
        "'fingerposenet={\"width\": 0.5}' (repeatable)",
    )
    p.add_argument("--accelerator", default="cpu", choices=("cpu", "gpu", "auto"), help="trainer.accelerator")
    p.add_argument("--replace", action="store_true", help="train again finished runs made with other settings")
    p.add_argument("--work", default=str(REPO / "runs" / "bench-ablations"), help="frames, caches, runs")
    p.add_argument("--results", default=str(RESULTS), help="per-run result files (committed)")
    p.add_argument(
        "--shorter",
        default=str(SHORTER),
        help="result files of the same variants trained for fewer steps, METHOD/<steps>_steps/*.json (compared "
        "with --results in the docs; --replace with more steps moves the finished results there)",
    )
    p.add_argument("--render", action="store_true", help="only rewrite the docs section and plot from --results")
    p.add_argument("--smoke", action="store_true", help="tiny models and data, seconds; no docs")
    p.add_argument("--no-docs", action="store_true")
    return p


@dataclasses.dataclass(frozen=True)
class Settings:
    """What every variant of one method shares in a run of the script."""

    steps: int
    # Steps of the method's first stage (0: it has none).
    pretrain_steps: int
    batch_size: int
    lr: float
    input_size: int
    train_frames: int
    test_frames: int
    precision: str
    model_kwargs: dict[str, Any]


def base_kwargs(method: Method, smoke: bool) -> dict[str, Any]:
    """The model arguments a method trains with unless ``--model-kwargs`` changes them."""
    if method.modality == "rgb":
        return dict(SMALL_HOURGLASS)
    return dict(TINY_DEPTH) if smoke and method.name == "crossinfonet" else {}


def settings(method: Method, args: argparse.Namespace) -> Settings:
    """A method's settings from the arguments (each either per method or, set by a caller, one value)."""

    def pick(value: Any) -> Any:
        return value[method.name] if isinstance(value, dict) else value

    extra = [kw for name, kw in getattr(args, "model_kwargs", None) or [] if name == method.name]
    return Settings(
        steps=pick(args.steps),
        pretrain_steps=pick(args.pretrain_steps) if method.pretrain else 0,
        batch_size=pick(args.batch_size),
        lr=pick(args.lr),
        input_size=pick(args.input_size if method.modality == "depth" else args.rgb_input_size),
        train_frames=pick(args.train_frames),
        test_frames=pick(args.test_frames),
        precision=pick(args.precision),
        model_kwargs={
            **base_kwargs(method, getattr(args, "smoke", False)),
            **{k: v for kw in extra for k, v in kw.items()},
        },
    )


def run_config(model: str, method: Method, seed: int, train_root: Path, args: argparse.Namespace, out: Path) -> dict:
    from handpose.models.registry import default_group_lr

    depth = method.modality == "depth"
    s = settings(method, args)
    first_stage = model == method.pretrain
    model_section: dict[str, Any] = {"name": model, "input_size": s.input_size, "kwargs": dict(s.model_kwargs)}
    if first_stage:
        model_section["kwargs"] = first_stage_kwargs(model, s.model_kwargs)
    elif method.pretrain:
        model_section["init_from"] = str(first_stage_checkpoint(method, seed, out))
    steps = s.pretrain_steps if first_stage else s.steps
    data: dict[str, Any] = {
        "dataset": "depth_cache" if depth else "synthetic",
        "root": str(train_root),
        "train_split": "all",
        "val_split": "holdout",
        "val_fraction": 0.1,
        "augment": True,
        "batch_size": s.batch_size,
        "num_workers": 0,
    }
    if depth:
        data.update({"cube": 250.0, "center": "gt", "eval_center": "gt"})
    optim: dict[str, Any] = {"optimizer": "adam", "lr": s.lr, "schedule": "cosine", "cosine_over": "steps"}
    if model.startswith("learnable_groups_") and not first_stage:
        optim["group_lr"] = default_group_lr(model, s.model_kwargs)
        optim["temperature"] = {"start": 5.0, "step": 0.1, "every": max(s.steps // 50, 1), "min": 0.1}
    return {
        "name": f"{model}_seed{seed}",
        "seed": seed,
        "out_dir": str(out),
        "model": model_section,
        "data": data,
        "optim": optim,
        "trainer": {
            "max_epochs": 100_000,
            "max_steps": steps,
            "accelerator": getattr(args, "accelerator", "cpu"),
            "precision": s.precision,
            "progress": "none",
            "log_every_n_steps": 10,
            "gradient_clip": 10.0,
            "val_every_n_steps": max(steps // 10, 1),
            "precise_bn_batches": 10,
            # Without it ~1 % of test crops blow up in evaluation mode (see TrainerConfig) and move a
            # variant's mean by millimetres, more than the ablations' margins.
            "freeze_batchnorm_at": 0.8,
        },
    }


def first_stage_kwargs(model: str, variant_kwargs: dict[str, Any]) -> dict[str, Any]:
    """The variants' model arguments that the first-stage model takes (its share of the network)."""
    import inspect

    from handpose.models.registry import get_spec

    takes = inspect.signature(get_spec(model).builder).parameters
    return {k: v for k, v in variant_kwargs.items() if k in takes}


def first_stage(method: Method, seed: int, roots: tuple[Path, Path], args: argparse.Namespace) -> None:
    """Train a method's first stage for ``seed`` unless a finished one with these settings left its checkpoint."""
    checkpoint = first_stage_checkpoint(method, seed, Path(args.work) / "runs" / method.name)
    finished = stale_result(method.pretrain, method, seed, args) == []
    if finished and checkpoint.is_file():
        return
    # Unfinished variants of this seed started from another first stage: they start again.
    for model in method.variants:
        shutil.rmtree(checkpoint.parents[2] / f"{model}_seed{seed}", ignore_errors=True)
    if finished:  # its result is kept but its checkpoint is gone: what is left of the run cannot give one
        shutil.rmtree(checkpoint.parents[1], ignore_errors=True)
    run_one(method.pretrain, method, seed, roots, args, again=finished)


def first_stage_checkpoint(method: Method, seed: int, out: Path) -> Path:
    """Where the first stage of ``seed`` leaves the checkpoint its variants start from."""
    return out / f"{method.pretrain}_seed{seed}" / "checkpoints" / "best.ckpt"


def prepare(method: Method, args: argparse.Namespace, work: Path) -> tuple[Path, Path]:
    """Training and test data of a modality (rendered once, reused by every run)."""
    from handpose.datasets import open_dataset
    from handpose.datasets.depthcache import build_depth_cache
    from handpose.synth.writer import write_synthetic

    s = settings(method, args)
    out = []
    for name, count, seed, split in (("train", s.train_frames, 1, "all"), ("test", s.test_frames, 2, "test")):
        folder = work / "data" / f"{method.modality}_{name}_{count}"
        if not (folder / "meta.json").is_file():
            if method.modality == "depth":
                write_synthetic(folder, count, seed=seed, camera="nyu", workers=2, overwrite=True, hands="right")
            else:
                write_synthetic(folder, count, seed=seed, modality="rgb", camera=None, workers=2, overwrite=True)
        if method.modality == "rgb":
            out.append(folder)
            continue
        cache = work / "cache" / f"depth_{name}_{count}_{s.input_size}"
        if not (cache / split / "info.json").is_file():
            patch = int(-(-s.input_size * 1.75 * 1.1 // 16) * 16)
            reader = open_dataset("synthetic", folder, split)
            build_depth_cache(reader, cache, cube=250.0, patch_size=patch, center="gt", progress=False)
        out.append(cache)
    return out[0], out[1]


def _flat(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a.b": value}`` from nested dicts (an empty dict stays a value)."""
    out: dict[str, Any] = {}
    for key, sub in tree.items():
        if isinstance(sub, dict) and sub:
            out.update(_flat(sub, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = sub
    return out


def differences(wanted: dict, found: dict, precision: str, found_precision: str) -> list[str]:
    """Where a run's config differs from the one asked for, as ``key: found -> wanted`` lines.

    ``found_precision`` is the precision the run trained in: a run asked for ``auto`` matches only
    another ``auto`` run (its choice may differ), any other precision must have been the one used.
    """
    a, b = _flat(wanted), _flat(found)
    a.pop("trainer.precision", None)
    b.pop("trainer.precision", None)
    out = [
        f"{k}: {b.get(k, '(absent)')} -> {a.get(k, '(absent)')}"
        for k in sorted(a.keys() | b.keys())
        if a.get(k) != b.get(k)
    ]
    if precision != found_precision:
        out.append(f"precision: {found_precision} -> {precision}")
    return out


def stale_result(model: str, method: Method, seed: int, args: argparse.Namespace) -> list[str] | None:
    """``None`` when no finished result exists; else how it differs from what is asked for (empty: reusable)."""
    path = Path(args.results) / method.name / f"{model}_seed{seed}.json"
    if not path.is_file():
        return None
    r = json.loads(path.read_text())
    s = settings(method, args)
    wanted = run_config(model, method, seed, Path("TRAIN_DATA"), args, Path("WORK"))
    # An "auto" run is compared by what it was asked for; others by the precision they trained in.
    found_precision = r["config"]["trainer"]["precision"] if s.precision == "auto" else r["precision"]
    diff = differences(wanted, r["config"], s.precision, found_precision)
    frames = r.get("frames", LEGACY_FRAMES)
    for key, value in (("train", s.train_frames), ("test", s.test_frames)):
        if frames[key] != value:
            diff.append(f"{key} frames: {frames[key]} -> {value}")
    if method.pretrain and model != method.pretrain:
        found_steps = r.get("pretrain", {}).get("steps", 0)
        if found_steps != s.pretrain_steps:
            diff.append(f"stage 1 steps: {found_steps} -> {s.pretrain_steps}")
        elif stale_result(method.pretrain, method, seed, args):
            diff.append("its stage 1 used other settings")
    return diff


def check_finished(args: argparse.Namespace, methods: list[Method], seeds: list[int]) -> None:
    """Refuse, before any training, to mix finished results made with other settings (unless ``--replace``)."""
    from handpose.errors import HandposeError

    stale = []
    for method in methods:
        for seed in seeds:
            for model in (*([method.pretrain] if method.pretrain else []), *method.variants):
                diff = stale_result(model, method, seed, args)
                if diff:
                    stale.append(f"{method.name}/{model}_seed{seed}.json ({'; '.join(diff)})")
    if stale and not args.replace:
        raise HandposeError(
            f"{args.results}: {len(stale)} finished result(s) used other settings, pass --replace to train them "
            f"again: {', '.join(stale)}"
        )


def check_variants(method: Method, args: argparse.Namespace) -> None:
    """Build every variant of a method with its settings, so that bad model arguments stop the script
    before hours of training rather than at the variant that rejects them."""
    from handpose.models.registry import build_network
    from handpose.training.config import config_from_dict
    from handpose.training.contract import run_contract

    for model in method.variants:
        cfg = config_from_dict(run_config(model, method, 0, Path("TRAIN_DATA"), args, Path("WORK")), source=model)
        build_network(run_contract(cfg, "canonical21", {}), initial_weights=False)


def run_one(
    model: str, method: Method, seed: int, roots: tuple[Path, Path], args: argparse.Namespace, again: bool = False
) -> dict:
    """Train (or resume) one variant and seed, score it on the test frames, save its result file.

    ``again``: train even when a finished result with these settings exists (its checkpoint is gone).
    """
    from handpose.training.config import config_from_dict, load_config
    from handpose.training.run import train

    result_path = Path(args.results) / method.name / f"{model}_seed{seed}.json"
    if not again and stale_result(model, method, seed, args) == []:
        return json.loads(result_path.read_text())
    s = settings(method, args)
    out = Path(args.work) / "runs" / method.name
    cfg = config_from_dict(run_config(model, method, seed, roots[0], args, out), source=model)
    last = cfg.run_dir / "checkpoints" / "last.ckpt"
    resume = last.is_file()
    if resume:
        saved = load_config(cfg.run_dir / "config.yaml", [])
        # config.yaml holds the precision an "auto" run chose, so only an explicit request is compared.
        used = s.precision if s.precision == "auto" else saved.trainer.precision
        diff = differences(cfg.to_dict(), saved.to_dict(), s.precision, used)
        if diff:
            print(f"== {model} seed {seed}: its checkpoint used other settings ({'; '.join(diff)})", flush=True)
            resume = False
    if not resume:
        shutil.rmtree(cfg.run_dir, ignore_errors=True)
    steps = cfg.trainer.max_steps
    print(f"== {model} seed {seed}: {'resuming' if resume else 'training'} to {steps} steps", flush=True)
    start = time.perf_counter()
    summary = train(cfg, resume=True if resume else None)
    scores = evaluate(summary["best_checkpoint"], method.modality, roots[1])
    result = {
        "method": method.name,
        "model": model,
        "seed": seed,
        "steps": summary["global_step"],
        "planned_steps": steps,
        "precision": cfg_precision(cfg.run_dir),
        "best_val_mean_error_mm": summary["best_val_mean_error_mm"],
        "test": {k: v for k, v in scores.items() if isinstance(v, float)},
        "metric": METRIC[method.modality],
        "curve": validation_curve(cfg.run_dir / "logs"),
        "wall_s_last_session": round(time.perf_counter() - start, 1),
        "resumed": resume,
        "config": run_config(model, method, seed, Path("TRAIN_DATA"), args, Path("WORK")),
        "frames": {"train": s.train_frames, "test": s.test_frames},
        "machine": machine(),
    }
    if method.pretrain and model != method.pretrain:
        result["pretrain"] = {"model": method.pretrain, "steps": s.pretrain_steps}
    keep_as_shorter(method, result_path, result, Path(args.shorter))
    write_json_atomic(result_path, result)
    print(
        f"   {model} seed {seed}: {result['test'][result['metric']]:.2f} mm after {result['steps']} steps", flush=True
    )
    return result


def keep_as_shorter(method: Method, path: Path, new: dict, shorter: Path) -> Path | None:
    """Move the finished result at ``path`` to ``shorter`` when ``new`` replaces it with the same settings
    but more steps, so the runs at fewer steps stay as a rung of the comparison. Returns where it went."""
    if not path.is_file():
        return None
    old = json.loads(path.read_text())

    def apart_from_steps(r: dict) -> Settings:
        return dataclasses.replace(result_settings(method, r), steps=0, precision="")

    if old["steps"] >= new["steps"] or apart_from_steps(old) != apart_from_steps(new):
        return None
    target = shorter / method.name / f"{old['steps']}_steps" / path.name
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(path, target)
    return target


def cfg_precision(run_dir: Path) -> str:
    from handpose.training.config import load_config

    return load_config(run_dir / "config.yaml", []).trainer.precision


def validation_curve(logs: Path) -> list[list[float]]:
    """``[step, validation mean error]`` pairs of a run, over the logs of every session of a resumed one
    (a step logged twice keeps the latest)."""
    from handpose.training.module import VAL_METRIC

    by_step: dict[int, float] = {}
    for path in [*sorted(logs.glob("metrics.part*.csv"), key=lambda p: int(p.stem[12:])), logs / "metrics.csv"]:
        if not path.is_file():
            continue
        with path.open(newline="") as f:
            for row in csv.DictReader(f):
                value = row.get(VAL_METRIC)
                if value:
                    by_step[int(row["step"])] = float(value)
    return [[s, by_step[s]] for s in sorted(by_step)]


def evaluate(best: str, modality: str, test_root: Path) -> dict[str, Any]:
    from handpose.evaluation.checkpoint import score_depth, score_rgb
    from handpose.inference import Estimator
    from handpose.model_evaluation import open_eval_dataset, predict_dataset
    from handpose.skeleton import get

    est = Estimator.load(best)
    if modality == "depth":
        preds = predict_dataset(est, open_eval_dataset(est, "depth_cache", str(test_root), "test"), progress=False)
        return score_depth(preds.pred_xyz, preds.gt_xyz)
    preds = predict_dataset(est, open_eval_dataset(est, "synthetic", str(test_root), "test"), progress=False)
    return score_rgb(preds.pred_xyz, preds.gt_xyz, preds.visible, get(est.skeleton).root_index)


def machine() -> str:
    import torch

    return (
        f"{cpu_name()}, {os.cpu_count()} CPUs (torch threads {torch.get_num_threads()}), "
        f"Python {platform.python_version()}, torch {torch.__version__}"
    )


def load_results(results: Path) -> dict[str, dict[str, dict[int, dict]]]:
    """``{method: {model: {seed: result}}}`` from the result files."""
    found: dict[str, dict[str, dict[int, dict]]] = {}
    for path in sorted(results.glob("*/*.json")):
        r = json.loads(path.read_text())
        found.setdefault(r["method"], {}).setdefault(r["model"], {})[int(r["seed"])] = r
    return found


def load_shorter(folder: Path) -> dict[str, dict[int, dict[str, dict[int, dict]]]]:
    """``{method: {steps: {model: {seed: result}}}}``: the runs trained for fewer steps, by their step count."""
    found: dict[str, dict[int, dict[str, dict[int, dict]]]] = {}
    for path in sorted(folder.rglob("*.json")):
        r = json.loads(path.read_text())
        by_steps = found.setdefault(r["method"], {}).setdefault(int(r["steps"]), {})
        by_steps.setdefault(r["model"], {})[int(r["seed"])] = r
    return found


def verdict(method: Method, runs: dict[str, dict[int, dict]]) -> list[str]:
    """Whether the claimed order holds, per seed and on the seed mean, with margins and seed spread."""
    metric = METRIC[method.modality]
    complete = complete_seeds(method, runs)
    if not complete:
        return [f"- {method.claim}: not enough finished runs for a verdict."]
    lines = []
    for s in complete:
        err = [runs[v][s]["test"][metric] for v in method.variants]
        lines.append(f"- seed {s}: {holds(method, err)}; " + ", ".join(_margins(method, err)))
    spread = [
        abs(runs[v][a]["test"][metric] - runs[v][b]["test"][metric])
        for v in method.variants
        for a, b in itertools.pairwise(complete)
    ]
    if len(complete) > 1:
        lines.append(
            f"- {mean_order(method, runs, complete)}. Seed-to-seed difference of one variant: "
            f"mean {np.mean(spread):.2f} mm, largest {max(spread):.2f} mm (a margin smaller than that is within "
            "the noise)."
        )
    return lines


def complete_seeds(method: Method, runs: dict[str, dict[int, dict]]) -> list[int]:
    """The seeds every variant of ``method`` has a run of."""
    seeds = sorted({s for by_seed in runs.values() for s in by_seed})
    return [s for s in seeds if all(s in runs.get(v, {}) for v in method.variants)]


def mean_order(method: Method, runs: dict[str, dict[int, dict]], seeds: list[int]) -> str:
    """Whether the claimed order holds on the mean over ``seeds``, with its margins."""
    metric = METRIC[method.modality]
    mean = [float(np.mean([runs[v][s]["test"][metric] for s in seeds])) for v in method.variants]
    return f"mean of seeds {', '.join(map(str, seeds))}: {holds(method, mean)}; " + ", ".join(_margins(method, mean))


def holds(method: Method, err: list[float]) -> str:
    ok = all(a < b for a, b in itertools.pairwise(err)) if method.check == "order" else all(err[0] < e for e in err[1:])
    return "**holds**" if ok else "**does not hold**"


def _margins(method: Method, err: list[float]) -> list[str]:
    if method.check == "order":
        pairs = list(zip(range(len(err)), range(1, len(err))))
    else:
        pairs = [(0, k) for k in range(1, len(err))]
    return [f"{short(method.variants[b])} − {short(method.variants[a])} = {err[b] - err[a]:+.2f} mm" for a, b in pairs]


def short(model: str) -> str:
    for prefix in ("crossinfonet_", "fingerposenet_", "learnable_groups_"):
        if model.startswith(prefix):
            return model[len(prefix) :]
    return "full"


def flattening(curve: list[list[float]]) -> float | None:
    """Validation improvement over the last quarter of the run, as a share of the final error."""
    if len(curve) < 3:
        return None
    steps = np.array([c[0] for c in curve], dtype=float)
    errs = np.array([c[1] for c in curve], dtype=float)
    quarter = np.interp(0.75 * steps[-1], steps, errs)
    return float((quarter - errs[-1]) / errs[-1])


def plot(
    found: dict[str, dict[str, dict[int, dict]]],
    path: Path,
    shorter: dict[str, dict[int, dict[str, dict[int, dict]]]] | None = None,
) -> None:
    """Validation curves per method (runs at fewer steps dotted) and, where runs at fewer steps exist, a
    second row with each variant's test error against the steps it trained: flat at the right end means
    more steps no longer change the result."""
    from handpose.figures import pyplot, save_png

    shorter = shorter or {}
    shown = [m for m in METHODS if m.name in found]
    if not shown:
        return
    ladder = any(shorter.get(m.name) for m in shown)
    plt = pyplot()
    rows = 2 if ladder else 1
    fig, axes = plt.subplots(rows, len(shown), figsize=(5.5 * len(shown), 4.2 * rows), dpi=100, squeeze=False)
    for column, method in enumerate(shown):
        ax = axes[0][column]
        rungs = shorter.get(method.name, {})
        for k, variant in enumerate(method.variants):
            for seed, r in sorted(found[method.name].get(variant, {}).items()):
                curve = np.asarray(r["curve"])
                if len(curve):
                    style = "-" if seed == 0 else "--"
                    label = short(variant) if seed == min(found[method.name][variant]) else None
                    ax.plot(curve[:, 0], curve[:, 1], style, color=f"C{k}", label=label)
            longest = max((r["steps"] for r in found[method.name].get(variant, {}).values()), default=0)
            for by_model in rungs.values():
                for r in by_model.get(variant, {}).values():
                    curve = np.asarray(r["curve"])
                    if len(curve) and r["steps"] < longest:
                        ax.plot(curve[:, 0], curve[:, 1], ":", color=f"C{k}", alpha=0.5, linewidth=1)
        ax.set_title(method.name)
        ax.set_xlabel("step")
        ax.set_ylabel("validation mean error (mm)")
        ax.grid(True, alpha=0.3)
        fewer = any(line.get_linestyle() == ":" for line in ax.get_lines())
        title = "solid: seed 0, dashed: seed 1" + ("\ndotted: fewer steps" if fewer else "")
        ax.legend(title=title, fontsize=8, title_fontsize=8)
        if ladder:
            _plot_ladder(axes[1][column], method, found[method.name], rungs)
    fig.tight_layout()
    save_png(fig, path)


def _plot_ladder(
    ax: Any, method: Method, runs: dict[str, dict[int, dict]], rungs: dict[int, dict[str, dict[int, dict]]]
) -> None:
    """Test error of every variant against its training steps: seeds as dots, their mean as a line."""
    metric = METRIC[method.modality]
    trained: set[int] = set()
    for k, variant in enumerate(method.variants):
        by_steps: dict[int, list[float]] = {}
        for by_model in [*rungs.values(), runs]:
            for r in by_model.get(variant, {}).values():
                by_steps.setdefault(r["steps"], []).append(r["test"][metric])
        if not by_steps:
            continue
        steps = sorted(by_steps)
        trained.update(steps)
        ax.plot(steps, [np.mean(by_steps[n]) for n in steps], "-", color=f"C{k}", label=short(variant))
        for n in steps:
            ax.plot([n] * len(by_steps[n]), by_steps[n], ".", color=f"C{k}", alpha=0.6)
    ax.set_xscale("log")
    ax.set_xticks(sorted(trained), [str(n) for n in sorted(trained)])
    ax.minorticks_off()
    ax.set_xlabel("steps trained (log scale)")
    ax.set_ylabel(f"test {metric.replace('_', ' ')}")
    ax.set_title(f"{method.name}: test error against steps")
    ax.grid(True, alpha=0.3, which="both")
    ax.legend(title="line: mean of seeds, dots: seeds", fontsize=8, title_fontsize=8)


def result_settings(method: Method, r: dict) -> Settings:
    """The settings a result file was trained with (precision: the one asked for)."""
    cfg = r["config"]
    frames = r.get("frames", LEGACY_FRAMES)
    return Settings(
        steps=r["planned_steps"],
        pretrain_steps=r.get("pretrain", {}).get("steps", 0),
        batch_size=cfg["data"]["batch_size"],
        lr=cfg["optim"]["lr"],
        input_size=cfg["model"]["input_size"],
        train_frames=frames["train"],
        test_frames=frames["test"],
        precision=cfg["trainer"]["precision"],
        model_kwargs=cfg["model"]["kwargs"],
    )


def command_for(method: Method, s: Settings, seeds: list[int]) -> str:
    """A command line that trains ``method`` with settings ``s`` (what produced such a result)."""
    size_flag = "--input-size" if method.modality == "depth" else "--rgb-input-size"
    argv = ["--methods", method.name, "--seeds", ",".join(map(str, seeds)), "--steps", str(s.steps)]
    if s.pretrain_steps:
        argv += ["--pretrain-steps", str(s.pretrain_steps)]
    argv += ["--batch-size", str(s.batch_size), "--lr", f"{s.lr:g}", size_flag, str(s.input_size)]
    argv += ["--train-frames", str(s.train_frames), "--test-frames", str(s.test_frames), "--precision", s.precision]
    if s.model_kwargs != base_kwargs(method, smoke=False):
        argv += ["--model-kwargs", f"{method.name}={json.dumps(s.model_kwargs, sort_keys=True)}"]
    return "python benchmarks/bench_ablations.py " + " ".join(shlex.quote(a) for a in argv)


def _runs_of(method: Method, runs: dict[str, dict[int, dict]]) -> list[tuple[str, int, dict]]:
    return [(v, seed, r) for v in method.variants for seed, r in sorted(runs.get(v, {}).items())]


def _named(items: list[tuple[str, int, dict]]) -> str:
    return ", ".join(f"{v} seed {seed}" for v, seed, _ in items)


def unfair(method: Method, runs: dict[str, dict[int, dict]]) -> list[str]:
    """Why the runs of a method are not comparable: they trained in more than one precision, or with
    more than one set of steps, sizes, frames or learning rate. Empty when they share everything."""
    listed = _runs_of(method, runs)
    problems = []
    by_precision: dict[str, list] = {}
    for item in listed:
        by_precision.setdefault(item[2]["precision"], []).append(item)
    if len(by_precision) > 1:
        # Name the runs of every precision but the most common one, which is "the other N runs".
        ranked = sorted(by_precision.items(), key=lambda kv: -len(kv[1]))
        parts = [f"{p}: {_named(items)}" for p, items in ranked[1:]]
        parts.append(f"{ranked[0][0]}: the other {len(ranked[0][1])} run(s)")
        problems.append(f"mixed precision ({'; '.join(parts)})")
    by_setup: dict[str, list] = {}
    for item in listed:
        s = dataclasses.replace(result_settings(method, item[2]), precision="")
        by_setup.setdefault(json.dumps(dataclasses.asdict(s), sort_keys=True), []).append(item)
    if len(by_setup) > 1:
        problems.append(f"{len(by_setup)} different sets of steps/sizes/frames (see the commands)")
    return problems


def setup_lines(method: Method, runs: dict[str, dict[int, dict]]) -> list[str]:
    """The command(s) and machine(s) behind a method's results, one command per set of settings."""
    groups: dict[str, list[tuple[str, int, dict]]] = {}
    for item in _runs_of(method, runs):
        s = result_settings(method, item[2])
        groups.setdefault(json.dumps(dataclasses.asdict(s), sort_keys=True), []).append(item)
    lines = []
    for items in groups.values():
        s = result_settings(method, items[0][2])
        command = command_for(method, s, sorted({seed for _, seed, _ in items}))
        what = f"{s.steps} steps, batch {s.batch_size}, Adam lr {s.lr:g}, {s.input_size}-pixel crops"
        what += f", model arguments {s.model_kwargs}" if s.model_kwargs else ", default model arguments"
        if s.pretrain_steps:
            what += f", every variant started from {method.pretrain} trained {s.pretrain_steps} steps (stage 1)"
        what += f", {s.train_frames} training / {s.test_frames} test frames, precision asked: {s.precision}"
        runs_note = f" Runs: {_named(items)}." if len(groups) > 1 else ""
        lines.append(f"- Command: `{command}` ({what}).{runs_note}")
    machines: dict[str, list[tuple[str, int, dict]]] = {}
    for item in _runs_of(method, runs):
        machines.setdefault(item[2].get("machine", "not recorded"), []).append(item)
    for name, items in machines.items():
        runs_note = f" ({_named(items)})" if len(machines) > 1 else ""
        lines.append(f"- Machine: {name}{runs_note}.")
    return lines


def more_steps(
    method: Method, runs: dict[str, dict[int, dict]], shorter: dict[int, dict[str, dict[int, dict]]]
) -> list[str]:
    """What training longer bought, rung by rung: each run against the same variant and seed trained for
    fewer steps (``shorter``: ``{steps: {model: {seed: result}}}``), whether the last rung still moved the
    test error beyond the seed noise of the longest runs, and the order every shorter rung gave."""
    metric = METRIC[method.modality]
    rungs = [shorter[steps] for steps in sorted(shorter)] + [runs]
    lines, last = [], None
    for fewer, more in itertools.pairwise(rungs):
        pairs = [
            (r, fewer[v][seed])
            for v, seed, r in _runs_of(method, more)
            if seed in fewer.get(v, {}) and fewer[v][seed]["steps"] < r["steps"]
        ]
        if not pairs:
            continue
        changes = np.array([s["test"][metric] - r["test"][metric] for r, s in pairs])
        steps = "/".join(map(str, sorted({s["steps"] for _, s in pairs})))
        longer = "/".join(map(str, sorted({r["steps"] for r, _ in pairs})))
        precisions = "/".join(sorted({s["precision"] for _, s in pairs}))
        line = (
            f"- More steps, {steps} → {longer}: the same {len(pairs)} variant/seed runs trained for {steps} steps "
            f"({precisions}) scored {changes.mean():+.2f} mm on average against {longer} steps (shorter minus "
            f"longer test error; per run {changes.min():+.2f} to {changes.max():+.2f} mm)."
        )
        spread = spread_of(method, {v: by_seed for v, by_seed in fewer.items() if v in method.variants})
        if spread is not None:
            line += f" Seed-to-seed difference of one variant at {steps} steps: largest {spread:.2f} mm."
        lines.append(line)
        last = changes if more is runs else None
    noise = spread_of(method, runs)
    if last is not None and noise is not None:
        within = abs(last.mean()) <= noise
        # Noise moves runs both ways; when every run moved the same way, the steps did it (a sign test).
        one_way = len(last) > 1 and (bool((last > 0).all()) or bool((last < 0).all()))
        converged = within and not one_way
        line = (
            f"- {'**Converged within the noise**' if converged else '**Not converged**'}: the last increase in "
            f"steps changed the test error by {last.mean():+.2f} mm on average, "
            f"{'within' if within else 'more than'} the largest seed-to-seed difference of the longest runs "
            f"({noise:.2f} mm)"
        )
        if one_way:
            line += f", and every one of the {len(last)} runs moved the same way"
        lines.append(line + ".")
    for rung in sorted(shorter):
        seeds = complete_seeds(method, shorter[rung])
        if len(seeds) > 1:
            lines.append(f"- At {rung} steps, {mean_order(method, shorter[rung], seeds)}.")
    return lines


def spread_of(method: Method, runs: dict[str, dict[int, dict]]) -> float | None:
    """Largest test-error difference between two seeds of one variant (None with fewer than two seeds)."""
    metric = METRIC[method.modality]
    diffs = [
        abs(runs[v][a]["test"][metric] - runs[v][b]["test"][metric])
        for v in runs
        for a, b in itertools.combinations(sorted(runs[v]), 2)
    ]
    return max(diffs) if diffs else None


def render(
    found: dict[str, dict[str, dict[int, dict]]],
    plot_name: str,
    shorter: dict[str, dict[int, dict[str, dict[int, dict]]]] | None = None,
) -> str:
    lines = [
        "Every variant of a method is meant to train with the same settings (steps, batch, crop, model "
        "arguments, precision) on the same synthetic frames (last tenth = validation, picks the checkpoint; "
        "Adam with a cosine decay to zero over the steps; BatchNorm statistics fixed for the last fifth of the "
        "steps, see `trainer.freeze_batchnorm_at`; validation every tenth of the run), with two seeds "
        "(weights and data order), and is scored on held-out frames rendered from another seed; sizes are "
        "reduced to fit a CPU. Everything below comes from the committed result files in "
        "`benchmarks/results/ablations/`: `python benchmarks/bench_ablations.py --render` rewrites this "
        "section and the plot from them. Per method: the command that trains runs like them, the machine, "
        "and a warning in the verdict when the runs did not share one precision or one set of settings. "
        "The cosine decay makes every curve flatten by its end, so the last column (validation gain over "
        "the last quarter of the run) shows how much was still being gained; in runs with the BatchNorm freeze "
        "the drop at four fifths of the run is the freeze removing evaluation-mode outliers, so that column "
        "overstates what more steps would buy. Where the same variants and seeds were also trained for fewer "
        "steps (`benchmarks/results/ablations_shorter/`, one folder per step count), lines per method say how "
        "much each increase in steps gained, rung by rung, and whether the last one still moved the test "
        "error (by more than the seed noise, or the same way in every run): the direct measure of convergence "
        "(second row of the plot).",
        "",
    ]
    for method in METHODS:
        runs = {v: by_seed for v, by_seed in found.get(method.name, {}).items() if v in method.variants}
        lines += [f"### {method.name}", ""]
        if method.note:
            lines += [method.note, ""]
        if not runs:
            lines += ["Not run yet (no result files).", ""]
            continue
        metric = METRIC[method.modality]
        lines += [
            f"Claim: {method.claim}.",
            "",
            *setup_lines(method, runs),
            "",
            f"| variant | seed | steps | precision | test {metric.replace('_', ' ')} | best validation (mm) | "
            "validation gain over the last quarter |",
            "|---|---|---|---|---|---|---|",
        ]
        for variant, seed, r in _runs_of(method, runs):
            flat = flattening(r["curve"])
            lines.append(
                f"| {variant} | {seed} | {r['steps']} | {r['precision']} | {r['test'][metric]:.2f} | "
                f"{r['best_val_mean_error_mm']:.2f} | {'' if flat is None else f'{100 * flat:.1f} %'} |"
            )
        problems = unfair(method, runs)
        missing = [f"{v} seed {s}" for v in method.variants for s in (0, 1) if s not in runs.get(v, {})]
        lines.append("")
        if problems:
            lines.append(f"- **Not a fair comparison**: {'; '.join(problems)}.")
        caveat = " (**not a fair comparison**, see above)." if problems else "."
        lines += [line.rstrip(".") + caveat for line in verdict(method, runs)]
        lines += more_steps(method, runs, (shorter or {}).get(method.name, {}))
        if missing:
            lines.append(f"- No result yet for: {', '.join(missing)}.")
        lines.append("")
    lines += [f"![validation curves]({plot_name})", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    results = Path(args.results)
    if args.smoke:
        args.steps, args.pretrain_steps, args.batch_size, args.train_frames, args.test_frames = 4, 4, 4, 24, 8
        args.rgb_input_size, args.no_docs = 64, True
    if not args.render:
        import torch

        torch.set_num_threads(min(torch.get_num_threads(), 2))
        wanted = args.methods.split(",")
        unknown = sorted(set(wanted) - {m.name for m in METHODS})
        if unknown:
            parser.error(f"unknown methods {unknown}; methods: {', '.join(m.name for m in METHODS)}")
        seeds = [int(s) for s in args.seeds.split(",")]
        methods = [m for m in METHODS if m.name in wanted]
        check_finished(args, methods, seeds)
        for method in methods:
            check_variants(method, args)
        for method in methods:
            roots = None
            for seed in seeds:
                todo = [m for m in method.variants if stale_result(m, method, seed, args) != []]
                if not todo:
                    continue
                # Frames are rendered only for a method that still has something to train.
                roots = roots or prepare(method, args, Path(args.work))
                if method.pretrain:
                    first_stage(method, seed, roots, args)
                for model in todo:
                    run_one(model, method, seed, roots, args)
    if args.no_docs:
        return 0
    found, shorter = load_results(results), load_shorter(Path(args.shorter))
    plot(found, PLOT, shorter)
    replace_section(HEADING, render(found, PLOT.name, shorter))
    return 0


if __name__ == "__main__":
    from handpose.errors import HandposeError

    try:
        sys.exit(main())
    except HandposeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
