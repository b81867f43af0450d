"""A sweep: plan it (validate everything, no Ray), then run it on Ray Tune with MLflow tracking.

``plan_sweep`` turns options into trials and resolves every trial's configuration (for Optuna,
every corner of the space), so bad input fails with one ``ConfigError`` before Ray or a server
starts. ``run_sweep`` starts the local tracking server unless a URI is given, joins or starts
Ray, assembles the Tuner (or restores an interrupted one), runs it with a compact progress
display, and settles every MLflow run before it returns.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from vaesweep.errors import ConfigError
from vaesweep.methods import METHODS
from vaesweep.metric_registry import epoch_estimated_names, measured_every_epoch, metric_spec
from vaesweep.platform.server import TrackingServer, runs_dir
from vaesweep.platform.stages import Stage, link_parents, plan_stages, restorable
from vaesweep.search_spaces.definitions import Experiment, TrialSpec, expand, resolve_trials
from vaesweep.search_spaces.grids import method_experiment
from vaesweep.search_spaces.optuna_spaces import ExperimentSpace, experiment_space, validation_trials
from vaesweep.search_spaces.presets import EXPERIMENTS

if TYPE_CHECKING:
    from vaesweep.platform.tracking import TrialOutcome

SEARCHES = ("grid", "optuna")
SCHEDULERS = ("asha",)
MODES = ("min", "max")
DEFINITION_FILE = "vaesweep-sweep.json"
# What defines a sweep, stored beside Tune's state so --resume continues the same sweep.
DEFINING = ("target", "search", "num_samples", "metric", "mode", "scheduler", "dataset", "overrides", "seeds")


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
    storage: str | None = None
    runs_dir: str | None = None
    dataset: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    seeds: tuple[int, ...] | None = None
    name: str | None = None
    resume: bool = False


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

    @property
    def path(self) -> str:
        return f"{self.storage.rstrip('/')}/{self.name}"

    @property
    def size(self) -> int:
        return self.options.num_samples if self.space is not None else len(self.trials)


@dataclass
class TrialRecord:
    """One trial at the end of the sweep: its spec, outcome and last result."""

    spec: TrialSpec
    outcome: TrialOutcome
    result: dict[str, Any]


@dataclass
class SweepOutcome:
    """A sweep that ran: how it ended, where its runs are, and every trial's record."""

    plan: SweepPlan
    status: str  # the parent run's: FINISHED, FAILED or KILLED
    tracking_uri: str
    parent_run_id: str
    experiment_id: str
    records: list[TrialRecord]
    seconds: float
    local_store: Path | None  # the runs directory when the sweep used the local server


# -- planning (no Ray) -------------------------------------------------------------------------


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
    """Store what defines the sweep beside Tune's state, for --resume."""
    filesystem, root = _filesystem(plan.storage)
    definition = {key: getattr(plan.options, key) for key in DEFINING}
    definition |= {"created": time.time(), "metric": plan.metric, "mode": plan.mode}
    filesystem.create_dir(f"{root.rstrip('/')}/{plan.name}", recursive=True)
    with filesystem.open_output_stream(f"{root.rstrip('/')}/{plan.name}/{DEFINITION_FILE}") as stream:
        stream.write(json.dumps(definition, indent=2).encode())


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
    stored = {key: definition[key] for key in DEFINING}
    stored["seeds"] = tuple(stored["seeds"]) if stored["seeds"] is not None else None
    return dataclasses.replace(options, **stored, name=name)


def plan_sweep(options: SweepOptions, experiment: Experiment | None = None) -> SweepPlan:
    """Validate ``options`` and every trial configuration; ConfigError names the first problem.

    ``experiment`` replaces the preset that ``options.target`` names (sweeps built in code).
    """
    _check_flags(options)
    storage = _storage(options)
    options = dataclasses.replace(options, tracking_uri=_tracking_uri(options))
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


# -- running (Ray) -----------------------------------------------------------------------------


def _quiet_tune() -> None:
    """Tune's own tables and snapshot warnings give way to the compact progress lines."""
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")


