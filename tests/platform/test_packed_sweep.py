"""Packed sweeps on a real local Ray (2 CPUs) logging to a real MLflow server: a packed grid
gives the MLflow children and the report of the same grid with ``--pack off``; a diverging
member fails alone; a pack killed mid-run resumes to exactly an uninterrupted pack's runs."""

from __future__ import annotations

import math
import sys

import pytest
from mlflow.tracking import MlflowClient

from tests.platform.kill_harness import KillCase, reference_results, run_case
from tests.platform.support import children, igp_or_du_vae, sweep
from vaesweep.platform.results import results_frame, summary_table, table_metrics
from vaesweep.search_spaces.definitions import Arm, Experiment

pytestmark = [pytest.mark.slow]

EPOCH_METRICS = ("epoch", "train_loss", "train_rec", "train_kl", "valid_rec", "valid_kl", "valid_au")
# Final metrics of a member against its unpacked trial, relative. A member's per-step losses
# equal fit's to 1e-7 (rounding of batched products); two epochs of training compound that as
# any perturbation does (docs/packing.md: one ulp on fit's initial weights moves an MLP VAE's
# final KL by 4e-6 after 2 epochs), and the MC estimates (IW-NLL, MI, CU) are computed on those
# weights. 1e-3 is far above both, and far below the differences between arms (beta 0.2 vs 0.8:
# 2% in NLL, 50% in KL).
FINAL_RTOL = 1e-3
COMPARED = ("nll", "rec", "kl", "elbo", "au")


def _grid() -> Experiment:
    return Experiment(
        "packed_grid",
        "beta-VAE at three betas, two seeds",
        ("digits",),
        (Arm("beta_vae", "beta-VAE", grid={"beta": (0.2, 0.4, 0.8)}),),
        seeds=(0, 1),
    )


def _layout(client: MlflowClient, runs: list) -> dict[str, dict]:
    """Each child by name: its params, metric keys, per-epoch steps and artifacts."""
    layout = {}
    for run in runs:
        layout[run.info.run_name] = {
            "status": (run.info.status, run.data.tags["status"]),
            "params": dict(run.data.params),
            "metrics": sorted(run.data.metrics),
            "steps": {
                key: sorted(m.step for m in client.get_metric_history(run.info.run_id, key))
                for key in EPOCH_METRICS
            },
            "artifacts": sorted(a.path for a in client.list_artifacts(run.info.run_id)),
            "checkpoint": [a.path for a in client.list_artifacts(run.info.run_id, "checkpoint")],
        }
    return layout


@pytest.mark.usefixtures("local_ray")
def test_a_packed_grid_gives_the_children_and_report_of_the_same_grid_unpacked(tracking_server, tmp_path):
    uri = tracking_server.uri
    packed, packed_progress = sweep(_grid(), tmp_path / "packed", uri)  # --pack auto: 2 packs of 3
    alone, alone_progress = sweep(_grid(), tmp_path / "alone", uri, pack="off")
    assert packed.status == alone.status == "FINISHED", packed_progress + alone_progress
    assert "packing: 6 trials in 2 packs (3, 3 members)" in packed_progress
    client = MlflowClient(uri)
    packed_runs, alone_runs = children(uri, packed), children(uri, alone)
    assert len(packed_runs) == len(alone_runs) == 6
    packed_layout, alone_layout = _layout(client, packed_runs), _layout(client, alone_runs)
    assert packed_layout.keys() == alone_layout.keys()
    for name, found in packed_layout.items():
        for part, value in found.items():
            expected = alone_layout[name][part]
            if isinstance(value, dict):
                differing = {k: (value.get(k), expected.get(k)) for k in value.keys() | expected.keys()}
                value = {k: v for k, v in differing.items() if v[0] != v[1]}
                expected = {}
            elif isinstance(value, list):
                value, expected = sorted(set(value) ^ set(expected)), []
            assert value == expected, (name, part)
    for run in packed_runs:  # each member names its pack
        assert run.data.tags["pack_size"] == "3" and run.data.tags["pack"] == run.data.tags["ray_trial_id"]
    assert not any("pack" in run.data.tags for run in alone_runs)
    for outcome in (packed, alone):  # the parent counts trials, not packs
        assert client.get_run(outcome.parent_run_id).data.params["trials"] == "6"
    by_name = {r.info.run_name: r.data.metrics for r in alone_runs}
    for run in packed_runs:
        for key in COMPARED:
            assert math.isclose(
                run.data.metrics[key], by_name[run.info.run_name][key], rel_tol=FINAL_RTOL, abs_tol=1e-6
            ), (run.info.run_name, key)
    # progress and report show trials: one line per trial, the same table rows
    for progress in (packed_progress, alone_progress):
        assert progress.count("finished  ") == 6 and progress.count("started   ") == 6
    metrics = table_metrics(packed)
    tables = [summary_table(results_frame(o.records), metrics) for o in (packed, alone)]
    assert list(tables[0].index) == list(tables[1].index) and list(tables[0].columns) == list(
        tables[1].columns
    )
    assert (tables[0][["finished", "failed"]] == tables[1][["finished", "failed"]]).all().all()
    frames = [results_frame(o.records).set_index(["arm", "seed"]).sort_index() for o in (packed, alone)]
    assert list(frames[0].index) == list(frames[1].index)
    for key in COMPARED:
        for a, b in zip(frames[0][key], frames[1][key], strict=True):
            assert math.isclose(a, b, rel_tol=FINAL_RTOL, abs_tol=1e-6), key


