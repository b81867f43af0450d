"""Staged arms: a trial that starts from another arm's final model names it, runs in a later
stage, and a preset whose stages cannot work is refused before anything runs."""

from __future__ import annotations

import dataclasses

import pytest

from vaesweep.errors import ConfigError
from vaesweep.platform.plan import SweepOptions, plan_sweep
from vaesweep.search_spaces.definitions import (
    Arm,
    Experiment,
    StartFrom,
    TrialSpec,
    expand,
    resolve_trials,
    stages,
)
from vaesweep.search_spaces.presets import EXPERIMENTS
from vaesweep.search_spaces.presets.igp import BASE_DGP, BASE_IGP


def test_igp_table7_runs_its_base_rows_as_two_stages():
    trials = expand(EXPERIMENTS["igp_table7"], dataset="synthetic_text", seeds=(0, 1))
    first, second = stages(trials)
    assert sorted({t.arm for t in first}) == sorted(["C = 5, DGP", "C = 5, IGP", BASE_IGP])
    assert {t.arm for t in second} == {BASE_DGP} and len(second) == 2
    for trial in second:
        assert trial.start_from == {"arm": BASE_IGP, "mapping": "untie_variances"}
        assert trial.parent_key() == (BASE_IGP, "synthetic_text", trial.seed)
    base = next(t for t in first if t.arm == BASE_IGP)
    assert base.overrides["train.epochs"] == 5 and base.start_from is None
    configs = resolve_trials(trials)  # every mapping checked against its parent's configuration
    ramps = {
        t.arm: (c.regulariser.target_kl_ramp_epochs, c.regulariser.target_kl_ramp_steps)
        for t, c in zip(trials, configs, strict=True)
    }
    assert ramps[BASE_IGP] == (5.0, 0) and ramps[BASE_DGP] == (0.0, 0)  # C = 5 from the DGP's first step
    assert {c.posterior.family for c in configs} == {"diagonal", "isotropic"}


def test_a_spec_round_trips_with_where_it_starts():
    trial = stages(expand(EXPERIMENTS["igp_table7"], dataset="digits"))[1][0]
    linked = dataclasses.replace(trial, start_from={**trial.start_from, "run_id": "abc"})
    assert TrialSpec.from_dict(linked.as_dict()) == linked
    plain = expand(EXPERIMENTS["igp_table9"], dataset="digits")[0]
    assert "start_from" not in plain.as_dict() and TrialSpec.from_dict(plain.as_dict()) == plain


def _experiment(*arms: Arm) -> Experiment:
    return Experiment("staged", "a staged toy", ("digits",), arms, seeds=(0,))


def test_a_start_that_cannot_work_is_refused_before_anything_runs():
    base = Arm("igp", "base", {"C": 5.0})
    with pytest.raises(ConfigError, match="one of base"):
        expand(_experiment(base, Arm("c_vae", "child", start_from=StartFrom("nobody"))))
    gridded = Arm("igp", "base", grid={"C": (5.0, 15.0)})
    with pytest.raises(ConfigError):  # which grid point would it start from?
        expand(_experiment(gridded, Arm("c_vae", "child", start_from=StartFrom("base"))))
    wrong_mapping = _experiment(base, Arm("c_vae", "child", start_from=StartFrom("base", "same")))
    with pytest.raises(ConfigError, match="a mapping from a isotropic posterior to a diagonal one"):
        resolve_trials(expand(wrong_mapping))
    other_size = Arm("c_vae", "child", {"latent_dim": 4}, start_from=StartFrom("base", "untie_variances"))
    with pytest.raises(ConfigError) as caught:
        resolve_trials(expand(_experiment(base, other_size)))
    assert caught.value.field == "model.latent_dim"


def test_a_chain_of_starts_makes_as_many_stages():
    chain = _experiment(
        Arm("igp", "a", {"C": 5.0}),
        Arm("igp", "b", {"C": 5.0}, start_from=StartFrom("a")),
        Arm("c_vae", "c", {"C": 5.0}, start_from=StartFrom("b", "untie_variances")),
    )
    ordered = stages(expand(chain))
    assert [[t.arm for t in stage] for stage in ordered] == [["a"], ["b"], ["c"]]
    resolve_trials(expand(chain))


def test_an_optuna_search_of_a_staged_preset_is_refused(tmp_path):
    with pytest.raises(ConfigError) as caught:
        plan_sweep(SweepOptions("igp_table7", search="optuna", runs_dir=str(tmp_path)))
    assert caught.value.field == "--search"