def connect_ray(address: str | None) -> bool:
    """Join the cluster at ``address``, or start a local Ray with this machine's CPUs.
    Returns whether this call connected (and so should disconnect); an existing connection
    (a notebook, a test) is used as it is."""
    import ray

    if ray.is_initialized():
        return False
    common = {"log_to_driver": False, "logging_level": logging.WARNING}
    if address:
        ray.init(address=address, **common)
    else:
        ray.init(address="local", num_cpus=os.cpu_count(), include_dashboard=False, **common)
    return True


def trial_label(spec: Mapping[str, Any]) -> str:
    """How progress lines and trial names show a trial."""
    return f"{spec.get('arm')} | {spec.get('dataset')} | seed {spec.get('seed')}"


def comparison_group(spec: TrialSpec) -> tuple[str, str]:
    """Trials whose objective values compare: the same data set and decoder likelihood (an NLL
    under a Gaussian decoder is a density, under a Bernoulli one a probability)."""
    return spec.dataset, spec.config().likelihood_kind


def trial_name(trial) -> str:
    """Tune trial names: the arm, data set and seed a row of the table will show."""
    return trial_label(trial.config.get("trial", {}))


def trial_dirname(trial) -> str:
    """Trial directories: Tune's trial id (unique) and the label, as a safe file name."""
    slug = re.sub(r"[^A-Za-z0-9_.=-]+", "_", trial_label(trial.config.get("trial", {})))
    return f"{trial.trial_id}_{slug}"[:100]


def _trainable(plan: SweepPlan, target):
    from ray import tune

    from vaesweep.trainables import run_trial

    resources = {"cpu": plan.options.cpus_per_trial, "gpu": plan.options.gpus_per_trial}
    return tune.with_resources(
        tune.with_parameters(run_trial, tracking=target, objective=plan.metric), resources
    )


def _tuner(plan: SweepPlan, trainable, stage: Stage):
    from ray import tune

    from vaesweep.platform.progress import ProgressCallback
    from vaesweep.trainables import OBJECTIVE

    search_alg, param_space, num_samples = None, {}, 1
    if plan.space is not None:
        from optuna.samplers import TPESampler
        from ray.tune.search.optuna import OptunaSearch

        seed = plan.options.seeds[0] if plan.options.seeds else 0
        # a define-by-run space takes metric and mode here: Tune does not pass TuneConfig's to it
        search_alg = OptunaSearch(
            space=plan.space, metric=OBJECTIVE, mode=plan.mode, sampler=TPESampler(seed=seed)
        )
        num_samples = plan.options.num_samples
    else:
        param_space = {"trial": tune.grid_search([t.as_dict() for t in stage.trials])}
    scheduler = None
    if plan.options.scheduler == "asha":
        from ray.tune.schedulers import ASHAScheduler

        # + 1: the final evaluation is reported after the last epoch and must not be cut off
        scheduler = ASHAScheduler(time_attr="training_iteration", max_t=plan.max_epochs + 1, grace_period=1)
    return tune.Tuner(
        trainable,
        param_space=param_space,
        tune_config=tune.TuneConfig(
            metric=OBJECTIVE,
            mode=plan.mode,
            search_alg=search_alg,
            scheduler=scheduler,
            num_samples=num_samples,
            max_concurrent_trials=plan.options.max_concurrent,
            reuse_actors=True,  # a trial's worker keeps torch and vaesweep imported for the next
            trial_name_creator=trial_name,
            trial_dirname_creator=trial_dirname,
        ),
        run_config=tune.RunConfig(
            name=stage.name,
            storage_path=stage.storage,
            callbacks=[ProgressCallback(plan.name)],
            failure_config=tune.FailureConfig(max_failures=plan.options.max_failures),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=2),
            verbose=0,
        ),
    )


def _restored_outcomes(stages: list[Stage]) -> dict[str, TrialOutcome]:
    """Tune's outcome of every trial of the stages it stored (the first always has its state)."""
    from ray.tune import ExperimentAnalysis

    from vaesweep.platform.progress import trial_outcome

    stored = [s for s in stages if s.number == 0 or restorable(s.path)]
    return {t.trial_id: trial_outcome(t) for s in stored for t in ExperimentAnalysis(s.path).trials}


