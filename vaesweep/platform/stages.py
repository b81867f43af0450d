"""A staged sweep: trials that start from other trials' final models run after them.

The planner orders a grid's trials into stages (vaesweep.search_spaces.definitions.stages);
each stage is one Tune experiment, run when the one before has ended: the first at the sweep's
own path, a later one under it (``<sweep>/stage-2``), so ``--resume`` restores each stage that
Tune stored and starts the others. Before a later stage starts, each of its trials is given the
MLflow run id of the finished run it starts from (its ``start_from["run_id"]``); the trainable
fetches that run's final checkpoint and tags its own run with it. A trial whose parent did not
finish gets no run id and fails with that reason, without taking the sweep down.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vaesweep.search_spaces.definitions import TrialSpec, stages

if TYPE_CHECKING:
    from vaesweep.platform.plan import SweepPlan


@dataclass(frozen=True)
class Stage:
    """One stage: its trials and where Tune keeps its experiment (``storage``/``name``)."""

    number: int  # 0 for the first
    trials: tuple[TrialSpec, ...]
    storage: str
    name: str

    @property
    def path(self) -> str:
        return f"{self.storage.rstrip('/')}/{self.name}"


def plan_stages(plan: SweepPlan) -> list[Stage]:
    """The sweep's stages; one (the sweep itself) unless some trial starts from another."""
    if plan.space is not None:
        return [Stage(0, plan.trials, plan.storage, plan.name)]
    ordered = stages(list(plan.trials))
    return [
        Stage(i, tuple(trials), plan.storage, plan.name)
        if i == 0
        else Stage(i, tuple(trials), plan.path, f"stage-{i + 1}")
        for i, trials in enumerate(ordered)
    ]


def link_parents(stage: Stage, runs: list[Any]) -> Stage:
    """``stage`` with each trial's ``start_from["run_id"]``: the FINISHED child run (of this
    sweep's ``runs``) of the arm, data set and seed it starts from, or None if there is none."""
    finished: dict[tuple[str, str, str], str] = {}
    for run in runs:  # newest first: a later attempt's run wins
        tags = run.data.tags
        if run.info.status == "FINISHED":
            key = (tags.get("arm", ""), tags.get("dataset", ""), tags.get("seed", ""))
            finished.setdefault(key, run.info.run_id)
    linked = []
    for trial in stage.trials:
        arm, dataset, seed = trial.parent_key()
        run_id = finished.get((arm, dataset, str(seed)))
        linked.append(dataclasses.replace(trial, start_from={**trial.start_from, "run_id": run_id}))
    return dataclasses.replace(stage, trials=tuple(linked))
