"""MLflow tracking of sweeps: one parent run per sweep, one child run per trial, over HTTP.

Every call goes through ``BufferedClient``: a call the server cannot take now (it is down,
restarting, overloaded) is kept in order with everything after it and sent later, with
exponential backoff, without blocking training; ``flush`` waits for the backlog before a run
is closed, so no final metric is lost while the server is away for a while.

A trial's child run is found by its Ray trial id and continued when the trial is retried or
the sweep resumed, so a run never forks. The driver settles what workers cannot (a trial whose
node died, one the scheduler stopped): ``SweepRun.settle`` gives every child a final status.
Tag names are the ones vaesweep.analysis.schema reads.
"""

from __future__ import annotations

import logging
import os
import subprocess
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from mlflow.entities import Metric, Param, RunStatus, RunTag
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from vaesweep.config import RunConfig
from vaesweep.errors import DivergedError
from vaesweep.search_spaces.definitions import TrialSpec

logger = logging.getLogger(__name__)

PARENT_TAG = "mlflow.parentRunId"
TRIAL_ID_TAG = "ray_trial_id"
STATUS_TAG = "status"  # the platform's word: running, finished, failed, diverged, stopped, interrupted
FAILURE_TAG = "failure_reason"
DIVERGED_EPOCH_TAG = "diverged_epoch"
RESUMED_TAG = "resumed_from_epoch"
ATTEMPTS_TAG = "attempts"
SWEEP_TAG = "sweep"
GIT_COMMIT_TAG = "git_commit"
STARTED_FROM_RUN_TAG = "started_from_run"  # a staged trial: the run whose final model it starts from
STARTED_FROM_ARM_TAG = "started_from_arm"  # ... and that run's arm
CHECKPOINT_ARTIFACT = "checkpoint"  # where a trial's final checkpoint is logged

MAX_TAG_LENGTH = 5000
BATCH_LIMIT = 100  # MLflow accepts at most 100 params (and 1,000 metrics) per log_batch
FLUSH_TIMEOUT_S = 600.0


class TrackingUnavailable(RuntimeError):
    """The tracking server did not take the backlog before the deadline."""


def _transient(error: BaseException) -> bool:
    """Whether a failed call may succeed later (server away or overloaded), not a bad request."""
    if isinstance(error, MlflowException):
        status = error.get_http_status_code()
        return status >= 500 or status == 429
    if isinstance(error, requests.HTTPError) and error.response is not None:
        return error.response.status_code >= 500 or error.response.status_code == 429
    return isinstance(error, requests.RequestException)


