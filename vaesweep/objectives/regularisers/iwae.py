"""The importance-weighted bound (Burda et al. 2016)."""

from __future__ import annotations

import math

from vaesweep.config.fields import Param
from vaesweep.objectives.regularisers.base import Regulariser

IWAE_SAMPLES = Param(1, "IWAE k importance samples per example", ge=1, symbol="k")


class IWAE(Regulariser):
    """IWAE (Burda et al. 2016): the loss is -E log (1/k) sum_k p(x, z_k) / q(z_k|x), a bound
    that replaces rec + KL (the forward pass draws k samples; KL weights do not apply)."""

    name = "iwae"
    fields = {"iwae_samples": IWAE_SAMPLES}
    parts = {"iwae_bound": "-log (1/k) sum_k p(x, z_k) / q(z_k|x), the IWAE loss"}
    replaces_loss = True

    def __call__(self, out, values, noise):
        log_weights = out.log_px + out.log_pz - out.log_q
        bound = log_weights.logsumexp(dim=0) - math.log(log_weights.shape[0])
        return {"iwae_bound": -bound.mean()}
