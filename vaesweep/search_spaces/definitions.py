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

if TYPE_CHECKING:
    from vaesweep.config import RunConfig

Settings = Mapping[str, Any]


@dataclass(frozen=True)
class Arm:
    """One row group of a table: a method, its fixed settings and a grid of swept values.

    ``per_dataset`` holds the settings a paper printed per data set ("0.4/0.4/0.8").
    ``datasets`` restricts the arm to some of the experiment's data sets.
    """

    method: str
    label: str
    settings: Settings = field(default_factory=dict)
    grid: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    per_dataset: Mapping[str, Settings] = field(default_factory=dict)
    datasets: tuple[str, ...] = ()


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
    """One trial: everything needed to build its RunConfig, plus where it sits in the table."""

    experiment: str
    arm: str
    method: str
    dataset: str
    seed: int
    overrides: dict[str, Any]

    def config(self) -> RunConfig:
        from vaesweep.config import resolve_config

        return resolve_config(self.method, self.dataset, self.overrides)

    def as_dict(self) -> dict[str, Any]:
        return {
            "experiment": self.experiment,
            "arm": self.arm,
            "method": self.method,
            "dataset": self.dataset,
            "seed": self.seed,
            "overrides": dict(self.overrides),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrialSpec:
        return cls(**{**data, "overrides": dict(data["overrides"])})


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
                    trials.append(TrialSpec(experiment.name, label, arm.method, target, seed, settings))
    return trials


def resolve_trials(trials: list[TrialSpec]) -> list[RunConfig]:
    """Validate every trial's configuration (ConfigError names the first bad field)."""
    return [trial.config() for trial in trials]
