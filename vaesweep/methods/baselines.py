"""The baselines the four papers compare against, each with its own reference."""

from vaesweep.methods.space import FloatRange, IntRange
from vaesweep.methods.spec import Method

_ELBO = {"posterior.family": "diagonal", "regulariser.kind": "kl"}
# AR-ELBO section 5's deterministic baselines. Reconstruction cost ||x - mu(z)||^2 as in both
# papers: a Gaussian decoder with sigma_x^2 = 1/2 (-log p(x|z) = ||x - mu||^2 + const).
_AE_MSE = {"posterior.family": "deterministic", "likelihood.kind": "gaussian", "likelihood.sigma_x2": 0.5}
_RAE = {**_AE_MSE, "regulariser.kind": "latent_l2", "regulariser.beta": 1e-4}
# RAE code's beta 1e-4 (MNIST/CelebA) to 1e-2 (CIFAR, no penalty); lambda grids 5e-8 ... 1e-6
_RAE_SPACE = {
    "regulariser.beta": FloatRange(1e-5, 1e-2, log=True),
    "regulariser.decoder_penalty_weight": FloatRange(1e-9, 1e-5, log=True),
}
_BN_GAMMA_GRID = {"posterior.gamma": (0.3, 0.4, 0.5, 0.6, 0.7)}  # DU-VAE appendix, BN-VAE and IAF+BN
_BN_GAMMA_SPACE = {"posterior.gamma": FloatRange(0.2, 2.0, log=True)}  # DU-VAE 0.3-0.7, DG-VAE up to 1.8
_FREE_BITS_GRID = {"regulariser.free_bits": (0.1, 0.15, 0.2, 0.25, 0.3)}  # DU-VAE appendix, FB and IAF+FB
_FREE_BITS_SPACE = {"regulariser.free_bits": FloatRange(0.05, 2.0, log=True)}  # DU-VAE 0.1-0.3, DG-VAE ~1.5

