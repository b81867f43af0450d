"""K trials of one architecture trained as one vectorised model: ``fit_pack``, beside ``fit``.

Every member is its own unpacked run. Member k is built the way ``fit`` builds it (seeded, then
initialised), so it starts from the same weights; it shuffles the training set with its own
generator, so it sees the same batches; every draw of its forward pass comes from a generator
holding the global RNG state its run would have (``vaesweep.packing.noise``), and everything
evaluated outside the vectorised step runs with that generator installed as the global one
(``member_rng``), so it draws what its run draws. Its optimiser state, learning rate and plateau
schedule, divergence check and early stop are its own. The parameters carry a leading member
dimension (``torch.func.stack_module_state``); one ``vmap`` of ``functional_call`` over a
template module runs all members' steps as batched products.

A member that diverges (non-finite loss) is frozen and ends failed with ``DivergedError``; a
member the caller stops (ASHA, ``should_stop``) is frozen and ends stopped; neither changes the
other members' numbers. Checkpoints hold the whole pack and resume it exactly;
``member_checkpoint`` writes one member as a normal ``fit`` checkpoint.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import math
import os
import random
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from vaesweep import noise
from vaesweep.config import RunConfig, validate
from vaesweep.data import load_dataset
from vaesweep.data.base import Dataset
from vaesweep.data.batching import batch_indices, batches_per_epoch, keeps
from vaesweep.errors import ConfigError, DivergedError
from vaesweep.evaluation import (
    EncodedSplit,
    ProbeFeatures,
    elbo_loss,
    full_metrics,
    probe_metrics,
    standard_metrics,
)
from vaesweep.models.build import build_model
from vaesweep.models.posteriors.heads import batchnorm_heads
from vaesweep.models.vae import VAE
from vaesweep.objectives.objective import Objective
from vaesweep.objectives.regularisers import REGULARISERS
from vaesweep.packing import noise as member_noise
from vaesweep.packing.lstm import PackableLSTM
from vaesweep.packing.optim import MemberAdam, MemberSGD, clip_grad_norm_per_member_
from vaesweep.packing.signature import signature, unpackable_reason
from vaesweep.protocols import check_protocol_config
from vaesweep.train import (
    CHECKPOINT_FILE,
    TrainState,
    plateau_step,
    seed_everything,
    select_device,
)

PACK_CHECKPOINT_FILE = "pack.pt"
FINISHED, STOPPED, FAILED = "finished", "stopped", "failed"
# On the CPU a pack evaluates its members this many at a time and hands each group on when it
# is done: the linear probes of 4 runs train together at 0.077 s a run against 0.115 s alone and
# 0.075 s for 10 (digits codes, 1 thread; the MLP probes train one run at a time there anyway:
# vaesweep.metrics.probes), and a member's result is recorded seconds, not minutes, after its
# evaluation.
CPU_EVALUATION_GROUP = 4


# -- noise and RNG per member ---------------------------------------------------------------------


class PackedNoise(noise.Noise):
    """Draws under the members' vmap, member k's from its own generator (see packing.noise)."""

    def normal(self, shape: Sequence[int], like: torch.Tensor) -> torch.Tensor:
        return member_noise.randn_like(like.new_empty(tuple(shape)))

    def bernoulli(self, probs: torch.Tensor) -> torch.Tensor:
        return member_noise.bernoulli(probs)

    def keep_mask(self, keep_prob: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        return member_noise.keep_mask(keep_prob, like)

    def dropout(self, x: torch.Tensor, p: float, time_major: bool = False) -> torch.Tensor:
        return member_noise.sequence_dropout(x, p, time_major)  # over each member's own length


@contextlib.contextmanager
def member_rng(generator: torch.Generator) -> Iterator[None]:
    """Install ``generator``'s state as the global RNG of its device for the block and keep what
    the block drew: code that draws from the global RNG (metrics, evaluation) then draws what the
    member's unpacked run draws."""
    cuda = generator.device.type == "cuda"
    saved = torch.cuda.get_rng_state(generator.device) if cuda else torch.get_rng_state()
    if cuda:
        torch.cuda.set_rng_state(generator.get_state(), generator.device)
    else:
        torch.set_rng_state(generator.get_state())
    try:
        yield
    finally:
        generator.set_state(torch.cuda.get_rng_state(generator.device) if cuda else torch.get_rng_state())
        if cuda:
            torch.cuda.set_rng_state(saved, generator.device)
        else:
            torch.set_rng_state(saved)


