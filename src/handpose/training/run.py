"""``handpose train``: one function from a :class:`RunConfig` to a trained run folder.

Run folder (``out_dir/name``)::

    config.yaml               the resolved config (also inside every checkpoint)
    contract.json             the preprocessing contract (also inside every checkpoint)
    checkpoints/best.ckpt     lowest validation mean error (validation split, never the test split)
    checkpoints/last.ckpt     end of the latest epoch (what --resume continues from)
    logs/metrics.csv          CSV log (a resumed run keeps the earlier ones as metrics.partN.csv);
                              tb/ holds the TensorBoard log
    summary.json              best checkpoint and its validation error, steps, wall time
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import lightning as L
import torch

from handpose.errors import HandposeError
from handpose.io import write_json_atomic, write_text_atomic
from handpose.training.checkpoint import AtomicCheckpointIO, PeriodicCheckpoint
from handpose.training.config import RunConfig, dump_config
from handpose.training.contract import build_contract
from handpose.training.datamodule import PoseDataModule
from handpose.training.init_weights import initialise
from handpose.training.module import VAL_METRIC, PoseModule
from handpose.training.quiet import quiet_libraries

# The bf16 probe's batch holds at most this many pixels (32 frames of 32x32).
PROBE_PIXELS = 32 * 32 * 32


def _accelerator(cfg: RunConfig) -> str:
    acc = cfg.trainer.accelerator
    if acc == "auto":
        return "gpu" if torch.cuda.is_available() else "cpu"
    if acc == "gpu" and not torch.cuda.is_available():
        raise HandposeError("trainer.accelerator is 'gpu' but no CUDA device is available")
    return acc


def resolve_precision(cfg: RunConfig, accelerator: str) -> tuple[RunConfig, str]:
    """The config with ``trainer.precision`` resolved for this machine (saved so), and why.

    ``auto`` on a CPU with bfloat16 instructions times a training step of the run's network in both
    precisions first (:func:`handpose.training.precision.bf16_speedup`): having the instructions
    does not make every network faster.
    """
    from handpose.training.precision import choose_precision, cpu_flags, cpu_has_bf16

    flags = cpu_flags()
    cuda_bf16 = accelerator == "gpu" and torch.cuda.is_bf16_supported()
    speedup = None
    if cfg.trainer.precision == "auto" and accelerator == "cpu" and cpu_has_bf16(flags):
        speedup = _probe_bf16(cfg)
    precision, why = choose_precision(cfg.trainer.precision, accelerator, flags, cuda_bf16, speedup)
    return replace(cfg, trainer=replace(cfg.trainer, precision=precision)), why


def _saved_precision(config_yaml: Path) -> str | None:
    """The precision a run folder's config recorded, if it recorded a resolved one."""
    from handpose.training.config import load_config

    if not config_yaml.is_file():
        return None
    precision = load_config(config_yaml, []).trainer.precision
    return None if precision == "auto" else precision


