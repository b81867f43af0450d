"""The ELBO's KL term, weighted: the VAE (beta = 1) and beta-VAE."""

from __future__ import annotations

from vaesweep.objectives.regularisers.base import BETA, Regulariser, weighted


class KL(Regulariser):
    """beta * E_batch KL(q(z|x) || p(z)): the ELBO (IGP eq. 1) and beta-VAE (Higgins et al. 2017)."""

    name = "kl"
    fields = {"beta": BETA}
    parts = {"weighted_kl": "beta * KL, the regulariser of the (beta-)ELBO"}

    def __call__(self, out, values, noise):
        return {"weighted_kl": weighted(values.beta, out.kl_mean)}