# -- the vectorised step ----------------------------------------------------------------------------


class _StepValues:
    """A member's per-step values (KL weight, C, ...) as the attributes Objective reads; a plain
    class, which torch.compile traces (it breaks the graph at a SimpleNamespace)."""

    def __init__(self, values: dict[str, torch.Tensor]) -> None:
        for name, value in values.items():
            setattr(self, name, value)


class _Step(nn.Module):
    """One member's forward pass and loss: what the vmap runs for every member at once."""

    def __init__(self, model: VAE, objective: Objective, dynamic_binarisation: bool) -> None:
        super().__init__()
        self.model = model
        self.objective = objective
        self.dynamic_binarisation = dynamic_binarisation

    def forward(self, x, lengths, values: dict[str, torch.Tensor]):
        if self.dynamic_binarisation:
            x = noise.source().bernoulli(x)
        out = self.model(x, lengths, k=self.objective.samples)
        terms = self.objective(out, self.model, x, lengths, _StepValues(values))
        return terms.loss, torch.stack(list(terms.terms.values())), list(terms.terms)


class _Encode(nn.Module):
    """One member's encoding pass over a validation batch (EncodedSplit's per-example parts)."""

    def __init__(self, model: VAE) -> None:
        super().__init__()
        self.model = model

    def forward(self, x, lengths):
        out = self.model(x, lengths, k=1)
        parts = {"mean": out.posterior.mean, "rec": -out.log_px[0], "kl": out.kl}
        if out.posterior.logvar is not None:
            parts["logvar"] = out.posterior.logvar
        if not self.model.decoder.autoregressive:
            x_hat = self.model.likelihood.mean(out.params)[0]
            parts["residual_sq"] = (x - x_hat).pow(2).flatten(1).sum(-1)
        if hasattr(self.model.likelihood, "sigma_x2"):
            parts["sigma_x2"] = self.model.likelihood.sigma_x2(out.params)
        return parts


def _vectorisable(model: VAE) -> nn.Module:
    """A copy of ``model`` whose modules run under vmap (nn.LSTM -> PackableLSTM, same names),
    on the meta device: it holds no weights, functional_call gives it every member's."""
    template = copy.deepcopy(model).to("meta")
    for name, module in list(template.named_modules()):
        if isinstance(module, nn.LSTM):
            parent_name, _, attribute = name.rpartition(".")
            parent = template.get_submodule(parent_name) if parent_name else template
            replacement = PackableLSTM(module.input_size, module.hidden_size, bias=module.bias).to("meta")
            setattr(parent, attribute, replacement)
    return template


def _linear_weights_transposed(params: dict[str, torch.Tensor], model: VAE) -> dict[str, torch.Tensor]:
    """The stacked weights of ``model``'s nn.Linear layers, each member's stored transposed
    ([in, out] in memory; the same values). Under vmap F.linear multiplies by the weight's
    transpose, so its gradient comes out in that layout, and autograd keeps a gradient laid out
    as its parameter instead of copying it every step (on the CPU, a tenth of a 16-member MLP
    step). The products read the other layout, which can change their last bits."""
    linear = {f"{name}.weight" for name, module in model.named_modules() if isinstance(module, nn.Linear)}
    return {
        name: p.detach().transpose(1, 2).contiguous().transpose(1, 2).requires_grad_()
        if name in linear
        else p
        for name, p in params.items()
    }


# -- members ---------------------------------------------------------------------------------------


@dataclass
class Member:
    """One trial of the pack: its configuration, its own randomness, progress and outcome."""

    config: RunConfig
    generator: torch.Generator  # the global RNG its unpacked run would hold
    shuffle: torch.Generator
    objective: Objective
    state: TrainState
    best: dict[str, torch.Tensor] | None = None
    status: str = "training"
    error: BaseException | None = None
    # The global RNG its unpacked run holds while evaluating and writing artifacts: a copy of
    # ``generator`` taken when the final evaluation starts, so ``generator`` (and the member's
    # checkpoint) keeps the state training ended with, as fit's last checkpoint does.
    evaluation_generator: torch.Generator | None = None

    @property
    def training(self) -> bool:
        return self.status == "training"


@dataclass
class PackEpochReport:
    """What ``report`` receives after every epoch: each member trained this epoch, its metrics."""

    epoch: int
    metrics: dict[int, dict[str, float]]
    failed: dict[int, BaseException]
    checkpoint: Path | None


