"""DG-VAE's density gap on the aggregated posterior."""

from __future__ import annotations

import math

from vaesweep.config.fields import Param
from vaesweep.errors import ConfigError
from vaesweep.models.priors import LOG_2PI
from vaesweep.objectives.regularisers.base import BETA, Regulariser, weighted

AGGREGATION_SIZE = Param(
    0,
    "DG-VAE |b|, posteriors aggregated per subset; must divide the batch size "
    "(0 = the whole batch, the paper's default)",
    ge=0,
    symbol="b",
)
SAMPLES = Param(32, "DG-VAE samples M drawn per posterior", ge=1)
MODE = Param(
    "marginal",
    "DG-VAE per-dimension (marginal) or whole-z (joint) aggregated density",
    choices=("marginal", "joint"),
)


def density_gap(mean, logvar, aggregation_size: int, samples: int, joint: bool, noise):
    """DG-VAE density gap of a batch of diagonal Gaussian posteriors.

    The batch is split into B/|b| subsets; M samples are drawn from every posterior; in each
    subset the aggregated posterior qbar(z) = mean_k q(z|x_k) is compared with the prior at
    those samples: DG = sum_d E[log qbar(z_d) - log N(z_d; 0, 1)] (marginal, per dimension) or
    E[log qbar(z) - log N(z; 0, I)] (joint). |b| = 1 is a Monte Carlo estimate of the standard
    KL; larger |b| lets each posterior move away from the prior while their aggregate stays
    close to it (the mutual-information term of the poster is then <= dim(z) * log|b|).
    """
    batch, dim = mean.shape
    groups = batch // aggregation_size
    mean_g = mean.reshape(groups, aggregation_size, dim)
    var_g = logvar.exp().reshape(groups, aggregation_size, dim)
    z = mean_g + var_g.sqrt() * noise.normal((samples, groups, aggregation_size, dim), like=mean)
    # log N(z_{m,g,i,d}; mean_{g,k,d}, var_{g,k,d}) for every pair (i, k) in the same subset
    diff = z.unsqueeze(3) - mean_g.unsqueeze(1).unsqueeze(0)
    log_components = -0.5 * (diff.pow(2) / var_g.unsqueeze(1) + var_g.log().unsqueeze(1) + LOG_2PI)
    log_prior = -0.5 * (z.pow(2) + LOG_2PI)
    if joint:
        log_qbar = log_components.sum(-1).logsumexp(dim=3) - math.log(aggregation_size)
        return (log_qbar - log_prior.sum(-1)).mean()
    log_qbar = log_components.logsumexp(dim=3) - math.log(aggregation_size)
    return (log_qbar - log_prior).sum(-1).mean()


class DensityGap(Regulariser):
    """DG-VAE: beta * DG in place of the KL, aggregated over subsets of |b| posteriors (see
    ``density_gap``)."""

    name = "density_gap"
    fields = {
        "beta": BETA,
        "aggregation_size": AGGREGATION_SIZE,
        "density_gap_samples": SAMPLES,
        "density_gap_mode": MODE,
    }
    parts = {"density_gap": "beta * DG, the density gap of DG-VAE in place of the KL"}

    def __init__(self, config) -> None:
        super().__init__(config)
        self.aggregation_size = config.regulariser.aggregation_size  # 0: the whole batch
        self.samples = config.regulariser.density_gap_samples
        self.joint = config.regulariser.density_gap_mode == "joint"

    @classmethod
    def batch_multiple(cls, config) -> int:
        """Subsets hold exactly |b| posteriors (the poster's B/|b| subsets of equal size): a last
        batch that |b| does not divide is left out of the epoch, never aggregated at another |b|."""
        return config.regulariser.aggregation_size or 1

    def __call__(self, out, values, noise):
        posterior = out.posterior
        size = self.aggregation_size or posterior.mean.shape[0]
        if posterior.mean.shape[0] % size:
            raise ValueError(f"a batch of {posterior.mean.shape[0]} has no equal subsets of |b| = {size}")
        gap = density_gap(posterior.mean, posterior.logvar, size, self.samples, self.joint, noise)
        return {"density_gap": weighted(values.beta, gap)}

    @classmethod
    def check(cls, config, data) -> None:
        super().check(config, data)
        if config.posterior.flow != "none":
            raise ConfigError(
                "posterior.flow",
                config.posterior.flow,
                "none with the density gap (it needs Gaussian posteriors)",
            )
        if config.prior.kind != "standard":
            raise ConfigError(
                "prior.kind", config.prior.kind, "standard with the density gap (factorised N(0, I))"
            )
        size = config.regulariser.aggregation_size or config.train.batch_size
        if config.train.batch_size % size:
            raise ConfigError(
                "regulariser.aggregation_size",
                config.regulariser.aggregation_size,
                f"a divisor of train.batch_size={config.train.batch_size} (0 = the whole batch)",
            )
