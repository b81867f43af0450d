"""Each method's paper grid: present for every method, on the method's own hyper-parameters,
with the values the papers swept, and valid on the embedded data sets."""

import pytest

from vaesweep.errors import ConfigError
from vaesweep.methods import METHODS
from vaesweep.search_spaces.definitions import expand, resolve_trials
from vaesweep.search_spaces.grids import PAPER_GRIDS, method_experiment, paper_grid


def test_every_method_has_a_grid_over_its_own_hyperparameters():
    assert set(PAPER_GRIDS) == set(METHODS)
    for name, grid in PAPER_GRIDS.items():
        assert set(grid) <= set(METHODS[name].hyperparameters), name


@pytest.mark.parametrize(
    ("method", "grid"),
    [
        ("igp", {"regulariser.target_kl": (5.0, 15.0, 50.0)}),
        ("beta_vae", {"regulariser.beta": (0.2, 0.4, 0.8)}),
        (
            "du_vae",
            {"posterior.gamma": (0.4, 0.5, 0.6, 0.7), "posterior.keep_prob": (1.0, 0.9, 0.8, 0.7, 0.6)},
        ),
        ("du_iaf", {"posterior.gamma": (0.5, 0.6, 0.7, 0.8), "posterior.keep_prob": (0.9, 0.8, 0.7)}),
        ("bn_vae", {"posterior.gamma": (0.3, 0.4, 0.5, 0.6, 0.7)}),
        ("iaf_bn", {"posterior.gamma": (0.3, 0.4, 0.5, 0.6, 0.7)}),
        ("fb", {"regulariser.free_bits": (0.1, 0.15, 0.2, 0.25, 0.3)}),
        ("iaf_fb", {"regulariser.free_bits": (0.1, 0.15, 0.2, 0.25, 0.3)}),
        ("delta_vae", {"posterior.committed_rate": (0.1, 0.15, 0.2, 0.25)}),
        ("mae", {"regulariser.mae_gamma": (0.5, 1.0, 2.0), "regulariser.mae_eta": (0.2, 0.5, 1.0)}),
        ("dg_vae", {"regulariser.aggregation_size": (1, 2, 4, 8, 16, 32)}),
        ("iwae", {"regulariser.iwae_samples": (1, 5, 50)}),
    ],
)
def test_grid_is_the_papers(method, grid):
    assert dict(paper_grid(method)) == grid


def test_variance_grids_cover_the_four_parameterisations_and_fixed_sigma_the_log_scale():
    for method in ("ar_elbo", "trainable_sigma"):
        assert set(paper_grid(method)["likelihood.variance_parameterisation"]) == {
            "iso_i", "iso_d", "diag_i", "diag_d"
        }  # fmt: skip
    sigmas = paper_grid("fixed_sigma")["likelihood.sigma_x2"]
    assert len(sigmas) == 11
    assert sigmas[0] == pytest.approx(1.0) and sigmas[-1] == pytest.approx(0.1)
    assert sigmas[5] == pytest.approx(10**-0.5)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_grid_point_resolves_on_embedded_data(method):
    dataset = "digits" if "image" in METHODS[method].data_kinds else "synthetic_text"
    experiment = method_experiment(method, dataset, seeds=(0,))
    trials = expand(experiment)
    size = 1
    for values in paper_grid(method).values():
        size *= len(values)
    assert len(trials) == size
    configs = resolve_trials(trials)
    assert {c.method for c in configs} == {method} and {c.data.name for c in configs} == {dataset}


def test_unknown_method_has_no_grid():
    with pytest.raises(ConfigError) as caught:
        paper_grid("no_such_method")
    assert caught.value.field == "method"
