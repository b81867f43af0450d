"""RAE's decoder regularisers (Ghosh et al. 2020, eq. 11), added to any method's loss.

One unit per choice of ``regulariser.decoder_penalty``; each returns its named loss part
(weight applied) from the forward pass and the model. The module imports no torch at load
(vaesweep.config reads the declarations); the gradient penalty imports it where it differentiates.
"""

from __future__ import annotations

from typing import ClassVar

from vaesweep.config.fields import PER_TRIAL, Param
from vaesweep.config.registry import Registry, Unit
from vaesweep.errors import ConfigError

WEIGHT = Param(
    0.0,
    "RAE lambda on the decoder regulariser (> 0 exactly when decoder_penalty is not none); the "
    "RAE presets take the authors' MNIST configuration (1e-7 for l2, 5e-8 for the gradient "
    "penalty; their code's squared error is a mean over pixels where ours sums them, so these "
    "act more weakly here: sweep them); AR-ELBO does not state its values",
    ge=0.0,
    role=PER_TRIAL,
)
PROBES = Param(
    1,
    "gradient_penalty: random-sign probes v of the Hutchinson estimate E_v ||J^T v||^2 = ||J||_F^2 "
    "(one vector-Jacobian product each); 0 = exact, one product per output unit (small decoders)",
    ge=0,
)


class DecoderPenalty(Unit):
    """A penalty on the decoder, added to the loss outside the KL schedule."""

    active: ClassVar[bool] = True
    parts: ClassVar[dict[str, str]] = {"decoder_penalty": "lambda * L_REG of the decoder (RAE eq. 11)"}

    def __init__(self, config) -> None:
        self.config = config

    def __call__(self, out, model, values, noise) -> dict:
        raise NotImplementedError

    @classmethod
    def check(cls, config, data) -> None:
        weight = config.regulariser.decoder_penalty_weight
        if cls.active and weight <= 0:
            raise ConfigError(
                "regulariser.decoder_penalty_weight",
                weight,
                f"> 0 with regulariser.decoder_penalty={cls.name}",
            )


class NoPenalty(DecoderPenalty):
    """No decoder penalty."""

    name = "none"
    active = False
    parts = {}

    def __call__(self, out, model, values, noise) -> dict:
        return {}


def decoder_l2(decoder) -> object:
    """RAE-L2 (Ghosh et al. 2020, section 4): ||theta||^2 over every decoder parameter."""
    return sum(p.pow(2).sum() for p in decoder.parameters() if p.requires_grad)


class L2(DecoderPenalty):
    """RAE-L2 (Ghosh et al. 2020, eq. 11): lambda * ||theta_decoder||^2."""

    name = "l2"
    fields = {"decoder_penalty_weight": WEIGHT}

    def __call__(self, out, model, values, noise) -> dict:
        return {"decoder_penalty": values.decoder_penalty_weight * decoder_l2(model.decoder)}


def decoder_gradient_penalty(mean, z, probes: int):
    """RAE-GP (Ghosh et al. 2020, section 4; AR-ELBO eq. 4's gradient penalty): the squared
    Frobenius norm of the Jacobian d mu(z) / dz of the decoder mean ``mean`` [K, B, ...] at the
    codes ``z`` [K, B, D], averaged over the K * B codes; differentiable (create_graph).

    ``probes`` >= 1: Hutchinson's estimate with random signs v, E_v ||J^T v||^2 = ||J||_F^2, one
    vector-Jacobian product per probe (unbiased); 0: exact, one product per output unit.
    For D(z) = W z it is ||W||_F^2.
    """
    import torch

    codes = z.shape[0] * z.shape[1]
    if probes == 0:
        basis = torch.eye(mean[0, 0].numel(), device=mean.device, dtype=mean.dtype)
        directions = (unit.expand(*mean.shape[:2], unit.numel()).reshape(mean.shape) for unit in basis)
    else:
        directions = (torch.randint_like(mean, 2) * 2 - 1 for _ in range(probes))
    total = torch.zeros((), device=mean.device, dtype=mean.dtype)
    for direction in directions:
        (grad,) = torch.autograd.grad(mean, z, direction, create_graph=True)
        total = total + grad.pow(2).sum()
    return total / (codes * max(probes, 1))


class GradientPenalty(DecoderPenalty):
    """RAE-GP (Ghosh et al. 2020, eq. 11; AR-ELBO eq. 4): lambda * E ||d mu(z)/dz||_F^2."""

    name = "gradient_penalty"
    fields = {"decoder_penalty_weight": WEIGHT, "decoder_penalty_probes": PROBES}

    def __call__(self, out, model, values, noise) -> dict:
        mean = model.likelihood.mean(out.params)
        penalty = decoder_gradient_penalty(mean, out.z, self.config.regulariser.decoder_penalty_probes)
        return {"decoder_penalty": values.decoder_penalty_weight * penalty}

    @classmethod
    def check(cls, config, data) -> None:
        super().check(config, data)
        if config.train.compile:
            raise ConfigError(
                "train.compile",
                True,
                "false with the gradient penalty (compiled graphs have no double backward)",
            )
        if data.kind == "text":
            raise ConfigError(
                "regulariser.decoder_penalty",
                cls.name,
                "none or l2 on text (the LSTM decoder has no double backward on CUDA)",
            )


DECODER_PENALTIES = Registry(
    "regulariser.decoder_penalty",
    "RAE decoder regulariser added to any objective (Ghosh et al. 2020, eq. 11)",
    default="none",
    units=(NoPenalty, L2, GradientPenalty),
)
