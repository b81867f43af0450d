"""A sweep's trials in the platform's words: their label, identity, outcome and record.

A Tune trial runs one trial (``{"trial": spec}``) or a pack of them (``{"pack": [spec, ...]}``,
vaesweep.trainables.pack_trial); ``trial_members`` shows either as the trials it runs, each
with its own outcome and result, which is all the platform reports.

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


def stopped_outcome(
    trial_id: str, scheduler: str, metric: str, epoch: int, result: Mapping[str, Any]
) -> TrialOutcome:
    """A trial (or pack member) the scheduler stopped after ``epoch``, described by the value it
    was judged on: the per-epoch stand-in of ``metric`` in its last ``result``."""
    from vaesweep.metric_registry import epoch_value_label
    from vaesweep.trainables import OBJECTIVE  # imports Ray: only where Tune's trials are

    judged = f"{epoch_value_label(metric, result)} = {result.get(OBJECTIVE, math.nan):.4g}" if metric else ""
    reason = f"stopped at epoch {epoch} by {scheduler.upper() or 'the scheduler'}" + (
        f": {judged}" if judged else ""
    )
    return TrialOutcome(trial_id, "stopped", reason, stopped_by=scheduler, stopped_at_epoch=epoch)


def trial_outcome(trial, scheduler: str = "", metric: str = "", ended: bool = False) -> TrialOutcome:
    """Tune's status of a trial in the platform's words (``ended``: Tune says it completed, as
    its callbacks hear before the status is TERMINATED). Tune ends a trial the scheduler stopped
    as TERMINATED too; it lacks the FINAL key a trial's completed evaluation reports."""
    from vaesweep.trainables import FINAL  # imports Ray: only where Tune's trials are

    if trial.status == "TERMINATED" or ended:
        result = trial.last_result
        if result.get(FINAL):
            return TrialOutcome(trial.trial_id, "finished")
        return stopped_outcome(trial.trial_id, scheduler, metric, int(result.get("epoch", 0)), result)
    if trial.status == "ERROR":
        return TrialOutcome(trial.trial_id, "failed", failure_reason(trial))
    return TrialOutcome(trial.trial_id, "running" if trial.status == "RUNNING" else "pending")


def trial_specs(trial) -> list[dict[str, Any]]:
    """The serialised specs a Tune trial runs: one, or a pack's members."""
    return list(trial.config["pack"]) if "pack" in trial.config else [trial.config["trial"]]


def _member_record(
    trial, pack: TrialOutcome, spec: TrialSpec, member: Mapping[str, Any], scheduler: str, metric: str
) -> TrialRecord:
    """A pack member's record: its own outcome while its pack reported it, else the pack's
    (a pack that failed or was interrupted takes its unfinished members with it)."""
    state = member.get("state")
    if state == "stopped":
        last = member.get("result", {})  # its last epoch's metrics: no final evaluation
        outcome = stopped_outcome(trial.trial_id, scheduler, metric, int(member.get("epoch", 0)), last)
    elif state in ("finished", "failed"):
        outcome = TrialOutcome(trial.trial_id, state, member.get("reason", ""))
    elif pack.state in ("failed", "pending"):
        outcome = pack
    else:  # the pack runs; or it ended without this member's outcome (not a pack's last result)
        outcome = TrialOutcome(trial.trial_id, "running" if not pack.terminal else "failed", pack.reason)
    return TrialRecord(spec, outcome, dict(member.get("result", {})))


def _members(trial, result: Mapping[str, Any]) -> list[tuple[TrialSpec, dict[str, Any]]]:
    """Each trial a Tune trial runs with what ``result`` says of it: the result itself for a
    trial alone, a member's entry of the pack's ``MEMBERS`` (vaesweep.trainables) in a pack."""
    from vaesweep.trainables import MEMBERS

    specs = [TrialSpec.from_dict(s) for s in trial_specs(trial)]
    if len(specs) == 1:
        return [(specs[0], dict(result))]
    members = json.loads(result.get(MEMBERS, "[]"))
    members += [{}] * (len(specs) - len(members))
    return list(zip(specs, members, strict=True))


def trial_members(
    trial, scheduler: str = "", metric: str = "", ended: bool = False, result: Mapping[str, Any] | None = None
) -> list[TrialRecord]:
    """The trials a Tune trial runs, each with its outcome and last result: the trial itself,
    or every member of a pack (read from the pack's last result, or from ``result``: Tune hands
    its callbacks a result before it becomes the last); ``trial_outcome`` says what the other
    arguments are."""
    outcome = trial_outcome(trial, scheduler, metric, ended)
    members = _members(trial, trial.last_result if result is None else result)
    if len(members) == 1:
        return [TrialRecord(members[0][0], outcome, members[0][1])]
    return [_member_record(trial, outcome, spec, member, scheduler, metric) for spec, member in members]


def trial_name(trial) -> str:
    """Tune trial names: the arm, data set and seed a row of the table will show (a pack:
    its first member's and its size)."""
    specs = trial_specs(trial) if ("pack" in trial.config or "trial" in trial.config) else [{}]
    label = trial_label(specs[0])
    return label if len(specs) == 1 else f"{label} +{len(specs) - 1} packed"


def trial_dirname(trial) -> str:
    """Trial directories: Tune's trial id (unique) and the label, as a safe file name."""
    slug = re.sub(r"[^A-Za-z0-9_.=+-]+", "_", trial_name(trial))
    return f"{trial.trial_id}_{slug}"[:100]
