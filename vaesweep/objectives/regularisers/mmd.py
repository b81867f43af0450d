"""WAE-MMD's latent regulariser (Tolstikhin et al. 2018)."""

from __future__ import annotations

import math

from vaesweep.config.fields import PER_TRIAL, Param
from vaesweep.errors import ConfigError
from vaesweep.objectives.regularisers.base import Regulariser

MMD_WEIGHT = Param(
    10.0,
    "WAE lambda on the MMD (mmd): 10 is WAE's MNIST value, 100 its CelebA one (Tolstikhin et "
    "al. 2018, section 4), with the paper's cost ||x - y||^2 (its code scales the cost by 0.05); "
    "AR-ELBO section 5 does not state its value",
    ge=0.0,
    role=PER_TRIAL,
)
MMD_SCALES = Param(
    (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0),
    "mmd: inverse multiquadratic kernels C/(C + ||z - z'||^2) summed over C = 2 * dim(z) * s, "
    "sigma_z^2 = 1 (WAE's seven scales s; AR-ELBO section 5: 'seven scales')",
)


def mmd_imq(z, prior_z, scales: tuple[float, ...], prior_variance: float = 1.0):
    """Unbiased U-statistic of MMD^2 between the codes ``z`` [..., n, D] and prior samples
    ``prior_z`` [..., m, D] (WAE, Tolstikhin et al. 2018, Algorithm 2):

        1/(n(n-1)) sum_{i!=j} k(z_i, z_j) + 1/(m(m-1)) sum_{i!=j} k(z~_i, z~_j)
        - 2/(nm) sum_{i,j} k(z_i, z~_j),

    with the inverse multiquadratic kernel k(x, y) = sum_s C_s / (C_s + ||x - y||^2),
    C_s = 2 * D * prior_variance * s (WAE's section 4). Unbiased, so it can be negative when
    q(z) = p(z). Leading dimensions are batched (one statistic per leading index).
    """
    n, m, dim = z.shape[-2], prior_z.shape[-2], z.shape[-1]
    base = 2.0 * dim * prior_variance

    def squared_distances(a, b):
        cross = a @ b.transpose(-1, -2)
        return (a.pow(2).sum(-1, keepdim=True) + b.pow(2).sum(-1).unsqueeze(-2) - 2 * cross).clamp_min(0)

    def kernel(distances):
        return sum(base * s / (base * s + distances) for s in scales)

    def off_diagonal_mean(gram, size: int):
        return (gram.sum((-2, -1)) - gram.diagonal(dim1=-2, dim2=-1).sum(-1)) / (size * (size - 1))

    within_q = off_diagonal_mean(kernel(squared_distances(z, z)), n)
    within_p = off_diagonal_mean(kernel(squared_distances(prior_z, prior_z)), m)
    across = kernel(squared_distances(z, prior_z)).mean((-2, -1))
    return within_q + within_p - 2 * across


class MMD(Regulariser):
    """WAE-MMD (Tolstikhin et al. 2018, eq. 4 and Algorithm 2): lambda * MMD^2(q(z), p(z)) of the
    batch's codes (all K samples) against as many samples of the prior N(0, I)."""

    name = "mmd"
    fields = {"mmd_weight": MMD_WEIGHT, "mmd_scales": MMD_SCALES}
    parts = {"mmd": "lambda * MMD^2(q(z), p(z)), the WAE-MMD term"}
    posterior = "any"

    def __init__(self, config) -> None:
        super().__init__(config)
        self.scales = tuple(config.regulariser.mmd_scales)

    def __call__(self, out, values, noise):
        z = out.z.reshape(-1, out.z.shape[-1])
        if z.shape[0] < 2:  # a last batch of one example has no pairs
            return {"mmd": z.new_zeros(())}
        return {"mmd": values.mmd_weight * mmd_imq(z, noise.normal(z.shape, like=z), self.scales)}

    @classmethod
    def check(cls, config, data) -> None:
        super().check(config, data)
        if config.prior.kind != "standard":
            raise ConfigError("prior.kind", config.prior.kind, "standard with the MMD (samples of N(0, I))")
        scales = config.regulariser.mmd_scales
        if not scales or any(s <= 0 or not math.isfinite(s) for s in scales):
            raise ConfigError("regulariser.mmd_scales", scales, "one or more positive scales")