@dataclass
class MemberResult:
    """How a member ended: ``status`` finished (with final metrics), stopped or failed."""

    member: int
    status: str
    metrics: dict[str, float] = field(default_factory=dict)
    error: BaseException | None = None


def check_pack(configs: Sequence[RunConfig]) -> None:
    """ConfigError unless the configurations can train as one pack."""
    if not configs:
        raise ConfigError("pack", [], "one or more trial configurations")
    for config in configs:
        reason = unpackable_reason(config)
        if reason is not None:
            raise ConfigError("pack", config.method, f"a packable configuration ({reason})")
    first = dict(signature(configs[0]))
    for config in configs[1:]:
        other = dict(signature(config))
        differing = sorted(k for k in first.keys() | other.keys() if first.get(k) != other.get(k))
        if differing:
            raise ConfigError("pack", differing[0], "the same value in every member (a structural field)")


class PackedTrainer:
    """Holds a pack's stacked parameters, optimiser, data and members; ``fit_pack`` drives it."""

    def __init__(self, configs: Sequence[RunConfig]) -> None:
        configs = [validate(RunConfig.from_dict(c.to_dict())) for c in configs]
        check_pack(configs)
        first = configs[0]
        self.device = select_device(first.train.device)
        dataset = load_dataset(first.data)  # draws nothing from the global RNG
        self.data_on_device = dataset.train.nbytes() <= first.train.device_data_budget_mb * 2**20
        self.dataset: Dataset = dataset.to(self.device) if self.data_on_device else dataset
        if self.device.type == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = first.train.precision == "tf32"
            torch.backends.cudnn.allow_tf32 = first.train.precision == "tf32"
        n = len(self.dataset.train)
        self.batch_multiple = REGULARISERS[first.regulariser.kind].batch_multiple(first)
        self.steps_per_epoch = batches_per_epoch(n, first.train.batch_size, self.batch_multiple)
        total_steps = self.steps_per_epoch * first.train.epochs
        models, self.members = [], []
        for config in configs:
            seed_everything(config.train.seed)  # as fit: seed, then build (initialisation draws)
            models.append(build_model(config, self.dataset).to(self.device))
            self.members.append(
                Member(
                    config=config,
                    generator=member_noise.generator_from_global_state(self.device),
                    shuffle=torch.Generator().manual_seed(config.train.seed),
                    objective=Objective(config, self.steps_per_epoch, total_steps),
                    state=TrainState(lr=config.optim.lr),
                )
            )
        self.model = models[0]  # the scratch model a member is loaded into to be evaluated
        params, buffers = stack_module_state(models)
        params = _linear_weights_transposed(params, models[0])
        self.params: dict[str, torch.Tensor] = params
        self.buffers: dict[str, torch.Tensor] = buffers
        self.trainable = [name for name, p in models[0].named_parameters() if p.requires_grad]
        self.optimiser = self._new_optimiser()
        template = _vectorisable(models[0])
        for head in batchnorm_heads(template):  # members with p = 1 draw no mask (keep_mask)
            head.variance_dropout = head.trainable_scale and any(c.posterior.keep_prob < 1 for c in configs)
        dynamic = self.dataset.binarisation == "dynamic"
        self.step_module = _Step(template, Objective(first, self.steps_per_epoch, total_steps), dynamic)
        self.term_names: list[str] = []  # the loss terms' names, which the vectorised step sets
        in_dims = (0, 0, 0, None if self.dataset.train.lengths is None else 0, 0)
        self.vectorised_step = vmap(self._member_step, in_dims=in_dims)
        if first.train.compile:  # the whole vmapped step, forward and backward, one graph
            from torch import _dynamo

            _dynamo.reset()  # an earlier pack's graphs would count towards the recompile limit
            # Static shapes: a batch of another size (an epoch's last, a group of fewer members)
            # compiles once more. Symbolic sizes fail inside vmap (F.linear on a batched tensor).
            self.vectorised_step = torch.compile(self.vectorised_step, dynamic=False)
        self.encode_module = _Encode(template)
        self.du_weights = [  # DU heads' BN scales, rescaled after every step (BN-VAE's are fixed)
            f"{name}.norm.weight"
            for name, m in models[0].named_modules()
            if m in batchnorm_heads(models[0]) and m.trainable_scale
        ]
        self.du_gamma = torch.tensor([c.posterior.gamma for c in configs], device=self.device)
        self.rescale = first.posterior.rescale == "after_step" and bool(self.du_weights)
        self.lengths_cpu = None if self.dataset.train.lengths is None else self.dataset.train.lengths.cpu()
        del models

    # -- optimiser ---------------------------------------------------------------------------
    def _new_optimiser(self):
        first = self.members[0].config
        stacked = [self.params[name] for name in self.trainable]
        lrs = [m.state.lr for m in self.members]
        if first.optim.name == "sgd":
            return MemberSGD(stacked, lrs, momentum=first.optim.momentum)
        return MemberAdam(stacked, lrs)

    def _clip_and_step(self) -> None:
        clips = [m.config.optim.grad_clip for m in self.members]
        if any(c > 0 for c in clips):
            stacked = [self.params[name] for name in self.trainable]
            clip_grad_norm_per_member_(stacked, [c if c > 0 else math.inf for c in clips])
        self.optimiser.step()

    @torch.no_grad()
    def _rescale_du_heads(self) -> None:
        """DU-VAE Alg. 1 line 9 per member: gamma_d <- gamma * gamma_d / sqrt(mean gamma_d^2),
        each member with its own gamma (what BatchNormHead.rescale_ does in fit)."""
        active = torch.tensor([m.training for m in self.members], device=self.device)
        for name in self.du_weights:
            weight = self.params[name]
            norm = weight.pow(2).mean(-1, keepdim=True).sqrt().clamp_min(1e-12)
            factor = norm.reciprocal() * self.du_gamma[:, None]
            weight.copy_(torch.where(active[:, None], weight * factor, weight))

    # -- member state ------------------------------------------------------------------------
    def member_state_dict(self, member: int) -> dict[str, torch.Tensor]:
        """Member ``member``'s weights and buffers under the model's state_dict names."""
        state = {name: p[member].detach() for name, p in self.params.items()}
        state |= {name: b[member] for name, b in self.buffers.items()}
        return state

    @torch.no_grad()
    def load_member(self, member: int, state: Mapping[str, torch.Tensor]) -> None:
        for name, value in state.items():
            target = self.params.get(name, self.buffers.get(name))
            target[member].copy_(value)

    def _freeze(self, member: int, status: str, error: BaseException | None = None) -> None:
        self.members[member].status = status
        self.members[member].error = error
        self.optimiser.freeze(member)

    # -- one epoch ---------------------------------------------------------------------------
    def _values(self, step: int, members: Sequence[int]) -> dict[str, torch.Tensor]:
        per_member = [vars(self.members[m].objective.values(step)) for m in members]
        return {
            name: torch.tensor([v[name] for v in per_member], dtype=torch.float32, device=self.device)
            for name in per_member[0]
        }

    def _slices(self, members: list[int], everyone: bool) -> tuple[dict, dict]:
        if everyone:
            return self.params, self.buffers
        index = torch.tensor(members, device=self.device)
        return (
            {n: p.index_select(0, index) for n, p in self.params.items()},
            {n: b.index_select(0, index) for n, b in self.buffers.items()},
        )

    def train_epoch(self) -> dict[int, dict[str, float]]:
        """One epoch for every training member; their epoch metrics (host sync once per epoch)."""
        train, batch = self.dataset.train, self.members[0].config.train.batch_size
        training = [k for k, m in enumerate(self.members) if m.training]
        epochs = {  # each member's batches, in its own order (indices on the CPU)
            k: [
                i
                for i in batch_indices(len(train), batch, self.members[k].shuffle, self.lengths_cpu, "cpu")
                if keeps(i, self.batch_multiple)
            ]
            for k in training
        }
        self.step_module.model.train()
        self.encode_module.model.train()
        sums = None
        names: list[str] = []
        examples = torch.zeros(len(self.members), device=self.device)
        step = self.members[training[0]].state.step
        started = time.perf_counter()
        for position in range(self.steps_per_epoch):
            groups: dict[int, list[int]] = {}  # members by batch size (a text remainder differs)
            for k in training:
                groups.setdefault(epochs[k][position].numel(), []).append(k)
            self.optimiser.zero_grad()
            total = None
            for size, group in groups.items():
                everyone = len(group) == len(self.members)
                loss, terms, names = self._group_step(group, position, epochs, step, everyone)
                total = loss if total is None else total + loss
                if sums is None:
                    sums = torch.zeros(len(self.members), terms.shape[1], device=self.device)
                index = torch.tensor(group, device=self.device)
                sums.index_add_(0, index, terms.detach() * size)
                examples.index_add_(0, index, torch.full((len(group),), float(size), device=self.device))
            total.backward()
            self._clip_and_step()
            if self.rescale:
                self._rescale_du_heads()
            step += 1
        for k in training:
            self.members[k].state.step = step
        self._end_likelihood_epoch(training)
        totals = (sums / examples[:, None].clamp_min(1)).tolist()  # one host synchronisation
        # a member's share of the pack's training time: what its steps cost in the pack
        seconds = (time.perf_counter() - started) / len(training)
        metrics = {}
        for k in training:
            member = self.members[k]
            member.state.epoch_seconds += seconds
            found = {f"train_{name}": value for name, value in zip(["loss", *names], totals[k], strict=True)}
            values = member.objective.values(member.state.step)
            found |= {"kl_weight": values.kl_weight, "lr": member.state.lr, "epoch_seconds": seconds}
            found |= member.objective.regulariser.scheduled(member.state.step)
            metrics[k] = found
        return metrics

    def _group_step(self, group: list[int], position: int, epochs, step: int, everyone: bool):
        train = self.dataset.train
        cpu_indices = torch.stack([epochs[k][position] for k in group])
        indices = cpu_indices.to(train.x.device)
        x = train.x[indices]
        lengths, steps = None, []
        if train.lengths is not None:
            steps = self.lengths_cpu[cpu_indices].amax(1).tolist()  # each member's own length
            lengths = train.lengths[indices].to(self.device)
            x = x[..., : max(steps)]  # the longest member's batch: no step is all padding
        x = x.to(self.device, non_blocking=True)
        params, buffers = self._slices(group, everyone)
        values = self._values(step, group)
        generators = [self.members[k].generator for k in group]
        with (
            noise.drawn_from(PackedNoise()),
            member_noise.drawing_from(generators),
            member_noise.sequence_lengths(steps),
            member_noise.keep_probabilities([self.members[k].config.posterior.keep_prob for k in group]),
        ):
            losses, terms = self.vectorised_step(params, buffers, x, lengths, values)
        if not everyone:  # buffers updated on the slices (batch norm statistics) go back
            with torch.no_grad():
                index = torch.tensor(group, device=self.device)
                for name, value in buffers.items():
                    self.buffers[name].index_copy_(0, index, value)
        return losses.sum(), torch.cat([losses.unsqueeze(1), terms], dim=1), list(self.term_names)

    def _member_step(self, p, b, x, lengths, values):
        """One member's loss and loss terms (what ``vectorised_step`` maps over the members)."""
        loss, terms, names = functional_call(
            self.step_module, ({f"model.{k}": v for k, v in (p | b).items()},), (x, lengths, values)
        )
        self.term_names = names
        return loss, terms

    def _end_likelihood_epoch(self, training: list[int]) -> None:
        """The adaptive Gaussian's end of epoch (its variance estimate), member by member."""
        likelihood = self.model.likelihood
        names = [n for n in self.buffers if n.startswith("likelihood.")]
        if not names:
            return
        for k in training:
            likelihood.load_state_dict({n.removeprefix("likelihood."): self.buffers[n][k] for n in names})
            likelihood.end_epoch()
            with torch.no_grad():
                for n in names:
                    self.buffers[n][k].copy_(likelihood.state_dict()[n.removeprefix("likelihood.")])

    # -- validation --------------------------------------------------------------------------
    @torch.no_grad()
    def _encode_valid(self, training: list[int]) -> dict[int, EncodedSplit]:
        """Every training member's encoding of the validation split, as encode_split gives it."""
        self.encode_module.model.eval()
        config = self.members[0].config
        params, buffers = self._slices(training, len(training) == len(self.members))
        parts: list[dict[str, torch.Tensor]] = []

        def encode(p, b, x, lengths):
            return functional_call(
                self.encode_module, ({f"model.{k}": v for k, v in (p | b).items()},), (x, lengths)
            )

        generators = [self.members[k].generator for k in training]
        with noise.drawn_from(PackedNoise()), member_noise.drawing_from(generators):
            for x, lengths in self.dataset.valid.batches(config.eval.batch_size, self.device):
                parts.append(vmap(encode, in_dims=(0, 0, None, None))(params, buffers, x, lengths))
        joined = {key: torch.cat([p[key] for p in parts], dim=1) for key in parts[0] if key != "sigma_x2"}
        if "sigma_x2" in parts[0]:  # one value per batch: encode_split averages them
            joined["sigma_x2"] = torch.stack([p["sigma_x2"] for p in parts], dim=1)
        encoded = {}
        for row, k in enumerate(training):
            sigma = joined.get("sigma_x2")
            encoded[k] = EncodedSplit(
                mean=joined["mean"][row],
                logvar=joined["logvar"][row] if "logvar" in joined else None,
                rec=joined["rec"][row],
                kl=joined["kl"][row],
                residual_sq=joined["residual_sq"][row] if "residual_sq" in joined else None,
                sigma_x2=float(sigma[row].mean()) if sigma is not None else None,
                data_variance=None,  # a final metric only (full_metrics)
            )
        return encoded

    def validate(self, training: list[int]) -> dict[int, dict[str, float]]:
        config = self.members[0].config
        metrics = {}
        if config.train.valid_metrics == "all":
            for k in training:
                with self.as_member(k), member_rng(self.members[k].generator):
                    found, _ = full_metrics(self.model, self.dataset, "valid", self.members[k].config)
                metrics[k] = found
        else:
            encoded = self._encode_valid(training)
            flow = config.posterior.flow != "none"
            for k in training:
                with member_rng(self.members[k].generator):
                    metrics[k] = standard_metrics(
                        encoded[k], self.members[k].config, self.dataset.data_dim, flow
                    )
        return {k: {f"valid_{name}": v for name, v in found.items()} for k, found in metrics.items()}

    @contextlib.contextmanager
    def as_member(self, member: int) -> Iterator[VAE]:
        """The scratch model holding member ``member``'s weights (for code that takes a VAE)."""
        self.model.load_state_dict(self.member_state_dict(member))
        yield self.model

    # -- the schedule --------------------------------------------------------------------------
    def _schedule(self, k: int, valid_loss: float) -> None:
        member, optim = self.members[k], self.members[k].config.optim
        change = plateau_step(optim, member.state, valid_loss)
        if change.improved and optim.decay_patience > 0:
            member.best = {name: t.clone() for name, t in self.member_state_dict(k).items()}
        if change.decayed:
            if optim.reload_best_on_decay and member.best is not None:
                self.load_member(k, member.best)
            self.optimiser.reset(k)  # fit starts a fresh optimiser at the decayed lr
            self.optimiser.set_lr(k, member.state.lr)

    def run(
        self,
        report: Callable[[PackEpochReport], None] | None,
        checkpoint_dir: str | Path | None,
        should_stop: Callable[[int, int, dict[str, float]], bool] | None = None,
    ) -> None:
        epochs = self.members[0].config.train.epochs
        while True:
            for k, member in enumerate(self.members):
                if member.training and (member.state.epoch >= epochs or member.state.stopped_early):
                    member.status = FINISHED
                    self.optimiser.freeze(k)
            training = [k for k, m in enumerate(self.members) if m.training]
            if not training:
                return
            for k in training:
                self.members[k].state.epoch += 1
            metrics = self.train_epoch()
            failed: dict[int, BaseException] = {}
            for k in list(training):
                member = self.members[k]
                if not math.isfinite(metrics[k]["train_loss"]):
                    failed[k] = DivergedError(
                        member.state.epoch,
                        member.state.last_metrics,
                        f"train_loss={metrics[k]['train_loss']}",
                    )
            valid = self.validate([k for k in training if k not in failed])
            for k, found in valid.items():
                member = self.members[k]
                metrics[k] |= found
                valid_loss = elbo_loss({name.removeprefix("valid_"): v for name, v in found.items()})
                if not math.isfinite(valid_loss):
                    failed[k] = DivergedError(
                        member.state.epoch, member.state.last_metrics, "validation loss is not finite"
                    )
                    continue
                self._schedule(k, valid_loss)
                metrics[k]["epoch"] = float(member.state.epoch)
                member.state.last_metrics = metrics[k]
            for k, error in failed.items():
                self._freeze(k, FAILED, error)
                metrics.pop(k, None)
            checkpoint = self.save(checkpoint_dir) if checkpoint_dir is not None else None
            if report is not None:
                report(PackEpochReport(self.members[training[0]].state.epoch, metrics, failed, checkpoint))
            if should_stop is not None:
                for k, found in metrics.items():
                    if self.members[k].training and should_stop(k, self.members[k].state.epoch, found):
                        self._freeze(k, STOPPED)

    # -- final evaluation ------------------------------------------------------------------
    def _load_evaluated(self, member: int) -> None:
        """Load into the scratch model the weights member ``member`` is evaluated with: its best
        (a run with an lr schedule, as fit's final_metrics uses) or its last."""
        m = self.members[member]
        evaluates_best = m.config.optim.decay_patience > 0 and m.best is not None
        self.model.load_state_dict(m.best if evaluates_best else self.member_state_dict(member))

    def evaluation_groups(self, members: Sequence[int]) -> list[list[int]]:
        """``members`` in the groups whose final evaluations run together: all at once on an
        accelerator (every member's probes train as one batch), ``CPU_EVALUATION_GROUP`` at a
        time on the CPU (see there)."""
        size = len(members) if self.device.type != "cpu" else CPU_EVALUATION_GROUP
        return [list(members[i : i + size]) for i in range(0, len(members), max(1, size))]

    def final_metrics(self, members: Sequence[int]) -> list[tuple[dict[str, float], dict]]:
        """Each member's evaluation on ``eval.split``, as fit's final_metrics gives it (the same
        draws, from the member's generator), with the members' probes trained together."""
        evaluations, probes = [], []
        for k in members:
            m = self.members[k]
            self._load_evaluated(k)
            random.seed(m.config.train.seed)  # fit seeded python and numpy and drew nothing from them
            np.random.seed(m.config.train.seed)
            later: list[ProbeFeatures] = []
            m.evaluation_generator = torch.Generator(m.generator.device)
            m.evaluation_generator.set_state(m.generator.get_state())
            with member_rng(m.evaluation_generator):
                metrics, details = full_metrics(
                    self.model, self.dataset, m.config.eval.split, m.config, probes_later=later
                )
            metrics["epochs_run"] = float(m.state.epoch)
            metrics["seconds_per_epoch"] = m.state.epoch_seconds / max(1, m.state.epoch)
            evaluations.append((metrics, details))
            probes.append(later)
        scores = iter(probe_metrics([features for later in probes for features in later]))
        for (metrics, _), later in zip(evaluations, probes, strict=True):
            if later:
                metrics.update(next(scores))
        return evaluations

    def write_artifacts(
        self, member: int, metrics: dict[str, float], details: dict, directory: str | Path
    ) -> None:
        """Member ``member``'s run artifacts (after its ``final_metrics``), drawn as its fit run
        draws them after evaluating."""
        from vaesweep.artifacts import write_run_artifacts

        m = self.members[member]
        if m.evaluation_generator is None:
            raise RuntimeError(f"member {member} has no final evaluation to write artifacts for")
        self._load_evaluated(member)
        with member_rng(m.evaluation_generator):
            write_run_artifacts(self.model, self.dataset, m.config, metrics, details, Path(directory))

    # -- checkpoints -----------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        path = Path(directory) / PACK_CHECKPOINT_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "params": {n: p.detach() for n, p in self.params.items()},
            "buffers": self.buffers,
            "optimiser": self.optimiser.state_dict(),
            "members": [
                {
                    "state": dataclasses.asdict(m.state),
                    "generator": m.generator.get_state(),
                    "shuffle": m.shuffle.get_state(),
                    "best": m.best,
                    "status": m.status,
                    "error": repr(m.error) if m.error is not None else None,
                    "config": m.config.to_dict(),
                }
                for m in self.members
            ],
        }
        temporary = path.with_suffix(".tmp")
        torch.save(payload, temporary)
        os.replace(temporary, path)  # a crash mid-write never leaves a torn checkpoint
        return path

    def load(self, location: str | Path) -> None:
        path = Path(location)
        path = path / PACK_CHECKPOINT_FILE if path.is_dir() else path
        payload = torch.load(path, map_location=self.device, weights_only=False)
        with torch.no_grad():
            for name, value in payload["params"].items():
                self.params[name].copy_(value)
            for name, value in payload["buffers"].items():
                self.buffers[name].copy_(value)
        self.optimiser.load_state_dict(payload["optimiser"])
        for member, saved in zip(self.members, payload["members"], strict=True):
            member.state = TrainState(**saved["state"])
            member.generator.set_state(saved["generator"])
            member.shuffle.set_state(saved["shuffle"])
            member.best = saved["best"]
            member.status = saved["status"]
            if member.status == FAILED:
                member.error = DivergedError(
                    member.state.epoch, member.state.last_metrics, saved["error"] or ""
                )

    def member_checkpoint(self, member: int, directory: str | Path) -> Path:
        """Member ``member`` as a normal ``fit`` checkpoint (``fit(resume_from=...)`` continues it)."""
        m = self.members[member]
        path = Path(directory) / CHECKPOINT_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        rng = {"torch": m.generator.get_state().cpu(), "numpy": _seeded_numpy(m.config.train.seed)}
        rng["python"] = _seeded_python(m.config.train.seed)
        if m.generator.device.type == "cuda":
            rng["torch"] = torch.get_rng_state()
            rng["cuda"] = [m.generator.get_state()]
        payload = {
            "model": {
                k: v.clone(memory_format=torch.contiguous_format)
                for k, v in self.member_state_dict(member).items()
            },
            "optimiser": self.optimiser.member_state_dict(member),
            "state": dataclasses.asdict(m.state),
            "best_model": m.best,
            "rng": rng,
            "shuffle": m.shuffle.get_state(),
            "config": m.config.to_dict(),
        }
        torch.save(payload, path)
        return path


