"""What a sweep is, as data: arms, experiments, trials, and the expansion of one into the other.

An experiment is a set of arms (a method with fixed settings and a grid of swept values) run
on its data sets with its protocol and evaluation, over seeds. ``expand`` turns it into trial
specifications, each a method, a data set and dotted overrides that ``TrialSpec.config``
resolves into a validated ``RunConfig`` — so a bad preset or override fails before Ray starts.

With ``dataset=`` (the CLI's ``--dataset``) the same arms run on another data set: the
paper's protocol (architecture, optimiser, schedule) is dropped for that data set's profile,
and per-data-set hyper-parameters take the values of the paper's first data set.

Nothing here imports torch: the planner, the CLI's listings and the analysis read these
definitions without the training stack (tests/search_spaces/test_presets.py checks it).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vaesweep.config import canonical_key
from vaesweep.errors import ConfigError

if TYPE_CHECKING:
    from vaesweep.config import RunConfig

Settings = Mapping[str, Any]


@dataclass(frozen=True)
class StartFrom:
    """Where a staged arm's trials start: the final model of the trial of arm ``arm`` (its label)
    with the same data set and seed, under ``mapping`` (vaesweep.warm_start.MAPPINGS)."""

    arm: str
    mapping: str = "same"


@dataclass(frozen=True)
class Arm:
    """One row group of a table: a method, its fixed settings and a grid of swept values.

    ``per_dataset`` holds the settings a paper printed per data set ("0.4/0.4/0.8").
    ``datasets`` restricts the arm to some of the experiment's data sets.
    ``start_from``: the arm's trials begin from another arm's final models (a later stage).
    """

    method: str
    label: str
    settings: Settings = field(default_factory=dict)
    grid: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    per_dataset: Mapping[str, Settings] = field(default_factory=dict)
    datasets: tuple[str, ...] = ()
    start_from: StartFrom | None = None


@dataclass(frozen=True)
class Layout:
    """What the printed table adds to its preset.

    ``blocks``: "dataset" or "metric" stack row blocks (IGP Tables 9/3), None puts data sets
    and metrics side by side in the columns. ``select``: the paper reports one model chosen
    among random starts by this metric and direction (IGP Tables 6/12), else mean ± std.
    """

    blocks: str | None = None
    select: tuple[str, str] | None = None


@dataclass(frozen=True)
class TableView:
    """A preset's table built from the runs on ``dataset`` only (all data sets when None)."""

    name: str
    dataset: str | None = None
    extra_metrics: tuple[str, ...] = ()


@dataclass(frozen=True)
class Experiment:
    """A sweep preset: a paper table (or the demo) as arms, data sets, protocol and seeds.

    ``layout`` is how its paper table is printed; ``tables`` the tables a report of its runs
    shows (empty: its own, when it has ``reference`` numbers).
    """

    name: str
    title: str
    datasets: tuple[str, ...]
    arms: tuple[Arm, ...]
    seeds: tuple[int, ...] = (0, 1, 2)
    metrics: tuple[str, ...] = ()
    protocol: Settings = field(default_factory=dict)
    # The paper's evaluation protocols (eval.agreement, eval.fid, ...): kept under --dataset,
    # where each is skipped if the data cannot feed it (vaesweep.protocols).
    evaluation: Settings = field(default_factory=dict)
    per_dataset_protocol: Mapping[str, Settings] = field(default_factory=dict)
    reference: tuple[str, ...] = ()
    metric_map: Mapping[str, str] = field(default_factory=dict)
    objective: tuple[str, str] = ("nll", "min")
    unsupported: tuple[str, ...] = ()
    description: str = ""
    layout: Layout = Layout()
    tables: tuple[TableView, ...] = ()


@dataclass(frozen=True)
class TrialSpec:
    """One trial: everything needed to build its RunConfig, plus where it sits in the table.

    ``start_from`` (a staged trial): ``arm`` and ``mapping`` of its arm's ``StartFrom``, and
    ``run_id``, the finished run of that arm's trial (same data set and seed) whose final
    checkpoint it starts from, which the planner fills in once that stage has run.
    """

    experiment: str
    arm: str
    method: str
    dataset: str
    seed: int
    overrides: dict[str, Any]
    start_from: dict[str, Any] | None = None

    def config(self) -> RunConfig:
        from vaesweep.config import resolve_config

        return resolve_config(self.method, self.dataset, self.overrides)

    def as_dict(self) -> dict[str, Any]:
        data = {
            "experiment": self.experiment,
            "arm": self.arm,
            "method": self.method,
            "dataset": self.dataset,
            "seed": self.seed,
            "overrides": dict(self.overrides),
        }
        if self.start_from is not None:
            data["start_from"] = dict(self.start_from)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrialSpec:
        start = data.get("start_from")
        start = None if start is None else dict(start)
        return cls(**{**data, "overrides": dict(data["overrides"]), "start_from": start})

    def parent_key(self) -> tuple[str, str, int] | None:
        """(arm, data set, seed) of the trial this one starts from; None for a first-stage trial."""
        return None if self.start_from is None else (self.start_from["arm"], self.dataset, self.seed)


