"""The papers' published numbers, and the map between a run's configuration and a paper row.

A reference row is keyed by (method, posterior, hparams) as printed: ``hparams`` is a
``;``-separated list of the papers' symbols (``C=5``, ``gamma=0.6;p=0.9``, ``b=4``,
``variance=Iso-I``, ``log_sigma_x2=-0.1;encoding=stochastic``). Each symbol is read off a run
by an ``HParam`` (``read``: run row -> the value in the paper's units) and written back by the
same object (``write``: printed value -> config columns), so one definition serves both the
comparison of runs with the papers and the construction of runs from the papers' rows.

The CSVs are a copy of ../shared/reference (see reference/README.md for provenance).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import pandas as pd

from vaesweep.analysis import schema
from vaesweep.analysis.runs import CONFIG_DEFAULTS
from vaesweep.methods import METHODS
from vaesweep.search_spaces.presets.igp import BASE_IGP

Row = Mapping[str, Any]

# Hyper-parameters that index a table's columns rather than its rows (label budgets).
COLUMN_PARAMS = ("labels",)


@dataclass(frozen=True)
class HParam:
    """One printed symbol: how to read it from a run, and the config columns that produce it."""

    read: Callable[[Row], Any]
    write: Callable[[str, Row], dict[str, Any]]
    numeric: bool = True

    def matches(self, row: Row, printed: str | None) -> bool:
        """Does the run carry this printed value (``None``: the value the paper leaves implicit)?"""
        value = self.read(row)
        expected = self.read(CONFIG_DEFAULTS) if printed is None else printed
        if value is None or expected is None:
            return value is None and expected is None
        if self.numeric:
            return math.isclose(float(value), float(expected), rel_tol=1e-6, abs_tol=1e-9)
        return _normal(value) == _normal(expected)


def _normal(text: Any) -> str:
    return str(text).strip().lower().replace("-", "_")


def _column(column: str, cast: type = float) -> HParam:
    return HParam(lambda row: row.get(column), lambda text, row: {column: cast(float(text))})


def _log10(column: str) -> HParam:
    """AR-ELBO prints base-10 logs of sigma_x^2 and sigma_z^2."""
    return HParam(
        lambda row: math.log10(row[column]) if row.get(column, 0) > 0 else None,
        lambda text, row: {column: 10 ** float(text)},
    )


def _choice(column: str, printed: Mapping[str, str]) -> HParam:
    """A categorical symbol: config value -> printed word (IG/MoG/MoIG, Iso-I, ...)."""
    back = {_normal(v): k for k, v in printed.items()}
    return HParam(
        lambda row: printed.get(row.get(column), row.get(column)),
        lambda text, row: {column: back[_normal(text)]},
        numeric=False,
    )


def _free_bits_total() -> HParam:
    """DG-VAE prints FB's lambda as the total KL target: lambda = free_bits * dim(z)."""
    return HParam(
        lambda row: row["regulariser.free_bits"] * row["model.latent_dim"],
        lambda text, row: {"regulariser.free_bits": float(text) / row["model.latent_dim"]},
    )


def _staged(column: str, label: str, printed: str) -> HParam:
    """IGP Table 7's staged rows, told apart by their arms rather than a config field: ``stage``
    is the base model's arm, ``init`` a run that started from it (its started-from arm tag)."""
    return HParam(
        lambda row: printed if row.get(column) == label else None,
        lambda text, row: {column: label},
        numeric=False,
    )


