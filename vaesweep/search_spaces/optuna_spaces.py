"""Optuna define-by-run spaces: each method's hyper-parameters, ranges around its paper grid.

A sweep over an experiment first picks one of its arms (``arm``), then samples only that arm's
method's hyper-parameters: the space is conditional on the method. Parameter names carry the
method (``du_vae.posterior.gamma``), so a name always has one distribution even when arms of
different methods share a config key, which Optuna's samplers require. The sampled values come
back as dotted overrides on the arm's own settings, i.e. a ``TrialSpec`` that resolves like any
grid trial.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import optuna

from vaesweep.config import canonical_key
from vaesweep.methods import METHODS
from vaesweep.methods.space import Dimension
from vaesweep.search_spaces.definitions import Experiment, TrialSpec, expand, point_label

ARM_PARAM = "arm"  # the study's parameter that picks the experiment's arm (when it has several)

# Each method's space lives in its spec (vaesweep.methods); this is the view by name.
METHOD_SPACES: dict[str, dict[str, Dimension]] = {name: dict(m.space) for name, m in METHODS.items()}


def suggest_method(trial: optuna.Trial, method: str, fixed: Mapping[str, Any] = ()) -> dict[str, Any]:
    """Sample ``method``'s hyper-parameters as dotted overrides; keys in ``fixed`` are not searched."""
    fixed_keys = {canonical_key(k) for k in fixed}
    return {
        key: dimension.suggest(trial, f"{method}.{key}")
        for key, dimension in METHOD_SPACES[method].items()
        if key not in fixed_keys
    }


def corner_points(method: str) -> list[dict[str, Any]]:
    """Every bound and choice of the method's space, one key at a time: what validation checks
    before a sweep starts, since a sampled value cannot be checked until it is drawn."""
    return [{key: value} for key, dim in METHOD_SPACES[method].items() for value in dim.corners()]


@dataclass(frozen=True)
class ExperimentSpace:
    """The define-by-run space of an experiment (picklable, as Tune saves its searcher).

    ``candidates`` are the experiment's arms with their fixed settings, one per distinct
    method, data set and settings once the searched keys are left out (the grids are dropped).
    Trials take the seeds in turn. Returns the Tune config: ``{"trial": TrialSpec.as_dict()}``.
    """

    candidates: tuple[TrialSpec, ...]
    seeds: tuple[int, ...]
    fixed: Mapping[str, Any]

    def labels(self) -> list[str]:
        return [self.label(c) for c in self.candidates]

    def label(self, candidate: TrialSpec) -> str:
        datasets = {c.dataset for c in self.candidates}
        return candidate.arm if len(datasets) == 1 else f"{candidate.arm} @ {candidate.dataset}"

    def __call__(self, trial: optuna.Trial) -> dict[str, Any]:
        by_label = dict(zip(self.labels(), self.candidates, strict=True))
        labels = list(by_label)
        label = trial.suggest_categorical(ARM_PARAM, labels) if len(labels) > 1 else labels[0]
        base = by_label[label]
        sampled = suggest_method(trial, base.method, self.fixed)
        seed = self.seeds[trial.number % len(self.seeds)]
        spec = dataclasses.replace(
            base,
            arm=point_label(base.arm, sampled),
            seed=seed,
            overrides={**base.overrides, **sampled, "train.seed": seed, **self.fixed},
        )
        return {"trial": spec.as_dict()}


def experiment_space(
    experiment: Experiment,
    *,
    dataset: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    seeds: tuple[int, ...] | None = None,
) -> ExperimentSpace:
    """The Optuna space over ``experiment``'s arms (same arguments as ``expand``)."""
    overrides = dict(overrides or {})
    gridless = dataclasses.replace(
        experiment, arms=tuple(dataclasses.replace(a, grid={}) for a in experiment.arms)
    )
    candidates: dict[tuple, TrialSpec] = {}
    for spec in expand(gridless, dataset=dataset, overrides=overrides, seeds=(0,)):
        searched = set(METHOD_SPACES[spec.method])
        settings = {canonical_key(k): v for k, v in spec.overrides.items() if k != "train.seed"}
        settings = {k: v for k, v in settings.items() if k not in searched}
        identity = (spec.method, spec.dataset, tuple(sorted((k, repr(v)) for k, v in settings.items())))
        candidates.setdefault(identity, dataclasses.replace(spec, overrides=settings))
    chosen_seeds = seeds if seeds is not None else experiment.seeds
    return ExperimentSpace(tuple(candidates.values()), tuple(chosen_seeds), overrides)


def validation_trials(space: ExperimentSpace) -> list[TrialSpec]:
    """Trial specs at every corner of every candidate's space, for ``resolve_trials``."""
    trials = []
    for candidate in space.candidates:
        for point in corner_points(candidate.method) or [{}]:
            overrides = {**candidate.overrides, **point, **space.fixed}
            trials.append(dataclasses.replace(candidate, overrides=overrides))
    return trials