@pytest.mark.usefixtures("local_ray")
def test_a_diverging_member_fails_in_its_own_run_while_its_pack_finishes(tracking_server, tmp_path):
    experiment = Experiment(
        "packed_failures",
        "a good and a diverging trial in one pack",
        ("digits",),
        (Arm("vae", "good"), Arm("vae", "diverging", {"optim.lr": 1e6})),
        seeds=(0,),
    )
    outcome, progress = sweep(experiment, tmp_path, tracking_server.uri, pack="2")
    assert outcome.status == "FINISHED", progress
    assert "packing: 2 trials in 1 packs (2 members)" in progress
    states = {r.spec.arm: r.outcome for r in outcome.records}
    assert states["good"].state == "finished"
    assert states["diverging"].state == "failed" and "DivergedError" in states["diverging"].reason
    runs = {r.data.tags["arm"]: r for r in children(tracking_server.uri, outcome)}
    assert runs["good"].info.status == "FINISHED" and "nll" in runs["good"].data.metrics
    diverged = runs["diverging"]
    assert diverged.info.status == "FAILED" and diverged.data.tags["status"] == "diverged"
    assert "DivergedError" in diverged.data.tags["failure_reason"]
    assert "FAILED    diverging" in progress and "finished  good" in progress
    assert outcome.records[0].outcome.trial_id == outcome.records[1].outcome.trial_id  # one Tune trial


@pytest.mark.usefixtures("local_ray")
def test_a_packs_members_are_shown_and_recorded_finished_while_the_others_are_evaluated(
    tracking_server, tmp_path
):
    """Six members in one pack, one diverging: the pack evaluates the other five four at a time
    (CPU_EVALUATION_GROUP) and shows the first four finished while the fifth still runs."""
    experiment = Experiment(
        "packed_streaming",
        "five betas and a diverging trial in one pack",
        ("digits",),
        (
            Arm("beta_vae", "beta-VAE", grid={"beta": (0.1, 0.2, 0.4, 0.8, 1.6)}),
            Arm("vae", "diverging", {"optim.lr": 1e6}),
        ),
        seeds=(0,),
    )
    outcome, progress = sweep(experiment, tmp_path, tracking_server.uri, pack="6")
    assert outcome.status == "FINISHED", progress
    assert "packing: 6 trials in 1 packs (6 members)" in progress
    finished = [line for line in progress.splitlines() if "finished  " in line]
    assert len(finished) == 5, progress
    assert all("4/6 finished, 1 running, 1 failed" in line for line in finished[:4]), progress
    assert "5/6 finished, 0 running, 1 failed" in finished[4], progress
    statuses = {run.data.tags["arm"]: run.info.status for run in children(tracking_server.uri, outcome)}
    assert statuses.pop("diverging") == "FAILED" and set(statuses.values()) == {"FINISHED"}


