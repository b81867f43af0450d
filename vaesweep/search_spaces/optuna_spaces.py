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
from vaesweep.search_spaces.definitions import Experiment, TrialSpec, expand
from vaesweep.search_spaces.presets.arelbo import VARIANCES


@dataclass(frozen=True)
class FloatRange:
    low: float
    high: float
    log: bool = False

    def suggest(self, trial: optuna.Trial, name: str) -> float:
        return trial.suggest_float(name, self.low, self.high, log=self.log)

    def corners(self) -> tuple[float, ...]:
        return (self.low, self.high)


@dataclass(frozen=True)
class IntRange:
    low: int
    high: int
    log: bool = False

    def suggest(self, trial: optuna.Trial, name: str) -> int:
        return trial.suggest_int(name, self.low, self.high, log=self.log)

    def corners(self) -> tuple[int, ...]:
        return (self.low, self.high)


@dataclass(frozen=True)
class Choice:
    options: tuple[Any, ...]

    def suggest(self, trial: optuna.Trial, name: str) -> Any:
        return trial.suggest_categorical(name, self.options)

    def corners(self) -> tuple[Any, ...]:
        return self.options


Dimension = FloatRange | IntRange | Choice

_TARGET_KL = {"regulariser.target_kl": FloatRange(1.0, 100.0, log=True)}  # grid 5, 15, 50
_BN_GAMMA = {"posterior.gamma": FloatRange(0.2, 2.0, log=True)}  # DU-VAE 0.3-0.7, DG-VAE up to 1.8
_FREE_BITS = {"regulariser.free_bits": FloatRange(0.05, 2.0, log=True)}  # DU-VAE 0.1-0.3, DG-VAE ~1.5
_VARIANCE = {"likelihood.variance_parameterisation": Choice(VARIANCES)}
_RAE = {  # grids: lambda 5e-8 ... 1e-6; RAE code's beta 1e-4 (MNIST/CelebA) to 1e-2 (CIFAR, no penalty)
    "regulariser.beta": FloatRange(1e-5, 1e-2, log=True),
    "regulariser.decoder_penalty_weight": FloatRange(1e-9, 1e-5, log=True),
}

METHOD_SPACES: dict[str, dict[str, Dimension]] = {
    "ae": {},
    "vae": {},
    "cyclic_vae": {"annealing.cycles": IntRange(1, 8), "annealing.cycle_ratio": FloatRange(0.25, 1.0)},
    "bow_vae": {"regulariser.bow_weight": FloatRange(0.25, 4.0, log=True)},  # grid 0.5, 1, 2
    "skip_vae": {},
    "beta_vae": {"regulariser.beta": FloatRange(0.05, 1.0, log=True)},  # grid 0.2, 0.4, 0.8
    "c_vae": _TARGET_KL,
    "igp": _TARGET_KL,
    "iwae": {"regulariser.iwae_samples": IntRange(1, 64, log=True)},  # grid 1, 5, 50
    "fb": _FREE_BITS,
    "iaf_fb": _FREE_BITS,
    "delta_vae": {"posterior.committed_rate": FloatRange(0.05, 0.5, log=True)},  # grid 0.1-0.25
    "mae": {  # grid gamma 0.5, 1, 2 x eta 0.2, 0.5, 1
        "regulariser.mae_gamma": FloatRange(0.25, 4.0, log=True),
        "regulariser.mae_eta": FloatRange(0.1, 2.0, log=True),
    },
    "bn_vae": _BN_GAMMA,
    "iaf_bn": _BN_GAMMA,
    "du_vae": {"posterior.gamma": FloatRange(0.3, 1.0), "posterior.keep_prob": FloatRange(0.5, 1.0)},
    "du_iaf": {"posterior.gamma": FloatRange(0.4, 1.0), "posterior.keep_prob": FloatRange(0.6, 1.0)},
    # |b| must divide the batch size: powers of two up to 32 divide every profile's but OMNIGLOT's.
    "dg_vae": {"regulariser.aggregation_size": Choice((1, 2, 4, 8, 16, 32))},
    "ar_elbo": _VARIANCE,
    "trainable_sigma": _VARIANCE,
    "fixed_sigma": {"likelihood.sigma_x2": FloatRange(0.05, 1.0, log=True)},  # grid 10^0 ... 10^-1
    "wae_mmd": {"regulariser.mmd_weight": FloatRange(1.0, 1000.0, log=True)},  # grid 10, 100
    "rae": _RAE,
    "rae_gp": _RAE,
}


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


def _shown(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


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
        label = (
            trial.suggest_categorical("arm", list(by_label)) if len(by_label) > 1 else next(iter(by_label))
        )
        base = by_label[label]
        sampled = suggest_method(trial, base.method, self.fixed)
        seed = self.seeds[trial.number % len(self.seeds)]
        shown = ", ".join(f"{k.split('.')[-1]}={_shown(v)}" for k, v in sampled.items())
        spec = dataclasses.replace(
            base,
            arm=f"{base.arm} ({shown})" if shown else base.arm,
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