def _grid_points(grid: Mapping[str, tuple[Any, ...]]) -> list[dict[str, Any]]:
    """Every combination of a grid's values, the first key varying slowest."""
    keys = list(grid)
    return [dict(zip(keys, values, strict=True)) for values in itertools.product(*(grid[k] for k in keys))]


def shown_value(value: Any) -> str:
    """A value as a label shows it, rounded as the papers print numbers: 15.0 -> "15",
    10**-0.1 -> "0.7943", 5e-08 -> "5e-08"."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def point_label(label: str, point: Mapping[str, Any]) -> str:
    """The table row of one point of a grid or search space: "IGP (target_kl=15)"."""
    if not point:
        return label
    shown = ", ".join(f"{canonical_key(k).split('.')[-1]}={shown_value(v)}" for k, v in point.items())
    return f"{label} ({shown})"


def _start_from(experiment: Experiment, arm: Arm) -> dict[str, Any] | None:
    """The ``start_from`` of ``arm``'s trials; ConfigError if it names no single-point arm that
    runs on every data set it does."""
    if arm.start_from is None:
        return None
    parents = [a for a in experiment.arms if a.label == arm.start_from.arm]
    if len(parents) != 1 or parents[0].grid or parents[0] is arm:
        labels = [a.label for a in experiment.arms if not a.grid and a is not arm]
        raise ConfigError(
            f"{experiment.name}: {arm.label}.start_from", arm.start_from.arm, "one of " + ", ".join(labels)
        )
    parent = parents[0]
    if not set(arm.datasets or experiment.datasets) <= set(parent.datasets or experiment.datasets):
        raise ConfigError(
            f"{experiment.name}: {arm.label}.datasets", arm.datasets, f"data sets that {parent.label} runs on"
        )
    return {"arm": parent.label, "mapping": arm.start_from.mapping}


def expand(
    experiment: Experiment,
    *,
    dataset: str | None = None,
    overrides: Settings | None = None,
    seeds: tuple[int, ...] | None = None,
) -> list[TrialSpec]:
    """All trials of ``experiment``; ``dataset`` moves them to another data set."""
    trials = []
    for arm in experiment.arms:
        start_from = _start_from(experiment, arm)
        arm_datasets = arm.datasets or experiment.datasets
        targets = [(dataset, arm_datasets[0])] if dataset else [(d, d) for d in arm_datasets]
        for target, paper_dataset in targets:
            for point in _grid_points(arm.grid):
                for seed in seeds if seeds is not None else experiment.seeds:
                    settings: dict[str, Any] = {}
                    if not dataset:
                        settings.update(experiment.protocol)
                        settings.update(experiment.per_dataset_protocol.get(paper_dataset, {}))
                    settings.update(experiment.evaluation)
                    settings.update(arm.settings)
                    settings.update(arm.per_dataset.get(paper_dataset, {}))
                    settings.update(point)
                    settings["train.seed"] = seed
                    settings.update(overrides or {})
                    label = point_label(arm.label, point)
                    trials.append(
                        TrialSpec(experiment.name, label, arm.method, target, seed, settings, start_from)
                    )
    return trials


def stages(trials: list[TrialSpec]) -> list[list[TrialSpec]]:
    """The trials in the order they can run: first those that start from scratch, then each
    later stage (trials that start from a trial of the stage before). ConfigError if a trial
    starts from one that is not among ``trials`` or from itself through a chain."""
    by_key = {(t.arm, t.dataset, t.seed): t for t in trials}
    depth: dict[tuple[str, str, int], int] = {}

    def stage_of(trial: TrialSpec, seen: tuple = ()) -> int:
        key = (trial.arm, trial.dataset, trial.seed)
        if key not in depth:
            parent = trial.parent_key()
            if parent is not None and (parent not in by_key or parent in seen):
                raise ConfigError(
                    f"{trial.arm}.start_from", parent[0], "an arm of the same sweep, seed and data set"
                )
            depth[key] = 0 if parent is None else stage_of(by_key[parent], (*seen, key)) + 1
        return depth[key]

    ordered: list[list[TrialSpec]] = []
    for trial in trials:
        number = stage_of(trial)
        ordered += [[] for _ in range(number + 1 - len(ordered))]
        ordered[number].append(trial)
    return ordered


def resolve_trials(trials: list[TrialSpec]) -> list[RunConfig]:
    """Validate every trial's configuration (ConfigError names the first bad field), and that
    each staged trial's mapping carries its parent's model to its own."""
    configs = [trial.config() for trial in trials]
    by_key = {(t.arm, t.dataset, t.seed): c for t, c in zip(trials, configs, strict=True)}
    stages(trials)
    for trial, config in zip(trials, configs, strict=True):
        parent = trial.parent_key()
        if parent is not None:
            from vaesweep.warm_start import check_mapping

            check_mapping(trial.start_from["mapping"], by_key[parent], config, f"{trial.arm}.start_from")
    return configs
