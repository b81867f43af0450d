"""The DG-VAE paper's table (Improving VAEs with Density Gap-based Regularization, NeurIPS
2022 poster): language modelling on Yahoo with priorLL/postLL, KL, MI, AU and CU."""

from __future__ import annotations

from vaesweep.search_spaces.definitions import Arm, Experiment


def _dg_arms() -> tuple[Arm, ...]:
    """DG-VAE poster, Yahoo table. FB's 4/16/49 read as total KL targets: lambda = target/32."""
    return (
        Arm("vae", "VAE (default)"),
        Arm("cyclic_vae", "cyclic-VAE"),
        # The poster gives no setting for these two: the presets' defaults (bag-of-words weight
        # 1 as in Zhao et al. 2017; skip into the output layer of the profile's he decoder).
        Arm("bow_vae", "bow-VAE"),
        Arm("skip_vae", "skip-VAE"),
        Arm("delta_vae", "delta-VAE (0.15)", {"delta": 0.15}),
        Arm("bn_vae", "BN-VAE", grid={"gamma": (0.6, 1.2, 1.8)}),
        Arm("fb", "FB-VAE", grid={"lambda": (4 / 32, 16 / 32, 49 / 32)}),
        Arm("beta_vae", "beta-VAE", grid={"beta": (0.4, 0.2, 0.1)}),
        Arm("dg_vae", "DG-VAE", grid={"b": (1, 4, 32)}),
        Arm("dg_vae", "DG-VAE (default)"),
    )


PRESETS = (
    Experiment(
        "dgvae_yahoo",
        "DG-VAE poster: language modelling on Yahoo, priorLL/postLL, KL, MI, AU, CU",
        ("yahoo",),
        _dg_arms(),
        seeds=(0,),
        metrics=("prior_ll", "post_ll", "kl", "mi", "au", "cu"),
        reference=("dgvae_table_yahoo.csv",),
        objective=("prior_ll", "max"),
    ),
)
