"""MLflow tracking against a real server: calls buffered while the server is away, bad calls
raised at once, an unreachable server named within seconds, a trial's run found by its key
whatever Tune remembers, and a sweep's children settled from Tune's outcomes."""

from __future__ import annotations

import re
import socket
import threading
import time

import pytest
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from vaesweep.platform.server import free_port
from vaesweep.platform.tracking import (
    BufferedClient,
    SweepRun,
    TrackingUnavailable,
    TrialRun,
    check_tracking,
)
from vaesweep.platform.trials import TrialOutcome, trial_key
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


def test_an_unreachable_server_is_named_within_seconds():
    uri = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(TrackingUnavailable, match=f"no MLflow server answers at {uri}.*start it"):
        check_tracking(uri, timeout_s=5)
    assert time.monotonic() - started < 10


class _DropsItsKeptConnection:
    """An HTTP server that answers a request, keeps the connection and then closes it as the
    next request arrives on it, unanswered (what a server closing an idle keep-alive connection
    does to a request that reuses it at that moment); fresh connections are answered."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.uri = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.answered = 0
        self.dropped = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        first = True
        while True:
            connection, _ = self.listener.accept()
            with connection:
                self._answer(connection)
                if first:
                    first = False
                    connection.recv(65536)  # the next request on the kept connection: dropped
                    self.dropped += 1

    def _answer(self, connection: socket.socket) -> None:
        request = b""
        while b"\r\n\r\n" not in request:
            request += connection.recv(65536)
        head, _, body = request.partition(b"\r\n\r\n")
        length = re.search(rb"(?i)content-length: *(\d+)", head)
        while length and len(body) < int(length.group(1)):
            body += connection.recv(65536)
        payload = b'{"experiments": []}'
        connection.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(payload)}\r\n\r\n".encode()
            + payload
        )
        self.answered += 1


def test_a_request_on_a_connection_the_server_drops_is_sent_again_not_called_an_outage():
    """The second check reuses the first one's connection, which the server drops: MLflow's one
    immediate retry sends it on a fresh connection (with none, the check named a live server
    away: seen once in tests/platform, 5 s after the test process's last call)."""
    server = _DropsItsKeptConnection()
    check_tracking(server.uri)
    check_tracking(server.uri)
    assert server.dropped == 1 and server.answered == 2


def _settle_experiment(name: str, seeds: int):
    experiment = Experiment(name, name, ("digits",), (Arm("vae", "VAE"),), seeds=tuple(range(seeds)))
    return expand(experiment)


def test_reconcile_closes_every_child_by_its_trials_outcome(tracking_server):
    specs = _settle_experiment("settle", 5)
    keys = [trial_key(spec) for spec in specs]
    sweep = SweepRun(tracking_server.uri, "settle", "settle-1", resume=False, tags={"preset": "settle"})
    ids = ["t_finished", "t_failed", "t_pending", "t_unknown", "t_closed"]
    for spec, trial_id in zip(specs, ids, strict=True):
        assert TrialRun(sweep.target, spec, spec.config(), trial_id).open() is None
    closed = TrialRun(sweep.target, specs[4], specs[4].config(), "t_closed")
    closed.open()
    closed.finish({"nll": 1.0}, tracking_server.directory / "none", tracking_server.directory / "none.pt")
    outcomes = {
        keys[0]: TrialOutcome("t_finished", "finished"),
        keys[1]: TrialOutcome("t_failed", "failed", "RayActorError: the worker died"),
        keys[2]: TrialOutcome("t_pending", "pending"),
        keys[4]: TrialOutcome("t_closed", "failed", "must not override the worker's FINISHED"),
    }
    sweep.reconcile(outcomes, interrupted=True)
    sweep.close("KILLED")
    client = MlflowClient(tracking_server.uri)
    runs = {r.data.tags["ray_trial_id"]: r for r in sweep.children()}
    assert runs["t_finished"].info.status == "FINISHED"
    assert runs["t_failed"].info.status == "FAILED"
    assert runs["t_failed"].data.tags["failure_reason"] == "RayActorError: the worker died"
    for interrupted in ("t_pending", "t_unknown"):  # still to run, or a trial Tune no longer holds
        assert runs[interrupted].info.status == "KILLED"
        assert runs[interrupted].data.tags["status"] == "interrupted"
    assert runs["t_closed"].info.status == "FINISHED" and runs["t_closed"].data.metrics["nll"] == 1.0
    assert client.get_run(sweep.target.parent_run_id).info.status == "KILLED"
    # resuming the sweep continues its parent and a trial's run instead of creating new ones
    again = SweepRun(tracking_server.uri, "settle", "settle-1", resume=True, tags={"preset": "settle"})
    assert again.target.parent_run_id == sweep.target.parent_run_id
    TrialRun(again.target, specs[2], specs[2].config(), "t_pending", resumed_from_epoch=3).open()
    continued = {r.data.tags["ray_trial_id"]: r for r in again.children()}["t_pending"]
    assert continued.info.run_id == runs["t_pending"].info.run_id and continued.info.status == "RUNNING"
    assert continued.data.tags["attempts"] == "2" and continued.data.tags["resumed_from_epoch"] == "3"


def test_a_trials_run_is_continued_under_a_new_trial_id_and_never_logs_twice(tracking_server):
    """Tune may run a trial again under a new id (its state was lost with the driver): the trial
    key finds the run; epochs and final metrics already logged are not logged again."""
    (spec,) = _settle_experiment("rekey", 1)
    sweep = SweepRun(tracking_server.uri, "rekey", "rekey-1", resume=False, tags={})
    first = TrialRun(sweep.target, spec, spec.config(), "old_id")
    first.open()
    for epoch in (1, 2):
        first.log_epoch(epoch, {"epoch": float(epoch), "train_loss": 10.0 - epoch})
    first.buffer.submit(  # the final metrics reached MLflow, then the driver died before the close
        lambda client: client.log_metric(first.run_id, "nll", 5.0, step=3)
    )
    first.buffer.flush(30)
    second = TrialRun(sweep.target, spec, spec.config(), "new_id")  # Tune restarted: no checkpoint
    assert second.open() is None
    for epoch in (1, 2, 3):  # the replay from the first epoch
        second.log_epoch(epoch, {"epoch": float(epoch), "train_loss": 10.0 - epoch})
    scratch = tracking_server.directory / "rekey-artifacts"
    scratch.mkdir()
    second.finish({"nll": 5.0, "epochs_run": 3.0}, scratch, scratch / "none.pt")
    client = MlflowClient(tracking_server.uri)
    (run,) = sweep.children()
    assert run.info.run_id == first.run_id and run.info.status == "FINISHED"
    assert run.data.tags["ray_trial_id"] == "new_id" and run.data.tags["attempts"] == "2"
    assert sorted(m.step for m in client.get_metric_history(run.info.run_id, "train_loss")) == [1, 2, 3]
    assert len(client.get_metric_history(run.info.run_id, "nll")) == 1
    # a third attempt finds it finished: it gets the final metrics and must not train or reopen
    third = TrialRun(sweep.target, spec, spec.config(), "newer_id")
    assert third.open()["nll"] == 5.0
    after = client.get_run(run.info.run_id)
    assert after.info.status == "FINISHED" and after.data.tags["attempts"] == "2"
    assert after.info.end_time == run.info.end_time


def test_a_sweep_into_a_deleted_experiment_restores_it(tracking_server):
    client = MlflowClient(tracking_server.uri)
    deleted = client.create_experiment("deleted-preset")
    client.delete_experiment(deleted)
    sweep = SweepRun(tracking_server.uri, "deleted-preset", "s1", resume=False, tags={})
    assert sweep.target.experiment_id == deleted
    assert client.get_experiment(deleted).lifecycle_stage == "active"
    assert client.get_run(sweep.target.parent_run_id).info.status == "RUNNING"
    sweep.close("FINISHED")


def test_an_empty_twin_left_by_a_retried_create_is_never_used_and_is_deleted(tracking_server):
    """A create_run whose answer is lost to a timeout is retried. The first try may land before
    the retry looks (then the retry adopts it) or after the retry created another run: an empty
    twin with the trial's tags, which the trial never uses and the sweep's end deletes."""
    (spec,) = _settle_experiment("twins", 1)
    sweep = SweepRun(tracking_server.uri, "twins", "twins-1", resume=False, tags={})
    client = MlflowClient(tracking_server.uri)
    tags = {"trial_key": trial_key(spec), "mlflow.parentRunId": sweep.target.parent_run_id}
    landed_first = client.create_run(sweep.target.experiment_id, tags=tags).info.run_id
    run = TrialRun(sweep.target, spec, spec.config(), "t1")
    run.open()
    assert run.run_id == landed_first and client.get_run(run.run_id).data.params  # adopted
    landed_late = client.create_run(sweep.target.experiment_id, tags=tags).info.run_id
    run.log_epoch(1, {"epoch": 1.0})
    again = TrialRun(sweep.target, spec, spec.config(), "t1")  # a retry of the trial
    again.open()
    assert again.run_id == run.run_id
    sweep.reconcile({trial_key(spec): TrialOutcome("t1", "failed", "lost")}, interrupted=False)
    assert {r.info.run_id for r in sweep.children()} == {run.run_id}
    assert client.get_run(landed_late).info.lifecycle_stage == "deleted"
    assert client.get_run(run.run_id).info.status == "FAILED"


def test_database_contention_is_retried_and_a_real_bad_request_is_not():
    from mlflow.protos.databricks_pb2 import BAD_REQUEST, INVALID_PARAMETER_VALUE

    from vaesweep.platform.tracking import _transient

    contention = (
        "QueuePool limit of size 5 overflow 10 reached, connection timed out, timeout 30.00",
        "(sqlite3.OperationalError) database is locked",
        "(sqlite3.IntegrityError) UNIQUE constraint failed: params.key, params.run_uuid",
        'duplicate key value violates unique constraint "param_pk"',
    )
    for message in contention:  # a 400 from MLflow, though the same call succeeds later
        assert _transient(MlflowException(message, error_code=BAD_REQUEST)), message
    changed = MlflowException("Changing param values is not allowed", error_code=INVALID_PARAMETER_VALUE)
    assert not _transient(changed)
