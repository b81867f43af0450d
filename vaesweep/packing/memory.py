"""How much memory a pack member takes and how much a slot has, so that ``--pack auto`` forms
packs that fit the device (issue 10: "sized to the device's memory").

A member holds its parameters several times over (``PARAMETER_COPIES``) and, during a step,
the activations of its batch. The activations are measured, not modelled: one training step of
one trial runs on the CPU while a dispatch mode adds up the bytes of every tensor an operation
returns. That counts more than autograd keeps (temporaries are freed), so it is an upper
bound whatever the architecture, and it is measured on the configuration's own data, model
and objective. A pack's members share the data set, so it is not counted per member.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from vaesweep.config import RunConfig
from vaesweep.errors import DataError
from vaesweep.packing.signature import signature

if TYPE_CHECKING:  # the planner imports this module; models load only when a size is measured
    from vaesweep.data.base import Split
    from vaesweep.models.vae import VAE
    from vaesweep.objectives.objective import Objective

# weights, gradients, Adam's two moments, and the best model that decay on plateau keeps
PARAMETER_COPIES = 5
# Of a slot's memory, what packs may fill: the rest is for the data set, the final evaluation
# (importance samples, probes), the allocator's slack and, on a GPU, the CUDA context.
PACKABLE_FRACTION = 0.5

_measured: dict[tuple, int | None] = {}  # member bytes by architecture signature: measured once a process


class _OutputBytes(TorchDispatchMode):
    """Adds up the bytes of every tensor the operations under it return."""

    def __init__(self) -> None:
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for leaf in tree_leaves(out):
            if isinstance(leaf, torch.Tensor) and not func.is_view:
                self.total += leaf.numel() * leaf.element_size()
        return out


def member_bytes(config: RunConfig) -> int | None:
    """Upper bound on the memory one member of ``config``'s pack needs while training (bytes);
    the same for every configuration of its signature, which fixes every shape. None when this
    machine cannot read the data set (a cluster's head without the workers' data)."""
    key = signature(config)
    if key not in _measured:
        with torch.random.fork_rng(devices=[]):  # building the model draws initial weights
            try:
                _measured[key] = _measure(config)
            except DataError:
                _measured[key] = None
    return _measured[key]


def first_training_step(model: VAE, objective: Objective, train: Split, batch_size: int) -> None:
    """One training step of one trial on the first batch of ``train`` (forward, loss, backward;
    no optimiser): what this module counts the bytes of, and bench/packing.py the FLOPs of."""
    from vaesweep.data.batching import trim

    device = next(model.parameters()).device
    index = torch.arange(min(batch_size, len(train)), device=train.x.device)
    x = train.x[index].to(device)
    lengths = None if train.lengths is None else train.lengths[index].to(device)
    if lengths is not None:
        x = trim(x, lengths)
    model.train()
    out = model(x, lengths, k=objective.samples)
    objective(out, model, x, lengths, objective.values(0)).loss.backward()


def _measure(config: RunConfig) -> int:
    from vaesweep.data import load_dataset
    from vaesweep.models.build import build_model
    from vaesweep.objectives.objective import Objective

    settings = config.to_dict()
    cpu = RunConfig.from_dict({**settings, "train": {**settings["train"], "device": "cpu"}})
    dataset = load_dataset(cpu.data)
    model = build_model(cpu, dataset)
    parameters = sum(p.numel() * p.element_size() for p in model.parameters())
    counter = _OutputBytes()
    with counter:
        first_training_step(model, Objective(cpu, 1, 1), dataset.train, cpu.train.batch_size)
    return PARAMETER_COPIES * parameters + counter.total


def slot_memory(on_gpu: bool, gpus_per_trial: float, slots: int) -> int | None:
    """Bytes one slot may use: its share of a GPU (this machine's first), or the memory
    available now over the slots; None when this machine cannot tell (a GPU trial planned on a
    machine without one: size packs with ``--pack K``)."""
    if on_gpu:
        if not torch.cuda.is_available():
            return None
        return int(torch.cuda.get_device_properties(0).total_memory * min(1.0, gpus_per_trial))
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        fields = dict(line.split(":", 1) for line in meminfo.read_text().splitlines() if ":" in line)
        if "MemAvailable" in fields:
            return int(fields["MemAvailable"].split()[0]) * 1024 // slots
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // slots


def members_that_fit(config: RunConfig, memory: int) -> int | None:
    """How many members of ``config``'s pack fit in ``memory`` bytes (at least 1: a trial that
    does not fit alone runs alone, as it would unpacked); None when its size is unknown here."""
    each = member_bytes(config)
    return None if each is None else max(1, math.floor(PACKABLE_FRACTION * memory / each))
