"""Which planned trials train together: a sweep's packs (``--pack auto|K|off``).

Trials whose configurations share an architecture signature (vaesweep.packing.signature) can
train as one packed model, one Tune trial per pack (vaesweep.trainables.pack_trial). The
planner groups a stage's trials by signature and cuts each group evenly into packs: under
``K`` of at most K members; under ``auto`` of the size, between ceil(packable trials / slots)
(capped at ``AUTO_MAX_MEMBERS``, and for each group at the members a slot's memory holds:
vaesweep.packing.memory) and a quarter of it, whose Tune trials would end soonest on the
slots when started in order (20 trials of one architecture on 2 slots: 2 packs of 10; 4
and 16 of two architectures: packs of 4, 5, 5 and 6, not 4, 8 and 8, which leave a slot
idle). A trial that cannot pack runs alone, as with ``--pack off``: one whose options have no
vectorised implementation (``unpackable_reason``), a staged trial (``fit_pack`` has no warm
start), and under ``auto`` a text (LSTM) model on the CPU, or on a GPU with an LSTM wider than
``AUTO_TEXT_MAX_HIDDEN``: there a pack is slower than its trials one after another
(docs/packing.md). Packs are formed for grid searches (with or without ASHA, which decides per
member) and for Optuna searches, whose searcher asks the study for a pack's members at once
(vaesweep.platform.study_search; ``study_pack_size`` sizes them).
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

from vaesweep.config import RunConfig
from vaesweep.errors import ConfigError
from vaesweep.packing.memory import members_that_fit, slot_memory
from vaesweep.packing.signature import signature, unpackable_reason
from vaesweep.search_spaces.definitions import TrialSpec

PACK_CHOICES = "auto, off or a number of members K >= 1"
# The largest pack auto forms: bench/packing.py's largest K, where throughput has levelled off.
AUTO_MAX_MEMBERS = 64
# Under auto an Optuna pack leaves about this many rounds of packs a slot, so the study learns
# from earlier rounds' results before it suggests the later ones.
STUDY_ROUNDS = 4
# A Tune trial's own start and end (a worker process, a model, its trackers), in members' worth
# of time: about 3 s against about 1.5 s a member of a short digits trial on the 2-core machine.
TRIAL_OVERHEAD = 2.0
# The widest LSTM auto packs on a GPU. bench/packing.py on an H200: packs of LSTM-50 and LSTM-256
# text models beat their trials one after another from 16 members (3.0x, 3.3x; 8-9x at 64);
# Yahoo's LSTM-1024 did not at 16 members (0.63x; cuDNN's fused kernel), and 64 do not fit.
AUTO_TEXT_MAX_HIDDEN = 256

Unit = tuple[TrialSpec, ...]  # one Tune trial: one trial alone, or a pack's members


@dataclass(frozen=True)
class PackPolicy:
    """How a sweep packs: at most ``max_members`` a pack (None: auto, sized to fill ``slots``
    and to fit a slot's ``memory``), and whether its trials run on a GPU (text models pack only
    there under auto, and only up to ``AUTO_TEXT_MAX_HIDDEN`` LSTM units). Stored with the
    sweep, so that ``--resume`` forms the same packs."""

    max_members: int | None
    slots: int
    on_gpu: bool
    memory: int | None = None  # bytes a slot has (vaesweep.packing.memory); None: not known

    def as_dict(self) -> dict[str, object]:
        return {
            "max_members": self.max_members,
            "slots": self.slots,
            "on_gpu": self.on_gpu,
            "memory": self.memory,
        }


def parse_pack(value: str | int) -> int | str | None:
    """``--pack`` -> "off", None (auto) or K; ConfigError naming the allowed values."""
    text = str(value).strip().lower()
    if text in ("auto", "off"):
        return None if text == "auto" else "off"
    if text.isdigit() and int(text) >= 1:
        return int(text)
    raise ConfigError("--pack", value, PACK_CHOICES)


def slots(cpus_per_trial: float, gpus_per_trial: float, max_concurrent: int | None) -> int:
    """How many Tune trials run at once on this machine: its GPUs over the GPUs a trial takes,
    else its CPUs over a trial's CPUs, at most ``max_concurrent``. (On a cluster, planned on the
    head node, this counts the head's CPUs: pass ``--pack K`` to size packs for the cluster.)"""
    if gpus_per_trial > 0:
        import torch

        available = max(1, math.floor(torch.cuda.device_count() / gpus_per_trial))
    else:
        available = max(1, math.floor((os.cpu_count() or 1) / cpus_per_trial))
    return min(available, max_concurrent) if max_concurrent else available


