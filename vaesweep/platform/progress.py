"""A running sweep's progress as compact lines (not Tune's tables); trials' MLflow runs settled
as Tune ends them. A pack is shown as its members (vaesweep.platform.trials.trial_members):
every line, count and record is a trial's, whether it trained alone or in a pack.

Tune pickles its callbacks into the experiment and, on --resume, restores those copies, so
``ProgressCallback`` holds only the sweep's name and forwards every event to the live
``SweepMonitor`` registered under it in ``MONITORS``.
"""

from __future__ import annotations

import math
import time
from typing import IO, Any

from ray.tune import Callback

from vaesweep.faults import kill_point
from vaesweep.platform.plan import SweepPlan
from vaesweep.platform.tracking import SweepRun
from vaesweep.platform.trials import (
    TrialOutcome,
    TrialRecord,
    comparison_group,
    failure_reason,
    trial_key,
    trial_label,
    trial_members,
)
from vaesweep.trainables import FINAL, OBJECTIVE

MONITORS: dict[str, SweepMonitor] = {}
HEARTBEAT_S = 30.0
_COUNTED = {"finished": "finished", "stopped": "stopped", "failed": "failed", "running": "running"}


class SweepMonitor:
    """Prints the sweep's progress and settles the MLflow runs of trials as Tune ends them."""

    def __init__(self, plan: SweepPlan, tracking: SweepRun | None, out: IO[str]) -> None:
        self.plan = plan
        self.tracking = tracking
        self.out = out
        self.trials: list = []  # the running stage's trials, as Tune lists them
        self.ended_stages: list = []  # the trials of the stages before it
        self.best: dict[tuple[str, str], tuple[float, str]] = {}  # per comparison group
        self.best_shown: tuple[str, str] | None = None  # the group of the latest final result
        self.started = time.monotonic()
        self.last_line = self.started
        self.ended: set[str] = set()  # trials Tune completed (finished, or stopped by the scheduler)
        self.latest: dict[str, dict[str, Any]] = {}  # each trial's newest result (see on_result)
        self.shown_finished: set[str] = set()  # trial keys of pack members shown finished

    # -- output ---------------------------------------------------------------------------
    def begin(self, uri: str) -> None:
        options = self.plan.options
        verb = "resuming" if options.resume else "starting"
        concurrency = f", at most {options.max_concurrent} at once" if options.max_concurrent else ""
        self.line(
            f"{verb} sweep {self.plan.name}: {self.plan.size} trials ({options.search} search of "
            f"{self.plan.experiment.name}{concurrency}); objective {self.plan.metric} ({self.plan.mode}); "
            f"MLflow {uri}"
        )

    def line(self, text: str) -> None:
        now = time.monotonic()
        print(f"[{now - self.started:6.0f}s] {text}", file=self.out, flush=True)
        self.last_line = now

    def all_trials(self) -> list:
        return [*self.ended_stages, *self.trials]

    def end_stage(self) -> None:
        """The stage's Tuner has returned: keep its trials while the next stage's run."""
        self.ended_stages += self.trials
        self.trials = []

    def members(self, trial) -> list[TrialRecord]:
        """The trials a Tune trial runs (itself, or a pack's members) with their outcomes; a
        stopped one names this sweep's scheduler and objective."""
        ended, result = trial.trial_id in self.ended, self.latest.get(trial.trial_id)
        scheduler = self.plan.options.scheduler or ""
        return trial_members(trial, scheduler, self.plan.metric, ended=ended, result=result)

    def counts(self) -> dict[str, int]:
        counts = {"finished": 0, "stopped": 0, "running": 0, "failed": 0}
        for record in self.records():
            state = _COUNTED.get(record.outcome.state)
            if state:
                counts[state] += 1
        counts["pending"] = max(0, self.plan.size - sum(counts.values()))
        return counts

    def summary(self) -> str:
        c = self.counts()
        stopped = f", {c['stopped']} stopped early" if c["stopped"] else ""
        text = f"{c['finished']}/{self.plan.size} finished{stopped}, {c['running']} running, "
        text += f"{c['failed']} failed"
        if self.best_shown is not None:
            value, label = self.best[self.best_shown]
            among = f" among {self.best_shown[1]} decoders" if len(self.best) > 1 else ""
            text += f" | best {self.plan.metric}{among}={value:.4g} ({label})"
        return text

    # -- Tune events ----------------------------------------------------------------------
    def on_start(self, trial, trials: list) -> None:
        self.trials = trials
        members = trial_members(trial)
        packed = f" (in pack {trial.trial_id} of {len(members)})" if len(members) > 1 else ""
        for record in members:
            self.line(f"started   {trial_label(record.spec.as_dict())}{packed}")
        kill_point("trial_start")

    def on_result(self, trial, result: dict[str, Any]) -> None:
        """A trial's final result, or a pack's result naming members that finished while the
        others are still evaluated: those are shown now. Tune makes ``result`` the trial's last
        only after its callbacks, so the monitor reads it from ``latest`` meanwhile."""
        kill_point("result")
        self.latest[trial.trial_id] = result
        records = self.members(trial)
        for record in records:
            value = record.result.get(OBJECTIVE, math.nan)
            if not record.result.get(FINAL) or not math.isfinite(value):
                continue
            group = comparison_group(record.spec)
            best = self.best.get(group)
            if best is None or (value < best[0] if self.plan.mode == "min" else value > best[0]):
                self.best[group] = (value, trial_label(record.spec.as_dict()))
            self.best_shown = group
        if result.get(FINAL) or len(records) == 1:
            return  # the trial's end shows it (on_complete)
        for record in records:
            key = trial_key(record.spec)
            if record.outcome.state == "finished" and key not in self.shown_finished:
                self.shown_finished.add(key)
                self._show_finished(record)

    def _show_finished(self, record: TrialRecord) -> None:
        value = record.result.get(OBJECTIVE, math.nan)
        label = trial_label(record.spec.as_dict())
        self.line(f"finished  {label}: {self.plan.metric}={value:.4g} | {self.summary()}")

    def on_complete(self, trial, trials: list) -> None:
        self.trials = trials
        self.ended.add(trial.trial_id)  # Tune marks it TERMINATED only after its callbacks
        for record in self.members(trial):
            outcome, label = record.outcome, trial_label(record.spec.as_dict())
            if outcome.state in ("stopped", "failed"):  # a pack member can fail in a finished pack
                self.tracking.settle(trial_key(record.spec), outcome)
                word = "stopped  " if outcome.state == "stopped" else "FAILED   "
                self.line(f"{word} {label}: {outcome.reason} | {self.summary()}")
            elif trial_key(record.spec) not in self.shown_finished:
                self._show_finished(record)
        kill_point("trial_complete")

    def on_error(self, trial, trials: list) -> None:
        self.trials = trials
        for record in self.members(trial):
            self.tracking.settle(trial_key(record.spec), record.outcome)
            if record.outcome.state == "failed":
                label = trial_label(record.spec.as_dict())
                self.line(f"FAILED    {label}: {record.outcome.reason} | {self.summary()}")

    def on_recover(self, trial, trials: list) -> None:
        self.trials = trials
        reason = failure_reason(trial)
        for record in trial_members(trial):
            if not record.outcome.terminal:
                label = trial_label(record.spec.as_dict())
                self.line(f"retrying  {label} from its last checkpoint after: {reason}")

    def on_step(self, trials: list) -> None:
        self.trials = trials
        self.tracking.buffer.send()  # settle what waited for the server, between events
        if time.monotonic() - self.last_line >= HEARTBEAT_S:
            self.line(self.summary())

    # -- the end --------------------------------------------------------------------------
    def outcomes(self) -> dict[str, TrialOutcome]:
        """Every trial's outcome by its trial key (how its MLflow child run is found), over every
        stage that ran."""
        return {trial_key(record.spec): record.outcome for record in self.records()}

    def records(self) -> list[TrialRecord]:
        return [record for trial in self.all_trials() for record in self.members(trial)]