class BufferedClient:
    """An ``MlflowClient`` whose calls are queued and sent in order, retried with backoff.

    MLflow's own HTTP retries would block a trial for minutes per call while the server is
    away; they are turned down in this process (unless set explicitly) and the queue retries
    instead, between epochs. A call rejected for good (a 4xx) is dropped and raised.
    """

    def __init__(self, uri: str, *, first_backoff_s: float = 0.5, max_backoff_s: float = 5.0) -> None:
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
        os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")  # stdout is the CLI's
        self.client = MlflowClient(uri)
        self.uri = uri
        self.pending: deque[Callable[[MlflowClient], None]] = deque()
        self.first_backoff_s = first_backoff_s
        self.max_backoff_s = max_backoff_s
        self.backoff_s = first_backoff_s
        self.retry_at = 0.0
        self.last_error: BaseException | None = None

    def submit(self, call: Callable[[MlflowClient], None]) -> None:
        """Queue a call and send what the server takes now."""
        self.pending.append(call)
        self.send()

    def send(self) -> bool:
        """Send the backlog unless backing off; True when nothing is left."""
        if self.pending and time.monotonic() < self.retry_at:
            return False
        while self.pending:
            try:
                self.pending[0](self.client)
            except Exception as error:
                if not _transient(error):
                    self.pending.popleft()
                    raise
                self.last_error = error
                self.retry_at = time.monotonic() + self.backoff_s
                self.backoff_s = min(2 * self.backoff_s, self.max_backoff_s)
                logger.warning(
                    "MLflow at %s unavailable (%s); %d calls buffered", self.uri, error, len(self.pending)
                )
                return False
            self.pending.popleft()
            self.backoff_s = self.first_backoff_s
        return True

    def flush(self, timeout_s: float = FLUSH_TIMEOUT_S) -> None:
        """Wait until the backlog is sent; TrackingUnavailable after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while not self.send():
            now = time.monotonic()
            if now >= deadline:
                raise TrackingUnavailable(
                    f"MLflow at {self.uri} did not answer for {timeout_s:.0f}s; {len(self.pending)} calls "
                    f"not sent (last error: {self.last_error})"
                )
            time.sleep(max(0.05, min(self.retry_at - now, deadline - now)))

    def call(self, function: Callable[[MlflowClient], Any], timeout_s: float = FLUSH_TIMEOUT_S) -> Any:
        """Run a call whose answer is needed now, after the backlog, retrying while transient."""
        box: list[Any] = []
        self.submit(lambda client: box.append(function(client)))
        self.flush(timeout_s)
        return box[0]


def _timestamp_ms() -> int:
    return int(time.time() * 1000)


def _tags(values: Mapping[str, Any]) -> list[RunTag]:
    return [RunTag(k, str(v)[:MAX_TAG_LENGTH]) for k, v in values.items()]


def _log_batch(
    client: MlflowClient,
    run_id: str,
    *,
    metrics: Iterable[Metric] = (),
    params: Iterable[Param] = (),
    tags: Iterable[RunTag] = (),
) -> None:
    metrics, params, tags = list(metrics), list(params), list(tags)
    for start in range(0, len(params), BATCH_LIMIT):
        client.log_batch(run_id, params=params[start : start + BATCH_LIMIT])
    for start in range(0, max(len(metrics), len(tags)), BATCH_LIMIT):
        client.log_batch(
            run_id, metrics=metrics[start : start + BATCH_LIMIT], tags=tags[start : start + BATCH_LIMIT]
        )


def _metrics(values: Mapping[str, float], step: int, timestamp: int) -> list[Metric]:
    return [Metric(k, float(v), timestamp, step) for k, v in values.items()]


def git_commit() -> str | None:
    """The commit of the checkout vaesweep runs from, or None outside a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def failure_tags(error: BaseException) -> dict[str, Any]:
    """Why a trial failed, as tags: the reason and, for a divergence, the epoch."""
    tags: dict[str, Any] = {STATUS_TAG: "failed", FAILURE_TAG: f"{type(error).__name__}: {error}"}
    if isinstance(error, DivergedError):
        tags[STATUS_TAG] = "diverged"
        tags[DIVERGED_EPOCH_TAG] = error.epoch
    return tags


@dataclass(frozen=True)
class TrackingTarget:
    """Where a trial logs: the server, the preset's experiment and the sweep's parent run.
    Small and picklable: Tune sends it to every trial."""

    uri: str
    experiment_id: str
    parent_run_id: str
    tags: Mapping[str, str] = field(default_factory=dict)  # preset, sweep, git commit
    flush_timeout_s: float = FLUSH_TIMEOUT_S


def find_child(client: MlflowClient, target: TrackingTarget, trial_id: str):
    """The child run of ``trial_id`` in this sweep, or None."""
    query = f"tags.{TRIAL_ID_TAG} = '{trial_id}' and tags.`{PARENT_TAG}` = '{target.parent_run_id}'"
    found = client.search_runs([target.experiment_id], filter_string=query, max_results=1)
    return found[0] if found else None


