"""Schedules over training steps: the KL weight and the IGP target-KL ramp."""

from __future__ import annotations

from vaesweep.config import AnnealingConfig


def kl_weight(config: AnnealingConfig, step: int, steps_per_epoch: int, total_steps: int) -> float:
    """Weight on the regulariser at ``step`` (0-based).

    linear: start_weight -> 1 over ``warmup_epochs`` (Bowman et al. 2016; DU-VAE: 0 -> 1 in the
    first 10 epochs). cyclic: ``cycles`` cycles over the run, each rising linearly from 0 to 1
    during the first ``cycle_ratio`` of the cycle and then held at 1 (Fu et al. 2019).
    """
    if config.schedule == "none":
        return 1.0
    if config.schedule == "linear":
        warmup_steps = max(1.0, config.warmup_epochs * steps_per_epoch)
        return min(1.0, config.start_weight + (1.0 - config.start_weight) * step / warmup_steps)
    period = max(1.0, total_steps / config.cycles)
    position = (step % period) / period
    return min(1.0, position / config.cycle_ratio)


def target_kl(c: float, ramp_steps: int, step: int) -> float:
    """C_t of IGP eq. 2: ramps linearly from 0 to C over ``ramp_steps`` (authors' code)."""
    if ramp_steps <= 0:
        return c
    return c * min(1.0, step / ramp_steps)
