"""Decoder likelihoods p(x|z): the units of the likelihood axis (declarations; the modules,
written once for every method, are in ``modules``).

``likelihood.kind=auto`` takes the data set's natural likelihood (Bernoulli for images,
categorical for text), so the selected unit is the *resolved* kind (``RunConfig.likelihood_kind``).
"""

from __future__ import annotations

from typing import ClassVar

from vaesweep.config.fields import PER_TRIAL, Param
from vaesweep.config.registry import Registry, Unit
from vaesweep.errors import ConfigError

VARIANCE_PARAMETERISATIONS = ("iso_i", "iso_d", "diag_i", "diag_d")


def normalise_parameterisation(value: str) -> str:
    """Accept the paper's spelling (Iso-I, Diag-D) for the variance parameterisation."""
    return value.strip().lower().replace("-", "_")


VARIANCE = Param(
    "fixed",
    "gaussian sigma_x^2: fixed at sigma_x2, trainable parameter (Dai & Wipf), or adaptive "
    "by maximum likelihood (AR-ELBO eq. 9 / Table 2)",
    choices=("fixed", "trainable", "adaptive"),
)
PARAMETERISATION = Param(
    "iso_i",
    "AR-ELBO Table 2: Iso-I sigma^2 I, Iso-D sigma^2(z) I, Diag-I diag(sigma^2), Diag-D diag(sigma^2(z))",
    choices=VARIANCE_PARAMETERISATIONS,
    symbol="variance",
    normalise=normalise_parameterisation,
)
SIGMA_X2 = Param(1.0, "fixed decoder variance (variance=fixed)", gt=0.0, symbol="sigma_x2", role=PER_TRIAL)
MEAN_ACTIVATION = Param(
    "sigmoid",
    "gaussian mean mu(z): sigmoid of the decoder output (AR-ELBO MNIST decoder) "
    "or the output itself (CelebA decoder)",
    choices=("sigmoid", "identity"),
)


class Likelihood(Unit):
    """A decoder likelihood; ``data_kind`` is the kind of data it models."""

    data_kind: ClassVar[str]

    @classmethod
    def build(cls, config, image_shape):
        raise NotImplementedError

    @classmethod
    def check(cls, config, data) -> None:
        if data.kind != cls.data_kind:
            fitting = [name for name, unit in LIKELIHOODS.units.items() if unit.data_kind == data.kind]
            method = f"; {config.method} models {cls.name} data, so it cannot run on {data.kind}"
            raise ConfigError(
                "likelihood.kind",
                cls.name,
                f"{' or '.join(fitting)} for {data.kind} data ({config.data.name}){method}",
            )


class Bernoulli(Likelihood):
    """Bernoulli pixels (binary, or [0, 1] intensities as cross-entropy); the decoder gives logits."""

    name = "bernoulli"
    data_kind = "image"

    @classmethod
    def build(cls, config, image_shape):
        from vaesweep.objectives.likelihoods.modules import Bernoulli as Module

        return Module()


class Categorical(Likelihood):
    """A softmax over the vocabulary per token, padding masked (text)."""

    name = "categorical"
    data_kind = "text"

    @classmethod
    def build(cls, config, image_shape):
        from vaesweep.objectives.likelihoods.modules import Categorical as Module

        return Module()


class Gaussian(Likelihood):
    """N(x; mu(z), Sigma_x) with Sigma_x fixed, trainable (Dai & Wipf) or adaptive by maximum
    likelihood (AR-ELBO eq. 9), in AR-ELBO Table 2's four parameterisations."""

    name = "gaussian"
    data_kind = "image"
    fields = {
        "variance": VARIANCE,
        "variance_parameterisation": PARAMETERISATION,
        "sigma_x2": SIGMA_X2,
        "mean_activation": MEAN_ACTIVATION,
    }

    @classmethod
    def build(cls, config, image_shape):
        from vaesweep.objectives.likelihoods.modules import Gaussian as Module

        return Module(config.likelihood, image_shape)

    @classmethod
    def check(cls, config, data) -> None:
        super().check(config, data)
        lik = config.likelihood
        if lik.variance == "fixed" and lik.variance_parameterisation not in ("iso_i", "diag_i"):
            raise ConfigError(
                "likelihood.variance_parameterisation",
                lik.variance_parameterisation,
                "iso_i or diag_i with a fixed variance (a z-dependent variance is learned)",
            )


LIKELIHOODS = Registry(
    "likelihood.kind",
    "p(x|z); auto = bernoulli for images, categorical for text",
    default="auto",
    units=(Bernoulli, Categorical, Gaussian),
    extra_choices=("auto",),
    resolve=lambda config: config.likelihood_kind,
)


def build_likelihood(config, image_shape):
    """The likelihood module of the run's (resolved) kind."""
    return LIKELIHOODS[config.likelihood_kind].build(config, image_shape)
