"""Posterior families q(z|x) and flows on their samples: the units of the posterior axis.

Each family declares the fields it reads and builds its head (encoder features -> ``Posterior``,
in ``heads``) on demand; this module imports no torch.
"""

from __future__ import annotations

import math
from typing import ClassVar

from vaesweep.config.fields import PER_TRIAL, Param
from vaesweep.config.registry import Registry, Unit
from vaesweep.errors import ConfigError

ALPHA_FLOOR = 1.0 / (2.0 * math.pi * math.e)  # DU-VAE: the variance floor of zero-entropy noise
GAMMA = Param(0.5, "BN scale gamma on the posterior means (du, bn)", gt=0.0, symbol="gamma", role=PER_TRIAL)
KEEP_PROB = Param(
    1.0,
    "DU-VAE p: KEEP probability of the variance dropout, g ~ Bernoulli(p)/p "
    "(1 = no dropout). The authors' code flag --p_drop is 1 - p.",
    gt=0.0,
    le=1.0,
    symbol="p",
    role=PER_TRIAL,  # a packed member with p = 1 draws no mask, as its run has no dropout
)
VARIANCE_FLOOR = Param(True, "DU-VAE: add alpha = 1/(2*pi*e) to every variance (du)")
RESCALE = Param(
    "after_step",
    "DU-VAE gamma rescale gamma_d <- gamma*gamma_d/sqrt(mean gamma_d^2): after each "
    "optimiser step (paper, Alg. 1) or before each forward pass (authors' code)",
    choices=("after_step", "before_forward"),
)
NOISE_START = Param(
    "always",
    "DU-VAE floor and dropout: always on (paper) or only once KL annealing has reached "
    "weight 1 (authors' code)",
    choices=("always", "after_warmup"),
)
BN_SHIFT = Param(
    0.0,
    "bn: fix the BN shift at this non-zero value and learn the scale instead (DU-VAE "
    "appendix F, Tables S1/S2); 0 = BN-VAE's learned shift and fixed scale",
)
FIXED_VARIANCE = Param(
    0.0,
    "diagonal/isotropic: fix every posterior variance at this value instead of learning it "
    "(AR-ELBO appendix E, Table 5); 0 = learned",
    ge=0.0,
)
COMMITTED_RATE = Param(
    0.0,
    "delta-VAE committed rate delta per dimension: posterior variances are constrained to "
    "(0, s_u^2] with KL(N(mu, s_u^2)||N(0,1)) >= delta for every mu, so KL >= dim(z)*delta",
    ge=0.0,
    symbol="delta",
)


class Family(Unit):
    """A posterior family: ``stochastic`` says whether q(z|x) has a variance (an AE's has not)."""

    stochastic: ClassVar[bool] = True

    @classmethod
    def build(cls, config, in_features: int, latent_dim: int):
        raise NotImplementedError


class _GaussianFamily(Family):
    fields = {"committed_rate": COMMITTED_RATE, "fixed_variance": FIXED_VARIANCE}
    isotropic: ClassVar[bool] = False

    @classmethod
    def build(cls, config, in_features: int, latent_dim: int):
        from vaesweep.models.posteriors.heads import GaussianHead

        post = config.posterior
        return GaussianHead(in_features, latent_dim, cls.isotropic, post.committed_rate, post.fixed_variance)

    @classmethod
    def check(cls, config, data) -> None:
        if config.posterior.fixed_variance > 0 and config.posterior.committed_rate > 0:
            raise ConfigError(
                "posterior.fixed_variance",
                config.posterior.fixed_variance,
                "0 with a committed rate (delta-VAE constrains a learned variance)",
            )


class Diagonal(_GaussianFamily):
    """Diagonal Gaussian N(mu, diag(s^2)) (DGP; IGP eq. 1), optionally delta-VAE's committed rate
    or a fixed variance (AR-ELBO appendix E)."""

    name = "diagonal"


class Isotropic(_GaussianFamily):
    """Isotropic Gaussian N(mu, s^2 I) with one log-variance per example (IGP section 3)."""

    name = "isotropic"
    isotropic = True


class DU(Family):
    """DU-VAE (Alg. 1): BatchNorm on the means, scale gamma trained and rescaled (eq. 9), a
    variance floor and dropout with keep probability p on the variances (eq. 6)."""

    name = "du"
    fields = {
        "gamma": GAMMA,
        "keep_prob": KEEP_PROB,
        "variance_floor": VARIANCE_FLOOR,
        "rescale": RESCALE,
        "noise_start": NOISE_START,
    }

    @classmethod
    def build(cls, config, in_features: int, latent_dim: int):
        from vaesweep.models.posteriors.heads import BatchNormHead

        return BatchNormHead(in_features, latent_dim, config.posterior, trainable_scale=True)

    @classmethod
    def check(cls, config, data) -> None:
        if config.posterior.keep_prob < 1 and not config.posterior.variance_floor:
            raise ConfigError(
                "posterior.variance_floor",
                False,
                "true when keep_prob < 1 (a dropped variance falls to the floor)",
            )


class BN(Family):
    """BN-VAE (Zhu et al. 2020): BatchNorm on the means with the scale fixed at gamma; or, with
    ``bn_shift``, the shift fixed and the scale learned (DU-VAE appendix F)."""

    name = "bn"
    fields = {"gamma": GAMMA, "bn_shift": BN_SHIFT}

    @classmethod
    def build(cls, config, in_features: int, latent_dim: int):
        from vaesweep.models.posteriors.heads import BatchNormHead

        return BatchNormHead(in_features, latent_dim, config.posterior, trainable_scale=False)


