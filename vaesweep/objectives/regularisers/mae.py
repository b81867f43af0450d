"""MAE (Ma et al. 2019), as DU-VAE describes it."""

from __future__ import annotations

from vaesweep.config.fields import PER_TRIAL, Param
from vaesweep.objectives.regularisers.base import BETA, Regulariser, weighted

MAE_GAMMA = Param(1.0, "MAE gamma: weight of the diversity term -log MPD", ge=0.0, role=PER_TRIAL)
MAE_ETA = Param(
    0.2, "MAE eta: weight of the smoothness term Std[D_SKL]", ge=0.0, symbol="eta", role=PER_TRIAL
)


class MAE(Regulariser):
    """MAE (Ma et al. 2019): beta * KL - gamma * log MPD + eta * Std[D_SKL] within the batch.

    MPD (mutual posterior diversity, DU-VAE eq. 2) is the mean symmetric KL between the
    posteriors of two different examples: its log rewards diverse posteriors on a scale that
    balances the ELBO, and the standard deviation of the pairwise divergences asks them to be
    spread evenly (smoothness). MAE's paper is not among the seeds; this is its objective as
    DU-VAE describes it (gamma: diversity, eta: smoothness), with the standard Gaussian prior.
    """

    name = "mae"
    fields = {"beta": BETA, "mae_gamma": MAE_GAMMA, "mae_eta": MAE_ETA}
    parts = {
        "weighted_kl": "beta * KL, the regulariser of the (beta-)ELBO",
        "diversity": "-gamma * log MPD, MAE's diversity term",
        "smoothness": "eta * Std[D_SKL], MAE's smoothness term",
    }

    def __call__(self, out, values, noise):
        import torch

        from vaesweep.metrics.latent import pairwise_symmetric_kl

        posterior = out.posterior
        batch = posterior.mean.shape[0]
        divergences = pairwise_symmetric_kl(posterior.mean, posterior.logvar).to(posterior.mean.dtype)
        off_diagonal = divergences[~torch.eye(batch, dtype=torch.bool, device=divergences.device)]
        mpd = off_diagonal.mean()
        spread = off_diagonal.std() if off_diagonal.numel() > 1 else torch.zeros_like(mpd)
        return {
            "weighted_kl": weighted(values.beta, out.kl_mean),
            "diversity": -values.mae_gamma * torch.log(mpd + 1e-12),
            "smoothness": values.mae_eta * spread,
        }