def _probe_bf16(cfg: RunConfig) -> float:
    """bf16 / fp32 training speed of a freshly built copy of the run's network, on a random batch."""
    from handpose.models.registry import create_model, get_spec
    from handpose.training.precision import bf16_speedup

    spec = get_spec(cfg.model.name)
    size = cfg.model.input_size or spec.input_size
    with torch.random.fork_rng():
        network = create_model(cfg.model.name, cfg.model.skeleton or "canonical21", input_size=size, **cfg.model.kwargs)
    memory = torch.channels_last if cfg.trainer.channels_last else torch.contiguous_format
    network = network.to(memory_format=memory)  # type: ignore[call-overload]  # torch accepts it; its stubs do not
    # As many frames as the run's batch, up to 32 of 32x32 pixels: bf16's gain grows with the work per
    # kernel (CrossInfoNet at 32 px on an AVX512-BF16 CPU: 1.2x at batch 8, 1.4x at 32), and the pixel
    # cap keeps the probe to seconds for large inputs.
    frames = max(2, min(cfg.data.batch_size, PROBE_PIXELS // (size * size)))
    batch = torch.randn(frames, spec.in_channels, size, size).contiguous(memory_format=memory)
    return bf16_speedup(network, batch)


def run_line(cfg: RunConfig, accelerator: str, precision_reason: str, train_frames: int, val_frames: int) -> str:
    """The one line that says what a run trains, on what, and in which precision."""
    where = f"{torch.get_num_threads()} CPU threads" if accelerator == "cpu" else f"{cfg.trainer.devices} GPU(s)"
    return (
        f"[train] {cfg.model.name} on {train_frames} frames ({val_frames} validation), {where}, "
        f"{cfg.data.num_workers} loader worker(s), precision {cfg.trainer.precision} ({precision_reason})"
    )


def _strategy(cfg: RunConfig) -> Any:
    t = cfg.trainer
    if t.strategy != "auto":
        return t.strategy
    many = t.num_nodes > 1 or (isinstance(t.devices, int) and t.devices > 1) or "WORLD_SIZE" in os.environ
    if many:
        from lightning.pytorch.strategies import DDPStrategy

        return DDPStrategy(find_unused_parameters=False)
    return "auto"


def _progress(cfg: RunConfig) -> list[Any]:
    if cfg.trainer.progress == "none":
        return []
    if not sys.stderr.isatty():
        # A bar redraws in place, which a log file cannot show: progress lines instead.
        from handpose.training.progress import LineProgress

        return [LineProgress(cfg.trainer.max_steps if cfg.trainer.max_steps > 0 else None)]
    if cfg.trainer.progress == "rich":
        from lightning.pytorch.callbacks import RichProgressBar

        return [RichProgressBar(leave=True)]
    if cfg.trainer.progress == "plain":
        from lightning.pytorch.callbacks import TQDMProgressBar

        return [TQDMProgressBar()]
    return []


def planned_steps(trainer: L.Trainer) -> int | None:
    """The optimiser steps a run plans (``max_steps``, or its epochs' batches if fewer), if known."""
    estimated = trainer.estimated_stepping_batches
    return int(estimated) if estimated != float("inf") else None


def keep_earlier_log(logs: Path) -> None:
    """Move a resumed run's ``metrics.csv`` to ``metrics.partN.csv`` (Lightning's CSV logger deletes it)."""
    current = logs / "metrics.csv"
    if current.is_file():
        part = 1 + sum(1 for _ in logs.glob("metrics.part*.csv"))
        current.rename(logs / f"metrics.part{part}.csv")


def build_run(cfg: RunConfig) -> tuple[PoseModule, PoseDataModule, dict[str, Any]]:
    """The module, data module and contract of a run (no training)."""
    from handpose.models.registry import get_spec

    spec = get_spec(cfg.model.name)
    dm = PoseDataModule(cfg, spec.modality)
    facts = dm.open()
    skeleton = cfg.model.skeleton or facts["skeleton"]
    contract = build_contract(cfg, skeleton, facts)
    dm.use_contract(contract)
    module = PoseModule(cfg.to_dict(), contract)
    return module, dm, contract


def train(cfg: RunConfig, resume: str | bool | None = None) -> dict[str, Any]:
    """Train a run; returns its summary (also written to ``summary.json``).

    The run prints its own one-line stages (what it trains and how, resuming, a time budget hit,
    progress lines when the output is not a terminal); Lightning's announcements are kept out.

    Args:
        cfg: The resolved config.
        resume: ``True`` continues from ``checkpoints/last.ckpt`` of the run folder, a path continues
            from that checkpoint, ``None``/``False`` starts fresh (refused if the folder already has
            checkpoints).
    """
    with quiet_libraries():
        return _train(cfg, resume)


def _train(cfg: RunConfig, resume: str | bool | None) -> dict[str, Any]:
    from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

    run_dir = cfg.run_dir
    ckpt_dir = run_dir / "checkpoints"
    ckpt_path: str | None = None
    if resume:
        ckpt_path = str(ckpt_dir / "last.ckpt") if resume is True else str(resume)
        if not Path(ckpt_path).is_file():
            raise HandposeError("nothing to resume from: checkpoint not found", ckpt_path)
    elif (ckpt_dir / "last.ckpt").exists():
        raise HandposeError("run folder already has checkpoints; pass --resume or choose another name/--out", run_dir)

    L.seed_everything(cfg.seed, workers=True, verbose=False)
    accelerator = _accelerator(cfg)
    # Resolved before anything records the config: config.yaml and the checkpoints say what ran. A resumed
    # run keeps the precision it chose (the choice is timed, so a second probe might differ).
    chosen = _saved_precision(run_dir / "config.yaml") if resume and cfg.trainer.precision == "auto" else None
    if chosen:
        cfg = replace(cfg, trainer=replace(cfg.trainer, precision=chosen))
        precision_reason = "auto: as chosen at the start"
    else:
        cfg, precision_reason = resolve_precision(cfg, accelerator)
    module, dm, contract = build_run(cfg)
    # Initial weights (model.weights, model.init_from) belong to a fresh run; a resumed one restores its own.
    initialised = [] if resume else initialise(module.model, cfg.model.weights, cfg.model.init_from)
    is_main = int(os.environ.get("RANK", os.environ.get("SLURM_PROCID", "0")) or 0) == 0
    if is_main:
        for line in initialised:
            print(f"[train] {line}", flush=True)
        print(run_line(cfg, accelerator, precision_reason, len(dm.train_indices), len(dm.val_indices)), flush=True)
        if resume:
            keep_earlier_log(run_dir / "logs")
        write_text_atomic(run_dir / "config.yaml", dump_config(cfg))
        write_json_atomic(run_dir / "contract.json", contract)

    t = cfg.trainer
    callbacks: list[Any] = [
        ModelCheckpoint(
            dirpath=ckpt_dir,
            filename="best",
            monitor=VAL_METRIC,
            mode="min",
            save_top_k=1,
            auto_insert_metric_name=False,
            enable_version_counter=False,
        ),
        # A second callback, because save_last only refreshes when the best one improves.
        ModelCheckpoint(
            dirpath=ckpt_dir,
            filename="last",
            monitor=None,
            save_top_k=1,
            every_n_epochs=1,
            auto_insert_metric_name=False,
            enable_version_counter=False,
        ),
        LearningRateMonitor(logging_interval="epoch"),
        *_progress(cfg),
    ]
    if t.save_every_n_epochs:
        callbacks.append(
            PeriodicCheckpoint(
                dirpath=ckpt_dir,
                filename="epoch={epoch}",
                every_n_epochs=t.save_every_n_epochs,
                save_top_k=-1,
                auto_insert_metric_name=False,
            )
        )
    loggers = [
        CSVLogger(save_dir=str(run_dir), name="logs", version=""),
        TensorBoardLogger(save_dir=str(run_dir), name="tb", version="", default_hp_metric=False),
    ]
    trainer = L.Trainer(
        accelerator=accelerator,
        devices=t.devices,
        num_nodes=t.num_nodes,
        strategy=_strategy(cfg),
        precision=cfg.trainer.precision,  # type: ignore[arg-type]
        max_epochs=t.max_epochs,
        max_steps=t.max_steps,
        max_time=timedelta(minutes=t.max_minutes) if t.max_minutes else None,
        check_val_every_n_epoch=None if t.val_every_n_steps else t.val_every_n_epochs,
        val_check_interval=t.val_every_n_steps or None,
        limit_val_batches=t.limit_val_batches,
        log_every_n_steps=t.log_every_n_steps,
        gradient_clip_val=t.gradient_clip or None,
        deterministic=t.deterministic,
        sync_batchnorm=t.sync_batchnorm,
        accumulate_grad_batches=t.accumulate_grad_batches,
        callbacks=callbacks,
        logger=loggers,
        enable_progress_bar=t.progress != "none" and sys.stderr.isatty(),
        enable_model_summary=False,
        num_sanity_val_steps=0,
        use_distributed_sampler=False,  # EpochSampler already splits batches across processes
        plugins=[AtomicCheckpointIO()],
        default_root_dir=str(run_dir),
    )
    if ckpt_path and is_main:
        print(f"[train] resuming from {ckpt_path}", flush=True)
    start = time.perf_counter()
    trainer.fit(module, datamodule=dm, ckpt_path=ckpt_path, weights_only=True)
    elapsed = time.perf_counter() - start
    planned = planned_steps(trainer)
    # Only a time cap ends a run short of its planned steps: say so, the numbers depend on it.
    hit_time = bool(t.max_minutes) and planned is not None and trainer.global_step < planned
    if hit_time and is_main:
        print(
            f"[train] time budget of {t.max_minutes:g} min reached after {trainer.global_step} of {planned} steps",
            flush=True,
        )
    best = callbacks[0]
    summary = {
        "run_dir": str(run_dir),
        "best_checkpoint": best.best_model_path or None,
        "last_checkpoint": callbacks[1].best_model_path or None,
        "best_val_mean_error_mm": float(best.best_model_score) if best.best_model_score is not None else None,
        "epochs": int(trainer.current_epoch),
        "global_step": int(trainer.global_step),
        "planned_steps": planned,
        "stopped_by_time_budget": hit_time,
        "precision": cfg.trainer.precision,
        "train_frames": len(dm.train_indices),
        "val_frames": len(dm.val_indices),
        "wall_s": round(elapsed, 1),
        "world_size": int(trainer.world_size),
        "initial_weights": initialised,
    }
    if trainer.is_global_zero:
        write_json_atomic(run_dir / "summary.json", summary)
    return summary
