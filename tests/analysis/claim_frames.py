"""For every claim of the ledger, a run frame in which it must hold and one in which it must fail.

Each frame holds the few arms the claim compares, three seeds each, configured by
resolve_config as real trials are; every metric is its planted mean plus a seed jitter of
-s, 0, +s, so the seeds' spread is known and small against the planted effect.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from tests.analysis.paper_runs import run_row
from vaesweep.analysis.runs import typed
from vaesweep.config import resolve_config

DIGITS, TEXT = "digits", "synthetic_text"
SEEDS = (0, 1, 2)
JITTER = (-1.0, 0.0, 1.0)


def arm(method: str, dataset: str, overrides: dict, spread: float = 0.0, **metrics: float) -> list[dict]:
    """Three seeds of one configuration; each metric is its mean + jitter * ``spread``."""
    rows = []
    for seed, jitter in zip(SEEDS, JITTER, strict=True):
        config = resolve_config(method, dataset, {**overrides, "train.seed": seed}).flatten()
        values = {name: mean + jitter * spread for name, mean in metrics.items()}
        rows.append(run_row(config, values, dataset=dataset, seed=seed, preset="claims", arm=method))
    return rows


def frame(*arms: list[dict]) -> pd.DataFrame:
    return typed(pd.DataFrame([row for rows in arms for row in rows]))


def _igp_dgp(metric: str, igp: float, dgp: float, spread: float = 0.0, c: float = 5.0) -> pd.DataFrame:
    return frame(
        arm("igp", DIGITS, {"C": c}, spread, **{metric: igp}),
        arm("c_vae", DIGITS, {"C": c}, spread, **{metric: dgp}),
    )


def _du_bn(du: dict, bn: dict) -> pd.DataFrame:
    return frame(
        arm("du_vae", TEXT, {"gamma": 1.0, "p": 0.5}, 0.05, **du),
        arm("bn_vae", TEXT, {"gamma": 1.0}, 0.05, **bn),
    )


def _du_vae(du: dict, vae: dict) -> pd.DataFrame:
    return frame(arm("du_vae", TEXT, {"gamma": 1.0, "p": 0.5}, 0.05, **du), arm("vae", TEXT, {}, 0.0, **vae))


def _dropout(**metrics: float) -> pd.DataFrame:
    """One DU encoder per seed, evaluated with and without its variance dropout."""
    return frame(arm("du_vae", TEXT, {"gamma": 1.0, "p": 0.5}, 0.05, **metrics))


def _cost(agg: float, sa: float) -> pd.DataFrame:
    """Seconds per epoch of Agg-VAE and SA-VAE beside DU-VAE's on the same data."""
    return frame(
        arm("du_vae", TEXT, {"gamma": 0.5, "p": 0.8}, 0.05, seconds_per_epoch=2.0),
        arm("agg_vae", TEXT, {}, 0.2, seconds_per_epoch=agg),
        arm("sa_vae", TEXT, {}, 0.2, seconds_per_epoch=sa),
    )


def _dg(kl: dict[int, float]) -> pd.DataFrame:
    return frame(*(arm("dg_vae", DIGITS, {"b": b}, 0.05, kl=value, mi=value / 2) for b, value in kl.items()))


def _cu(baseline_cu: float) -> pd.DataFrame:
    return frame(
        arm("dg_vae", DIGITS, {"b": 8}, 0.0, cu=16.0, kl=9.0),
        arm("bn_vae", DIGITS, {"gamma": 1.0}, 0.3, cu=baseline_cu, kl=12.0),
    )


def _trend(sign: float) -> pd.DataFrame:
    grid = (0.1, 0.3, 1.0)
    return frame(
        *(
            arm(
                "fixed_sigma", DIGITS, {"sigma_x2": s}, 0.001, sigma_z2=0.5 + sign * s / 3, els=5.0 - sign * s
            )
            for s in grid
        )
    )


def _adaptive(sigma_x2: float) -> pd.DataFrame:
    """AR-ELBO beside the sigma_x^2 = 1 model, whose MSE/d is the data's variance (a collapsed
    decoder outputs the mean image)."""
    data = 0.07
    return frame(
        arm("ar_elbo", DIGITS, {}, 0.001, sigma_x2=sigma_x2, data_variance=data),
        arm("fixed_sigma", DIGITS, {"sigma_x2": 1.0}, 0.001, implied_sigma_x2=data, data_variance=data),
    )


