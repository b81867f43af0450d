"""How the encoder's updates are scheduled against the decoder's: the units of ``train.encoder_updates``.

``joint``: every step updates both networks on the same batch (the plain VAE). ``aggressive``:
Agg-VAE's aggressive phase (He et al. 2019, "Lagging inference networks and posterior collapse
in variational autoencoders", Alg. 1), which trains any method (any posterior, regulariser and
likelihood) with an inner loop of encoder-only steps before each decoder step, until the mutual
information on held-out data stops rising; then training goes on as the plain method's.

He et al. are not among the seed papers: the defaults are their published ones as we know them
(an inner loop of at most 100 steps that stops when the training loss over 15 steps stops
falling, the phase ending at the first epoch whose validation MI is lower than the previous
epoch's, starting from 0 as their code does). This module imports no torch; the loop is in
``aggressive``.
"""

from __future__ import annotations

from vaesweep.config.fields import Param
from vaesweep.config.registry import Registry, Unit
from vaesweep.errors import ConfigError

AGGRESSIVE_MAX_STEPS = Param(
    100,
    "aggressive: at most this many encoder steps before each decoder step (He et al.: 100)",
    ge=1,
)
AGGRESSIVE_WINDOW = Param(
    15,
    "aggressive: the inner loop stops when the mean training loss (per token for text) over this "
    "many encoder steps is higher than over the previous as many (He et al.'s code: 15)",
    ge=1,
)


class EncoderUpdates(Unit):
    """A schedule of encoder against decoder updates; ``build`` gives the trainer its driver."""

    @classmethod
    def build(cls, trainer):
        return None


class Joint(EncoderUpdates):
    """Joint: each step updates encoder and decoder together on one batch (the plain method)."""

    name = "joint"


class Aggressive(EncoderUpdates):
    """Agg-VAE (He et al. 2019, Alg. 1): while the aggressive phase lasts, encoder-only steps on
    random batches until the inner loss stops falling (or a step cap) before each decoder-only
    step; the phase ends when the validation MI stops rising, and joint training follows."""

    name = "aggressive"
    fields = {"aggressive_max_steps": AGGRESSIVE_MAX_STEPS, "aggressive_window": AGGRESSIVE_WINDOW}

    @classmethod
    def build(cls, trainer):
        from vaesweep.encoder_updates.aggressive import AggressivePhase

        return AggressivePhase(trainer)

    @classmethod
    def check(cls, config, data) -> None:
        from vaesweep.models.posteriors import FAMILIES

        posterior = config.posterior
        if not FAMILIES[posterior.family].stochastic or posterior.flow != "none":
            raise ConfigError(
                "train.encoder_updates",
                cls.name,
                "joint unless the posterior's mutual information is measured every epoch (a "
                "stochastic family, no flow): the aggressive phase ends when it stops rising",
            )


ENCODER_UPDATES = Registry(
    "train.encoder_updates",
    "how encoder updates are scheduled against decoder updates",
    default="joint",
    units=(Joint, Aggressive),
)