HPARAMS: dict[str, HParam] = {
    "C": _column("regulariser.target_kl"),
    "beta": _column("regulariser.beta"),
    "k": _column("regulariser.iwae_samples", int),
    "prior": _choice("prior.kind", {"standard": "IG", "mog": "MoG", "moig": "MoIG"}),
    "gamma": _column("posterior.gamma"),
    "p": _column("posterior.keep_prob"),
    "p_drop": HParam(
        lambda row: 1.0 - row["posterior.keep_prob"],
        lambda text, row: {"posterior.keep_prob": 1.0 - float(text)},
    ),
    "eta": _column("regulariser.mae_eta"),
    "lambda": _column("regulariser.free_bits"),
    "delta": _column("posterior.committed_rate"),
    "beta_mu": _column("posterior.bn_shift"),
    "b": _column("regulariser.aggregation_size", int),
    "variance": _choice(
        "likelihood.variance_parameterisation",
        {"iso_i": "Iso-I", "iso_d": "Iso-D", "diag_i": "Diag-I", "diag_d": "Diag-D"},
    ),
    "sigma_x2": _column("likelihood.sigma_x2"),
    "log_sigma_x2": _log10("likelihood.sigma_x2"),
    "log_sigma_z2": _log10("posterior.fixed_variance"),
    "sigma_z2": HParam(
        lambda row: "fixed" if row["posterior.fixed_variance"] > 0 else "learned",
        lambda text, row: {},  # log_sigma_z2 sets the value
        numeric=False,
    ),
    "encoding": HParam(
        lambda row: "deterministic" if row["posterior.family"] == "deterministic" else "stochastic",
        lambda text, row: {},  # the method sets the family
        numeric=False,
    ),
}
# Where a method or a table prints a symbol with another meaning.
METHOD_HPARAMS: dict[tuple[str, str], HParam] = {("mae", "gamma"): _column("regulariser.mae_gamma")}
TABLE_HPARAMS: dict[tuple[str, str], HParam] = {
    ("dgvae_yahoo", "lambda"): _free_bits_total(),
    ("igp_table7", "stage"): _staged("arm", BASE_IGP, "base"),
    ("igp_table7", "init"): _staged(schema.STARTED_FROM_ARM, BASE_IGP, "base_igp"),
}


def hparam(key: str, method: str, table: str) -> HParam:
    return TABLE_HPARAMS.get((table, key)) or METHOD_HPARAMS.get((method, key)) or HPARAMS[key]


# -- method and posterior ---------------------------------------------------------------------
# The posterior column of the papers: DU-VAE and BN-VAE heads are diagonal Gaussians there.
_POSTERIOR = {"diagonal": "diagonal", "isotropic": "isotropic", "du": "diagonal", "bn": "diagonal"}
# A row whose posterior the paper leaves blank takes the method's own (WAE-MMD: deterministic).
_GAUSSIAN_SIGMA = {"sigma_x2", "log_sigma_x2"}
Printed = Mapping[str, set[str]]  # paper method -> every symbol a table prints for it
# AR-ELBO calls two of our methods a VAE: the Gaussian VAE with a fixed sigma_x^2 (Tables 1, 3)
# and the deterministic encoder with the KL's mean term (Table 1, "deterministic encoding").
# A table says so by printing the symbols that identify them; elsewhere a "VAE" row is ours.
_ALIASES: tuple[tuple[Callable[[Row], bool], str, set[str]], ...] = (
    (lambda row: row["method"] == "fixed_sigma", "vae", _GAUSSIAN_SIGMA),
    (lambda row: row["method"] == "ae" and row.get("regulariser.kind") == "latent_l2", "vae", {"encoding"}),
)


def _method_family(method: str) -> str:
    """The posterior family a method's own spec sets (the default diagonal otherwise)."""
    settings = METHODS[method].settings if method in METHODS else {}
    return settings.get("posterior.family", "diagonal")


def printed_keys(ref: pd.DataFrame) -> dict[str, set[str]]:
    """Every symbol a table's rows print, per method (its reference rows, ``reference_rows``)."""
    return {method: {k for hp in group["row_hp"] for k in hp} for method, group in ref.groupby("method")}


def reference_method(row: Row, printed: Printed) -> str:
    """The paper's name for a run's method in a table that prints ``printed``."""
    for applies, name, identifying in _ALIASES:
        if applies(row) and identifying & printed.get(name, set()):
            return name
    return row["method"]


