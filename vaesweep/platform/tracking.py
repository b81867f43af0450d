"""MLflow tracking of sweeps: one parent run per sweep, one child run per trial, over HTTP.

Every call goes through ``BufferedClient``: a call the server cannot take now (it is down,
restarting, overloaded) is kept in order with everything after it and sent later, with
exponential backoff, without blocking training; ``flush`` waits for the backlog before a run
is closed, so no final metric is lost while the server is away for a while.

A trial's child run is found by its ``trial_key`` (vaesweep.platform.trials) and continued
when the trial is retried or the sweep resumed, so a run never forks, and a trial whose run an
earlier attempt finished is not trained again. Every run is created with its identifying tags
in one call, so a driver killed at any moment leaves no run that a resume cannot find. The
driver settles what workers cannot (a trial whose node died, one the scheduler stopped):
``SweepRun.settle`` and ``reconcile`` give every child a final status. Tag names are the ones
vaesweep.analysis.schema reads.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import subprocess
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from mlflow.entities import Dataset, DatasetInput, InputTag, Metric, Param, RunStatus, RunTag
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from vaesweep.config import RunConfig
from vaesweep.errors import DivergedError
from vaesweep.faults import kill_point
from vaesweep.platform.server import CREDENTIALS_ENV
from vaesweep.platform.trials import TrialOutcome, trial_key
from vaesweep.search_spaces.definitions import TrialSpec

logger = logging.getLogger(__name__)

PARENT_TAG = "mlflow.parentRunId"
TRIAL_ID_TAG = "ray_trial_id"
TRIAL_KEY_TAG = "trial_key"
STATUS_TAG = "status"  # the platform's word: running, finished, failed, diverged, stopped, interrupted
FAILURE_TAG = "failure_reason"
DIVERGED_EPOCH_TAG = "diverged_epoch"
RESUMED_TAG = "resumed_from_epoch"
ATTEMPTS_TAG = "attempts"
ATTEMPT_ID_TAG = "attempt_id"  # one attempt's own id: a call it retries after a timeout knows its work
SWEEP_TAG = "sweep"
GIT_COMMIT_TAG = "git_commit"
STARTED_FROM_RUN_TAG = "started_from_run"  # a staged trial: the run whose final model it starts from
STARTED_FROM_ARM_TAG = "started_from_arm"  # ... and that run's arm
CHECKPOINT_ARTIFACT = "checkpoint"  # where a trial's final checkpoint is logged
STOPPED_BY_TAG = "stopped_by"  # the scheduler that stopped a trial early (asha)
STOPPED_EPOCH_TAG = "stopped_at_epoch"
STOP_REASON_TAG = "stop_reason"  # the epoch and the value it was judged on
# The experiment kind MLflow's UI reads to open an experiment on its training runs rather than
# GenAI traces: the UI's ExperimentKind.CUSTOM_MODEL_DEVELOPMENT (MLflow 3.17's JS bundle).
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
TRAINING_KIND = "custom_model_development"
# The 3.17 bundle ships its workflow switch on, and then takes the kind from the page's
# ``workflowType`` (the URL, else the browser's last choice, else GenAI) over the tag: a link
# with this query opens the runs table whatever the browser chose before.
TRAINING_VIEW = "workflowType=machine_learning"

MAX_TAG_LENGTH = 5000
BATCH_LIMIT = 100  # MLflow accepts at most 100 params (and 1,000 metrics) per log_batch
FLUSH_TIMEOUT_S = 600.0
CHECK_TIMEOUT_S = 10.0
# MLflow's HTTP retries for our calls: one, which urllib3 makes at once. A server closes an idle
# keep-alive connection (uvicorn: after 5 s); a request that reuses it at that moment fails
# before the server reads it, and only a retry on a fresh connection sends it. More retries
# would block a trial while the server is away: the queue (BufferedClient) retries instead.
HTTP_RETRIES = "1"


class TrackingUnavailable(RuntimeError):
    """The tracking server did not answer (or refused us) before the deadline."""


@contextlib.contextmanager
def _request_limits(timeout_s: float) -> Iterator[None]:
    """MLflow's HTTP calls in this block: ``HTTP_RETRIES`` immediate retry, at most ``timeout_s``
    a try."""
    saved = {k: os.environ.get(k) for k in ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_TIMEOUT")}
    os.environ |= {
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": HTTP_RETRIES,
        "MLFLOW_HTTP_REQUEST_TIMEOUT": str(int(timeout_s)),
    }
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def check_tracking(uri: str, timeout_s: float = CHECK_TIMEOUT_S) -> None:
    """Fail fast, before a sweep starts anything: TrackingUnavailable (one line naming ``uri``
    and what to do) unless an MLflow server answers there and accepts our credentials."""
    started = time.monotonic()
    try:
        with _request_limits(timeout_s):
            MlflowClient(uri).search_experiments(max_results=1)
        return
    except MlflowException as error:
        message = str(error)
        status = error.get_http_status_code()
    except requests.RequestException as error:
        message, status = str(error), None
    if status in (401, 403) or " 401 " in message or " 403 " in message:
        given = all(os.environ.get(k) for k in CREDENTIALS_ENV)
        raise TrackingUnavailable(
            f"MLflow at {uri} refused {'the credentials in' if given else 'a request without'} "
            f"{' and '.join(CREDENTIALS_ENV)}: set them to a user of that server"
        )
    reason = message.splitlines()[0][:160] if message else "no answer"
    raise TrackingUnavailable(
        f"no MLflow server answers at {uri} ({reason}; after {time.monotonic() - started:.0f}s): start it, "
        "or fix --tracking-uri / MLFLOW_TRACKING_URI (without either, the sweep starts a local server)"
    )


# Contention in the server's database that MLflow answers as a bad request (400), though the
# same call succeeds later: its connection pool ran dry, SQLite was locked, or a write retried
# after a timeout raced the first try (every call here finds what a first try did).
_CONTENTION = (
    "queuepool limit",
    "database is locked",
    "unique constraint failed",
    "duplicate key value violates unique constraint",
    "deadlock detected",
    "could not serialize access",
)


def _transient(error: BaseException) -> bool:
    """Whether a failed call may succeed later (server away, overloaded or contended), not a
    bad request."""
    if isinstance(error, MlflowException):
        status = error.get_http_status_code()
        return status >= 500 or status == 429 or any(c in str(error).lower() for c in _CONTENTION)
    if isinstance(error, requests.HTTPError) and error.response is not None:
        return error.response.status_code >= 500 or error.response.status_code == 429
    return isinstance(error, requests.RequestException)


class BufferedClient:
    """An ``MlflowClient`` whose calls are queued and sent in order, retried with backoff.

    MLflow's own HTTP retries would block a trial for minutes per call while the server is
    away; they are turned down to ``HTTP_RETRIES`` in this process (unless set explicitly) and
    the queue retries instead, between epochs. A call rejected for good (a 4xx) is dropped and
    raised.
    """

    def __init__(self, uri: str, *, first_backoff_s: float = 0.5, max_backoff_s: float = 5.0) -> None:
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", HTTP_RETRIES)
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
        self.outage_since: float | None = None  # when the server stopped taking calls
        self.retries = 0  # calls the server did not take at once (away, overloaded, locked)

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
                self.retries += 1
                self.retry_at = time.monotonic() + self.backoff_s
                self.backoff_s = min(2 * self.backoff_s, self.max_backoff_s)
                if self.outage_since is None:  # once per outage, not once per retry
                    self.outage_since = time.monotonic()
                    logger.warning("MLflow at %s unavailable (%s); buffering its calls", self.uri, error)
                return False
            self.pending.popleft()
            self.backoff_s = self.first_backoff_s
            if self.outage_since is not None:
                logger.warning(
                    "MLflow at %s is back after %.0fs", self.uri, time.monotonic() - self.outage_since
                )
                self.outage_since = None
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


def _tag_dict(values: Mapping[str, Any]) -> dict[str, str]:
    return {k: str(v)[:MAX_TAG_LENGTH] for k, v in values.items()}


def _tags(values: Mapping[str, Any]) -> list[RunTag]:
    return [RunTag(k, v) for k, v in _tag_dict(values).items()]


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


SPLITS = ("train", "valid", "test")


@functools.lru_cache(maxsize=16)
def _dataset(data: tuple[tuple[str, Any], ...]) -> Dataset:
    """``dataset_input``'s work, once per data configuration in a worker (actors are reused)."""
    from vaesweep.data import dataset_info, load_dataset
    from vaesweep.data.cache import MANIFEST, dataset_cache_dir

    config = RunConfig.from_dict(dict(data)).data
    info = dataset_info(config.name)
    directory = Path(config.path) if config.path else dataset_cache_dir(config.name)
    if info.embedded:
        source, files = f"vaesweep:{config.name}", {}
    elif (directory / MANIFEST).is_file():  # its files' SHA-256 are there already: no data is read
        source = str(directory)
        files = {k: v["sha256"] for k, v in json.loads((directory / MANIFEST).read_text())["files"].items()}
    else:
        source = str(directory)
        files = {p.name: p.stat().st_size for p in sorted(directory.iterdir()) if p.is_file()}
    loaded = load_dataset(config)
    sizes = {split: len(loaded.split(split)) for split in SPLITS}
    text = json.dumps({"data": dict(data), "files": files, "sizes": sizes}, sort_keys=True, default=str)
    profile = {
        "kind": info.kind,
        "splits": sizes,
        **({"max_train": config.max_train} if config.max_train else {}),
    }
    return Dataset(
        name=config.name,
        digest=hashlib.sha256(text.encode()).hexdigest()[:16],
        source_type="local" if not info.embedded else "code",
        source=json.dumps({"uri": source}),
        profile=json.dumps(profile),
    )


