"""Optuna spaces: conditional on the method, names namespaced per method so each name keeps
one distribution, sampled values are dotted overrides that resolve, and --set keys stay fixed."""

import optuna
import pytest

from vaesweep.errors import ConfigError
from vaesweep.methods import METHODS
from vaesweep.search_spaces.definitions import Arm, Experiment, TrialSpec, resolve_trials
from vaesweep.search_spaces.grids import paper_grid
from vaesweep.search_spaces.optuna_spaces import (
    METHOD_SPACES,
    experiment_space,
    suggest_method,
    validation_trials,
)

optuna.logging.set_verbosity(optuna.logging.WARNING)

TWO_METHODS = Experiment(
    "two", "two methods", ("digits",),
    (Arm("igp", "IGP", grid={"C": (5.0, 15.0)}), Arm("du_vae", "DU-VAE", {"epochs": 3})),
    seeds=(0, 1),
)  # fmt: skip


def test_every_method_has_a_space_covering_its_paper_grid():
    assert set(METHOD_SPACES) == set(METHODS)
    for method, space in METHOD_SPACES.items():
        assert set(paper_grid(method)) <= set(space), method
        for key, values in paper_grid(method).items():
            dimension = space[key]
            if hasattr(dimension, "options"):
                assert set(values) <= set(dimension.options), (method, key)
            else:
                assert dimension.low <= min(values) and max(values) <= dimension.high, (method, key)


def _run(space, n=12):
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0))
    configs = []
    for _ in range(n):
        trial = study.ask()
        configs.append(space(trial))
        study.tell(trial, 0.0)
    return study, configs


def test_space_is_conditional_on_the_arm_and_names_carry_the_method():
    study, configs = _run(experiment_space(TWO_METHODS))
    for frozen, config in zip(study.trials, configs, strict=True):
        spec = TrialSpec.from_dict(config["trial"])
        sampled = set(frozen.params) - {"arm"}
        prefix = f"{spec.method}."
        assert sampled and all(name.startswith(prefix) for name in sampled), frozen.params
        assert spec.arm.startswith(frozen.params["arm"])
    methods = {TrialSpec.from_dict(c["trial"]).method for c in configs}
    assert methods == {"igp", "du_vae"}


def test_sampled_trials_resolve_and_keep_the_arm_settings_and_seeds_in_turn():
    _, configs = _run(experiment_space(TWO_METHODS, overrides={"eval.nll_samples": 10}))
    specs = [TrialSpec.from_dict(c["trial"]) for c in configs]
    resolved = resolve_trials(specs)
    for spec, config in zip(specs, resolved, strict=True):
        assert config.eval.nll_samples == 10
        if spec.method == "du_vae":
            assert config.train.epochs == 3  # the arm's fixed setting
            assert 0.3 <= config.posterior.gamma <= 1.0 and 0.5 <= config.posterior.keep_prob <= 1.0
        else:
            assert 1.0 <= config.regulariser.target_kl <= 100.0  # the grid was dropped for the space
    assert [s.seed for s in specs[:4]] == [0, 1, 0, 1]


def test_a_key_fixed_with_set_is_not_searched():
    study, configs = _run(experiment_space(TWO_METHODS, overrides={"C": "7"}), n=6)
    assert all("igp.regulariser.target_kl" not in t.params for t in study.trials)
    for config in configs:
        spec = TrialSpec.from_dict(config["trial"])
        if spec.method == "igp":
            assert spec.config().regulariser.target_kl == 7.0


def test_suggest_method_returns_dotted_overrides_inside_the_ranges():
    trial = optuna.trial.FixedTrial({"mae.regulariser.mae_gamma": 0.5, "mae.regulariser.mae_eta": 1.5})
    assert suggest_method(trial, "mae") == {"regulariser.mae_gamma": 0.5, "regulariser.mae_eta": 1.5}


def test_validation_covers_every_corner_and_catches_a_space_the_data_cannot_take():
    trials = validation_trials(experiment_space(TWO_METHODS))
    assert len(trials) == 2 + 4  # igp: C low/high; du_vae: gamma low/high, p low/high
    resolve_trials(trials)
    dg = Experiment("dg", "dg", ("digits",), (Arm("dg_vae", "DG", {"batch_size": 48}),))
    with pytest.raises(ConfigError) as caught:
        resolve_trials(validation_trials(experiment_space(dg)))
    assert caught.value.field == "regulariser.aggregation_size"  # 32 does not divide 48
