"""KL weight schedules over training steps: one unit per choice of ``annealing.schedule``.

A schedule maps (step, steps per epoch, total steps) to the weight on the regulariser; it is
plain arithmetic on Python numbers, evaluated once per step (per member in a pack).
"""

from __future__ import annotations

from vaesweep.config.fields import PER_TRIAL, Param
from vaesweep.config.registry import Registry, Unit

WARMUP_EPOCHS = Param(10.0, "linear: epochs to go from start_weight to 1", gt=0.0, role=PER_TRIAL)
START_WEIGHT = Param(0.0, "linear: KL weight at step 0", ge=0.0, le=1.0, role=PER_TRIAL)
CYCLES = Param(4, "cyclic: number of cycles over the whole run", ge=1, role=PER_TRIAL)
CYCLE_RATIO = Param(0.5, "cyclic: fraction of each cycle spent increasing", gt=0.0, le=1.0, role=PER_TRIAL)


class Schedule(Unit):
    """The KL weight at a step (0-based)."""

    @staticmethod
    def weight(annealing, step: int, steps_per_epoch: int, total_steps: int) -> float:
        raise NotImplementedError


class Constant(Schedule):
    """No annealing: weight 1 throughout."""

    name = "none"

    @staticmethod
    def weight(annealing, step: int, steps_per_epoch: int, total_steps: int) -> float:
        return 1.0


class Linear(Schedule):
    """Linear warm-up from start_weight to 1 over ``warmup_epochs`` (Bowman et al. 2016; DU-VAE:
    0 -> 1 in the first 10 epochs)."""

    name = "linear"
    fields = {"warmup_epochs": WARMUP_EPOCHS, "start_weight": START_WEIGHT}

    @staticmethod
    def weight(annealing, step: int, steps_per_epoch: int, total_steps: int) -> float:
        warmup_steps = max(1.0, annealing.warmup_epochs * steps_per_epoch)
        return min(1.0, annealing.start_weight + (1.0 - annealing.start_weight) * step / warmup_steps)


class Cyclic(Schedule):
    """Cyclical annealing (Fu et al. 2019): ``cycles`` cycles over the run, each rising linearly
    from 0 to 1 during the first ``cycle_ratio`` of the cycle and then held at 1."""

    name = "cyclic"
    fields = {"cycles": CYCLES, "cycle_ratio": CYCLE_RATIO}

    @staticmethod
    def weight(annealing, step: int, steps_per_epoch: int, total_steps: int) -> float:
        period = max(1.0, total_steps / annealing.cycles)
        position = (step % period) / period
        return min(1.0, position / annealing.cycle_ratio)


SCHEDULES = Registry(
    "annealing.schedule",
    "KL weight schedule: linear warm-up (Bowman et al.) or cyclical (Fu et al.)",
    default="none",
    units=(Constant, Linear, Cyclic),
)