@pytest.fixture(scope="module")
def packed_reference() -> dict[str, float]:
    return reference_results(packed=True)


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
@pytest.mark.parametrize(
    "case",
    [
        KillCase("result:3", damage=True, pack="3"),
        pytest.param(KillCase("checkpoint:3", pack="3"), marks=pytest.mark.long),
    ],
    ids=lambda case: case.label,
)
def test_a_pack_killed_mid_run_resumes_to_exactly_the_runs_of_an_uninterrupted_pack(
    case, packed_reference, tmp_path
):
    result = run_case(case, tmp_path, packed_reference)
    assert result.killed, result.problems
    assert result.ok, "\n".join(result.problems)  # 3 FINISHED children, none RUNNING, each epoch once
    assert result.finished_children == 3
    assert set(result.resumed_from.values()) != {"-"}  # the pack continued from its checkpoint
    if case.damage:
        assert result.damaged, "no checkpoint was registered to damage"
        arm, epoch = result.damaged[0].rsplit("@", 1)
        assert int(result.resumed_from[arm]) < int(epoch)  # it fell back to the checkpoint before


@pytest.mark.usefixtures("local_ray")
def test_asha_stops_pack_members_whose_runs_end_stopped_while_the_others_finish(tracking_server, tmp_path):
    experiment = Experiment(
        "packed_asha",
        "six betas in one pack under ASHA",
        ("digits",),
        (Arm("beta_vae", "beta-VAE", grid={"beta": (3.2, 1.6, 0.8, 0.4, 0.2, 0.1)}),),
        seeds=(0,),
    )
    outcome, progress = sweep(
        experiment, tmp_path, tracking_server.uri, {"train.epochs": "4"}, scheduler="asha", pack="6"
    )
    assert outcome.status == "FINISHED", progress
    assert "packing: 6 trials in 1 packs (6 members)" in progress
    states = {r.spec.arm: r.outcome.state for r in outcome.records}
    stopped = {arm for arm, state in states.items() if state == "stopped"}
    assert stopped and "finished" in states.values() and "failed" not in states.values(), states
    client = MlflowClient(tracking_server.uri)
    for run in children(tracking_server.uri, outcome):
        arm = run.data.tags["arm"]
        epochs = [m.step for m in client.get_metric_history(run.info.run_id, "valid_rec")]
        if arm in stopped:  # stopped at a rung: no final evaluation, settled as ASHA-stopped
            assert run.info.status == "KILLED" and run.data.tags["status"] == "stopped", arm
            assert "nll" not in run.data.metrics and sorted(epochs) == list(range(1, len(epochs) + 1))
            assert len(epochs) in (1, 4)  # the rungs: epoch 1 and 4 (max_t = epochs + 1 = 5, rf = 4)
        else:
            assert run.info.status == "FINISHED" and "nll" in run.data.metrics, arm
            assert sorted(epochs) == [1, 2, 3, 4]
    assert progress.count("stopped   ") == len(stopped)


@pytest.mark.usefixtures("local_ray")
def test_an_optuna_search_trains_packs_of_its_suggestions_and_tells_each_member(tracking_server, tmp_path):
    import optuna

    from vaesweep.platform.study import study_name, study_storage

    outcome, progress = sweep(
        igp_or_du_vae("packed_optuna"),
        tmp_path,
        tracking_server.uri,
        {"train.epochs": "3"},
        search="optuna",
        num_samples=6,
        pack="3",
        scheduler="asha",
    )
    assert outcome.status == "FINISHED", progress
    assert "packing: the study is asked for up to 3 trials of one architecture a pack" in progress
    packs: dict[str, list] = {}
    for record in outcome.records:
        packs.setdefault(record.outcome.trial_id, []).append(record)
    assert len(outcome.records) == 6 and any(len(members) > 1 for members in packs.values())
    assert all(len({r.spec.method for r in members}) == 1 for members in packs.values())  # one arm a pack
    runs = children(tracking_server.uri, outcome)
    assert len(runs) == 6
    for run in runs:
        members = packs[run.data.tags["ray_trial_id"]]
        assert run.data.tags.get("pack_size", "1") == str(len(members))
        assert run.info.status in ("FINISHED", "KILLED") and run.data.tags["status"] in (
            "finished",
            "stopped",
        )
    study = optuna.load_study(study_name=study_name(outcome.plan), storage=study_storage(outcome.plan))
    states = [t.state for t in study.trials]
    assert len(states) == 6 and optuna.trial.TrialState.RUNNING not in states
    finished = sorted(r.result["nll"] for r in outcome.records if r.outcome.state == "finished")
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert sorted(t.value for t in complete) == pytest.approx(finished, rel=1e-12)  # each its own value
    assert all(sorted(t.intermediate_values) == [1, 2, 3] for t in complete)  # every epoch, per member
    stopped = sum(r.outcome.state == "stopped" for r in outcome.records)
    assert states.count(optuna.trial.TrialState.PRUNED) == stopped  # ASHA's per-member verdicts
