"""Priors p(z): the units of the prior axis (declarations; the modules are in ``modules``)."""

from __future__ import annotations

import math

from vaesweep.config.fields import Param
from vaesweep.config.registry import Registry, Unit

LOG_2PI = math.log(2.0 * math.pi)  # the Gaussian log-density's constant, defined once here
COMPONENTS = Param(5, "mixture components (mog, moig)", ge=1)


class Prior(Unit):
    """A prior over z."""

    @classmethod
    def build(cls, config):
        raise NotImplementedError


class Standard(Prior):
    """The standard Gaussian N(0, I)."""

    name = "standard"

    @classmethod
    def build(cls, config):
        from vaesweep.models.priors.modules import StandardNormalPrior

        return StandardNormalPrior(config.model.latent_dim)


class MoG(Prior):
    """A mixture of diagonal Gaussians with learnable components (IGP appendix C)."""

    name = "mog"
    fields = {"components": COMPONENTS}
    isotropic = False

    @classmethod
    def build(cls, config):
        from vaesweep.models.priors.modules import MixturePrior

        return MixturePrior(config.model.latent_dim, config.prior.components, isotropic=cls.isotropic)


class MoIG(MoG):
    """A mixture of isotropic Gaussians, each with one variance, matching IGP's posterior
    (IGP appendix C)."""

    name = "moig"
    isotropic = True


PRIORS = Registry("prior.kind", "p(z)", default="standard", units=(Standard, MoG, MoIG))
