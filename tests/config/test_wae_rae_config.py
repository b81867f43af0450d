"""WAE-MMD and RAE settings: bad values and combinations name their field; the new terms
compose with other methods where they make sense."""

import pytest

from vaesweep.config import resolve_config
from vaesweep.errors import ConfigError


@pytest.mark.parametrize(
    ("method", "dataset", "overrides", "field", "allowed_fragment"),
    [
        ("wae_mmd", "digits", {"regulariser.mmd_weight": -1}, "regulariser.mmd_weight", ">= 0.0"),
        ("wae_mmd", "digits", {"mmd_scales": "0.1,-1"}, "regulariser.mmd_scales", "positive"),
        ("wae_mmd", "digits", {"mmd_scales": "()"}, "regulariser.mmd_scales", "positive"),
        ("wae_mmd", "digits", {"beta": 2.0}, "regulariser.beta", "mmd_weight"),
        ("wae_mmd", "digits", {"prior.kind": "mog"}, "prior.kind", "standard"),
        ("wae_mmd", "synthetic_text", {}, "likelihood.kind", "categorical"),
        ("vae", "digits", {"mmd_weight": 5.0}, "regulariser.mmd_weight", "regulariser.kind is mmd"),
        ("ae", "digits", {"regulariser.kind": "kl"}, "regulariser.kind", "deterministic"),
        ("vae", "digits", {"regulariser.kind": "latent_l2"}, "regulariser.kind", "stochastic"),
        ("rae", "digits", {"decoder_penalty_weight": -1e-7}, "regulariser.decoder_penalty_weight", ">= 0.0"),
        ("rae", "digits", {"decoder_penalty_weight": 0}, "regulariser.decoder_penalty_weight", "> 0 with"),
        ("rae_gp", "digits", {"decoder_penalty": "spectral"}, "regulariser.decoder_penalty", "one of"),
        ("vae", "digits", {"decoder_penalty_weight": 1e-7}, "regulariser.decoder_penalty_weight", "0 unless"),
        ("rae", "digits", {"decoder_penalty_probes": 4}, "regulariser.decoder_penalty_probes", "gradient_"),
        ("rae_gp", "digits", {"decoder_penalty_probes": -1}, "regulariser.decoder_penalty_probes", ">= 0"),
        ("rae_gp", "digits", {"train.compile": True}, "train.compile", "double backward"),
        (
            "vae",
            "synthetic_text",
            {"decoder_penalty": "gradient_penalty", "decoder_penalty_weight": 1e-3},
            "regulariser.decoder_penalty",
            "text",
        ),
    ],
)
def test_each_bad_wae_or_rae_value_names_its_field(method, dataset, overrides, field, allowed_fragment):
    with pytest.raises(ConfigError) as caught:
        resolve_config(method, dataset, overrides)
    assert caught.value.field == field
    assert allowed_fragment in str(caught.value)
    assert field in str(caught.value)


def test_the_mmd_and_the_decoder_penalties_compose_with_other_methods():
    stochastic_wae = resolve_config("vae", "digits", {"regulariser.kind": "mmd"})  # WAE, random encoder
    assert (stochastic_wae.posterior.family, stochastic_wae.regulariser.mmd_weight) == ("diagonal", 10.0)
    smooth_vae = resolve_config(
        "ar_elbo", "digits", {"decoder_penalty": "gradient_penalty", "decoder_penalty_weight": 0.1}
    )
    assert smooth_vae.likelihood.variance == "adaptive"
    assert smooth_vae.regulariser.decoder_penalty_weight == 0.1
    text = resolve_config("vae", "synthetic_text", {"decoder_penalty": "l2", "decoder_penalty_weight": 1e-6})
    assert text.regulariser.decoder_penalty == "l2"
    wae_rae = resolve_config("wae_mmd", "digits", {"decoder_penalty": "l2", "decoder_penalty_weight": 1e-7})
    assert (wae_rae.regulariser.kind, wae_rae.regulariser.decoder_penalty) == ("mmd", "l2")
    exact = resolve_config("rae_gp", "digits", {"decoder_penalty_probes": 0})
    assert exact.regulariser.decoder_penalty_probes == 0
