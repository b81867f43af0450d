"""One training run, no Ray and no MLflow: ``fit(config, report) -> final metrics``.

This is the only training loop; the CLI, the Ray trainable and the benchmarks all call it.
The step keeps the host out of the way (no per-step ``.item()``; sums stay on the device and
are read once per epoch) and every source of randomness lives in state that a checkpoint
saves, so a resumed run ends exactly where an uninterrupted one does.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vaesweep import noise
from vaesweep.config import OptimConfig, RunConfig, validate
from vaesweep.data import load_dataset
from vaesweep.data.base import Dataset
from vaesweep.data.batching import batch_indices, batches_per_epoch, keeps, trim
from vaesweep.encoder_updates import ENCODER_UPDATES
from vaesweep.errors import DivergedError
from vaesweep.evaluation import elbo_loss, encode_split, full_metrics, standard_metrics
from vaesweep.models.build import build_model
from vaesweep.models.posteriors.heads import batchnorm_heads
from vaesweep.models.vae import VAE
from vaesweep.objectives.objective import LossTerms, Objective
from vaesweep.objectives.regularisers import REGULARISERS
from vaesweep.protocols import check_protocol_config
from vaesweep.warm_start import WarmStart, mapped_state

CHECKPOINT_FILE = "checkpoint.pt"


@dataclass
class EpochReport:
    """What ``report`` receives after every epoch (and after the checkpoint is written)."""

    epoch: int
    metrics: dict[str, float]
    checkpoint: Path | None


@dataclass
class TrainState:
    """Everything about the run's progress that is not a tensor of the model or optimiser."""

    epoch: int = 0
    step: int = 0
    lr: float = 0.0
    best_loss: float = math.inf
    bad_epochs: int = 0
    decays: int = 0
    stopped_early: bool = False
    last_metrics: dict[str, float] = field(default_factory=dict)
    epoch_seconds: float = 0.0  # the training steps' wall-clock time, summed over the epochs


@dataclass(frozen=True)
class PlateauChange:
    """What one epoch's validation loss did to the learning-rate schedule."""

    improved: bool  # a new best loss: runs with a schedule keep a copy of the model
    decayed: bool  # lr decayed: reload the best model if asked, and start a fresh optimiser


def plateau_step(optim: OptimConfig, state: TrainState, valid_loss: float) -> PlateauChange:
    """He et al. / DU-VAE: halve lr after ``patience`` epochs without improvement (from
    ``decay_start_epoch``), stop after ``max_decays`` decays. Updates ``state`` (best loss, bad
    epochs, lr, decays, stopped_early); the caller acts on the change (fit and the packed
    trainer, per member)."""
    if valid_loss < state.best_loss:
        state.best_loss = valid_loss
        state.bad_epochs = 0
        return PlateauChange(improved=True, decayed=False)
    state.bad_epochs += 1
    if optim.decay_patience == 0 or state.epoch < optim.decay_start_epoch:
        return PlateauChange(improved=False, decayed=False)
    if state.bad_epochs < optim.decay_patience:
        return PlateauChange(improved=False, decayed=False)
    state.lr *= optim.decay_factor
    state.decays += 1
    state.bad_epochs = 0
    if optim.max_decays and state.decays >= optim.max_decays:
        state.stopped_early = True
    return PlateauChange(improved=False, decayed=True)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def select_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _as_config(config: RunConfig | Mapping[str, Any]) -> RunConfig:
    if isinstance(config, RunConfig):
        return validate(RunConfig.from_dict(config.to_dict()))
    return validate(RunConfig.from_dict(config))


def _optimiser(config: RunConfig, model: VAE, lr: float) -> torch.optim.Optimizer:
    parameters = [p for p in model.parameters() if p.requires_grad]
    if config.optim.name == "sgd":
        return torch.optim.SGD(parameters, lr=lr, momentum=config.optim.momentum)
    # torch's fused kernel (CPU, CUDA): one pass over each tensor instead of one per operation;
    # a packed member's MemberAdam runs the same kernel (vaesweep.packing.optim)
    fused = all(p.device.type in ("cpu", "cuda") for p in parameters)
    return torch.optim.Adam(parameters, lr=lr, fused=fused)


def _rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _checkpoint_path(location: str | Path) -> Path:
    path = Path(location)
    return path / CHECKPOINT_FILE if path.is_dir() or path.suffix != ".pt" else path


