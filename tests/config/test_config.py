"""Run configuration: resolution order, round trips, and errors that name the bad field."""

import pytest

from vaesweep.config import RunConfig, canonical_key, parse_assignments, resolve_config
from vaesweep.errors import ConfigError
from vaesweep.methods import METHODS


@pytest.mark.parametrize(
    ("method", "dataset", "overrides", "field", "allowed_fragment"),
    [
        ("no_such_method", "digits", {}, "method", "one of"),
        ("vae", "no_such_data", {}, "data.name", "one of"),
        ("vae", "digits", {"posterior.no_such_field": 1}, "posterior.no_such_field", "known field"),
        ("du_vae", "digits", {"p": 0.0}, "posterior.keep_prob", "> 0.0"),
        ("du_vae", "digits", {"p": 1.5}, "posterior.keep_prob", "<= 1.0"),
        ("igp", "digits", {"C": -1}, "regulariser.target_kl", ">= 0.0"),
        ("beta_vae", "digits", {"beta": 0}, "regulariser.beta", "> 0.0"),
        ("dg_vae", "digits", {"b": 3}, "regulariser.aggregation_size", "divisor of train.batch_size=64"),
        ("ar_elbo", "digits", {"variance": "Iso-X"}, "likelihood.variance_parameterisation", "iso_i"),
        ("ar_elbo", "synthetic_text", {}, "likelihood.kind", "categorical for text"),
        ("vae", "synthetic_text", {"likelihood.kind": "bernoulli"}, "likelihood.kind", "categorical"),
        ("vae", "digits", {"model.architecture": "conv"}, "model.architecture", "28x28"),
        ("vae", "digits", {"p": 0.8}, "posterior.keep_prob", "du"),
        ("vae", "digits", {"b": 4}, "regulariser.aggregation_size", "density_gap"),
        ("vae", "digits", {"train.device": "tpu"}, "train.device", "cuda:N"),
        ("vae", "digits", {"epochs": "ten"}, "train.epochs", "int"),
        ("vae", "digits", {"posterior.family": "deterministic"}, "regulariser.kind", "deterministic"),
        ("fixed_sigma", "digits", {"variance": "iso_d"}, "likelihood.variance_parameterisation", "fixed"),
        ("dg_vae", "digits", {"prior.kind": "mog"}, "prior.kind", "standard"),
        ("vae", "digits", {"C": 5}, "regulariser.target_kl", "target_kl"),
        ("vae", "digits", {"annealing.schedule": "sigmoid"}, "annealing.schedule", "linear"),
        ("bow_vae", "digits", {}, "regulariser.bow_weight", "0 for image data"),
        ("vae", "digits", {"regulariser.bow_weight": 1.0}, "regulariser.bow_weight", "image data"),
        ("bow_vae", "synthetic_text", {"regulariser.bow_weight": -1}, "regulariser.bow_weight", ">= 0.0"),
        ("skip_vae", "digits", {}, "model.decoder_skip", "lstm"),
        ("vae", "digits", {"model.decoder_skip": True}, "model.decoder_skip", "lstm"),
    ],
)
def test_each_bad_value_names_its_field_and_what_is_allowed(
    method, dataset, overrides, field, allowed_fragment
):
    with pytest.raises(ConfigError) as caught:
        resolve_config(method, dataset, overrides)
    assert caught.value.field == field
    assert allowed_fragment in str(caught.value)
    assert field in str(caught.value)


def test_profile_then_preset_then_overrides():
    config = resolve_config("igp", "digits")
    assert config.posterior.family == "isotropic"  # preset
    assert config.model.latent_dim == 16  # digits profile
    assert config.regulariser.target_kl == 15.0
    config = resolve_config("igp", "digits", {"C": 5, "latent_dim": 8, "posterior.family": "diagonal"})
    assert (config.regulariser.target_kl, config.model.latent_dim, config.posterior.family) == (
        5.0,
        8,
        "diagonal",
    )
    text = resolve_config("cyclic_vae", "synthetic_text")
    assert text.annealing.schedule == "cyclic"  # the method wins over the text profile's warm-up
    assert text.optim.name == "sgd" and text.optim.max_decays == 5


def test_methods_combine_across_axes():
    config = resolve_config("igp", "digits", {"regulariser.kind": "density_gap", "C": 0})
    assert (config.posterior.family, config.regulariser.kind) == ("isotropic", "density_gap")
    config = resolve_config(
        "du_vae", "digits", {"likelihood.kind": "gaussian", "likelihood.variance": "adaptive"}
    )
    assert config.likelihood_kind == "gaussian"


def test_round_trips_through_json_and_flat_keys():
    config = resolve_config("du_iaf", "synthetic_text", {"p": 0.7, "seed": 3})
    assert RunConfig.from_json(config.to_json()) == config
    flat = {k: str(v) for k, v in config.flatten().items()}  # as MLflow stores params
    assert RunConfig.from_dict(flat) == config


def test_aliases_and_leaf_names():
    assert canonical_key("C") == "regulariser.target_kl"
    assert canonical_key("keep_prob") == "posterior.keep_prob"
    assert canonical_key("regulariser.beta") == "regulariser.beta"
    with pytest.raises(ConfigError):
        canonical_key("gamma_typo")
    assert parse_assignments(["C=15", "posterior.keep_prob = 0.8"]) == {
        "C": "15",
        "posterior.keep_prob": "0.8",
    }
    with pytest.raises(ConfigError):
        parse_assignments(["C15"])


def test_paper_spelling_of_the_variance_parameterisation():
    assert (
        resolve_config("ar_elbo", "digits", {"variance": "Diag-D"}).likelihood.variance_parameterisation
        == "diag_d"
    )


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_preset_resolves_on_the_data_kinds_it_models(method):
    for dataset, kind in (("digits", "image"), ("synthetic_text", "text")):
        if kind in METHODS[method].data_kinds:
            assert resolve_config(method, dataset).method == method
        else:
            with pytest.raises(ConfigError):
                resolve_config(method, dataset)


def test_bag_of_words_and_the_decoder_skip_compose_with_any_text_method():
    config = resolve_config(
        "igp", "synthetic_text", {"regulariser.bow_weight": 0.5, "model.decoder_skip": True}
    )
    assert (config.posterior.family, config.regulariser.bow_weight, config.model.decoder_skip) == (
        "isotropic",
        0.5,
        True,
    )
    both = resolve_config("skip_vae", "synthetic_text", {"model.text_decoder": "igp", "bow_weight": 1})
    assert both.model.decoder_skip and both.regulariser.bow_weight == 1.0
