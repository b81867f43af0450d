"""Method presets: each is a few lines of data choosing a unit on every axis.

A preset fixes the posterior family (and flow), the regulariser and its schedule, the decoder
likelihood and variance, and the prior, plus default hyper-parameters. Anything can be
overridden afterwards, which is how methods are combined (``igp`` with
``regulariser.kind=density_gap``, a DU head with the AR-ELBO likelihood, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Method:
    name: str
    title: str
    source: str  # paper and equation this preset implements
    settings: dict[str, Any]
    hyperparameters: tuple[str, ...] = ()
    data_kinds: tuple[str, ...] = ("image", "text")
    notes: str = ""
    reference_names: tuple[str, ...] = field(default=())


def _m(name: str, title: str, source: str, settings: dict[str, Any], hyperparameters=(), **kw) -> Method:
    return Method(name, title, source, settings, tuple(hyperparameters), **kw)


_ELBO = {"posterior.family": "diagonal", "regulariser.kind": "kl"}
_GAUSSIAN = {"likelihood.kind": "gaussian"}
_AE_MSE = {"posterior.family": "deterministic", **_GAUSSIAN, "likelihood.sigma_x2": 0.5}
_RAE = {**_AE_MSE, "regulariser.kind": "latent_l2", "regulariser.beta": 1e-4}

METHODS: dict[str, Method] = {
    m.name: m
    for m in [
        _m(
            "ae",
            "Autoencoder",
            "deterministic encoder, reconstruction only (IGP baseline)",
            {"posterior.family": "deterministic", "regulariser.kind": "none"},
        ),
        _m("vae", "VAE", "Kingma & Welling 2014; ELBO (IGP eq. 1)", dict(_ELBO), ("regulariser.beta",)),
        _m(
            "beta_vae",
            "beta-VAE",
            "Higgins et al. 2017: beta*KL",
            {**_ELBO, "regulariser.beta": 0.4},
            ("regulariser.beta",),
        ),
        _m(
            "c_vae",
            "target-KL VAE (DGP)",
            "IGP eq. 2: beta*|KL - C| with a diagonal posterior",
            {
                "posterior.family": "diagonal",
                "regulariser.kind": "target_kl",
                "regulariser.target_kl": 15.0,
                "annealing.schedule": "none",
            },
            ("regulariser.target_kl", "regulariser.beta"),
        ),
        _m(
            "igp",
            "Isotropic Gaussian Posterior",
            "IGP section 3 with eq. 2: N(mu, s^2 I), beta*|KL - C|",
            {
                "posterior.family": "isotropic",
                "regulariser.kind": "target_kl",
                "regulariser.target_kl": 15.0,
                "annealing.schedule": "none",
            },
            ("regulariser.target_kl", "regulariser.beta"),
        ),
        _m(
            "iwae",
            "IWAE",
            "Burda et al. 2016: importance-weighted bound",
            {**_ELBO, "regulariser.kind": "iwae", "regulariser.iwae_samples": 5},
            ("regulariser.iwae_samples",),
        ),
        _m(
            "fb",
            "Free bits",
            "Kingma et al. 2016: sum_d max(lambda, E KL_d)",
            {**_ELBO, "regulariser.kind": "free_bits", "regulariser.free_bits": 0.1},
            ("regulariser.free_bits",),
        ),
        _m(
            "delta_vae",
            "delta-VAE",
            "Razavi et al. 2019: committed rate via a constrained posterior variance",
            {**_ELBO, "posterior.committed_rate": 0.1},
            ("posterior.committed_rate",),
        ),
        _m(
            "mae",
            "MAE",
            "Ma et al. 2019: KL - gamma*log MPD + eta*Std[D_SKL]",
            {**_ELBO, "regulariser.kind": "mae", "regulariser.mae_gamma": 1.0, "regulariser.mae_eta": 0.2},
            ("regulariser.mae_gamma", "regulariser.mae_eta"),
        ),
        _m(
            "bn_vae",
            "BN-VAE",
            "Zhu et al. 2020: BatchNorm on the posterior means, gamma fixed",
            {"posterior.family": "bn", "posterior.gamma": 0.6, "regulariser.kind": "kl"},
            ("posterior.gamma",),
        ),
        _m(
            "du_vae",
            "DU-VAE",
            "DU-VAE Alg. 1: BN on means (eq. 9) + dropout on variances (eq. 6)",
            {
                "posterior.family": "du",
                "posterior.gamma": 0.5,
                "posterior.keep_prob": 0.8,
                "regulariser.kind": "kl",
            },
            ("posterior.gamma", "posterior.keep_prob"),
        ),
        _m(
            "du_iaf",
            "DU-IAF",
            "DU-VAE Alg. S1: the DU head on z0 of an IAF chain",
            {
                "posterior.family": "du",
                "posterior.flow": "iaf",
                "posterior.gamma": 0.6,
                "posterior.keep_prob": 0.7,
                "regulariser.kind": "kl",
            },
            ("posterior.gamma", "posterior.keep_prob"),
        ),
        _m(
            "iaf_fb",
            "IAF + FB",
            "Kingma et al. 2016: IAF posterior with free bits",
            {
                "posterior.family": "diagonal",
                "posterior.flow": "iaf",
                "regulariser.kind": "free_bits",
                "regulariser.free_bits": 0.15,
            },
            ("regulariser.free_bits",),
        ),
        _m(
            "iaf_bn",
            "IAF + BN",
            "DU-VAE baseline: BN (fixed gamma) on z0 of an IAF chain",
            {
                "posterior.family": "bn",
                "posterior.flow": "iaf",
                "posterior.gamma": 0.6,
                "regulariser.kind": "kl",
            },
            ("posterior.gamma",),
        ),
        _m(
            "dg_vae",
            "DG-VAE",
            "DG-VAE: density gap on the aggregated posterior, per dimension",
            {**_ELBO, "regulariser.kind": "density_gap"},
            ("regulariser.aggregation_size", "regulariser.density_gap_mode"),
        ),
        _m(
            "ar_elbo",
            "AR-ELBO",
            "AR-ELBO eq. 9 / Table 2: decoder variance at its maximum-likelihood value",
            {**_ELBO, **_GAUSSIAN, "likelihood.variance": "adaptive"},
            ("likelihood.variance_parameterisation",),
            data_kinds=("image",),
        ),
        _m(
            "fixed_sigma",
            "Gaussian VAE, fixed sigma_x^2",
            "AR-ELBO eq. 3 with sigma_x^2 fixed (1.0 or swept, Table 1)",
            {**_ELBO, **_GAUSSIAN, "likelihood.variance": "fixed", "likelihood.sigma_x2": 1.0},
            ("likelihood.sigma_x2",),
            data_kinds=("image",),
        ),
        _m(
            "trainable_sigma",
            "Gaussian VAE, trainable Sigma_x",
            "AR-ELBO eq. 10 with Sigma_x learned by gradient (Dai & Wipf)",
            {**_ELBO, **_GAUSSIAN, "likelihood.variance": "trainable"},
            ("likelihood.variance_parameterisation",),
            data_kinds=("image",),
        ),
        # AR-ELBO section 5's baselines. Reconstruction cost ||x - mu(z)||^2 as in both papers:
        # a Gaussian decoder with sigma_x^2 = 1/2 (-log p(x|z) = ||x - mu||^2 + const).
        _m(
            "wae_mmd",
            "WAE-MMD",
            "Tolstikhin et al. 2018, Alg. 2: ||x - mu(z)||^2 + lambda * MMD(q(z), N(0, I)), IMQ "
            "kernels at seven scales, deterministic encoder; lambda = 10 (WAE, MNIST)",
            {**_AE_MSE, "regulariser.kind": "mmd", "regulariser.mmd_weight": 10.0},
            ("regulariser.mmd_weight",),
            data_kinds=("image",),
        ),
        _m(
            "rae",
            "RAE (RAE-L2)",
            "Ghosh et al. 2020, eq. 11: ||x - mu(z)||^2 + beta * ||z||^2/2 + lambda * ||theta_dec||^2; "
            "beta = 1e-4, lambda = 1e-7 (authors' MNIST/CelebA configuration)",
            {**_RAE, "regulariser.decoder_penalty": "l2", "regulariser.decoder_penalty_weight": 1e-7},
            ("regulariser.beta", "regulariser.decoder_penalty_weight"),
            data_kinds=("image",),
        ),
        _m(
            "rae_gp",
            "RAE-GP",
            "Ghosh et al. 2020, eq. 11 with the gradient penalty ||d mu(z)/dz||_F^2 (AR-ELBO eq. 4); "
            "beta = 1e-4, lambda = 5e-8 (authors' MNIST configuration)",
            {
                **_RAE,
                "regulariser.decoder_penalty": "gradient_penalty",
                "regulariser.decoder_penalty_weight": 5e-8,
            },
            ("regulariser.beta", "regulariser.decoder_penalty_weight"),
            data_kinds=("image",),
        ),
        _m(
            "cyclic_vae",
            "Cyclical-annealing VAE",
            "Fu et al. 2019: cyclical KL schedule",
            {**_ELBO, "annealing.schedule": "cyclic"},
            ("annealing.cycles", "annealing.cycle_ratio"),
        ),
        _m(
            "bow_vae",
            "bow-VAE",
            "Zhao, Zhao & Eskenazi 2017: ELBO + bag-of-words loss -sum_t log softmax(f(z))[x_t]",
            {**_ELBO, "regulariser.bow_weight": 1.0},
            ("regulariser.bow_weight",),
            data_kinds=("text",),
        ),
        _m(
            "skip_vae",
            "skip-VAE",
            "Dieng, Kim, Rush & Blei 2019: z skip-connected to the decoder's output layer",
            {**_ELBO, "model.decoder_skip": True},
            data_kinds=("text",),
        ),
    ]
}
