"""Free bits (Kingma et al. 2016)."""

from __future__ import annotations

from vaesweep.config.fields import PER_TRIAL, Param
from vaesweep.objectives.regularisers.base import BETA, Regulariser, weighted

FREE_BITS = Param(0.0, "free-bits lambda in nats per dimension", ge=0.0, symbol="lambda", role=PER_TRIAL)


class FreeBits(Regulariser):
    """Free bits (Kingma et al. 2016): beta * sum_d max(lambda, E_batch KL_d).

    Without a per-dimension KL (an IAF posterior or a mixture prior), the hinge applies to the
    total: max(lambda * dim(z), E_batch KL).
    """

    name = "free_bits"
    fields = {"beta": BETA, "free_bits": FREE_BITS}
    parts = {"free_bits_kl": "beta * sum_d max(lambda, E KL_d), the free-bits KL"}

    def __call__(self, out, values, noise):
        if out.kl_per_dim is not None:
            floored = out.kl_per_dim.mean(0).clamp_min(values.free_bits).sum()
            return {"free_bits_kl": weighted(values.beta, floored)}
        floor = values.free_bits * out.z.shape[-1]
        return {"free_bits_kl": weighted(values.beta, out.kl_mean.clamp_min(floor))}
