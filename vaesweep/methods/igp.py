"""IGP (the neglected sibling): the target-KL objective with a diagonal (DGP) or an isotropic
(IGP) posterior."""

from vaesweep.methods.space import FloatRange
from vaesweep.methods.spec import Method

TARGET_KL_GRID = {"regulariser.target_kl": (5.0, 15.0, 50.0)}  # IGP Tables 3, 4, 9, 11
TARGET_KL_SPACE = {"regulariser.target_kl": FloatRange(1.0, 100.0, log=True)}

C_VAE = Method(
    "c_vae",
    "target-KL VAE (DGP)",
    "IGP eq. 2: beta*|KL - C| with a diagonal posterior",
    "IGP",
    "DGP",
    {
        "posterior.family": "diagonal",
        "regulariser.kind": "target_kl",
        "regulariser.target_kl": 15.0,
        "annealing.schedule": "none",
    },
    ("regulariser.target_kl", "regulariser.beta"),
    grid=TARGET_KL_GRID,
    space=TARGET_KL_SPACE,
)
IGP = Method(
    "igp",
    "Isotropic Gaussian Posterior",
    "IGP section 3 with eq. 2: N(mu, s^2 I), beta*|KL - C|",
    "IGP",
    "IGP",
    {
        "posterior.family": "isotropic",
        "regulariser.kind": "target_kl",
        "regulariser.target_kl": 15.0,
        "annealing.schedule": "none",
    },
    ("regulariser.target_kl", "regulariser.beta"),
    grid=TARGET_KL_GRID,
    space=TARGET_KL_SPACE,
)
METHODS = (C_VAE, IGP)
