"""The one LightningModule: any registered model + its loss, with validation errors in millimetres.

The module is built from two plain dicts — the resolved run config and the preprocessing contract —
which are stored as its hyper-parameters, so every checkpoint rebuilds the network and its input
pipeline with nothing but ``torch.load(..., weights_only=True)``.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Timer
from torch import nn

from handpose.codecs import decode_batch
from handpose.codecs.heatmap import with_heatmap_targets
from handpose.contract import Contract
from handpose.errors import HandposeError
from handpose.losses import create_loss
from handpose.models.registry import build_network, default_loss
from handpose.training.config import RunConfig, config_from_dict
from handpose.training.schedule import LRFactor, temperature_at
from handpose.training.weight_decay import split_weight_decay

VAL_METRIC = "val/mean_error_mm"


def training_loss(cfg: RunConfig) -> dict[str, Any]:
    """``{"name", "params"}`` of the loss a run trains with: its ``loss:`` config over the model's default."""
    name, params = default_loss(cfg.model.name, cfg.loss.name, cfg.loss.params)
    return {"name": name, "params": params}


class PoseModule(L.LightningModule):
    """Trains a registered model with its registered loss.

    Args:
        config: :meth:`RunConfig.to_dict` of the run.
        contract: The preprocessing contract (see :mod:`handpose.training.contract`).
    """

    def __init__(self, config: dict[str, Any], contract: dict[str, Any]) -> None:
        super().__init__()
        self.save_hyperparameters({"config": config, "contract": contract})
        self.cfg = config_from_dict(config)
        self.contract = Contract.from_dict(contract, "the run's preprocessing contract")
        self.model = build_network(self.contract)
        self.output_space: str = self.contract.output_space
        loss = self.contract.loss.to_dict() if self.contract.loss is not None else training_loss(self.cfg)
        self.loss_fn = create_loss(loss["name"], self.contract.skeleton, **loss["params"])
        self.channels_last = bool(self.cfg.trainer.channels_last)
        self._val_sum = torch.zeros(())
        self._val_count = torch.zeros(())
        self._lr_factor: LRFactor | None = None
        self._batchnorm_frozen = False

    # -- forward -------------------------------------------------------------------------------
    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.channels_last and image.dim() == 4:
            image = image.contiguous(memory_format=torch.channels_last)
        return self.model(image)

    def setup(self, stage: str) -> None:
        if self.channels_last:
            self.model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # torch accepts it; its stubs do not

    # -- training ------------------------------------------------------------------------------
    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        # Dropout and any other in-model randomness draw from the global generator, reseeded per
        # (seed, step, rank): a resumed run then continues exactly as an uninterrupted one would,
        # whatever else (loader set-up, validation) consumed random numbers in between.
        torch.manual_seed((self.cfg.seed * 1_000_003 + self.global_step * 7919 + self.global_rank) % (2**63))
        self._update_budget_progress()
        self._freeze_batchnorm_when_due()
        temp = self.cfg.optim.temperature
        set_temperature = getattr(self.model, "set_temperature", None)
        if temp is not None and set_temperature is not None:
            value = temperature_at(self.global_step, temp.start, temp.step, temp.every, temp.min)
            set_temperature(value)
            self.log("train/temperature", value, on_step=True, on_epoch=False)

    def _freeze_batchnorm_when_due(self) -> None:
        """From ``trainer.freeze_batchnorm_at`` on, train with BatchNorm in evaluation mode (fixed statistics)."""
        share = self.cfg.trainer.freeze_batchnorm_at
        if share is None:
            return
        if not self._batchnorm_frozen:
            factor = self._lr_factor
            if factor is not None and factor.time_budget:  # the schedule follows the time budget: so does this
                progress = factor.budget_progress
            else:
                progress = self.global_step / max(self.trainer.estimated_stepping_batches, 1)
            if progress < share:
                return
            # Statistics of the current weights, not running averages that lag them.
            self.recalibrate_batchnorm(self.cfg.trainer.precise_bn_batches or 10)
            self._batchnorm_frozen = True
        # Lightning puts the whole model back in training mode after every validation.
        for m in self._batchnorms():
            m.eval()

    def _batchnorms(self) -> list[nn.modules.batchnorm._BatchNorm]:
        return [m for m in self.model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]

    def _update_budget_progress(self) -> None:
        factor = self._lr_factor
        minutes = self.cfg.trainer.max_minutes
        if factor is None or not factor.time_budget or minutes is None:
            return
        # Lightning's Timer counts training time across resumes (its state is in the checkpoint).
        callbacks = getattr(self.trainer, "callbacks", [])  # a Trainer property its stubs do not declare
        timer = next((c for c in callbacks if isinstance(c, Timer)), None)
        if timer is not None:
            factor.budget_progress = timer.time_elapsed("train") / (60.0 * minutes)

    def compute_loss(self, outputs: dict[str, torch.Tensor], batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        """The loss terms of ``outputs`` against ``batch``, with the heatmap targets the loss asks for encoded first."""
        targets = getattr(self.loss_fn, "heatmap_targets", None)
        return self.loss_fn(outputs, with_heatmap_targets(batch, outputs, targets))

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        outputs = self(batch["image"])
        terms = self.compute_loss(outputs, batch)
        bs = batch["image"].shape[0]
        for name, value in terms.items():
            self.log(
                f"train/{name}", value.detach(), on_step=True, on_epoch=False, batch_size=bs, prog_bar=name == "loss"
            )
        loss = terms["loss"]
        if not torch.isfinite(loss):
            raise HandposeError(f"training diverged: loss is {loss.item()} at step {self.global_step}; lower optim.lr")
        return loss

    # -- validation ----------------------------------------------------------------------------
    def on_validation_start(self) -> None:
        fitting = self.trainer is not None and self.trainer.state.fn == "fit"
        if self.cfg.trainer.precise_bn_batches and fitting and not self._batchnorm_frozen:
            self.recalibrate_batchnorm(self.cfg.trainer.precise_bn_batches)

    @torch.no_grad()
    def recalibrate_batchnorm(self, batches: int) -> None:
        """Set BatchNorm running statistics to plain averages over fixed training batches (precise BN)."""
        import numpy as np

        norms = self._batchnorms()
        datamodule = getattr(self.trainer, "datamodule", None)
        if not norms or datamodule is None:
            return
        dataset = datamodule.train_dataset()
        size = self.cfg.data.batch_size // max(int(self.trainer.world_size), 1)
        order = np.random.default_rng([self.cfg.seed, 7]).permutation(len(dataset))
        count = min(batches, len(dataset) // size)
        momenta = [m.momentum for m in norms]
        was_training = self.model.training
        for m in norms:
            m.reset_running_stats()
            m.momentum = None  # cumulative average
        self.model.train()
        for b in range(count):
            rows = [dataset[(0, int(i))] for i in order[b * size : (b + 1) * size]]
            self(torch.stack([r["image"] for r in rows]).to(self.device))
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
        self.model.train(was_training)

    def on_validation_epoch_start(self) -> None:
        self._val_sum = torch.zeros((), device=self.device, dtype=torch.float64)
        self._val_count = torch.zeros((), device=self.device, dtype=torch.float64)

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        outputs = self(batch["image"])
        pred = decode_batch(outputs["joints"].float(), batch, self.output_space, bounded=True)
        err = torch.linalg.norm(pred - batch["joints_xyz"].float(), dim=-1).double()  # (B, J)
        self._val_sum += err.sum()
        self._val_count += err.numel()
        terms = self.compute_loss(outputs, batch)
        self.log("val/loss", terms["loss"].detach(), on_epoch=True, batch_size=batch["image"].shape[0], sync_dist=True)

    def on_validation_epoch_end(self) -> None:
        total = self.trainer.strategy.reduce(self._val_sum, reduce_op="sum")
        count = self.trainer.strategy.reduce(self._val_count, reduce_op="sum")
        mean = (total / count.clamp(min=1)).float()
        self.log(VAL_METRIC, mean, prog_bar=True, sync_dist=False)

    # -- optimisation --------------------------------------------------------------------------
    def configure_optimizers(self) -> Any:  # Lightning's OptimizerLRSchedulerConfig dict
        o = self.cfg.optim
        # Decay only convolution and linear weights; norms, biases and free parameters are left alone.
        groups = split_weight_decay(self.model, parameter_groups(self.model, o.lr, o.group_lr), o.weight_decay)
        if o.optimizer == "adam":
            opt: torch.optim.Optimizer = torch.optim.Adam(groups, lr=o.lr, weight_decay=o.weight_decay)
        elif o.optimizer == "adamw":
            opt = torch.optim.AdamW(groups, lr=o.lr, weight_decay=o.weight_decay)
        else:
            opt = torch.optim.SGD(groups, lr=o.lr, momentum=0.9, weight_decay=o.weight_decay)
        # estimated_stepping_batches sets the training loader up, after which its length is known.
        total = int(min(self.trainer.estimated_stepping_batches, 1e12))
        batches = self.trainer.num_training_batches
        t = self.cfg.trainer
        steps_per_epoch = max(int(batches) // t.accumulate_grad_batches, 1) if batches != float("inf") else total
        # A run bounded only by wall clock anneals over its time budget: a step count estimated from
        # max_epochs would leave the rate nearly undecayed when time runs out.
        by_time = t.max_minutes is not None and (
            o.cosine_over == "time" or (o.cosine_over == "auto" and t.max_steps == -1)
        )
        time_budget = o.schedule == "cosine" and by_time
        factor = LRFactor(o.schedule, steps_per_epoch, total, o.gamma, o.step_every, o.warmup_steps, time_budget)
        self._lr_factor = factor
        sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step", "frequency": 1}}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        temperature = getattr(self.model, "temperature", None)
        if temperature is not None:
            checkpoint["temperature"] = float(temperature)
        # A resumed run keeps the statistics it froze (saved with the weights) instead of re-estimating them.
        checkpoint["batchnorm_frozen"] = self._batchnorm_frozen

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self._batchnorm_frozen = bool(checkpoint.get("batchnorm_frozen", False))


def parameter_groups(model: nn.Module, lr: float, group_lr: dict[str, float]) -> list[dict[str, Any]]:
    """Optimiser parameter groups: the model's named groups at their own rates, the rest at ``lr``.

    A model that wants separate rates exposes ``param_groups() -> dict[str, list[Parameter]]`` (or a
    list of ``{"name", "params"}`` dicts); names listed in ``group_lr`` get that rate.
    """
    if not group_lr:
        return [{"params": [p for p in model.parameters() if p.requires_grad], "name": "all", "lr": lr}]
    named = getattr(model, "param_groups", None)
    if named is None:
        name = getattr(getattr(model, "spec", None), "name", type(model).__name__)
        raise HandposeError(f"optim.group_lr is set but model {name!r} defines no parameter groups")
    found = named()
    if isinstance(found, dict):
        found = [{"name": k, "params": list(v)} for k, v in found.items()]
    by_name = {g["name"]: list(g["params"]) for g in found}
    unknown = sorted(set(group_lr) - set(by_name))
    if unknown:
        raise HandposeError(f"optim.group_lr names unknown groups {unknown}; the model has {sorted(by_name)}")
    groups = []
    seen: set[int] = set()
    for name, params in by_name.items():
        params = [p for p in params if p.requires_grad and id(p) not in seen]
        seen.update(id(p) for p in params)
        if params:
            groups.append({"params": params, "name": name, "lr": group_lr.get(name, lr)})
    rest = [p for p in model.parameters() if p.requires_grad and id(p) not in seen]
    if rest:
        groups.append({"params": rest, "name": "rest", "lr": lr})
    return groups