def pack_policy(
    pack: str | int, *, cpus_per_trial: float, gpus_per_trial: float, max_concurrent: int | None
) -> PackPolicy | None:
    """The sweep's packing, or None for ``--pack off``."""
    parsed = parse_pack(pack)
    if parsed == "off":
        return None
    count, on_gpu = slots(cpus_per_trial, gpus_per_trial, max_concurrent), gpus_per_trial > 0
    memory = slot_memory(on_gpu, gpus_per_trial, count) if parsed is None else None
    return PackPolicy(parsed, count, on_gpu, memory)


def alone_reason(spec: TrialSpec, config: RunConfig, policy: PackPolicy) -> str | None:
    """Why a trial runs alone under ``policy``, or None when it can share a pack."""
    if spec.start_from is not None:
        return "it starts from another trial's model (a packed trial has no warm start)"
    if reason := unpackable_reason(config):
        return reason
    if policy.max_members is None and config.model.architecture == "lstm":
        if not policy.on_gpu:
            return "a text model on the CPU trains faster alone (docs/packing.md)"
        if config.model.lstm_hidden > AUTO_TEXT_MAX_HIDDEN:
            return (
                f"a text model with an LSTM wider than {AUTO_TEXT_MAX_HIDDEN} trains faster alone "
                "on a GPU (docs/packing.md)"
            )
    return None


def pack_key(spec: TrialSpec, config: RunConfig, policy: PackPolicy) -> object | None:
    """What trials must share to train in one pack (their architecture signature), or None for
    a trial that runs alone."""
    return None if alone_reason(spec, config, policy) is not None else signature(config)


def memory_cap(config: RunConfig, policy: PackPolicy) -> int | None:
    """Under auto, the members of ``config``'s architecture a slot's memory holds; None when
    packs are not capped by memory (``--pack K``, or the size or the memory is not known)."""
    if policy.max_members is not None or policy.memory is None:
        return None
    return members_that_fit(config, policy.memory)


def study_pack_size(policy: PackPolicy, num_samples: int) -> int:
    """An Optuna sweep's members a pack: K under ``--pack K``; under auto, enough that each slot
    runs about ``STUDY_ROUNDS`` packs (at most ``AUTO_MAX_MEMBERS``)."""
    if policy.max_members is not None:
        return policy.max_members
    return max(1, min(AUTO_MAX_MEMBERS, math.ceil(num_samples / (STUDY_ROUNDS * policy.slots))))


def _cut(group: list[TrialSpec], size: int) -> list[Unit]:
    """``group`` in consecutive packs of at most ``size``, as even as possible."""
    count = math.ceil(len(group) / size)
    bounds = [round(i * len(group) / count) for i in range(count + 1)]
    return [tuple(group[a:b]) for a, b in itertools.pairwise(bounds)]


def pack_units(
    trials: Sequence[TrialSpec], policy: PackPolicy | None, configs: Sequence[RunConfig] | None = None
) -> list[Unit]:
    """The Tune trials of ``trials``: packs of trials with equal signatures, and trials alone;
    in the trials' order (a pack where its first member was). ``configs``: the trials'
    resolved configurations, when the caller has them."""
    if policy is None:
        return [(t,) for t in trials]
    configs = list(configs) if configs is not None else [t.config() for t in trials]
    groups: dict[object, list[TrialSpec]] = {}
    fits: dict[object, int] = {}  # under auto: the members of a group a slot's memory holds
    order: list[tuple[str, object]] = []
    for spec, config in zip(trials, configs, strict=True):
        key = pack_key(spec, config, policy)
        if key is None:
            order.append(("alone", spec))
            continue
        if key not in groups:
            groups[key] = []
            order.append(("group", key))
            if (cap := memory_cap(config, policy)) is not None:
                fits[key] = cap
        groups[key].append(spec)

    def units_of(size: int) -> list[Unit]:
        units: list[Unit] = []
        for kind, item in order:
            units += [(item,)] if kind == "alone" else _cut(groups[item], min(size, fits.get(item, size)))
        return units

    if policy.max_members is not None:
        return units_of(policy.max_members)
    packable = sum(len(g) for g in groups.values())
    largest = min(AUTO_MAX_MEMBERS, max(1, math.ceil(packable / policy.slots)))
    smallest = max(1, math.ceil(packable / (4 * policy.slots)), math.ceil(largest / 4))
    # the size whose packs end soonest; among equals the largest (the most vectorised)
    return min(
        (units_of(size) for size in range(largest, smallest - 1, -1)),
        key=lambda units: _finish_time(units, policy.slots),
    )


def _finish_time(units: Sequence[Unit], slots: int) -> float:
    """When the last of ``units`` ends when Tune starts them in order on ``slots`` slots, each
    taking a member's time per member plus ``TRIAL_OVERHEAD`` (a model for choosing pack sizes)."""
    free_at = [0.0] * slots
    for unit in units:
        first_free = free_at.index(min(free_at))
        free_at[first_free] += len(unit) + TRIAL_OVERHEAD
    return max(free_at)
