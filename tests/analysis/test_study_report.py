"""The report of an Optuna sweep reads its study: per-method fANOVA importances that find the
hyper-parameter the objective depends on, and the history and parallel-coordinate figures. The
study is a real one in SQLite, told values of a known function of its parameters."""

from __future__ import annotations

import numpy as np
import optuna
import pytest
from PIL import Image

from vaesweep.analysis.study import study_section


@pytest.fixture()
def study_storage(tmp_path) -> str:
    """A conditional study as vaesweep samples one: an arm, then that method's parameters.
    DU-VAE's objective depends on gamma alone; IGP's on its target KL."""
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = optuna.create_study(
        study_name="sweep-x", storage=storage, sampler=optuna.samplers.RandomSampler(seed=1)
    )
    noise = np.random.default_rng(0)
    for _ in range(40):
        trial = study.ask()
        if trial.suggest_categorical("arm", ["DU-VAE", "IGP"]) == "DU-VAE":
            gamma = trial.suggest_float("du_vae.posterior.gamma", 0.1, 1.0)
            trial.suggest_float("du_vae.posterior.keep_prob", 0.5, 1.0)
            value = 80 + 40 * (gamma - 0.5) ** 2
        else:
            target = trial.suggest_float("igp.regulariser.target_kl", 1.0, 30.0)
            value = 90 + abs(target - 15)
        study.tell(trial, value + 1e-3 * noise.standard_normal())
    return storage


def test_importances_per_method_name_the_parameter_the_objective_depends_on(study_storage, tmp_path):
    section = study_section(
        {"optuna_storage": study_storage, "optuna_study": "sweep-x"}, "nll", tmp_path / "figures"
    )
    du_vae = section.importances["du_vae"]
    assert set(du_vae) == {"posterior.gamma", "posterior.keep_prob"}
    assert du_vae["posterior.gamma"] > 0.8 > du_vae["posterior.keep_prob"]
    assert section.importances["igp"] == {"regulariser.target_kl": pytest.approx(1.0)}
    lines = section.lines()
    assert (
        lines[0].startswith("study 'sweep-x' in sqlite:///")
        and f"optuna-dashboard {study_storage}" in lines[0]
    )
    assert any(line.startswith("du_vae: posterior.gamma 0.") for line in lines)
    assert [plot.name for plot in section.plots] == ["optuna_history", "optuna_parallel"]
    for plot in section.plots:
        width, height = Image.open(plot.path).size
        assert width > 300 and height > 200


def test_a_sweep_without_a_study_has_no_section_and_a_missing_study_says_so(study_storage, tmp_path):
    assert study_section({"search": "grid"}, "nll", tmp_path) is None
    gone = study_section({"optuna_storage": study_storage, "optuna_study": "not-there"}, "nll", tmp_path)
    assert gone.importances == {} and "could not be opened" in gone.notes[0]
