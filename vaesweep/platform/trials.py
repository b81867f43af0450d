"""A sweep's trials in the platform's words: their label, identity, outcome and record.

A trial's ``trial_key`` (a digest of its ``TrialSpec``) names its MLflow child run. Unlike
Tune's trial id it survives everything an interrupted sweep can go through: a retry, a resume,
and a resume that finds no Tune state (killed before Tune first stored it), where Tune starts
the grid again under new trial ids. So a child run is continued, or found finished, whatever
Tune remembers.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vaesweep.search_spaces.definitions import TrialSpec


def trial_key(spec: TrialSpec) -> str:
    """A trial's identity across attempts and Tune restarts: a digest of its spec."""
    text = json.dumps(spec.as_dict(), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def trial_label(spec: Mapping[str, Any]) -> str:
    """How progress lines and trial names show a trial."""
    return f"{spec.get('arm')} | {spec.get('dataset')} | seed {spec.get('seed')}"


def comparison_group(spec: TrialSpec) -> tuple[str, str]:
    """Trials whose objective values compare: the same data set and decoder likelihood (an NLL
    under a Gaussian decoder is a density, under a Bernoulli one a probability)."""
    return spec.dataset, spec.config().likelihood_kind


@dataclass(frozen=True)
class TrialOutcome:
    """How Tune ended (or has not yet ended) a trial, in the platform's words."""

    trial_id: str
    state: str  # pending, running, finished, stopped, failed
    reason: str = ""
    stopped_by: str = ""  # the scheduler that stopped it (e.g. asha)
    stopped_at_epoch: int | None = None

    @property
    def terminal(self) -> bool:
        return self.state in ("finished", "stopped", "failed")


@dataclass
class TrialRecord:
    """One trial at the end of the sweep: its spec, outcome and last result."""

    spec: TrialSpec
    outcome: TrialOutcome
    result: dict[str, Any]


def _latest_error(trial) -> Any:
    """The trial's latest error: from the driver's own copy (written when Tune handled it;
    storage may not have it yet), else from the trial's storage (a restored trial). Reads
    Ray's session directory: call it while Ray is initialised."""
    from ray import cloudpickle

    if trial.pickled_error_file and Path(trial.pickled_error_file).exists():
        return cloudpickle.loads(Path(trial.pickled_error_file).read_bytes())
    if trial.error_file and Path(trial.error_file).exists():
        return Path(trial.error_file).read_text()
    try:
        return trial.get_pickled_error() or trial.get_error()
    except OSError:  # the trial's storage is unreachable
        return None


def failure_reason(trial) -> str:
    """One line: the exception that ended the trial (its type and message)."""
    error = _latest_error(trial)
    cause = getattr(error, "cause", None) or error  # a RayTaskError carries the trainable's own
    if cause is None:
        return "unknown error (see Tune's error.txt of the trial)"
    if isinstance(cause, str):  # Tune's text trace: its last line names the exception
        lines = [line for line in cause.splitlines() if line.strip()]
        return lines[-1].strip() if lines else "unknown error"
    first = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {first[0] if first else ''}".strip()


def trial_outcome(trial, scheduler: str = "", metric: str = "", ended: bool = False) -> TrialOutcome:
    """Tune's status of a trial in the platform's words (``ended``: Tune says it completed, as
    its callbacks hear before the status is TERMINATED). Tune ends a trial the scheduler stopped
    as TERMINATED too; it lacks the FINAL key a trial's completed evaluation reports, and is
    described by the epoch and the value it was judged on (the per-epoch stand-in of
    ``metric``)."""
    from vaesweep.metric_registry import epoch_value_label
    from vaesweep.trainables import FINAL, OBJECTIVE  # imports Ray: only where Tune's trials are

    if trial.status == "TERMINATED" or ended:
        result = trial.last_result
        if result.get(FINAL):
            return TrialOutcome(trial.trial_id, "finished")
        epoch = int(result.get("epoch", 0))
        judged = (
            f"{epoch_value_label(metric, result)} = {result.get(OBJECTIVE, math.nan):.4g}" if metric else ""
        )
        reason = f"stopped at epoch {epoch} by {scheduler.upper() or 'the scheduler'}" + (
            f": {judged}" if judged else ""
        )
        return TrialOutcome(trial.trial_id, "stopped", reason, stopped_by=scheduler, stopped_at_epoch=epoch)
    if trial.status == "ERROR":
        return TrialOutcome(trial.trial_id, "failed", failure_reason(trial))
    return TrialOutcome(trial.trial_id, "running" if trial.status == "RUNNING" else "pending")


def trial_spec(trial) -> TrialSpec:
    """The spec a Tune trial runs (every trial of a vaesweep sweep holds one)."""
    return TrialSpec.from_dict(trial.config["trial"])


def trial_name(trial) -> str:
    """Tune trial names: the arm, data set and seed a row of the table will show."""
    return trial_label(trial.config.get("trial", {}))


def trial_dirname(trial) -> str:
    """Trial directories: Tune's trial id (unique) and the label, as a safe file name."""
    slug = re.sub(r"[^A-Za-z0-9_.=-]+", "_", trial_label(trial.config.get("trial", {})))
    return f"{trial.trial_id}_{slug}"[:100]
