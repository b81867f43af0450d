"""A regulariser and a method from outside vaesweep, as a user would add them.

The regulariser is the ELBO's KL plus an L2 penalty on the posterior mean, weighted by a
per-trial field with its own paper symbol (``w_mu``); the method is the VAE with it. Importing
this module registers both (the two registry lines at the end): name it in ``$VAESWEEP_PLUGINS``
and ``vaesweep train``, ``vaesweep sweep`` and every Ray worker know them.
"""

from vaesweep.config.fields import PER_TRIAL, Param
from vaesweep.methods import METHODS, Method
from vaesweep.methods.space import FloatRange
from vaesweep.objectives.regularisers import REGULARISERS, Regulariser

MU_WEIGHT = Param(0.0, "weight on E ||mu||^2 (toy)", ge=0.0, symbol="w_mu", role=PER_TRIAL)


class MeanL2(Regulariser):
    """KL(q(z|x) || p(z)) + w_mu * E ||mu(x)||^2: a toy regulariser that pulls posterior means to 0."""

    name = "toy_mean_l2"
    fields = {"mu_weight": MU_WEIGHT}
    parts = {"toy_kl": "KL(q(z|x) || p(z))", "toy_mu_l2": "w_mu * E ||mu||^2"}

    def __call__(self, out, values, noise):
        mean_l2 = out.posterior.mean.pow(2).sum(-1).mean()
        return {"toy_kl": out.kl_mean, "toy_mu_l2": values.mu_weight * mean_l2}


TOY_VAE = Method(
    "toy_vae",
    "VAE + L2 on the posterior mean (toy)",
    "tests/extending/toy_plugin.py",
    "toy",
    "Toy-VAE",
    {"posterior.family": "diagonal", "regulariser.kind": "toy_mean_l2"},
    ("regulariser.mu_weight",),
    grid={"regulariser.mu_weight": (0.0, 0.5)},
    space={"regulariser.mu_weight": FloatRange(0.0, 1.0)},
)

REGULARISERS.register(MeanL2)
METHODS.register(TOY_VAE)
