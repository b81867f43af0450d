"""Planning a sweep: validate everything before anything starts (no Ray, no server, no files).

``plan_sweep`` turns options into trials and resolves every trial's configuration (for Optuna,
every corner of the space), so bad input fails with one ``ConfigError`` before Ray or a server
starts; vaesweep.platform.sweep runs the plan. What defines a sweep is stored beside Tune's
state (``write_definition``, the first thing a run does) so ``--resume`` continues the same
sweep from any point it was interrupted at.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vaesweep.errors import ConfigError
from vaesweep.methods import METHODS
from vaesweep.metric_registry import epoch_estimated_names, measured_every_epoch, metric_spec
from vaesweep.platform.packs import PackPolicy, pack_policy, parse_pack
from vaesweep.platform.server import BACKEND_SCHEMES, runs_dir
from vaesweep.search_spaces.definitions import Experiment, TrialSpec, expand, resolve_trials
from vaesweep.search_spaces.grids import method_experiment
from vaesweep.search_spaces.optuna_spaces import ExperimentSpace, experiment_space, validation_trials
from vaesweep.search_spaces.presets import EXPERIMENTS

SEARCHES = ("grid", "optuna")
SCHEDULERS = ("asha",)
MODES = ("min", "max")
DEFINITION_FILE = "vaesweep-sweep.json"
# What defines a sweep, stored beside Tune's state so --resume continues the same sweep.
DEFINING = (
    "target", "search", "num_samples", "metric", "mode", "scheduler", "dataset", "overrides", "seeds", "pack",
)  # fmt: skip
PACKING_KEY = "packing"  # the definition's resolved PackPolicy: a resume forms the same packs


@dataclass
class SweepOptions:
    """Everything ``vaesweep sweep`` accepts; see ``vaesweep sweep --help``."""

    target: str
    search: str = "grid"
    num_samples: int | None = None
    metric: str | None = None
    mode: str | None = None
    scheduler: str | None = None
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    max_concurrent: int | None = None
    max_failures: int = 2
    address: str | None = None
    tracking_uri: str | None = None
    backend_store_uri: str | None = None  # the local server's database (default: SQLite in runs_dir)
    storage: str | None = None
    runs_dir: str | None = None
    dataset: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    seeds: tuple[int, ...] | None = None
    name: str | None = None
    resume: bool = False
    pack: str = "auto"  # auto, off or K (vaesweep.platform.packs)


@dataclass(frozen=True)
class SweepPlan:
    """A validated sweep: its trials (grid) or space (Optuna), objective and where it lives."""

    options: SweepOptions
    experiment: Experiment
    trials: tuple[TrialSpec, ...]  # the grid's trials, or the Optuna space's validation corners
    space: ExperimentSpace | None
    metric: str
    mode: str
    name: str
    storage: str
    max_epochs: int
    packing: PackPolicy | None = None  # None: every trial alone (--pack off)

    @property
    def path(self) -> str:
        return f"{self.storage.rstrip('/')}/{self.name}"

    @property
    def size(self) -> int:
        return self.options.num_samples if self.space is not None else len(self.trials)


def _storage(options: SweepOptions) -> str:
    """--storage, else $VAESWEEP_STORAGE (cluster.yaml sets it to S3), else RUNS_DIR/tune."""
    storage = options.storage or os.environ.get("VAESWEEP_STORAGE")
    if storage and "://" in storage:
        return storage
    return str(Path(storage).resolve() if storage else runs_dir(options.runs_dir) / "tune")


def _tracking_uri(options: SweepOptions) -> str | None:
    """--tracking-uri, else $MLFLOW_TRACKING_URI when it names a server (cluster.yaml sets it on
    every node); None = start a local server. A file or database URI in the environment is not
    used: concurrent trials must log through one server."""
    if options.tracking_uri:
        return options.tracking_uri
    env = os.environ.get("MLFLOW_TRACKING_URI", "")
    return env if env.startswith(("http://", "https://")) else None


def _filesystem(storage: str):
    import pyarrow.fs

    return pyarrow.fs.FileSystem.from_uri(storage)


def _read_definition(storage: str, name: str) -> dict[str, Any] | None:
    import pyarrow.fs

    filesystem, root = _filesystem(storage)
    path = f"{root.rstrip('/')}/{name}/{DEFINITION_FILE}"
    if filesystem.get_file_info(path).type != pyarrow.fs.FileType.File:
        return None
    with filesystem.open_input_stream(path) as stream:
        return json.loads(stream.readall())


def _latest_sweep(storage: str, target: str) -> str | None:
    """The most recently created sweep of ``target`` under ``storage``."""
    import pyarrow.fs

    filesystem, root = _filesystem(storage)
    selector = pyarrow.fs.FileSelector(root, allow_not_found=True)
    found = []
    for info in filesystem.get_file_info(selector):
        if info.type == pyarrow.fs.FileType.Directory:
            definition = _read_definition(storage, info.base_name)
            if definition and definition["target"] == target:
                found.append((definition["created"], info.base_name))
    return max(found)[1] if found else None


def write_definition(plan: SweepPlan) -> None:
    """Store what defines the sweep beside Tune's state, for --resume: whole or not at all (a
    temporary file renamed into place), since the driver may die at any moment."""
    filesystem, root = _filesystem(plan.storage)
    definition = {key: getattr(plan.options, key) for key in DEFINING}
    definition |= {"created": time.time(), "metric": plan.metric, "mode": plan.mode}
    definition[PACKING_KEY] = plan.packing.as_dict() if plan.packing is not None else None
    directory = f"{root.rstrip('/')}/{plan.name}"
    filesystem.create_dir(directory, recursive=True)
    with filesystem.open_output_stream(f"{directory}/{DEFINITION_FILE}.tmp") as stream:
        stream.write(json.dumps(definition, indent=2).encode())
    filesystem.move(f"{directory}/{DEFINITION_FILE}.tmp", f"{directory}/{DEFINITION_FILE}")


def _resolve_experiment(options: SweepOptions) -> Experiment:
    if options.target in EXPERIMENTS:
        return EXPERIMENTS[options.target]
    if options.target in METHODS:
        return method_experiment(options.target, options.dataset or "digits")
    raise ConfigError(
        "preset",
        options.target,
        f"an experiment preset ({', '.join(EXPERIMENTS)}) or a method ({', '.join(METHODS)})",
    )


def _check_flags(options: SweepOptions) -> None:
    if options.search not in SEARCHES:
        raise ConfigError("--search", options.search, " or ".join(SEARCHES))
    if options.scheduler not in (None, *SCHEDULERS):
        raise ConfigError("--scheduler", options.scheduler, " or ".join(SCHEDULERS))
    if options.mode not in (None, *MODES):
        raise ConfigError("--mode", options.mode, " or ".join(MODES))
    if options.num_samples is not None and options.search != "optuna":
        raise ConfigError(
            "--num-samples", options.num_samples, "only with --search optuna (a grid sets its size)"
        )
    if options.num_samples is not None and options.num_samples < 1:
        raise ConfigError("--num-samples", options.num_samples, ">= 1")
    if options.cpus_per_trial <= 0:
        raise ConfigError("--cpus-per-trial", options.cpus_per_trial, "> 0")
    if options.gpus_per_trial < 0:
        raise ConfigError("--gpus-per-trial", options.gpus_per_trial, ">= 0")
    if options.max_concurrent is not None and options.max_concurrent < 1:
        raise ConfigError("--max-concurrent", options.max_concurrent, ">= 1")
    if options.max_failures < -1:
        raise ConfigError("--max-failures", options.max_failures, ">= 0 (or -1: retry without limit)")
    if options.seeds is not None and (not options.seeds or min(options.seeds) < 0):
        raise ConfigError("--seeds", options.seeds, "a count N >= 1 or a list of seeds >= 0")
    if options.backend_store_uri is not None:
        if options.tracking_uri:  # the local server's database: there is no local server then
            raise ConfigError(
                "--backend-store-uri",
                options.backend_store_uri,
                "only without --tracking-uri (or a server in $MLFLOW_TRACKING_URI)",
            )
        if not options.backend_store_uri.startswith(BACKEND_SCHEMES):
            raise ConfigError(
                "--backend-store-uri",
                options.backend_store_uri,
                f"a database URI ({' or '.join(s + '...' for s in BACKEND_SCHEMES)})",
            )
    parse_pack(options.pack)
    if options.name is not None and not re.fullmatch(r"[A-Za-z0-9_.-]+", options.name):
        raise ConfigError("--name", options.name, "letters, digits, '_', '.' and '-'")


def _objective(options: SweepOptions, experiment: Experiment) -> tuple[str, str]:
    metric = options.metric or experiment.objective[0]
    metric_spec(metric, "--metric")  # refuses a name no producer logs
    if options.mode is not None:
        mode = options.mode
    elif metric == experiment.objective[0]:
        mode = experiment.objective[1]
    else:
        raise ConfigError("--mode", None, f"min or max, given with --metric {metric}")
    if options.scheduler == "asha" and not measured_every_epoch(metric):
        estimated = ", ".join(epoch_estimated_names())
        raise ConfigError(
            "--metric", metric, f"a metric measured every epoch for ASHA ({estimated} or valid_*/train_*)"
        )
    return metric, mode


def _resume_options(options: SweepOptions, storage: str) -> SweepOptions:
    """The options of the sweep to resume: its stored definition, this call's resources."""
    name = options.name or _latest_sweep(storage, options.target)
    definition = _read_definition(storage, name) if name else None
    if definition is None:
        raise ConfigError(
            "--resume", name or options.target, f"a sweep of {options.target} stored under {storage}"
        )
    if definition["target"] != options.target:
        raise ConfigError("preset", options.target, f"{definition['target']}, the preset of sweep {name}")
    stored = {key: definition.get(key, "off" if key == "pack" else None) for key in DEFINING}
    stored["seeds"] = tuple(stored["seeds"]) if stored["seeds"] is not None else None
    return dataclasses.replace(options, **stored, name=name)