def _run_stage(plan: SweepPlan, stage: Stage, trainable, tracking, monitor) -> bool:
    """Restore (``--resume``, where Tune stored it) or start one stage and run it to its end;
    a later stage's trials first learn the runs they start from. Returns whether every trial of
    the stage ended (an interrupted stage leaves the next ones for ``--resume``)."""
    from ray import tune

    if stage.number > 0:
        stage = link_parents(stage, tracking.children())
        monitor.line(
            f"stage {stage.number + 1}: {len(stage.trials)} trials start from stage {stage.number}'s"
        )
    if plan.options.resume and (stage.number == 0 or restorable(stage.path)):
        tuner = tune.Tuner.restore(stage.path, trainable=trainable, resume_unfinished=True)
    else:
        tuner = _tuner(plan, trainable, stage)
    tuner.fit()
    ended = all(outcome.terminal for outcome in monitor.outcomes().values())
    monitor.end_stage()
    return ended


def _tracking_tags(plan: SweepPlan) -> dict[str, str]:
    from vaesweep.platform.tracking import GIT_COMMIT_TAG, git_commit

    tags = {"preset": plan.experiment.name, "sweep": plan.name}
    commit = git_commit()
    if commit:
        tags |= {GIT_COMMIT_TAG: commit, "mlflow.source.git.commit": commit}
    return tags


def _parameters(plan: SweepPlan) -> dict[str, Any]:
    options = plan.options
    return {
        "search": options.search,
        "metric": plan.metric,
        "mode": plan.mode,
        "scheduler": options.scheduler or "none",
        "trials": plan.size,
        "seeds": ",".join(map(str, options.seeds)) if options.seeds is not None else "preset",
        "dataset": options.dataset or "preset",
        "overrides": json.dumps(options.overrides, sort_keys=True),
        "storage": plan.path,
    }


def run_sweep(plan: SweepPlan, *, out: IO[str] = sys.stderr) -> SweepOutcome:
    """Run (or resume) the planned sweep, stage by stage; every MLflow run is closed when this
    returns."""
    from vaesweep.platform.progress import MONITORS, SweepMonitor
    from vaesweep.platform.tracking import SweepRun

    _quiet_tune()
    started = time.monotonic()
    server = None if plan.options.tracking_uri else TrackingServer(plan.options.runs_dir)
    uri = plan.options.tracking_uri or server.start()
    try:
        tracking = SweepRun(
            uri, plan.experiment.name, plan.name, resume=plan.options.resume, tags=_tracking_tags(plan)
        )
        if not plan.options.resume:
            tracking.log_params(_parameters(plan))
        disconnect = connect_ray(plan.options.address)
        monitor = SweepMonitor(plan, tracking, out)
        MONITORS[plan.name] = monitor
        status = "FAILED"
        try:
            trainable = _trainable(plan, tracking.target)
            stages = plan_stages(plan)
            if plan.options.resume:
                tracking.reconcile(_restored_outcomes(stages), interrupted=False)
            else:
                write_definition(plan)
            monitor.begin(uri)
            for stage in stages:
                if not _run_stage(plan, stage, trainable, tracking, monitor):
                    break
            outcomes = monitor.outcomes()
            interrupted = any(not o.terminal for o in outcomes.values())
            tracking.reconcile(outcomes, interrupted=interrupted)
            failed = sum(o.state == "failed" for o in outcomes.values())
            status = (
                "KILLED" if interrupted else "FAILED" if outcomes and failed == len(outcomes) else "FINISHED"
            )
        except KeyboardInterrupt:
            status = "KILLED"
            raise
        finally:
            MONITORS.pop(plan.name, None)
            tracking.close(status, monitor.counts())
            if disconnect:
                import ray

                ray.shutdown()
    finally:
        if server is not None:
            server.stop()
    return SweepOutcome(
        plan=plan,
        status=status,
        tracking_uri=uri,
        parent_run_id=tracking.target.parent_run_id,
        experiment_id=tracking.target.experiment_id,
        records=monitor.records(),
        seconds=time.monotonic() - started,
        local_store=server.directory if server is not None else None,
    )