METHODS = (
    Method(
        "ae",
        "Autoencoder",
        "deterministic encoder, reconstruction only (IGP baseline)",
        "baseline",
        "AE",
        {"posterior.family": "deterministic", "regulariser.kind": "none"},
    ),
    Method(
        "vae",
        "VAE",
        "Kingma & Welling 2014; ELBO (IGP eq. 1)",
        "baseline",
        "VAE",
        dict(_ELBO),
        ("regulariser.beta",),
    ),
    Method(
        "beta_vae",
        "beta-VAE",
        "Higgins et al. 2017: beta*KL",
        "baseline",
        "beta-VAE",
        {**_ELBO, "regulariser.beta": 0.4},
        ("regulariser.beta",),
        grid={"regulariser.beta": (0.2, 0.4, 0.8)},  # IGP Table 2
        space={"regulariser.beta": FloatRange(0.05, 1.0, log=True)},
    ),
    Method(
        "iwae",
        "IWAE",
        "Burda et al. 2016: importance-weighted bound",
        "baseline",
        "IWAE",
        {**_ELBO, "regulariser.kind": "iwae", "regulariser.iwae_samples": 5},
        ("regulariser.iwae_samples",),
        grid={"regulariser.iwae_samples": (1, 5, 50)},  # IGP Tables 6 and 12
        space={"regulariser.iwae_samples": IntRange(1, 64, log=True)},
    ),
    Method(
        "fb",
        "Free bits",
        "Kingma et al. 2016: sum_d max(lambda, E KL_d)",
        "baseline",
        "FB",
        {**_ELBO, "regulariser.kind": "free_bits", "regulariser.free_bits": 0.1},
        ("regulariser.free_bits",),
        grid=_FREE_BITS_GRID,
        space=_FREE_BITS_SPACE,
    ),
    Method(
        "delta_vae",
        "delta-VAE",
        "Razavi et al. 2019: committed rate via a constrained posterior variance",
        "baseline",
        "delta-VAE",
        {**_ELBO, "posterior.committed_rate": 0.1},
        ("posterior.committed_rate",),
        grid={"posterior.committed_rate": (0.1, 0.15, 0.2, 0.25)},  # DU-VAE appendix
        space={"posterior.committed_rate": FloatRange(0.05, 0.5, log=True)},
    ),
    Method(
        "mae",
        "MAE",
        "Ma et al. 2019: KL - gamma*log MPD + eta*Std[D_SKL]",
        "baseline",
        "MAE",
        {**_ELBO, "regulariser.kind": "mae", "regulariser.mae_gamma": 1.0, "regulariser.mae_eta": 0.2},
        ("regulariser.mae_gamma", "regulariser.mae_eta"),
        grid={"regulariser.mae_gamma": (0.5, 1.0, 2.0), "regulariser.mae_eta": (0.2, 0.5, 1.0)},
        space={
            "regulariser.mae_gamma": FloatRange(0.25, 4.0, log=True),
            "regulariser.mae_eta": FloatRange(0.1, 2.0, log=True),
        },
    ),
    Method(
        "bn_vae",
        "BN-VAE",
        "Zhu et al. 2020: BatchNorm on the posterior means, gamma fixed",
        "baseline",
        "BN-VAE",
        {"posterior.family": "bn", "posterior.gamma": 0.6, "regulariser.kind": "kl"},
        ("posterior.gamma",),
        grid=_BN_GAMMA_GRID,
        space=_BN_GAMMA_SPACE,
    ),
    Method(
        "iaf_fb",
        "IAF + FB",
        "Kingma et al. 2016: IAF posterior with free bits",
        "baseline",
        "IAF+FB",
        {
            "posterior.family": "diagonal",
            "posterior.flow": "iaf",
            "regulariser.kind": "free_bits",
            "regulariser.free_bits": 0.15,
        },
        ("regulariser.free_bits",),
        grid=_FREE_BITS_GRID,
        space=_FREE_BITS_SPACE,
    ),
    Method(
        "iaf_bn",
        "IAF + BN",
        "DU-VAE baseline: BN (fixed gamma) on z0 of an IAF chain",
        "baseline",
        "IAF+BN",
        {"posterior.family": "bn", "posterior.flow": "iaf", "posterior.gamma": 0.6, "regulariser.kind": "kl"},
        ("posterior.gamma",),
        grid=_BN_GAMMA_GRID,
        space=_BN_GAMMA_SPACE,
    ),
    Method(
        "wae_mmd",
        "WAE-MMD",
        "Tolstikhin et al. 2018, Alg. 2: ||x - mu(z)||^2 + lambda * MMD(q(z), N(0, I)), IMQ "
        "kernels at seven scales, deterministic encoder; lambda = 10 (WAE, MNIST)",
        "baseline",
        "WAE-MMD",
        {**_AE_MSE, "regulariser.kind": "mmd", "regulariser.mmd_weight": 10.0},
        ("regulariser.mmd_weight",),
        # AR-ELBO states no WAE/RAE weights: the values their authors used per data set.
        grid={"regulariser.mmd_weight": (10.0, 100.0)},  # WAE section 4: MNIST, CelebA
        space={"regulariser.mmd_weight": FloatRange(1.0, 1000.0, log=True)},
        data_kinds=("image",),
    ),
    Method(
        "rae",
        "RAE (RAE-L2)",
        "Ghosh et al. 2020, eq. 11: ||x - mu(z)||^2 + beta * ||z||^2/2 + lambda * ||theta_dec||^2; "
        "beta = 1e-4, lambda = 1e-7 (authors' MNIST/CelebA configuration)",
        "baseline",
        "RAE",
        {**_RAE, "regulariser.decoder_penalty": "l2", "regulariser.decoder_penalty_weight": 1e-7},
        ("regulariser.beta", "regulariser.decoder_penalty_weight"),
        grid={"regulariser.decoder_penalty_weight": (1e-7, 1e-6)},  # RAE code: MNIST/CelebA, CIFAR
        space=_RAE_SPACE,
        data_kinds=("image",),
    ),
    Method(
        "rae_gp",
        "RAE-GP",
        "Ghosh et al. 2020, eq. 11 with the gradient penalty ||d mu(z)/dz||_F^2 (AR-ELBO eq. 4); "
        "beta = 1e-4, lambda = 5e-8 (authors' MNIST configuration)",
        "baseline",
        "RAE-GP",
        {
            **_RAE,
            "regulariser.decoder_penalty": "gradient_penalty",
            "regulariser.decoder_penalty_weight": 5e-8,
        },
        ("regulariser.beta", "regulariser.decoder_penalty_weight"),
        grid={"regulariser.decoder_penalty_weight": (5e-8, 1e-7)},  # RAE code: MNIST, CelebA
        space=_RAE_SPACE,
        data_kinds=("image",),
    ),
    Method(
        "cyclic_vae",
        "Cyclical-annealing VAE",
        "Fu et al. 2019: cyclical KL schedule",
        "baseline",
        "cyclic-VAE",
        {**_ELBO, "annealing.schedule": "cyclic"},
        ("annealing.cycles", "annealing.cycle_ratio"),
        space={"annealing.cycles": IntRange(1, 8), "annealing.cycle_ratio": FloatRange(0.25, 1.0)},
    ),
    Method(
        "bow_vae",
        "bow-VAE",
        "Zhao, Zhao & Eskenazi 2017: ELBO + bag-of-words loss -sum_t log softmax(f(z))[x_t]",
        "baseline",
        "bow-VAE",
        {**_ELBO, "regulariser.bow_weight": 1.0},
        ("regulariser.bow_weight",),
        # No paper sweeps the bag-of-words weight (Zhao et al. 2017 add the term with weight 1;
        # the DG-VAE poster states none): a factor-2 bracket around 1, our choice.
        grid={"regulariser.bow_weight": (0.5, 1.0, 2.0)},
        space={"regulariser.bow_weight": FloatRange(0.25, 4.0, log=True)},
        data_kinds=("text",),
    ),
    Method(
        "agg_vae",
        "Agg-VAE",
        "He et al. 2019 (lagging inference networks): aggressive encoder updates before each decoder "
        "update until the validation MI stops rising, then the plain VAE",
        "baseline",
        "Agg-VAE",
        {**_ELBO, "train.encoder_updates": "aggressive"},
        ("train.aggressive_max_steps", "train.aggressive_window"),
        # He et al. run one setting (at most 100 inner steps); the grid brackets the cap, our choice.
        grid={"train.aggressive_max_steps": (50, 100)},
        space={
            "train.aggressive_max_steps": IntRange(10, 200, log=True),
            "train.aggressive_window": IntRange(5, 30),
        },
    ),
    Method(
        "sa_vae",
        "SA-VAE",
        "Kim et al. 2018 (semi-amortized VAE): the encoder's posterior refined per example by K SVI "
        "steps (K = 20, step 1, momentum 0.5, clip 5), trained through the refinement",
        "baseline",
        "SA-VAE",
        {**_ELBO, "posterior.refinement": "svi"},
        ("posterior.refine_steps", "posterior.refine_step_size"),
        # Kim et al. run SVI with 10, 20 and 40 steps (SA-VAE with 20).
        grid={"posterior.refine_steps": (10, 20, 40)},
        space={
            "posterior.refine_steps": IntRange(1, 40),
            "posterior.refine_step_size": FloatRange(0.1, 2.0, log=True),
        },
    ),
    Method(
        "skip_vae",
        "skip-VAE",
        "Dieng, Kim, Rush & Blei 2019: z skip-connected to the decoder's output layer",
        "baseline",
        "skip-VAE",
        {**_ELBO, "model.decoder_skip": True},  # no hyper-parameter: the skip is on or off
        data_kinds=("text",),
    ),
)