def dataset_input(config: RunConfig) -> DatasetInput:
    """The data set a trial trains on, as an MLflow input (the runs table's Dataset column):
    name, a digest of what fixes its contents (the data section of the config, the cache's file
    hashes, the split sizes), its source and a profile with the split sizes."""
    data = tuple(sorted((k, v) for k, v in config.flatten().items() if k.startswith("data.")))
    return DatasetInput(_dataset(data), [InputTag("mlflow.data.context", "training")])


def run_url(uri: str, experiment_id: str, run_id: str | None = None) -> str:
    """Where the MLflow UI at ``uri`` shows a run (or, without one, the experiment's runs table)."""
    page = f"{uri.rstrip('/')}/#/experiments/{experiment_id}"
    return f"{page}/runs/{run_id}?{TRAINING_VIEW}" if run_id else f"{page}/runs?{TRAINING_VIEW}"


def latest_sweep(client: MlflowClient):
    """The newest parent run of a sweep in any experiment, or None when the store has none."""
    experiments = [e.experiment_id for e in client.search_experiments()]
    if not experiments:
        return None
    found = client.search_runs(
        experiments,
        filter_string=f"tags.{SWEEP_TAG} != '' and tags.`{PARENT_TAG}` IS NULL",
        order_by=["attributes.start_time DESC"],
        max_results=200,
    )
    return next((run for run in found if PARENT_TAG not in run.data.tags), None)


