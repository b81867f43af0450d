"""Each method's hyper-parameter grid as its paper swept it.

``vaesweep sweep METHOD`` runs the grid on one data set (``method_experiment``), the same way
a table preset runs its arms, so a method sweep and a table sweep share one code path from
``expand`` to MLflow. Keys are dotted config keys; every grid point validates on the embedded
data sets (tests/search_spaces/test_grids.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vaesweep.errors import ConfigError
from vaesweep.methods import METHODS
from vaesweep.search_spaces.definitions import Arm, Experiment
from vaesweep.search_spaces.presets.arelbo import LOG10_SIGMA_X2, VARIANCES

Grid = Mapping[str, tuple[Any, ...]]

_TARGET_KL = {"regulariser.target_kl": (5.0, 15.0, 50.0)}  # IGP Tables 3, 4, 9, 11
_BN_GAMMA = {"posterior.gamma": (0.3, 0.4, 0.5, 0.6, 0.7)}  # DU-VAE appendix, BN-VAE and IAF+BN
_FREE_BITS = {"regulariser.free_bits": (0.1, 0.15, 0.2, 0.25, 0.3)}  # DU-VAE appendix, FB and IAF+FB
_VARIANCE = {"likelihood.variance_parameterisation": VARIANCES}  # AR-ELBO Table 2's four

PAPER_GRIDS: dict[str, Grid] = {
    "ae": {},
    "vae": {},
    "cyclic_vae": {},
    # No paper sweeps the bag-of-words weight (Zhao et al. 2017 add the term with weight 1; the
    # DG-VAE poster states none): a factor-2 bracket around 1, our choice. skip-VAE has no
    # hyper-parameter (the skip is on or off).
    "bow_vae": {"regulariser.bow_weight": (0.5, 1.0, 2.0)},
    "skip_vae": {},
    "beta_vae": {"regulariser.beta": (0.2, 0.4, 0.8)},  # IGP Table 2
    "c_vae": _TARGET_KL,
    "igp": _TARGET_KL,
    "iwae": {"regulariser.iwae_samples": (1, 5, 50)},  # IGP Tables 6 and 12
    "fb": _FREE_BITS,
    "iaf_fb": _FREE_BITS,
    "delta_vae": {"posterior.committed_rate": (0.1, 0.15, 0.2, 0.25)},  # DU-VAE appendix
    "mae": {"regulariser.mae_gamma": (0.5, 1.0, 2.0), "regulariser.mae_eta": (0.2, 0.5, 1.0)},
    "bn_vae": _BN_GAMMA,
    "iaf_bn": _BN_GAMMA,
    "du_vae": {  # DU-VAE appendix: gamma x keep probability p
        "posterior.gamma": (0.4, 0.5, 0.6, 0.7),
        "posterior.keep_prob": (1.0, 0.9, 0.8, 0.7, 0.6),
    },
    "du_iaf": {"posterior.gamma": (0.5, 0.6, 0.7, 0.8), "posterior.keep_prob": (0.9, 0.8, 0.7)},
    "dg_vae": {"regulariser.aggregation_size": (1, 2, 4, 8, 16, 32)},  # DG-VAE |b|
    "ar_elbo": _VARIANCE,
    "trainable_sigma": _VARIANCE,
    "fixed_sigma": {"likelihood.sigma_x2": tuple(10**v for v in LOG10_SIGMA_X2)},  # AR-ELBO Table 1
    # AR-ELBO states no WAE/RAE weights: the values their authors used per data set.
    "wae_mmd": {"regulariser.mmd_weight": (10.0, 100.0)},  # WAE section 4: MNIST, CelebA
    "rae": {"regulariser.decoder_penalty_weight": (1e-7, 1e-6)},  # RAE code: MNIST/CelebA, CIFAR
    "rae_gp": {"regulariser.decoder_penalty_weight": (5e-8, 1e-7)},  # RAE code: MNIST, CelebA
}

# What a method sweep reports (a table preset names its own).
METHOD_SWEEP_METRICS = ("nll", "rec", "kl", "elbo", "mi", "au", "cu")


def paper_grid(method: str) -> Grid:
    """The grid ``method``'s paper swept (empty for a method without hyper-parameters to sweep)."""
    if method not in PAPER_GRIDS:
        raise ConfigError("method", method, "one of " + ", ".join(PAPER_GRIDS))
    return PAPER_GRIDS[method]


def method_experiment(method: str, dataset: str = "digits", seeds: tuple[int, ...] = (0, 1, 2)) -> Experiment:
    """The method's paper grid on one data set, as an experiment that ``expand`` and the sweep run."""
    grid = paper_grid(method)
    return Experiment(
        name=method,
        title=f"{METHODS[method].title}: its paper's grid on {dataset}",
        datasets=(dataset,),
        arms=(Arm(method, method, grid=grid),),
        seeds=seeds,
        metrics=METHOD_SWEEP_METRICS,
    )