def reference_posterior(row: Row) -> str:
    if row.get("posterior.flow") == "iaf":
        return "iaf"
    family = row.get("posterior.family")
    return "none" if family == "deterministic" else _POSTERIOR.get(family, family)


def parse_hparams(text: str) -> dict[str, str]:
    """``'gamma=0.6;p=0.9'`` -> ``{'gamma': '0.6', 'p': '0.9'}`` (values as printed)."""
    pairs = [item.split("=", 1) for item in str(text).split(";") if item.strip()]
    return {key.strip(): value.strip() for key, value in pairs}


def hparams_text(hparams: Mapping[str, str]) -> str:
    return ";".join(f"{key}={value}" for key, value in hparams.items())


def row_matches(
    row: Row, method: str, posterior: str, hparams: Mapping[str, str], printed: Printed, table: str
) -> bool:
    """Is this run the paper's row (method, posterior, hparams) of a table printing ``printed``?

    A symbol the table prints for the method but this row does not must sit at its default
    (DG-VAE "default" is |b| = 0, the whole batch, not |b| = 4). An empty posterior (not
    stated by the paper) matches any.
    """
    if reference_method(row, printed) != method or posterior not in ("", reference_posterior(row)):
        return False
    if printed[method] & _GAUSSIAN_SIGMA and row.get("likelihood.kind") != "gaussian":
        return False  # a Bernoulli VAE has a sigma_x2 column at its default, but no sigma_x^2
    return all(hparam(key, method, table).matches(row, hparams.get(key)) for key in printed[method])


def run_config_for(
    method: str, posterior: str, hparams: Mapping[str, str], table: str, base: Row | None = None
) -> dict[str, Any]:
    """Config columns of a run that is the paper's row (the inverse of ``row_matches``).

    ``base``: the columns to start from (a method preset's resolved config), else defaults.
    """
    config = dict(CONFIG_DEFAULTS if base is None else base)
    config["method"] = method
    if method == "vae" and any(key in hparams for key in _GAUSSIAN_SIGMA):
        deterministic = hparams.get("encoding") == "deterministic"
        config["method"] = "ae" if deterministic else "fixed_sigma"
        config["likelihood.kind"] = "gaussian"
        config["regulariser.kind"] = "latent_l2" if deterministic else "kl"
    if posterior == "none":
        config["posterior.family"] = "deterministic"
    elif posterior == "isotropic":
        config["posterior.family"] = "isotropic"
    else:
        config["posterior.family"] = _method_family(method)
        config["posterior.flow"] = "iaf" if posterior == "iaf" else "none"
    for key, text in hparams.items():
        if key not in COLUMN_PARAMS:
            config.update(hparam(key, method, table).write(text, config))
    return config


# -- the CSVs ---------------------------------------------------------------------------------


@cache
def _read_reference(name: str) -> pd.DataFrame:
    with (resources.files(__package__) / "reference" / name).open() as handle:
        frame = pd.read_csv(handle, dtype=str, keep_default_na=False)
    frame["mean_text"] = frame["mean"]
    frame["mean"] = pd.to_numeric(frame["mean"])
    frame["std"] = pd.to_numeric(frame["std"].replace("", None))
    return frame


def reference_rows(names: tuple[str, ...]) -> pd.DataFrame:
    """The reference CSVs of one table, in their printed order, with parsed hparams."""
    frame = pd.concat([_read_reference(name) for name in names], ignore_index=True)
    parsed = frame["hparams"].map(parse_hparams)
    frame["row_hp"] = parsed.map(lambda hp: {k: v for k, v in hp.items() if k not in COLUMN_PARAMS})
    frame["row_hparams"] = frame["row_hp"].map(hparams_text)
    frame["param"] = parsed.map(lambda hp: hparams_text({k: v for k, v in hp.items() if k in COLUMN_PARAMS}))
    return frame
