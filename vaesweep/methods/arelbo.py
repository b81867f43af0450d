"""AR-ELBO: the decoder variance at its maximum-likelihood value, and the Gaussian-decoder
baselines its tables compare (fixed and trainable sigma_x^2)."""

from vaesweep.methods.space import Choice, FloatRange
from vaesweep.methods.spec import Method

VARIANCES = ("iso_i", "diag_i", "iso_d", "diag_d")  # AR-ELBO Table 2's four, in its tables' order
LOG10_SIGMA_X2 = tuple(round(-0.1 * i, 1) for i in range(11))  # 0.0, -0.1, ..., -1.0 (Table 1)
_ELBO_GAUSSIAN = {"posterior.family": "diagonal", "regulariser.kind": "kl", "likelihood.kind": "gaussian"}
_VARIANCE_GRID = {"likelihood.variance_parameterisation": VARIANCES}
_VARIANCE_SPACE = {"likelihood.variance_parameterisation": Choice(VARIANCES)}

AR_ELBO = Method(
    "ar_elbo",
    "AR-ELBO",
    "AR-ELBO eq. 9 / Table 2: decoder variance at its maximum-likelihood value",
    "AR-ELBO",
    "AR-ELBO",
    {**_ELBO_GAUSSIAN, "likelihood.variance": "adaptive"},
    ("likelihood.variance_parameterisation",),
    grid=_VARIANCE_GRID,
    space=_VARIANCE_SPACE,
    data_kinds=("image",),
)
FIXED_SIGMA = Method(
    "fixed_sigma",
    "Gaussian VAE, fixed sigma_x^2",
    "AR-ELBO eq. 3 with sigma_x^2 fixed (1.0 or swept, Table 1)",
    "AR-ELBO",
    "fixed_sigma",
    {**_ELBO_GAUSSIAN, "likelihood.variance": "fixed", "likelihood.sigma_x2": 1.0},
    ("likelihood.sigma_x2",),
    grid={"likelihood.sigma_x2": tuple(10**v for v in LOG10_SIGMA_X2)},  # AR-ELBO Table 1
    space={"likelihood.sigma_x2": FloatRange(0.05, 1.0, log=True)},
    data_kinds=("image",),
)
TRAINABLE_SIGMA = Method(
    "trainable_sigma",
    "Gaussian VAE, trainable Sigma_x",
    "AR-ELBO eq. 10 with Sigma_x learned by gradient (Dai & Wipf)",
    "AR-ELBO",
    "trainable Sigma_x",
    {**_ELBO_GAUSSIAN, "likelihood.variance": "trainable"},
    ("likelihood.variance_parameterisation",),
    grid=_VARIANCE_GRID,
    space=_VARIANCE_SPACE,
    data_kinds=("image",),
)
METHODS = (AR_ELBO, FIXED_SIGMA, TRAINABLE_SIGMA)