class TrialRun:
    """A trial's child run, created or (on a retry or resume) continued, never forked.

    Epochs already in MLflow are not logged twice when a retried trial replays from its
    checkpoint.
    """

    def __init__(
        self,
        target: TrackingTarget,
        spec: TrialSpec,
        config: RunConfig,
        trial_id: str,
        resumed_from_epoch: int | None = None,
    ) -> None:
        self.target = target
        self.trial_id = trial_id
        self.buffer = BufferedClient(target.uri)
        self.run_id: str | None = None
        self.logged_epochs = 0
        tags = {
            **target.tags,
            "preset": spec.experiment,
            "method": spec.method,
            "dataset": spec.dataset,
            "arm": spec.arm,
            "seed": spec.seed,
            TRIAL_ID_TAG: trial_id,
            STATUS_TAG: "running",
            PARENT_TAG: target.parent_run_id,
        }
        if resumed_from_epoch is not None:
            tags[RESUMED_TAG] = resumed_from_epoch
        if spec.start_from is not None:
            tags[STARTED_FROM_ARM_TAG] = spec.start_from["arm"]
            tags[STARTED_FROM_RUN_TAG] = spec.start_from.get("run_id") or "none (it did not finish)"
        params = [Param(k, str(v)) for k, v in config.flatten().items()]
        run_name = f"{spec.arm} | {spec.dataset} | seed {spec.seed}"
        self.buffer.submit(lambda client: self._open(client, run_name, tags, params))

    def _open(self, client: MlflowClient, run_name: str, tags: dict[str, Any], params: list[Param]) -> None:
        existing = find_child(client, self.target, self.trial_id)
        if existing is None:
            run = client.create_run(self.target.experiment_id, run_name=run_name)
            attempts = 1
        else:
            run = existing
            client.update_run(run.info.run_id, status=RunStatus.to_string(RunStatus.RUNNING))
            attempts = int(run.data.tags.get(ATTEMPTS_TAG, "1")) + 1
            for stale in {FAILURE_TAG, DIVERGED_EPOCH_TAG} & set(run.data.tags):  # this attempt may succeed
                client.delete_tag(run.info.run_id, stale)
            history = client.get_metric_history(run.info.run_id, "epoch")
            self.logged_epochs = int(max((m.step for m in history), default=0))
        _log_batch(client, run.info.run_id, params=params, tags=_tags({**tags, ATTEMPTS_TAG: attempts}))
        self.run_id = run.info.run_id

    def log_epoch(self, epoch: int, metrics: Mapping[str, float]) -> None:
        """Per-epoch metrics at step = epoch (skipped if a previous attempt logged them)."""
        timestamp = _timestamp_ms()

        def log(client: MlflowClient) -> None:
            if epoch > self.logged_epochs:
                _log_batch(client, self.run_id, metrics=_metrics(metrics, epoch, timestamp))
                self.logged_epochs = epoch

        self.buffer.submit(log)

    def finish(self, metrics: Mapping[str, float], artifacts_dir: Path, checkpoint: Path) -> None:
        """Final metrics, artifacts and the final checkpoint; waits until the server has them."""
        step, timestamp = int(metrics.get("epochs_run", 0)), _timestamp_ms()
        self.buffer.submit(
            lambda client: _log_batch(client, self.run_id, metrics=_metrics(metrics, step, timestamp))
        )
        self.buffer.submit(lambda client: client.log_artifacts(self.run_id, str(artifacts_dir)))
        if checkpoint.exists():
            self.buffer.submit(
                lambda client: client.log_artifact(self.run_id, str(checkpoint), CHECKPOINT_ARTIFACT)
            )
        self._close(RunStatus.FINISHED, {STATUS_TAG: "finished"})
        self.buffer.flush(self.target.flush_timeout_s)

    def fail(self, error: BaseException) -> None:
        """Record why the trial failed and close its run FAILED (best effort: Tune has it too)."""
        self._close(RunStatus.FAILED, failure_tags(error))
        try:
            self.buffer.flush(min(60.0, self.target.flush_timeout_s))
        except TrackingUnavailable as unavailable:
            logger.warning("could not record the failure in MLflow: %s", unavailable)

    def _close(self, status: int, tags: Mapping[str, Any]) -> None:
        def close(client: MlflowClient) -> None:
            _log_batch(client, self.run_id, tags=_tags(tags))
            client.set_terminated(self.run_id, RunStatus.to_string(status))

        self.buffer.submit(close)


def download_checkpoint(target: TrackingTarget, run_id: str, file_name: str, directory: Path) -> Path:
    """The final checkpoint ``file_name`` that run ``run_id`` logged, downloaded into ``directory``."""
    buffer = BufferedClient(target.uri)
    path = f"{CHECKPOINT_ARTIFACT}/{file_name}"
    return Path(buffer.call(lambda client: client.download_artifacts(run_id, path, str(directory))))


@dataclass(frozen=True)
class TrialOutcome:
    """How Tune ended (or has not yet ended) a trial, in the platform's words."""

    trial_id: str
    state: str  # pending, running, finished, stopped, failed
    reason: str = ""

    @property
    def terminal(self) -> bool:
        return self.state in ("finished", "stopped", "failed")


_SETTLED = {
    "finished": (RunStatus.FINISHED, "finished"),
    "stopped": (RunStatus.KILLED, "stopped"),
    "failed": (RunStatus.FAILED, "failed"),
    "interrupted": (RunStatus.KILLED, "interrupted"),
}