@dataclass(frozen=True)
class TrackingTarget:
    """Where a trial logs: the server, the preset's experiment and the sweep's parent run.
    Small and picklable: Tune sends it to every trial."""

    uri: str
    experiment_id: str
    parent_run_id: str
    tags: Mapping[str, str] = field(default_factory=dict)  # preset, sweep, git commit
    flush_timeout_s: float = FLUSH_TIMEOUT_S


def _child_rank(run) -> tuple[bool, bool, int]:
    """Which of a trial's runs is its run, first: a finished one, then one whose attempt logged
    its params (an empty twin is what a create retried after a timeout leaves), the oldest."""
    return run.info.status != "FINISHED", not run.data.params, run.info.start_time


def find_child(client: MlflowClient, target: TrackingTarget, key: str):
    """The child run of the trial ``key`` in this sweep, or None."""
    query = f"tags.{TRIAL_KEY_TAG} = '{key}' and tags.`{PARENT_TAG}` = '{target.parent_run_id}'"
    found = client.search_runs([target.experiment_id], filter_string=query, max_results=100)
    return min(found, key=_child_rank) if found else None


class TrialRun:
    """A trial's child run, created or (on a retry or resume) continued, never forked.

    ``open`` must come first. Epochs already in MLflow are not logged twice when a trial replays
    from an older checkpoint, nor final metrics that an interrupted attempt already logged.
    """

    def __init__(
        self,
        target: TrackingTarget,
        spec: TrialSpec,
        config: RunConfig,
        trial_id: str,
        resumed_from_epoch: int | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        self.target = target
        self.key = trial_key(spec)
        self.buffer = BufferedClient(target.uri)
        self.run_id: str | None = None
        self.logged_epochs = 0
        self.logged_metrics: set[str] = set()
        self.tags = {
            **target.tags,
            "preset": spec.experiment,
            "method": spec.method,
            "dataset": spec.dataset,
            "arm": spec.arm,
            "seed": spec.seed,
            TRIAL_KEY_TAG: self.key,
            TRIAL_ID_TAG: trial_id,
            ATTEMPT_ID_TAG: uuid.uuid4().hex,
            STATUS_TAG: "running",
            PARENT_TAG: target.parent_run_id,
            **(tags or {}),
        }
        if resumed_from_epoch is not None:
            self.tags[RESUMED_TAG] = resumed_from_epoch
        if spec.start_from is not None:
            self.tags[STARTED_FROM_ARM_TAG] = spec.start_from["arm"]
            self.tags[STARTED_FROM_RUN_TAG] = spec.start_from.get("run_id") or "none (it did not finish)"
        self.params = [Param(k, str(v)) for k, v in config.flatten().items()]
        self.run_name = f"{spec.arm} | {spec.dataset} | seed {spec.seed}"
        self.config = config
        self.dataset: DatasetInput | None = None

    def open(self) -> dict[str, float] | None:
        """Create the child run or continue this trial's; its final metrics instead (and the run
        left as it is) when an earlier attempt finished it. Waits for the server."""
        try:
            self.dataset = dataset_input(self.config)
        except (OSError, ValueError) as error:  # no data: training raises it and fail() records it
            logger.warning("data set of trial %s not logged as an input: %s", self.key, error)
        return self.buffer.call(self._open, self.target.flush_timeout_s)

    def _open(self, client: MlflowClient) -> dict[str, float] | None:
        """Find or create, so a retry of this call (its answer lost to a timeout) finds what the
        first try did instead of creating a second run."""
        existing = find_child(client, self.target, self.key)
        if existing is not None and existing.info.status == "FINISHED":
            self.run_id = existing.info.run_id
            return dict(existing.data.metrics)
        if existing is None:  # its identifying tags in the same call: no orphan run if we die here
            run = client.create_run(
                self.target.experiment_id,
                run_name=self.run_name,
                tags=_tag_dict({**self.tags, ATTEMPTS_TAG: 1}),
            )
            attempts, logged_params = 1, {}
        else:
            run = existing
            client.update_run(run.info.run_id, status=RunStatus.to_string(RunStatus.RUNNING))
            retried = run.data.tags.get(ATTEMPT_ID_TAG) == self.tags[ATTEMPT_ID_TAG]
            attempts = int(run.data.tags.get(ATTEMPTS_TAG, "1")) + (0 if retried else 1)
            for stale in {FAILURE_TAG, DIVERGED_EPOCH_TAG} & set(run.data.tags):  # this attempt may succeed
                client.delete_tag(run.info.run_id, stale)
            self.logged_epochs = int(run.data.metrics.get("epoch", 0))
            self.logged_metrics = set(run.data.metrics)
            logged_params = run.data.params
        self.run_id = run.info.run_id
        params = [p for p in self.params if p.key not in logged_params]
        _log_batch(client, self.run_id, params=params, tags=_tags({**self.tags, ATTEMPTS_TAG: attempts}))
        logged_inputs = existing.inputs.dataset_inputs if existing is not None and existing.inputs else []
        if self.dataset is not None and not logged_inputs:
            client.log_inputs(self.run_id, datasets=[self.dataset])
        return None

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
        new = {k: v for k, v in metrics.items() if k not in self.logged_metrics}
        self.buffer.submit(
            lambda client: _log_batch(client, self.run_id, metrics=_metrics(new, step, timestamp))
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

    def fetch_checkpoint(self, run_id: str, file_name: str, directory: Path) -> Path:
        """Run ``run_id``'s final checkpoint ``file_name``, downloaded into ``directory``."""
        path = f"{CHECKPOINT_ARTIFACT}/{file_name}"
        return Path(
            self.buffer.call(
                lambda client: client.download_artifacts(run_id, path, str(directory)),
                self.target.flush_timeout_s,
            )
        )


@dataclass(frozen=True)
class TrialTracking:
    """The trainable's ``OpenTracker`` (vaesweep.trainables.tracker): an MLflow child run of
    the sweep per trained model. Picklable, built once by the driver."""

    target: TrackingTarget

    def __call__(
        self,
        spec: TrialSpec,
        config: RunConfig,
        trial_id: str,
        resumed_from_epoch: int | None,
        tags: Mapping[str, str] | None = None,
    ) -> TrialRun:
        return TrialRun(self.target, spec, config, trial_id, resumed_from_epoch, tags)


_SETTLED = {
    "finished": (RunStatus.FINISHED, "finished"),
    "stopped": (RunStatus.KILLED, "stopped"),
    "failed": (RunStatus.FAILED, "failed"),
    "interrupted": (RunStatus.KILLED, "interrupted"),
}


def _empty_twins(children: list) -> list:
    """Runs a trial does not use and nothing was logged to: a create_run whose answer was lost to
    a timeout (an overloaded server) and that was retried leaves one. Never the trial's run."""
    by_key: dict[str, list] = {}
    for run in children:
        by_key.setdefault(run.data.tags.get(TRIAL_KEY_TAG, ""), []).append(run)
    twins = []
    for key, runs in by_key.items():
        if key and len(runs) > 1:
            chosen = min(runs, key=_child_rank)
            twins += [r for r in runs if r is not chosen and not r.data.params and not r.data.metrics]
    return twins


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
        kind = {EXPERIMENT_KIND_TAG: TRAINING_KIND}
        if found is None:
            experiment_id = self.buffer.call(
                lambda client: client.create_experiment(experiment, tags=kind), timeout_s=60
            )
        else:  # one made before vaesweep tagged its experiments
            experiment_id = found.experiment_id
            if found.tags.get(EXPERIMENT_KIND_TAG) != TRAINING_KIND:
                self.buffer.call(
                    lambda client: client.set_experiment_tag(
                        experiment_id, EXPERIMENT_KIND_TAG, TRAINING_KIND
                    ),
                    timeout_s=60,
                )
        all_tags = _tag_dict({**tags, SWEEP_TAG: sweep})
        parent = self._existing_parent(experiment_id, sweep) if resume else None
        if parent is None:  # with its sweep tag in the same call, so a resume finds it
            parent_id = self.buffer.call(
                lambda client: client.create_run(experiment_id, run_name=sweep, tags=all_tags).info.run_id,
                timeout_s=60,
            )
        else:
            parent_id = parent.info.run_id
            self.buffer.call(lambda client: client.update_run(parent_id, status="RUNNING"), timeout_s=60)
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
        """The sweep's options (the same on every resume, so logging them again is harmless)."""
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

    def settle(self, key: str, outcome: TrialOutcome) -> None:
        """Give the child run of trial ``key`` its final status if its worker could not (it
        died, or the scheduler stopped it). A child already closed is left as its worker closed it."""

        def settle(client: MlflowClient) -> None:
            run = find_child(client, self.target, key)
            if run is not None and run.info.status == "RUNNING":
                self._close_child(client, run.info.run_id, outcome)

        self.buffer.submit(settle)

    def reconcile(self, outcomes: Mapping[str, TrialOutcome], *, interrupted: bool) -> None:
        """Close every child still RUNNING by its trial's outcome (``outcomes`` by trial key).
        One whose trial is still to run is KILLED ("interrupted") if the sweep was interrupted,
        else left for its trial to continue; one whose trial this sweep's Tune state does not
        hold (an Optuna sample lost with Tune's state) will never continue: KILLED too. Empty
        twins of a trial's run are deleted."""
        kill_point("reconcile")
        children = self.children()
        deleted = {run.info.run_id for run in _empty_twins(children)}
        for run_id in deleted:
            self.buffer.submit(lambda client, run_id=run_id: client.delete_run(run_id))
        for run in children:
            if run.info.status != "RUNNING" or run.info.run_id in deleted:
                continue
            run_id = run.info.run_id
            outcome = outcomes.get(run.data.tags.get(TRIAL_KEY_TAG, ""))
            if outcome is None or (interrupted and not outcome.terminal):
                outcome = TrialOutcome(run.data.tags.get(TRIAL_ID_TAG, ""), "interrupted")
            elif not outcome.terminal:
                continue
            self.buffer.submit(
                lambda client, run_id=run_id, outcome=outcome: self._close_child(client, run_id, outcome)
            )
        self.buffer.flush()

    @staticmethod
    def _close_child(client: MlflowClient, run_id: str, outcome: TrialOutcome) -> None:
        status, word = _SETTLED[outcome.state]
        tags: dict[str, Any] = {STATUS_TAG: word}
        if outcome.state == "stopped":
            tags |= {STOP_REASON_TAG: outcome.reason, STOPPED_BY_TAG: outcome.stopped_by or "scheduler"}
            if outcome.stopped_at_epoch is not None:
                tags[STOPPED_EPOCH_TAG] = outcome.stopped_at_epoch
        elif outcome.reason:
            tags[FAILURE_TAG] = outcome.reason
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
