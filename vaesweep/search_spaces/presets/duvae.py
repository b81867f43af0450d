"""The DU-VAE paper's tables (Regularizing VAE with Diversity and Uncertainty Awareness).

Table 1 is likelihood estimation on Yahoo, Yelp and OMNIGLOT; Tables 2-3 are probe accuracy
on short-Yelp and OMNIGLOT; Tables S1-S2 the fixed-shift batch norm of its appendix. All run
He et al.'s setup as the paper does (section 4.1 / appendix E).
"""

from __future__ import annotations

from vaesweep.search_spaces.definitions import Arm, Experiment

# DU-VAE section 4.1 / appendix E: He et al.'s setup; KL weight annealed 0 -> 1 over the
# first 10 epochs for every model; NLL with 500 importance samples.
DUVAE = {"annealing.schedule": "linear", "annealing.warmup_epochs": 10.0, "eval.nll_samples": 500}


def _du_arms(table: str) -> tuple[Arm, ...]:
    """DU-VAE Table 1 (per data set: Yahoo / Yelp / OMNIGLOT) and the classification tables."""
    y, e, o = "yahoo", "yelp", "omniglot"
    if table == "1":
        return (
            Arm("vae", "VAE"),
            Arm("beta_vae", "beta-VAE", per_dataset={y: {"beta": 0.4}, e: {"beta": 0.4}, o: {"beta": 0.8}}),
            Arm("sa_vae", "SA-VAE"),
            Arm("agg_vae", "Agg-VAE"),
            Arm("fb", "FB", {"lambda": 0.1}),
            Arm("delta_vae", "delta-VAE", {"delta": 0.1}),
            Arm("bn_vae", "BN-VAE", per_dataset={y: {"gamma": 0.6}, e: {"gamma": 0.6}, o: {"gamma": 0.5}}),
            Arm(
                "mae",
                "MAE",
                {"regulariser.mae_eta": 0.2},
                per_dataset={
                    y: {"regulariser.mae_gamma": 1.0},
                    e: {"regulariser.mae_gamma": 2.0},
                    o: {"regulariser.mae_gamma": 0.5},
                },
            ),
            Arm("du_vae", "DU-VAE (0.5, 0.9)", {"gamma": 0.5, "p": 0.9}),
            Arm("du_vae", "DU-VAE (0.5, 0.8)", {"gamma": 0.5, "p": 0.8}),
            Arm("du_vae", "DU-VAE (0.6, 0.8)", {"gamma": 0.6, "p": 0.8}),
            Arm(
                "iaf_fb",
                "IAF+FB",
                per_dataset={y: {"lambda": 0.15}, e: {"lambda": 0.25}, o: {"lambda": 0.15}},
            ),
            Arm("iaf_bn", "IAF+BN", per_dataset={y: {"gamma": 0.6}, e: {"gamma": 0.7}, o: {"gamma": 0.5}}),
            Arm(
                "du_iaf",
                "DU-IAF",
                per_dataset={
                    y: {"gamma": 0.7, "p": 0.7},
                    e: {"gamma": 0.6, "p": 0.7},
                    o: {"gamma": 0.5, "p": 0.85},
                },
            ),
        )
    if table == "2":  # short-Yelp classification
        settings = [
            ("ae", "AE", {}),
            ("vae", "VAE", {}),
            ("delta_vae", "delta-VAE (0.1)", {"delta": 0.1}),
            ("agg_vae", "Agg-VAE", {}),
            ("fb", "FB (0.1)", {"lambda": 0.1}),
            ("bn_vae", "BN-VAE (0.6)", {"gamma": 0.6}),
            ("mae", "MAE (2, 0.2)", {"regulariser.mae_gamma": 2.0, "regulariser.mae_eta": 0.2}),
            ("du_vae", "DU-VAE (0.5, 0.8)", {"gamma": 0.5, "p": 0.8}),
            ("iaf_fb", "IAF+FB (0.25)", {"lambda": 0.25}),
            ("iaf_bn", "IAF+BN (0.7)", {"gamma": 0.7}),
            ("du_iaf", "DU-IAF (0.6, 0.7)", {"gamma": 0.6, "p": 0.7}),
        ]
    else:  # Table 3, OMNIGLOT: "(0.5, 0.1)" prints the drop rate 1 - p (reference README)
        settings = [
            ("ae", "AE", {}),
            ("vae", "VAE", {}),
            ("delta_vae", "delta-VAE (0.1)", {"delta": 0.1}),
            ("agg_vae", "Agg-VAE", {}),
            ("fb", "FB (0.1)", {"lambda": 0.1}),
            ("bn_vae", "BN-VAE (0.5)", {"gamma": 0.5}),
            ("mae", "MAE (0.5, 0.2)", {"regulariser.mae_gamma": 0.5, "regulariser.mae_eta": 0.2}),
            ("du_vae", "DU-VAE (0.5, p=0.9)", {"gamma": 0.5, "p": 0.9}),
            ("iaf_fb", "IAF+FB (0.15)", {"lambda": 0.15}),
            ("iaf_bn", "IAF+BN (0.5)", {"gamma": 0.5}),
            ("du_iaf", "DU-IAF (0.5, p=0.85)", {"gamma": 0.5, "p": 0.85}),
        ]
    return tuple(Arm(method, label, values) for method, label, values in settings)


