"""The latent L2 penalty of a deterministic encoder."""

from __future__ import annotations

from vaesweep.objectives.regularisers.base import BETA, Regulariser


class LatentL2(Regulariser):
    """beta * ||mu||^2 / 2: what the KL keeps of a deterministic encoder (AR-ELBO Table 1,
    "deterministic encoding", sigma_z^2 fixed to 0; the log-variance part is a constant; RAE's
    L_z^RAE, Ghosh et al. 2020 eq. 11)."""

    name = "latent_l2"
    fields = {"beta": BETA}
    parts = {"latent_l2": "beta * ||mu||^2 / 2 of a deterministic encoder"}
    posterior = "deterministic"

    def __call__(self, out, values, noise):
        return {"latent_l2": values.beta * 0.5 * out.posterior.mean.pow(2).sum(-1).mean()}
