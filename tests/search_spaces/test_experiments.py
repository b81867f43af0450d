"""Experiment presets: each paper table resolves to valid runs, on its data and on embedded data."""

import pytest

from vaesweep.data.registry import dataset_info
from vaesweep.errors import ConfigError
from vaesweep.search_spaces.experiments import (
    EXPERIMENTS,
    Arm,
    Experiment,
    expand,
    experiment,
    resolve_trials,
)

REFERENCE_TABLES = {
    "arelbo_table1.csv", "arelbo_table3.csv", "arelbo_table4.csv", "arelbo_table5.csv",
    "dgvae_table_yahoo.csv", "duvae_table1.csv", "duvae_table2.csv", "duvae_table3.csv",
    "duvae_tableS1.csv", "duvae_tableS2.csv", "igp_table10.csv", "igp_table11.csv", "igp_table12.csv",
    "igp_table2.csv", "igp_table3.csv", "igp_table4.csv", "igp_table6.csv", "igp_table7.csv",
    "igp_table8.csv", "igp_table9.csv",
}  # fmt: skip


def test_there_is_one_preset_per_reference_table():
    covered = {ref for exp in EXPERIMENTS.values() for ref in exp.reference}
    assert covered == REFERENCE_TABLES


@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_every_preset_resolves_on_its_paper_data_and_on_embedded_data(name):
    exp = EXPERIMENTS[name]
    configs = resolve_trials(expand(exp))
    assert {c.data.name for c in configs} == set(exp.datasets)
    embedded = "digits" if dataset_info(exp.datasets[0]).kind == "image" else "synthetic_text"
    moved = resolve_trials(expand(exp, dataset=embedded))
    assert {c.data.name for c in moved} == {embedded}


def test_paper_protocol_applies_on_paper_data_and_is_dropped_elsewhere():
    exp = experiment("igp_table9")
    snli = [t.config() for t in expand(exp) if t.dataset == "snli" and t.method == "igp"]
    assert {(c.model.embed_dim, c.model.lstm_hidden, c.model.latent_dim) for c in snli} == {(50, 128, 8)}
    assert {c.optim.lr for c in snli} == {5e-4} and {c.train.epochs for c in snli} == {20}
    moved = [t.config() for t in expand(exp, dataset="synthetic_text") if t.method == "igp"]
    assert {c.model.latent_dim for c in moved} == {2}  # the synthetic profile, not IGP's sizes
    assert sorted({c.regulariser.target_kl for c in moved}) == [5.0, 15.0, 50.0]  # the arm's grid stays


def test_per_dataset_values_follow_the_paper_and_take_the_first_elsewhere():
    exp = experiment("duvae_table1")
    gammas = {t.dataset: t.config().posterior.gamma for t in expand(exp) if t.arm == "BN-VAE"}
    assert gammas == {"yahoo": 0.6, "yelp": 0.6, "omniglot": 0.5}
    moved = [t.config() for t in expand(exp, dataset="synthetic_text") if t.arm == "BN-VAE"]
    assert [c.posterior.gamma for c in moved] == [0.6]


def test_trial_count_is_arms_by_grid_by_data_by_seeds_and_overrides_apply_last():
    exp = Experiment(
        "t", "t", ("digits",),
        (Arm("vae", "VAE"), Arm("igp", "IGP", grid={"C": (5.0, 15.0)})),
        seeds=(0, 1),
    )  # fmt: skip
    trials = expand(exp, overrides={"epochs": 2})
    assert len(trials) == (1 + 2) * 2
    assert {t.config().train.epochs for t in trials} == {2}
    assert sorted({(t.arm, t.seed) for t in trials})[0] == ("IGP (target_kl=15.0)", 0)
    assert len(expand(exp, seeds=(7,))) == 3


def test_unknown_preset_and_bad_override_fail_before_anything_runs():
    with pytest.raises(ConfigError) as caught:
        experiment("no_such_table")
    assert caught.value.field == "preset"
    with pytest.raises(ConfigError) as caught:
        resolve_trials(expand(experiment("demo"), overrides={"p": 2.0}))
    assert caught.value.field == "posterior.keep_prob"