_BN_SHIFTS = (0.1, 0.3, 0.5, 0.7, 1.0)

PRESETS = (
    Experiment(
        "duvae_table1",
        "DU-VAE Table 1: likelihood estimation on Yahoo, Yelp and OMNIGLOT",
        ("yahoo", "yelp", "omniglot"),
        _du_arms("1"),
        seeds=(0,),
        metrics=("nll", "kl", "mi", "au"),
        protocol=DUVAE,
        reference=("duvae_table1.csv",),
    ),
    Experiment(
        "duvae_table2",
        "DU-VAE Table 2: short-Yelp sentiment accuracy of a linear probe with 100 to 10k labels",
        ("short_yelp",),
        _du_arms("2"),
        seeds=(0,),
        metrics=("accuracy",),
        protocol=DUVAE,
        evaluation={"eval.label_budget_probes": True},
        reference=("duvae_table2.csv",),
        metric_map={"accuracy": "accuracy_labels_{labels}"},
    ),
    Experiment(
        "duvae_table3",
        "DU-VAE Table 3: OMNIGLOT per-alphabet accuracy with 5/10/15 labelled images per character",
        ("omniglot",),
        _du_arms("3"),
        seeds=(0,),
        metrics=("accuracy",),
        protocol=DUVAE,
        evaluation={"eval.per_character_probes": True},
        reference=("duvae_table3.csv",),
        metric_map={"accuracy": "accuracy_per_char_{labels}"},
    ),
    Experiment(
        "duvae_tableS1",
        "DU-VAE Table S1: BN with a fixed non-zero shift on Yahoo (collapse despite a KL floor)",
        ("yahoo",),
        (Arm("bn_vae", "BN, fixed shift", {"gamma": 0.6}, {"posterior.bn_shift": _BN_SHIFTS}),),
        seeds=(0,),
        metrics=("nll", "kl", "mi", "au"),
        protocol=DUVAE,
        reference=("duvae_tableS1.csv",),
    ),
    Experiment(
        "duvae_tableS2",
        "DU-VAE Table S2: the fixed-shift BN models' short-Yelp probe accuracy",
        ("short_yelp",),
        (Arm("bn_vae", "BN, fixed shift", {"gamma": 0.6}, {"posterior.bn_shift": _BN_SHIFTS}),),
        seeds=(0,),
        metrics=("accuracy",),
        protocol=DUVAE,
        evaluation={"eval.label_budget_probes": True},
        reference=("duvae_tableS2.csv",),
        metric_map={"accuracy": "accuracy_labels_{labels}"},
    ),
)