def _mse(adaptive: float) -> pd.DataFrame:
    return frame(
        arm("ar_elbo", DIGITS, {}, 0.05, mse=adaptive),
        arm("fixed_sigma", DIGITS, {"sigma_x2": 1.0}, 0.05, mse=3.0),
    )


# claim -> (a frame where it holds, a frame where it fails)
FRAMES: dict[str, tuple[Callable[[], pd.DataFrame], Callable[[], pd.DataFrame]]] = {
    "igp_au_full": (
        lambda: frame(arm("igp", DIGITS, {"C": 5.0}, 0.0, au=16.0)),
        lambda: frame(arm("igp", DIGITS, {"C": 5.0}, 0.5, au=12.0)),
    ),
    "igp_au_over_dgp": (
        lambda: _igp_dgp("au", 16.0, 10.0, 0.5),
        lambda: _igp_dgp("au", 10.0, 14.0, 0.5),
    ),
    "igp_kl_matches_c": (
        lambda: frame(arm("igp", DIGITS, {"C": 15.0}, 0.05, kl=15.2)),
        lambda: frame(arm("igp", DIGITS, {"C": 15.0}, 0.05, kl=20.0)),
    ),
    "igp_downstream": (
        lambda: _igp_dgp("probe_mlp", 80.0, 75.0, 0.5),
        lambda: _igp_dgp("probe_mlp", 70.0, 75.0, 0.5),
    ),
    "duvae_kl_mi_over_bn": (
        lambda: _du_bn({"kl": 1.5, "mi": 1.1}, {"kl": 1.2, "mi": 0.9}),
        lambda: _du_bn({"kl": 1.0, "mi": 0.6}, {"kl": 1.2, "mi": 0.9}),
    ),
    "duvae_au_over_bn": (
        lambda: _du_bn({"au": 2.0}, {"au": 2.0}),
        lambda: _du_bn({"au": 1.0}, {"au": 3.0}),
    ),
    "duvae_over_vae": (
        lambda: _du_vae({"mi": 1.1, "au": 2.0}, {"mi": 0.02, "au": 0.0}),
        lambda: _du_vae({"mi": 0.01, "au": 0.0}, {"mi": 0.5, "au": 2.0}),
    ),
    "duvae_best_nll": (
        lambda: _du_bn({"nll": 28.0}, {"nll": 29.0}),
        lambda: _du_bn({"nll": 30.0}, {"nll": 29.0}),
    ),
    "duvae_dropout_mpd_ce": (
        lambda: _dropout(mpd=0.9, mpd_dropout=1.4, ce=-1.0, ce_dropout=-1.6),
        lambda: _dropout(mpd=0.9, mpd_dropout=0.7, ce=-1.0, ce_dropout=-0.8),
    ),
    # fails: SA-VAE costs more than DU-VAE, but not 1.5 times as much
    "duvae_training_cost": (lambda: _cost(6.0, 20.0), lambda: _cost(6.0, 2.5)),
    "dgvae_b1_vanilla": (
        lambda: frame(
            arm("dg_vae", DIGITS, {"b": 1}, 0.05, kl=0.4, mi=0.25),
            arm("vae", DIGITS, {}, 0.05, kl=0.3, mi=0.2),
        ),
        lambda: frame(
            arm("dg_vae", DIGITS, {"b": 1}, 0.05, kl=3.0, mi=0.25),
            arm("vae", DIGITS, {}, 0.05, kl=0.3, mi=0.2),
        ),
    ),
    "dgvae_b_raises_kl_mi": (
        lambda: _dg({1: 0.4, 8: 5.0, 64: 12.0}),
        lambda: _dg({1: 12.0, 8: 5.0, 64: 0.4}),
    ),
    "dgvae_cu_full": (lambda: _cu(4.0), lambda: _cu(16.0)),
    "arelbo_collapse_at_one": (
        lambda: frame(arm("fixed_sigma", DIGITS, {"sigma_x2": 1.0}, 0.01, kl=0.1)),
        lambda: frame(arm("fixed_sigma", DIGITS, {"sigma_x2": 1.0}, 0.01, kl=3.0)),
    ),
    "arelbo_sigma_trend": (lambda: _trend(1.0), lambda: _trend(-1.0)),
    # fails: the sigma_x^2 of a decoder that outputs the mean image is the data's variance
    "arelbo_adaptive_small": (lambda: _adaptive(0.01), lambda: _adaptive(0.07)),
    "arelbo_mse_below_fixed": (lambda: _mse(1.0), lambda: _mse(2.9)),
}