def _seeded_numpy(seed: int):
    state = np.random.get_state()
    np.random.seed(seed)
    seeded = np.random.get_state()
    np.random.set_state(state)
    return seeded


def _seeded_python(seed: int):
    state = random.getstate()
    random.seed(seed)
    seeded = random.getstate()
    random.setstate(state)
    return seeded


def fit_pack(
    configs: Sequence[RunConfig | Mapping[str, Any]],
    report: Callable[[PackEpochReport], None] | None = None,
    *,
    checkpoint_dir: str | Path | None = None,
    resume_from: str | Path | None = None,
    artifacts_dirs: Sequence[str | Path] | None = None,
    member_checkpoint_dirs: Sequence[str | Path] | None = None,
    should_stop: Callable[[int, int, dict[str, float]], bool] | None = None,
    on_evaluated: Callable[[list[MemberResult]], None] | None = None,
    evaluated_before: Collection[int] = (),
) -> list[MemberResult]:
    """Train the configurations as one pack; one ``MemberResult`` per configuration, in order.

    Like ``fit``: ``report`` gets a ``PackEpochReport`` after every epoch (after the checkpoint
    is written to ``checkpoint_dir``); ``resume_from`` continues a pack checkpoint exactly;
    ``artifacts_dirs[k]`` receives member k's artifacts and ``member_checkpoint_dirs[k]`` its
    final model as a ``fit`` checkpoint (what an unpacked trial records).
    ``should_stop(member, epoch, metrics)`` stops a member early (it ends "stopped", without a
    final evaluation). ``on_evaluated`` gets the finished members' results a few at a time
    (``PackedTrainer.evaluation_groups``), as soon as their artifacts and checkpoints are
    written, so a large pack records its members while it evaluates the others.
    ``evaluated_before``: members an earlier attempt of this pack evaluated and recorded (a
    retry resumed from the last epoch's checkpoint evaluates only the others); their results
    hold their last epoch's metrics. Raises ConfigError before anything loads when the
    configurations cannot share a pack.
    """
    configs = [c if isinstance(c, RunConfig) else RunConfig.from_dict(c) for c in configs]
    for config in configs:
        check_protocol_config(config)
    started = time.perf_counter()
    trainer = PackedTrainer(configs)
    if resume_from is not None:
        path = Path(resume_from)
        if (path / PACK_CHECKPOINT_FILE).exists() or path.is_file():
            trainer.load(path)
    trainer.run(report, checkpoint_dir, should_stop)
    finished = [k for k, member in enumerate(trainer.members) if member.status == FINISHED]
    evaluated = [k for k in finished if k not in evaluated_before]
    results = {
        k: MemberResult(k, member.status, dict(member.state.last_metrics), member.error)
        for k, member in enumerate(trainer.members)
        if k not in evaluated
    }
    for group in trainer.evaluation_groups(evaluated):
        evaluations = trainer.final_metrics(group)
        seconds = time.perf_counter() - started  # as fit's: until the member's evaluation
        for k, (metrics, details) in zip(group, evaluations, strict=True):
            metrics["train_seconds"] = seconds
            if artifacts_dirs is not None:
                trainer.write_artifacts(k, metrics, details, artifacts_dirs[k])
            if member_checkpoint_dirs is not None:
                trainer.member_checkpoint(k, member_checkpoint_dirs[k])
            results[k] = MemberResult(k, FINISHED, metrics)
        if on_evaluated is not None:
            on_evaluated([results[k] for k in group])
    return [results[k] for k in range(len(trainer.members))]
