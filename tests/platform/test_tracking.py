"""MLflow tracking against a real server: calls buffered while the server is away, bad calls
raised at once, and a sweep's children settled from Tune's outcomes."""

from __future__ import annotations

import pytest
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from vaesweep.platform.server import free_port
from vaesweep.platform.tracking import (
    BufferedClient,
    SweepRun,
    TrackingUnavailable,
    TrialOutcome,
    TrialRun,
)
from vaesweep.search_spaces.definitions import Arm, Experiment, expand

pytestmark = pytest.mark.slow


def test_calls_wait_in_order_while_the_server_is_away_and_time_out_with_a_reason():
    buffer = BufferedClient(f"http://127.0.0.1:{free_port()}")  # nothing listens there
    sent = []
    buffer.submit(lambda client: client.search_experiments())
    buffer.submit(lambda client: sent.append("second"))
    assert len(buffer.pending) == 2 and not sent  # kept, in order, training not blocked
    with pytest.raises(TrackingUnavailable, match="2 calls not sent"):
        buffer.flush(timeout_s=1.5)


def test_a_rejected_call_is_raised_not_retried(tracking_server):
    buffer = BufferedClient(tracking_server.uri)
    with pytest.raises(MlflowException):
        buffer.submit(lambda client: client.set_tag("0" * 32, "k", "v"))  # no such run: a 404
    assert not buffer.pending


def test_reconcile_closes_every_child_by_its_trials_outcome(tracking_server):
    experiment = Experiment("settle", "settle", ("digits",), (Arm("vae", "VAE"),), seeds=(0, 1, 2, 3, 4))
    specs = expand(experiment)
    sweep = SweepRun(tracking_server.uri, "settle", "settle-1", resume=False, tags={"preset": "settle"})
    ids = ["t_finished", "t_failed", "t_pending", "t_unknown", "t_closed"]
    for spec, trial_id in zip(specs, ids, strict=True):
        TrialRun(sweep.target, spec, spec.config(), trial_id).buffer.flush(30)
    closed = TrialRun(sweep.target, specs[4], specs[4].config(), "t_closed")
    closed.finish({"nll": 1.0}, tracking_server.directory / "none", tracking_server.directory / "none.pt")
    outcomes = {
        "t_finished": TrialOutcome("t_finished", "finished"),
        "t_failed": TrialOutcome("t_failed", "failed", "RayActorError: the worker died"),
        "t_pending": TrialOutcome("t_pending", "pending"),
        "t_closed": TrialOutcome("t_closed", "failed", "must not override the worker's FINISHED"),
    }
    sweep.reconcile(outcomes, interrupted=True)
    sweep.close("KILLED")
    client = MlflowClient(tracking_server.uri)
    runs = {r.data.tags["ray_trial_id"]: r for r in sweep.children()}
    assert set(runs) == {"t_finished", "t_failed", "t_pending", "t_closed"}  # the unknown one is deleted
    assert runs["t_finished"].info.status == "FINISHED"
    assert runs["t_failed"].info.status == "FAILED"
    assert runs["t_failed"].data.tags["failure_reason"] == "RayActorError: the worker died"
    assert (
        runs["t_pending"].info.status == "KILLED" and runs["t_pending"].data.tags["status"] == "interrupted"
    )
    assert runs["t_closed"].info.status == "FINISHED" and runs["t_closed"].data.metrics["nll"] == 1.0
    assert client.get_run(sweep.target.parent_run_id).info.status == "KILLED"
    # resuming the sweep continues its parent and a trial's run instead of creating new ones
    again = SweepRun(tracking_server.uri, "settle", "settle-1", resume=True, tags={"preset": "settle"})
    assert again.target.parent_run_id == sweep.target.parent_run_id
    TrialRun(again.target, specs[2], specs[2].config(), "t_pending", resumed_from_epoch=3).buffer.flush(30)
    continued = {r.data.tags["ray_trial_id"]: r for r in again.children()}["t_pending"]
    assert continued.info.run_id == runs["t_pending"].info.run_id and continued.info.status == "RUNNING"
    assert continued.data.tags["attempts"] == "2" and continued.data.tags["resumed_from_epoch"] == "3"


def test_a_sweep_into_a_deleted_experiment_restores_it(tracking_server):
    client = MlflowClient(tracking_server.uri)
    deleted = client.create_experiment("deleted-preset")
    client.delete_experiment(deleted)
    sweep = SweepRun(tracking_server.uri, "deleted-preset", "s1", resume=False, tags={})
    assert sweep.target.experiment_id == deleted
    assert client.get_experiment(deleted).lifecycle_stage == "active"
    assert client.get_run(sweep.target.parent_run_id).info.status == "RUNNING"
    sweep.close("FINISHED")