class SweepRun:
    """The sweep's parent run; settles its children's statuses with Tune's view of the trials."""

    def __init__(
        self, uri: str, experiment: str, sweep: str, *, resume: bool, tags: Mapping[str, str]
    ) -> None:
        self.buffer = BufferedClient(uri)
        found = self.buffer.call(lambda client: client.get_experiment_by_name(experiment), timeout_s=60)
        if found is not None and found.lifecycle_stage == "deleted":
            # MLflow keeps a deleted experiment's name; new runs cannot go into it until restored.
            logger.warning("MLflow experiment %r was deleted; restoring it for this sweep", experiment)
            self.buffer.call(lambda client: client.restore_experiment(found.experiment_id), timeout_s=60)
        experiment_id = (
            found.experiment_id
            if found is not None
            else self.buffer.call(lambda client: client.create_experiment(experiment), timeout_s=60)
        )
        parent = self._existing_parent(experiment_id, sweep) if resume else None
        if parent is None:
            parent_id = self.buffer.call(
                lambda client: client.create_run(experiment_id, run_name=sweep).info.run_id, timeout_s=60
            )
        else:
            parent_id = parent.info.run_id
            self.buffer.call(lambda client: client.update_run(parent_id, status="RUNNING"), timeout_s=60)
        all_tags = {**tags, SWEEP_TAG: sweep}
        self.buffer.call(lambda client: _log_batch(client, parent_id, tags=_tags(all_tags)), timeout_s=60)
        self.target = TrackingTarget(uri, experiment_id, parent_id, dict(tags))

    def _existing_parent(self, experiment_id: str, sweep: str):
        runs = self.buffer.call(
            lambda client: client.search_runs(
                [experiment_id],
                filter_string=f"tags.{SWEEP_TAG} = '{sweep}'",
                order_by=["attributes.start_time DESC"],
            ),
            timeout_s=60,
        )
        parents = [run for run in runs if PARENT_TAG not in run.data.tags]
        return parents[0] if parents else None

    def log_params(self, params: Mapping[str, Any]) -> None:
        parent = self.target.parent_run_id
        self.buffer.submit(
            lambda client: _log_batch(client, parent, params=[Param(k, str(v)) for k, v in params.items()])
        )

    def children(self) -> list:
        """Every child run of this sweep (all pages)."""
        query = f"tags.`{PARENT_TAG}` = '{self.target.parent_run_id}'"
        runs, token = [], None
        while True:
            page = self.buffer.call(
                lambda client, token=token: client.search_runs(
                    [self.target.experiment_id], filter_string=query, max_results=1000, page_token=token
                )
            )
            runs += list(page)
            token = page.token
            if not token:
                return runs

    def settle(self, outcome: TrialOutcome) -> None:
        """Give the trial's child run its final status if its worker could not (it died, or the
        scheduler stopped it). A child already closed is left as its worker closed it."""

        def settle(client: MlflowClient) -> None:
            run = find_child(client, self.target, outcome.trial_id)
            if run is not None and run.info.status == "RUNNING":
                self._close_child(client, run.info.run_id, outcome.state, outcome.reason)

        self.buffer.submit(settle)

    def reconcile(self, outcomes: Mapping[str, TrialOutcome], *, interrupted: bool) -> None:
        """Close every child still RUNNING: by its trial's outcome; a trial Tune does not know
        (started just before the driver died, and run again under a new id) is deleted; one
        still to run is KILLED if the sweep was interrupted, else left for its trial to continue."""
        for run in self.children():
            if run.info.status != "RUNNING":
                continue
            run_id = run.info.run_id
            outcome = outcomes.get(run.data.tags.get(TRIAL_ID_TAG, ""))
            if outcome is None:
                self.buffer.submit(lambda client, run_id=run_id: client.delete_run(run_id))
            elif outcome.terminal:
                self.buffer.submit(
                    lambda client, run_id=run_id, o=outcome: self._close_child(
                        client, run_id, o.state, o.reason
                    )
                )
            elif interrupted:
                self.buffer.submit(
                    lambda client, run_id=run_id: self._close_child(client, run_id, "interrupted", "")
                )
        self.buffer.flush()

    @staticmethod
    def _close_child(client: MlflowClient, run_id: str, state: str, reason: str) -> None:
        status, word = _SETTLED[state]
        tags = {STATUS_TAG: word, **({FAILURE_TAG: reason} if reason else {})}
        _log_batch(client, run_id, tags=_tags(tags))
        client.set_terminated(run_id, RunStatus.to_string(status))

    def close(self, status: str, tags: Mapping[str, Any] = ()) -> None:
        """End the parent run FINISHED, FAILED or KILLED, after the backlog."""
        parent = self.target.parent_run_id

        def close(client: MlflowClient) -> None:
            _log_batch(client, parent, tags=_tags(dict(tags)))
            client.set_terminated(parent, status)

        self.buffer.submit(close)
        self.buffer.flush()