def plan_sweep(options: SweepOptions, experiment: Experiment | None = None) -> SweepPlan:
    """Validate ``options`` and every trial configuration; ConfigError names the first problem.

    ``experiment`` replaces the preset that ``options.target`` names (sweeps built in code).
    """
    options = dataclasses.replace(options, tracking_uri=_tracking_uri(options))
    _check_flags(options)
    storage = _storage(options)
    if options.resume:
        options = _resume_options(options, storage)
    else:
        options = dataclasses.replace(
            options,
            name=options.name or f"{options.target}-{options.search}-{time.strftime('%Y%m%d-%H%M%S')}",
        )
        if _read_definition(storage, options.name) is not None:
            raise ConfigError("--name", options.name, "a new sweep name (or --resume to continue that sweep)")
    experiment = experiment or _resolve_experiment(options)
    dataset = options.dataset if options.target not in METHODS else None  # a method sweep has it built in
    metric, mode = _objective(options, experiment)
    space = None
    if options.search == "optuna":
        staged = [arm.label for arm in experiment.arms if arm.start_from is not None]
        if staged:
            raise ConfigError(
                "--search",
                "optuna",
                f"grid for {experiment.name}, whose arm {staged[0]} starts from another's",
            )
        options = dataclasses.replace(options, num_samples=options.num_samples or 20)
        space = experiment_space(
            experiment, dataset=dataset, overrides=options.overrides, seeds=options.seeds
        )
        trials = validation_trials(space)
    else:
        trials = expand(experiment, dataset=dataset, overrides=options.overrides, seeds=options.seeds)
    if not trials:
        raise ConfigError("preset", options.target, "a preset with at least one trial")
    configs = resolve_trials(trials)
    return SweepPlan(
        options=options,
        experiment=experiment,
        trials=tuple(trials),
        space=space,
        metric=metric,
        mode=mode,
        name=options.name,
        storage=storage,
        max_epochs=max(c.train.epochs for c in configs),
        packing=_packing(options, storage),
    )


def _packing(options: SweepOptions, storage: str) -> PackPolicy | None:
    """How the sweep packs (a resume: as its definition stored; None: ``--pack off``). A grid's
    packs are planned (vaesweep.platform.packs); an Optuna search asks for a pack's members at
    once (vaesweep.platform.study_search); ASHA decides per member (vaesweep.platform.rungs)."""
    if options.resume:
        stored = (_read_definition(storage, options.name) or {}).get(PACKING_KEY)
        return PackPolicy(**stored) if stored else None
    return pack_policy(
        options.pack,
        cpus_per_trial=options.cpus_per_trial,
        gpus_per_trial=options.gpus_per_trial,
        max_concurrent=options.max_concurrent,
    )


def parse_seeds(text: str) -> tuple[int, ...]:
    """``--seeds 3`` = seeds 0, 1, 2; ``--seeds 0,5,7`` = those seeds."""
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise ConfigError("--seeds", text, "a count N or a comma-separated list of seeds") from None
    if len(values) == 1 and "," not in text:
        return tuple(range(values[0])) if values[0] >= 1 else ()
    return values
