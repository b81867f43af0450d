"""DU-VAE: batch norm on the posterior means (diversity) and dropout on the variances
(uncertainty), with and without an IAF."""

from vaesweep.methods.space import FloatRange
from vaesweep.methods.spec import Method

DU_VAE = Method(
    "du_vae",
    "DU-VAE",
    "DU-VAE Alg. 1: BN on means (eq. 9) + dropout on variances (eq. 6)",
    "DU-VAE",
    "DU-VAE",
    {"posterior.family": "du", "posterior.gamma": 0.5, "posterior.keep_prob": 0.8, "regulariser.kind": "kl"},
    ("posterior.gamma", "posterior.keep_prob"),
    grid={  # DU-VAE appendix: gamma x keep probability p
        "posterior.gamma": (0.4, 0.5, 0.6, 0.7),
        "posterior.keep_prob": (1.0, 0.9, 0.8, 0.7, 0.6),
    },
    space={"posterior.gamma": FloatRange(0.3, 1.0), "posterior.keep_prob": FloatRange(0.5, 1.0)},
)
DU_IAF = Method(
    "du_iaf",
    "DU-IAF",
    "DU-VAE Alg. S1: the DU head on z0 of an IAF chain",
    "DU-VAE",
    "DU-IAF",
    {
        "posterior.family": "du",
        "posterior.flow": "iaf",
        "posterior.gamma": 0.6,
        "posterior.keep_prob": 0.7,
        "regulariser.kind": "kl",
    },
    ("posterior.gamma", "posterior.keep_prob"),
    grid={"posterior.gamma": (0.5, 0.6, 0.7, 0.8), "posterior.keep_prob": (0.9, 0.8, 0.7)},
    space={"posterior.gamma": FloatRange(0.4, 1.0), "posterior.keep_prob": FloatRange(0.6, 1.0)},
)
METHODS = (DU_VAE, DU_IAF)