def _evaluates_best(config: RunConfig, best_model: dict | None) -> bool:
    """Whether the final evaluation reloads the best model (runs with an lr schedule)."""
    return config.optim.decay_patience > 0 and best_model is not None


def evaluated_state(payload: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """The model state a checkpoint's run was (or will be) evaluated with: its best model under
    an lr schedule, else its last."""
    config = RunConfig.from_dict(payload["config"])
    return payload["best_model"] if _evaluates_best(config, payload["best_model"]) else payload["model"]


class Trainer:
    """Holds one run's model, optimiser, data and progress; ``fit`` drives it."""

    def __init__(self, config: RunConfig) -> None:
        self.config = config
        seed_everything(config.train.seed)
        self.device = select_device(config.train.device)
        dataset = load_dataset(config.data)
        self.data_on_device = dataset.train.nbytes() <= config.train.device_data_budget_mb * 2**20
        self.dataset: Dataset = dataset.to(self.device) if self.data_on_device else dataset
        self.model = build_model(config, self.dataset).to(self.device)
        if self.device.type == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = config.train.precision == "tf32"
            torch.backends.cudnn.allow_tf32 = config.train.precision == "tf32"
        # a disabled autocast still costs its enter/exit on every step; fp32/tf32 need none
        self.autocast = (
            torch.autocast(self.device.type, dtype=torch.bfloat16)
            if config.train.precision == "bf16"
            else contextlib.nullcontext()
        )
        if config.train.compile:
            self.model.encoder.compile(dynamic=True)
            self.model.decoder.compile(dynamic=True)
        n = len(self.dataset.train)
        self.batch_multiple = REGULARISERS[config.regulariser.kind].batch_multiple(config)
        self.steps_per_epoch = batches_per_epoch(n, config.train.batch_size, self.batch_multiple)
        self.objective = Objective(config, self.steps_per_epoch, self.steps_per_epoch * config.train.epochs)
        self.state = TrainState(lr=config.optim.lr)
        self.optimiser = _optimiser(config, self.model, config.optim.lr)
        self.shuffle = torch.Generator().manual_seed(config.train.seed)
        self.best_model: dict[str, torch.Tensor] | None = None
        self.bn_heads = batchnorm_heads(self.model)
        self.lengths_cpu = None if self.dataset.train.lengths is None else self.dataset.train.lengths.cpu()
        self.rescale_after_step = config.posterior.rescale == "after_step"
        self.on_step: Callable[[int, int, int], None] | None = None  # (epoch, step, steps_per_epoch)
        # Agg-VAE's aggressive phase, or None for joint steps (vaesweep.encoder_updates)
        self.encoder_updates = ENCODER_UPDATES[config.train.encoder_updates].build(self)

    # -- checkpoints -----------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        path = _checkpoint_path(Path(directory))
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "model": self.model.state_dict(),
            "optimiser": self.optimiser.state_dict(),
            "state": dataclasses.asdict(self.state),
            "best_model": self.best_model,
            "rng": _rng_state(),
            "shuffle": self.shuffle.get_state(),
            "config": self.config.to_dict(),
            "encoder_updates": None if self.encoder_updates is None else self.encoder_updates.state_dict(),
        }
        temporary = path.with_suffix(".tmp")
        torch.save(payload, temporary)
        os.replace(temporary, path)  # a crash mid-write never leaves a torn checkpoint
        return path

    def load(self, location: str | Path) -> None:
        payload = torch.load(_checkpoint_path(location), map_location=self.device, weights_only=False)
        self.model.load_state_dict(payload["model"])
        self.state = TrainState(**payload["state"])
        self.optimiser = _optimiser(self.config, self.model, self.state.lr)
        self.optimiser.load_state_dict(payload["optimiser"])
        self.best_model = payload["best_model"]
        self.shuffle.set_state(payload["shuffle"])
        _restore_rng(payload["rng"])
        if self.encoder_updates is not None:
            self.encoder_updates.load_state_dict(payload["encoder_updates"])

    def warm_start(self, start: WarmStart) -> None:
        """Initialise the model from another run's final checkpoint under a declared mapping
        (vaesweep.warm_start): the model that run evaluated, nothing of its optimiser or progress."""
        payload = torch.load(_checkpoint_path(start.checkpoint), map_location=self.device, weights_only=False)
        source = evaluated_state(payload)
        self.model.load_state_dict(mapped_state(start.mapping, source, self.model.state_dict()))

    # -- one epoch -------------------------------------------------------------------------
    def batch(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The training examples at ``index`` on the device (text trimmed to its longest
        sentence, images binarised afresh under dynamic binarisation) and their lengths."""
        train = self.dataset.train
        x = train.x[index]
        lengths = None
        if train.lengths is not None:
            lengths = train.lengths[index]
            x = trim(x, lengths)
            lengths = lengths.to(self.device)
        x = x.to(self.device, non_blocking=True)
        if self.dataset.binarisation == "dynamic":
            x = noise.source().bernoulli(x)
        return x, lengths

    def update(
        self,
        x: torch.Tensor,
        lengths: torch.Tensor | None,
        values,
        parameters: list[torch.nn.Parameter] | None = None,
    ) -> LossTerms:
        """One optimiser step on the loss of a batch: of every parameter, or of ``parameters``
        only (Agg-VAE's encoder- or decoder-only steps; the others' gradients stay unset)."""
        model, clip = self.model, self.config.optim.grad_clip
        with self.autocast:
            out = model(x, lengths, k=self.objective.samples)
            terms = self.objective(out, model, x, lengths, values)
        self.optimiser.zero_grad(set_to_none=True)
        if parameters is None:
            terms.loss.backward()
        else:
            terms.loss.backward(inputs=parameters)
        if clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters() if parameters is None else parameters, clip)
        self.optimiser.step()
        if self.rescale_after_step:
            for head in self.bn_heads:
                head.rescale_()
        return terms

    def train_epoch(self) -> dict[str, float]:
        config, model, train = self.config, self.model, self.dataset.train
        model.train()
        started = time.perf_counter()
        sums: torch.Tensor | None = None
        names: list[str] = []
        noise_after_warmup = config.posterior.noise_start == "after_warmup"
        aggressive = self.encoder_updates is not None and self.encoder_updates.active
        first_step = self.state.step
        examples = 0
        batches = [  # DG-VAE trains only on batches its |b| divides
            index
            for index in batch_indices(
                len(train), config.train.batch_size, self.shuffle, self.lengths_cpu, device=train.x.device
            )
            if keeps(index, self.batch_multiple)
        ]
        for index in batches:
            x, lengths = self.batch(index)
            values = self.objective.values(self.state.step)
            if noise_after_warmup:
                for head in self.bn_heads:
                    head.noise_active = values.kl_weight >= 1.0
            if aggressive:
                self.encoder_updates.update_encoder(x, lengths, values, batches)
                terms = self.encoder_updates.update_decoder(x, lengths, values)
            else:
                terms = self.update(x, lengths, values)
            if sums is None:  # the terms are the same at every step: their names fix the order
                names = ["loss", *terms.terms]
                sums = torch.zeros(len(names), device=self.device)
            step_terms = torch.stack([terms.loss, *terms.terms.values()]).detach()
            sums.add_(step_terms, alpha=x.shape[0])
            examples += x.shape[0]
            self.state.step += 1
            if self.on_step is not None:
                self.on_step(self.state.epoch, self.state.step - first_step, self.steps_per_epoch)
        model.likelihood.end_epoch()
        totals = (sums / examples).tolist()  # the one host synchronisation per epoch
        seconds = time.perf_counter() - started
        self.state.epoch_seconds += seconds
        metrics = {f"train_{name}": value for name, value in zip(names, totals, strict=True)}
        values = self.objective.values(self.state.step)
        metrics |= {"kl_weight": values.kl_weight, "lr": self.state.lr, "epoch_seconds": seconds}
        metrics |= self.objective.regulariser.scheduled(self.state.step)  # e.g. IGP's C_t
        if self.encoder_updates is not None:
            metrics |= self.encoder_updates.epoch_metrics(len(batches), aggressive)
        return metrics

    def _validate(self) -> dict[str, float]:
        config = self.config
        if config.train.valid_metrics == "all":
            metrics, _ = full_metrics(self.model, self.dataset, "valid", config)
        else:
            encoded = encode_split(self.model, self.dataset.valid, config.eval.batch_size)
            metrics = standard_metrics(
                encoded, config, self.dataset.data_dim, config.posterior.flow != "none"
            )
        return {f"valid_{k}": v for k, v in metrics.items()}

    def _schedule_learning_rate(self, valid_loss: float) -> None:
        optim = self.config.optim
        change = plateau_step(optim, self.state, valid_loss)
        if change.improved and optim.decay_patience > 0:
            self.best_model = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        if change.decayed:
            if optim.reload_best_on_decay and self.best_model is not None:
                self.model.load_state_dict(self.best_model)
            self.optimiser = _optimiser(self.config, self.model, self.state.lr)

    def run(self, report: Callable[[EpochReport], None] | None, checkpoint_dir: str | Path | None) -> None:
        while self.state.epoch < self.config.train.epochs and not self.state.stopped_early:
            self.state.epoch += 1
            metrics = self.train_epoch()
            if not math.isfinite(metrics["train_loss"]):
                raise DivergedError(
                    self.state.epoch, self.state.last_metrics, f"train_loss={metrics['train_loss']}"
                )
            metrics.update(self._validate())
            if self.encoder_updates is not None:
                self.encoder_updates.end_epoch(metrics)
            valid_loss = elbo_loss({k.removeprefix("valid_"): v for k, v in metrics.items()})
            if not math.isfinite(valid_loss):
                raise DivergedError(
                    self.state.epoch, self.state.last_metrics, "validation loss is not finite"
                )
            self._schedule_learning_rate(valid_loss)
            metrics["epoch"] = float(self.state.epoch)
            self.state.last_metrics = metrics
            checkpoint = self.save(checkpoint_dir) if checkpoint_dir is not None else None
            if report is not None:
                report(EpochReport(self.state.epoch, dict(metrics), checkpoint))

    def final_metrics(self) -> tuple[dict[str, float], dict]:
        """Evaluate on ``eval.split``; runs with an lr schedule use their best model."""
        if _evaluates_best(self.config, self.best_model):
            self.model.load_state_dict(self.best_model)
        metrics, details = full_metrics(self.model, self.dataset, self.config.eval.split, self.config)
        metrics["epochs_run"] = float(self.state.epoch)
        metrics["seconds_per_epoch"] = self.state.epoch_seconds / max(1, self.state.epoch)
        return metrics, details


def fit(
    config: RunConfig | Mapping[str, Any],
    report: Callable[[EpochReport], None] | None = None,
    *,
    checkpoint_dir: str | Path | None = None,
    resume_from: str | Path | None = None,
    artifacts_dir: str | Path | None = None,
    on_step: Callable[[int, int, int], None] | None = None,
    warm_start: WarmStart | None = None,
) -> dict[str, float]:
    """Train one run and return its final metrics on ``eval.split``.

    ``report`` gets an ``EpochReport`` after every epoch; with ``checkpoint_dir`` a checkpoint
    (model, optimiser, lr schedule, RNG states, epoch) is written there first.
    ``resume_from`` continues from such a checkpoint; the result equals an uninterrupted run.
    ``artifacts_dir`` receives the final metrics, per-dimension summaries, latent codes and a
    picture of reconstructions/samples (or decoded sentences).
    ``on_step(epoch, step, steps_per_epoch)`` is called after every optimiser step (1-based
    step within the epoch), for progress bars; it gets no tensors, so it costs no host sync.
    ``warm_start`` initialises the model from another run's final checkpoint under a declared
    mapping (a staged trial, IGP Table 7); a resumed run continues from its own checkpoint instead.
    Raises ``ConfigError`` before loading anything if the config is invalid, and
    ``DivergedError`` (with the epoch and the last good metrics) on a NaN/inf loss.
    """
    config = _as_config(config)
    check_protocol_config(config)  # the FID network must load before hours of training
    started = time.perf_counter()
    trainer = Trainer(config)
    trainer.on_step = on_step
    if resume_from is not None and _checkpoint_path(resume_from).exists():
        trainer.load(resume_from)
    elif warm_start is not None:
        trainer.warm_start(warm_start)
    trainer.run(report, checkpoint_dir)
    metrics, details = trainer.final_metrics()
    metrics["train_seconds"] = time.perf_counter() - started
    if artifacts_dir is not None:
        from vaesweep.artifacts import write_run_artifacts

        write_run_artifacts(trainer.model, trainer.dataset, config, metrics, details, Path(artifacts_dir))
    return metrics


def load_trained(checkpoint: str | Path) -> tuple[RunConfig, VAE, Dataset]:
    """Rebuild a model (and its data) from a checkpoint written by ``fit``."""
    payload = torch.load(_checkpoint_path(checkpoint), map_location="cpu", weights_only=False)
    config = _as_config(payload["config"])
    config.train.device = "cpu"
    trainer = Trainer(config)
    trainer.model.load_state_dict(payload["model"])
    return config, trainer.model, trainer.dataset
