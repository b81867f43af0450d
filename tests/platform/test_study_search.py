"""The packed Optuna searcher against a real study in SQLite (no Ray: Tune's calls are made by
hand, with the results a pack reports): what it asks, how it groups, what it tells."""

from __future__ import annotations

import json

import optuna
import pytest

from tests.platform.support import igp_or_du_vae
from vaesweep.platform.packs import PackPolicy, pack_key
from vaesweep.platform.study_search import PackedStudySearch
from vaesweep.search_spaces.definitions import Experiment, TrialSpec, expand
from vaesweep.search_spaces.grids import method_experiment
from vaesweep.search_spaces.optuna_spaces import experiment_space
from vaesweep.trainables import FINAL, MEMBERS, OBJECTIVE

POLICY = PackPolicy(None, slots=2, on_gpu=False)
TWO_METHODS = igp_or_du_vae("two")


def _searcher(
    tmp_path, experiment: Experiment, members: int, total: int, policy: PackPolicy = POLICY
) -> PackedStudySearch:
    return PackedStudySearch(
        experiment_space(experiment, dataset="digits", seeds=(0, 1)),
        metric=OBJECTIVE,
        mode="min",
        sampler=optuna.samplers.TPESampler(seed=0, constant_liar=True),
        study_name="packed",
        storage=optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 'optuna.db'}"),
        members=members,
        total=total,
        policy=policy,
    )


def _all_packs(searcher: PackedStudySearch) -> list[list[TrialSpec]]:
    packs = []
    while (config := searcher.suggest(f"t{len(packs)}")) != searcher.FINISHED:
        packs.append([TrialSpec.from_dict(d) for d in config["pack"]])
    return packs


def _study(tmp_path) -> optuna.Study:
    return optuna.load_study(study_name="packed", storage=f"sqlite:///{tmp_path / 'optuna.db'}")


@pytest.mark.parametrize(
    ("experiment", "total", "continuous"),
    [(TWO_METHODS, 10, True), (method_experiment("dg_vae", "digits"), 12, False)],
    ids=["two methods", "|b| changes shapes"],
)
def test_packs_hold_one_architecture_and_the_study_is_asked_exactly_num_samples_trials(
    tmp_path, experiment, total, continuous
):
    searcher = _searcher(tmp_path, experiment, members=4, total=total)
    packs = _all_packs(searcher)
    assert sum(len(pack) for pack in packs) == total and all(len(pack) <= 4 for pack in packs)
    for pack in packs:  # one signature a pack (a held-over suggestion starts the next one)
        assert len({pack_key(s, s.config(), POLICY) for s in pack}) == 1, [s.arm for s in pack]
    assert any(len(pack) > 1 for pack in packs)
    study = _study(tmp_path)
    assert len(study.trials) == total  # nothing asked and dropped
    if continuous:  # the constant liar keeps a pack's members apart
        assert len({json.dumps(t.params, sort_keys=True) for t in study.trials}) == total
    assert searcher.suggest("after") == searcher.FINISHED


def test_a_pack_holds_no_more_members_than_a_slots_memory(tmp_path):
    from vaesweep.packing.memory import PACKABLE_FRACTION, member_bytes

    experiment = method_experiment("du_vae", "digits")
    each = member_bytes(expand(experiment, seeds=(0,))[0].config())
    tight = PackPolicy(None, slots=2, on_gpu=False, memory=int(2.5 * each / PACKABLE_FRACTION))
    packs = _all_packs(_searcher(tmp_path, experiment, members=4, total=6, policy=tight))
    assert [len(pack) for pack in packs] == [2, 2, 2]


def _members(*states: dict) -> str:
    return json.dumps(list(states))


def test_each_member_gets_its_epochs_as_intermediate_values_and_its_own_outcome(tmp_path):
    searcher = _searcher(tmp_path, method_experiment("du_vae", "digits"), members=3, total=3)
    assert len(searcher.suggest("pack")["pack"]) == 3
    for epoch, values in ((1, (9.0, 8.0, 7.0)), (2, (6.0, 5.0, float("nan")))):
        running = [{"state": "running", "objective": v} for v in values]
        result = {"training_iteration": epoch, "epoch": float(epoch), MEMBERS: _members(*running)}
        searcher.on_trial_result("pack", result)
    # after training, a result per group of evaluated members (no epoch): a member still
    # waiting for its evaluation has no new epoch value
    waiting = {"state": "running", "objective": 6.0}
    ended = [
        {"state": "stopped", "epoch": 2, "result": {OBJECTIVE: 5.0}},
        {"state": "failed", "reason": "FloatingPointError: loss is nan"},
    ]
    searcher.on_trial_result("pack", {"training_iteration": 3, MEMBERS: _members(waiting, *ended)})
    final = _members({"state": "finished", "result": {OBJECTIVE: 4.5, "nll": 4.5, FINAL: 1.0}}, *ended)
    searcher.on_trial_complete("pack", {OBJECTIVE: 4.5, FINAL: 1.0, MEMBERS: final})
    finished, stopped, failed = _study(tmp_path).trials
    assert finished.state == optuna.trial.TrialState.COMPLETE and finished.value == 4.5
    assert finished.intermediate_values == {1: 9.0, 2: 6.0}
    assert stopped.state == optuna.trial.TrialState.PRUNED and stopped.intermediate_values == {1: 8.0, 2: 5.0}
    assert failed.state == optuna.trial.TrialState.FAIL and failed.intermediate_values == {1: 7.0}


def test_a_pack_that_raised_fails_its_unfinished_members_and_a_trial_alone_is_told_as_one(tmp_path):
    searcher = _searcher(tmp_path, method_experiment("du_vae", "digits"), members=2, total=3)
    searcher.suggest("pack")
    stopped_before = _members({"state": "stopped", "epoch": 1}, {"state": "running", "objective": 3.0})
    searcher.on_trial_complete("pack", {"training_iteration": 1, MEMBERS: stopped_before}, error=True)
    assert len(searcher.suggest("alone")["pack"]) == 1  # the third of three
    searcher.on_trial_complete("alone", {OBJECTIVE: 2.5, FINAL: 1.0, "nll": 2.5})
    states = [(t.state, t.value) for t in _study(tmp_path).trials]
    assert states == [
        (optuna.trial.TrialState.PRUNED, None),
        (optuna.trial.TrialState.FAIL, None),
        (optuna.trial.TrialState.COMPLETE, 2.5),
    ]


def test_a_restored_searcher_continues_the_study_and_leaves_what_it_had_told_as_it_is(tmp_path):
    searcher = _searcher(tmp_path, method_experiment("du_vae", "digits"), members=2, total=5)
    assert len(searcher.suggest("first")["pack"]) == 2
    searcher.save(str(tmp_path / "searcher.pkl"))  # Tune's last save before the driver dies
    told = _members(*[{"state": "finished", "result": {OBJECTIVE: v}} for v in (1.0, 2.0)])
    searcher.on_trial_complete("first", {FINAL: 1.0, MEMBERS: told})  # told, then killed
    restored = _searcher(tmp_path, method_experiment("du_vae", "digits"), members=2, total=5)
    restored.restore(str(tmp_path / "searcher.pkl"))
    again = _members(*[{"state": "finished", "result": {OBJECTIVE: v}} for v in (7.0, 8.0)])
    restored.on_trial_complete("first", {FINAL: 1.0, MEMBERS: again})  # Tune ran it again: no error
    assert [t.value for t in _study(tmp_path).trials] == [1.0, 2.0]
    rest = _all_packs(restored)
    assert sum(len(pack) for pack in rest) == 3 and len(_study(tmp_path).trials) == 5