class Deterministic(Family):
    """A deterministic encoder z = mu(x): an autoencoder (AE, WAE, RAE)."""

    name = "deterministic"
    stochastic = False

    @classmethod
    def build(cls, config, in_features: int, latent_dim: int):
        from vaesweep.models.posteriors.heads import DeterministicHead

        return DeterministicHead(in_features, latent_dim)


FAMILIES = Registry(
    "posterior.family",
    "q(z|x)",
    default="diagonal",
    units=(Diagonal, Isotropic, DU, BN, Deterministic),
)


class Flow(Unit):
    """A transformation of the posterior's samples."""

    @classmethod
    def wrap(cls, head, config, in_features: int, latent_dim: int):
        return head


class NoFlow(Flow):
    """No flow: z is the head's Gaussian sample."""

    name = "none"


class IAFFlow(Flow):
    """IAF chain on z0 (Kingma et al. 2016; DU-VAE appendix D): MADE blocks, order reversed
    between blocks, conditioned on the encoder features."""

    name = "iaf"

    @classmethod
    def wrap(cls, head, config, in_features: int, latent_dim: int):
        from vaesweep.models.flows import IAF
        from vaesweep.models.posteriors.heads import PosteriorWithFlow

        model = config.model
        return PosteriorWithFlow(head, IAF(latent_dim, model.flow_hidden, in_features, model.flow_blocks))

    @classmethod
    def check(cls, config, data) -> None:
        if not FAMILIES[config.posterior.family].stochastic:
            raise ConfigError("posterior.flow", cls.name, "none for a deterministic posterior")
        if config.model.latent_dim < 2:
            raise ConfigError(
                "model.latent_dim", config.model.latent_dim, ">= 2 with an IAF flow (autoregressive)"
            )


FLOWS = Registry(
    "posterior.flow", "a flow on the posterior's samples", default="none", units=(NoFlow, IAFFlow)
)


REFINE_STEPS = Param(
    20,
    "svi: K, gradient steps on each example's ELBO from the encoder's (mu, log sigma^2) "
    "(Kim et al. 2018: 20); 0 = the amortised posterior, the plain VAE",
    ge=0,
)
REFINE_STEP_SIZE = Param(
    1.0,
    "svi: step size alpha on the gradient of the batch-mean ELBO at the training batch size B (Kim "
    "et al.: 1, on their code's batch-mean loss): each example moves alpha/B times its own gradient",
    gt=0.0,
)
REFINE_MOMENTUM = Param(
    0.5,
    "svi: momentum gamma of the refinement steps, v <- gamma*v + grad ELBO (Kim et al., Alg. 1; "
    "their code's default 0.5)",
    ge=0.0,
    le=0.99,
)
REFINE_CLIP = Param(
    5.0,
    "svi: clip norm c of the batch's gradient over (mu, log sigma^2), forward and backward (Kim "
    "et al.'s code: 5): each example's share is clipped to c / sqrt(B) at the training batch size "
    "B, the batch's norm when its examples' are equal; 0 = no clipping",
    ge=0.0,
)
REFINE_SAMPLES = Param(1, "svi: z samples per example in each step's ELBO estimate (Kim et al.: 1)", ge=1)
REFINE_EVAL = Param(
    "refined",
    "svi: which posterior the validation and final metrics use: refined (Kim et al. evaluate "
    "with the refined posterior) or amortised (the encoder's own, no refinement)",
    choices=("refined", "amortised"),
)


class Refinement(Unit):
    """What happens to the encoder's posterior parameters before z is drawn."""

    @classmethod
    def build(cls, config):
        return None


class NoRefinement(Refinement):
    """None: the amortised posterior q(z|x) of the encoder, as it is."""

    name = "none"


class SVIRefinement(Refinement):
    """SA-VAE (Kim et al. 2018, Alg. 1): K steps of stochastic gradient ascent with momentum on
    each example's ELBO, from the encoder's (mu, log sigma^2); training backpropagates through
    the steps to the encoder, and the decoder is trained at the refined posterior."""

    name = "svi"
    fields = {
        "refine_steps": REFINE_STEPS,
        "refine_step_size": REFINE_STEP_SIZE,
        "refine_momentum": REFINE_MOMENTUM,
        "refine_clip": REFINE_CLIP,
        "refine_samples": REFINE_SAMPLES,
        "refine_eval": REFINE_EVAL,
    }

    @classmethod
    def build(cls, config):
        from vaesweep.models.posteriors.refinement import SVI

        return SVI(config)

    @classmethod
    def check(cls, config, data) -> None:
        post = config.posterior
        if post.family not in ("diagonal", "isotropic") or post.flow != "none":
            raise ConfigError(
                "posterior.refinement",
                cls.name,
                "none unless posterior.family is diagonal or isotropic with no flow (SVI refines a "
                f"Gaussian's mean and log-variance); this run has {post.family} with flow {post.flow}",
            )
        if post.fixed_variance > 0 or post.committed_rate > 0:
            raise ConfigError(
                "posterior.refinement",
                cls.name,
                "none with a fixed or constrained posterior variance (refinement would move it)",
            )


REFINEMENTS = Registry(
    "posterior.refinement",
    "refinement of the encoder's posterior before z is drawn (semi-amortised inference)",
    default="none",
    units=(NoRefinement, SVIRefinement),
)


def build_posterior_head(config, in_features: int, latent_dim: int):
    """The head of ``config.posterior.family``, wrapped in its flow."""
    head = FAMILIES[config.posterior.family].build(config, in_features, latent_dim)
    return FLOWS[config.posterior.flow].wrap(head, config, in_features, latent_dim)
