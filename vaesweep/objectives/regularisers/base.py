"""What every regulariser is: a term the loss adds to the reconstruction, from the forward pass.

A regulariser is called with the forward output, this step's per-trial values (``values``:
beta, C_t, ... — Python floats in ``fit``, one tensor entry per member in a pack) and the noise
source, and returns its named parts as they enter the loss (weights applied). The objective adds
their sum, times the KL schedule's weight, to the reconstruction term and logs every part.

Regulariser modules import no torch (vaesweep.config reads their declarations); the few that
need a torch function import it where they use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from vaesweep.config.fields import PER_TRIAL, Param
from vaesweep.config.registry import Unit
from vaesweep.errors import ConfigError

if TYPE_CHECKING:
    from torch import Tensor

    from vaesweep.config import RunConfig
    from vaesweep.data.registry import DatasetInfo
    from vaesweep.models.vae import ForwardOutput
    from vaesweep.noise import Noise

BETA = Param(
    1.0,
    "weight on the regulariser (beta-VAE beta; IGP eq. 2 beta)",
    gt=0.0,
    symbol="beta",
    role=PER_TRIAL,
)


def weighted(weight: float | Tensor, term: Tensor) -> Tensor:
    """``weight * term``, or ``term`` itself when the weight is the Python number 1 (``fit``'s
    beta = 1, the KL schedule after its warm-up): multiplying by one changes no bit of the loss
    or of its gradients, and would cost an op forward and one backward on every step."""
    if isinstance(weight, int | float) and weight == 1:
        return term
    return weight * term


class Regulariser(Unit):
    """A loss term beside the reconstruction. ``posterior``: the posteriors it can regularise
    ("stochastic", "deterministic" or "any"). ``replaces_loss``: the term is the whole loss
    (a bound, IWAE), not added to the reconstruction. ``parts``: the named parts it returns,
    each logged per epoch as ``train_<part>`` (vaesweep.metric_registry reads them)."""

    posterior: ClassVar[str] = "stochastic"
    replaces_loss: ClassVar[bool] = False
    parts: ClassVar[dict[str, str]] = {}  # the loss parts it returns: name -> what it is

    steps_per_epoch: int = 1  # the run's optimiser steps per epoch, set by the objective

    def __init__(self, config: RunConfig) -> None:
        self.config = config

    def __call__(self, out: ForwardOutput, values: Any, noise: Noise) -> Mapping[str, Tensor]:
        raise NotImplementedError

    @classmethod
    def batch_multiple(cls, config: RunConfig) -> int:
        """Training batches must hold a multiple of this many examples (a last batch that does
        not is left out of the epoch)."""
        return 1

    def scheduled(self, step: int) -> dict[str, float]:
        """Per-trial values that change over training (IGP's C_t), at ``step``."""
        return {}

    @classmethod
    def check(cls, config: RunConfig, data: DatasetInfo) -> None:
        from vaesweep.models.posteriors import FAMILIES
        from vaesweep.objectives.regularisers import REGULARISERS

        family = config.posterior.family
        kind = "stochastic" if FAMILIES[family].stochastic else "deterministic"
        if cls.posterior not in ("any", kind):
            fitting = [n for n, unit in REGULARISERS.units.items() if unit.posterior in ("any", kind)]
            raise ConfigError(
                "regulariser.kind",
                cls.name,
                f"{', '.join(fitting)} when posterior.family is {family} (a {kind} posterior)",
            )
