"""Experiment presets: each paper table resolves to valid runs, on its data and on embedded data."""

import pytest

from vaesweep.data.registry import dataset_info
from vaesweep.errors import ConfigError
from vaesweep.search_spaces.definitions import Arm, Experiment, expand, resolve_trials
from vaesweep.search_spaces.presets import EXPERIMENTS, experiment

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


# The FID tables need the Inception network, a file the user provides.
NEEDS_FILES = {
    "arelbo_table3": {"eval.fid_network": "inception.pt"},
    "arelbo_table4": {"eval.fid_network": "x.pt"},
}


@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_every_preset_resolves_on_its_paper_data_and_on_embedded_data(name):
    exp = EXPERIMENTS[name]
    configs = resolve_trials(expand(exp, overrides=NEEDS_FILES.get(name)))
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
    assert sorted({(t.arm, t.seed) for t in trials})[0] == ("IGP (target_kl=15)", 0)
    assert len(expand(exp, seeds=(7,))) == 3


def test_unknown_preset_and_bad_override_fail_before_anything_runs():
    with pytest.raises(ConfigError) as caught:
        experiment("no_such_table")
    assert caught.value.field == "preset"
    with pytest.raises(ConfigError) as caught:
        resolve_trials(expand(experiment("demo"), overrides={"p": 2.0}))
    assert caught.value.field == "posterior.keep_prob"


def _first(name: str, dataset: str, arm: str | None = None, **overrides):
    trials = [t for t in expand(experiment(name), overrides=overrides) if t.dataset == dataset]
    return next(t for t in trials if arm is None or t.arm == arm).config()


def test_table_presets_are_the_papers_experiments():
    """Spot checks against DESIGN.md and the papers' experimental sections."""
    yahoo = _first("duvae_table1", "yahoo", "DU-VAE (0.5, 0.9)")
    assert (yahoo.model.embed_dim, yahoo.model.lstm_hidden, yahoo.model.latent_dim) == (512, 1024, 32)
    assert (yahoo.optim.name, yahoo.optim.lr, yahoo.optim.grad_clip, yahoo.train.batch_size) == (
        "sgd",
        1.0,
        5.0,
        32,
    )
    assert (yahoo.annealing.schedule, yahoo.annealing.warmup_epochs) == ("linear", 10.0)
    assert (yahoo.optim.decay_factor, yahoo.optim.decay_start_epoch, yahoo.optim.max_decays) == (0.5, 15, 5)
    assert (yahoo.posterior.gamma, yahoo.posterior.keep_prob, yahoo.eval.nll_samples) == (0.5, 0.9, 500)
    short = _first("duvae_table2", "short_yelp")
    assert (short.model.embed_dim, short.model.lstm_hidden, short.eval.label_budget_probes) == (
        128,
        512,
        True,
    )
    assert short.eval.label_budgets == (100, 500, 1000, 2000, 10000)
    omniglot = _first("duvae_table3", "omniglot")
    assert (
        omniglot.model.architecture in ("auto", "resnet_pixelcnn") and omniglot.data.binarisation == "dynamic"
    )
    assert (omniglot.optim.decay_patience, omniglot.eval.per_character_probes) == (20, True)
    snli = _first("igp_table9", "snli", "IGP (target_kl=5)")
    assert (snli.model.embed_dim, snli.model.lstm_hidden, snli.model.latent_dim) == (50, 128, 8)
    assert (snli.optim.name, snli.optim.lr, snli.train.batch_size, snli.train.epochs) == (
        "adam",
        5e-4,
        128,
        20,
    )
    assert (snli.model.text_decoder, snli.posterior.family, snli.regulariser.target_kl) == (
        "igp",
        "isotropic",
        5.0,
    )
    assert _first("igp_table3", "yahoo").eval.agreement and _first("igp_table11", "dbpedia").eval.agreement
    assert _first("igp_table11", "yahoo").eval.few_shot_probes
    assert _first("igp_table4", "cbt").eval.language_model
    mnist_iw = _first("igp_table12", "mnist", "IGP IWAE (iwae_samples=50)")
    assert (mnist_iw.model.hidden_sizes, mnist_iw.model.activation, mnist_iw.model.latent_dim) == (
        (200, 200),
        "tanh",
        32,
    )
    assert mnist_iw.regulariser.iwae_samples == 50 and mnist_iw.posterior.family == "isotropic"
    mnist = _first(
        "arelbo_table3", "mnist", "AR-ELBO (variance_parameterisation=diag_d)", **NEEDS_FILES["arelbo_table3"]
    )
    assert (mnist.model.architecture, mnist.model.conv_kernel, mnist.model.conv_batch_norm) == (
        "conv",
        5,
        True,
    )
    assert (mnist.model.latent_dim, mnist.train.epochs, mnist.train.batch_size, mnist.eval.fid) == (
        16,
        100,
        64,
        True,
    )
    assert mnist.likelihood.variance_parameterisation == "diag_d"
    celeba = _first(
        "arelbo_table4", "celeba", "AR-ELBO (variance_parameterisation=iso_i)", **NEEDS_FILES["arelbo_table4"]
    )
    assert (celeba.model.latent_dim, celeba.train.epochs, celeba.optim.lr) == (64, 70, 2e-4)


def test_evaluation_protocols_follow_the_preset_to_embedded_data_except_fid():
    moved = [t.config() for t in expand(experiment("igp_table3"), dataset="synthetic_text")]
    assert all(c.eval.agreement for c in moved)
    assert all(
        c.eval.per_character_probes
        for c in (t.config() for t in expand(experiment("duvae_table3"), dataset="digits"))
    )
    assert not any(
        c.eval.fid for c in (t.config() for t in expand(experiment("arelbo_table3"), dataset="digits"))
    )
    with pytest.raises(ConfigError, match=r"eval\.fid_network"):
        resolve_trials(expand(experiment("arelbo_table3")))