class ProgressCallback(Callback):
    """Forwards Tune's events to the sweep's live monitor (see the module docstring)."""

    def __init__(self, sweep: str) -> None:
        self.sweep = sweep

    def _monitor(self) -> SweepMonitor | None:
        return MONITORS.get(self.sweep)

    def on_trial_start(self, iteration: int, trials: list, trial, **info: Any) -> None:
        if monitor := self._monitor():
            monitor.on_start(trial, trials)

    def on_trial_result(self, iteration: int, trials: list, trial, result: dict, **info: Any) -> None:
        if monitor := self._monitor():
            monitor.on_result(trial, result)

    def on_trial_complete(self, iteration: int, trials: list, trial, **info: Any) -> None:
        if monitor := self._monitor():
            monitor.on_complete(trial, trials)

    def on_trial_error(self, iteration: int, trials: list, trial, **info: Any) -> None:
        if monitor := self._monitor():
            monitor.on_error(trial, trials)

    def on_trial_recover(self, iteration: int, trials: list, trial, **info: Any) -> None:
        if monitor := self._monitor():
            monitor.on_recover(trial, trials)

    def on_step_end(self, iteration: int, trials: list, **info: Any) -> None:
        if monitor := self._monitor():
            monitor.on_step(trials)

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        if monitor := self._monitor():
            monitor.trials = trials
