"""Running a planned sweep on Ray Tune with MLflow tracking, resumable from any interruption.

``run_sweep`` checks a given tracking server (fail fast), stores the sweep's definition, starts
the local tracking server unless a URI is given, joins or starts Ray, assembles the Tuner (or
restores the interrupted one), runs it with a compact progress display, and settles every
MLflow run before it returns. A driver may die at any of these steps (vaesweep.faults names
them); ``--resume`` then continues from what storage and MLflow hold: Tune's stored state when
there is one, else the same grid again, where every trial finds its MLflow run by its key
(finished: reported as it is; unfinished: continued from its newest readable checkpoint).
"""

from __future__ import annotations

import fnmatch
import json
import logging
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from vaesweep.faults import hand_down_driver_pid, kill_point
from vaesweep.platform.packs import pack_units, study_pack_size
from vaesweep.platform.plan import SweepPlan, write_definition
from vaesweep.platform.server import TrackingServer
from vaesweep.platform.stages import Stage, link_parents, plan_stages
from vaesweep.platform.trials import TrialRecord, trial_dirname, trial_name

TUNER_FILE = "tuner.pkl"
EXPERIMENT_STATE_FILES = "experiment_state-*.json"


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


def _quiet_tune() -> None:
    """Tune's own tables and snapshot warnings give way to the compact progress lines."""
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")


def connect_ray(address: str | None) -> bool:
    """Join the cluster at ``address``, or start a local Ray with this machine's CPUs.
    Returns whether this call connected (and so should disconnect); an existing connection
    (a notebook, a test) is used as it is. Plugins ($VAESWEEP_PLUGINS) travel to the workers in
    the job's runtime environment."""
    import ray

    from vaesweep.plugins import worker_environment

    if ray.is_initialized():
        return False
    common: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING}
    plugins = worker_environment()
    if plugins:  # workers import the plugins' units before they read a trial's configuration
        common["runtime_env"] = {"env_vars": plugins}
    if address:
        ray.init(address=address, **common)
    else:
        ray.init(address="local", num_cpus=os.cpu_count(), include_dashboard=False, **common)
    return True


def _trainable(plan: SweepPlan, open_tracker):
    from ray import tune

    from vaesweep.trainables import run_pack, run_trial

    resources = {"cpu": plan.options.cpus_per_trial, "gpu": plan.options.gpus_per_trial}
    if plan.packing is not None:
        stop_members = None
        if plan.options.scheduler == "asha":
            from vaesweep.platform.rungs import MemberRungs, start_board

            start_board(_board_name(plan), plan.max_epochs + 1, plan.mode)
            stop_members = MemberRungs(_board_name(plan))
        trainable = tune.with_parameters(
            run_pack,
            open_tracker=open_tracker,
            objective=plan.metric,
            mode=plan.mode,
            stop_members=stop_members,
        )
    else:
        trainable = tune.with_parameters(run_trial, open_tracker=open_tracker, objective=plan.metric)
    return tune.with_resources(trainable, resources)


def _board_name(plan: SweepPlan) -> str:
    """The Ray actor holding a packed ASHA sweep's rungs (vaesweep.platform.rungs)."""
    return f"vaesweep-rungs-{plan.name}"


def _param_space(plan: SweepPlan, stage: Stage) -> dict[str, Any]:
    """A grid stage's trials, or with packing its packs and the trials that run alone
    (vaesweep.platform.packs; Tune does not store them with the Tuner: a restore is given them
    again); an Optuna search samples its own."""
    from ray import tune

    if plan.space is not None:
        return {}
    if plan.packing is not None:
        units = pack_units(stage.trials, plan.packing)
        return {"pack": tune.grid_search([[t.as_dict() for t in unit] for unit in units])}
    return {"trial": tune.grid_search([t.as_dict() for t in stage.trials])}


def _tuner(plan: SweepPlan, trainable, stage: Stage):
    from ray import tune

    from vaesweep.platform.progress import ProgressCallback
    from vaesweep.trainables import OBJECTIVE

    search_alg, num_samples = None, 1
    if plan.space is not None:
        from optuna.samplers import TPESampler

        from vaesweep.platform.study import open_storage, study_name, study_storage
        from vaesweep.platform.study_search import PackedStudySearch, StoredStudySearch

        seed = plan.options.seeds[0] if plan.options.seeds else 0
        num_samples = plan.options.num_samples
        # a define-by-run space takes metric and mode here: Tune does not pass TuneConfig's to it;
        # the study lives in an RDB storage (vaesweep.platform.study), where Optuna's tools find it
        study = {
            "metric": OBJECTIVE,
            "mode": plan.mode,
            "study_name": study_name(plan),
            "storage": open_storage(study_storage(plan)),
        }
        if plan.packing is None:
            search_alg = StoredStudySearch(space=plan.space, sampler=TPESampler(seed=seed), **study)
        else:  # a pack's members are asked at once; the constant liar keeps them apart
            search_alg = PackedStudySearch(
                plan.space,
                sampler=TPESampler(seed=seed, constant_liar=True),
                members=study_pack_size(plan.packing, num_samples),
                total=num_samples,
                policy=plan.packing,
                **study,
            )
    scheduler = None
    if plan.options.scheduler == "asha" and plan.packing is not None:
        from vaesweep.platform.rungs import SweepASHA

        scheduler = SweepASHA(_board_name(plan))  # ASHA per trial, packed or alone
    elif plan.options.scheduler == "asha":
        from ray.tune.schedulers import ASHAScheduler

        from vaesweep.platform.rungs import GRACE_PERIOD, REDUCTION_FACTOR, TIME_ATTR

        # + 1: the final evaluation is reported after the last epoch and must not be cut off
        scheduler = ASHAScheduler(
            time_attr=TIME_ATTR,
            max_t=plan.max_epochs + 1,
            grace_period=GRACE_PERIOD,
            reduction_factor=REDUCTION_FACTOR,
        )
    return tune.Tuner(
        trainable,
        param_space=_param_space(plan, stage),
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


def tune_state_restorable(path: str) -> bool:
    """Whether Tune stored this sweep's state: its Tuner and a whole experiment state. A driver
    killed before Tune's first (asynchronous) save leaves neither or only the Tuner; Tune would
    then "restart" the experiment from what the Tuner holds, which is not the grid."""
    import pyarrow.fs

    filesystem, root = pyarrow.fs.FileSystem.from_uri(path)
    if filesystem.get_file_info(f"{root}/{TUNER_FILE}").type != pyarrow.fs.FileType.File:
        return False
    listing = filesystem.get_file_info(pyarrow.fs.FileSelector(root))
    states = sorted(i.path for i in listing if fnmatch.fnmatch(i.base_name, EXPERIMENT_STATE_FILES))
    if not states:
        return False
    try:  # Tune resumes from the newest one; a copy cut short does not parse
        with filesystem.open_input_stream(states[-1]) as stream:
            json.loads(stream.readall())
    except (OSError, ValueError):
        return False
    return True


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
    if plan.options.resume and tune_state_restorable(stage.path):
        tuner = tune.Tuner.restore(
            stage.path, trainable=trainable, resume_unfinished=True, param_space=_param_space(plan, stage)
        )
    else:  # a new stage, or one whose driver died before Tune stored anything
        tuner = _tuner(plan, trainable, stage)
    kill_point("tuner")
    tuner.fit()
    ended = all(outcome.terminal for outcome in monitor.outcomes().values())
    monitor.end_stage()
    return ended


def _packing_line(plan: SweepPlan) -> str | None:
    """How the sweep packs its (first stage's) trials: its packs, or an Optuna search's size."""
    if plan.packing is None:
        return None
    if plan.space is not None:
        members = study_pack_size(plan.packing, plan.options.num_samples)
        return f"packing: the study is asked for up to {members} trials of one architecture a pack"
    units = pack_units(plan_stages(plan)[0].trials, plan.packing)
    packs = [len(unit) for unit in units if len(unit) > 1]
    alone = len(units) - len(packs)
    if not packs:
        return f"packing: no trials share an architecture; {alone} trials run alone"
    return (
        f"packing: {sum(packs)} trials in {len(packs)} packs ({', '.join(map(str, packs))} members), "
        f"{alone} alone; {len(units)} Tune trials"
    )


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
        **(_study_parameters(plan) if plan.space is not None else {}),
    }


def _study_parameters(plan: SweepPlan) -> dict[str, str]:
    """Where an Optuna sweep's study is (the report and optuna-dashboard read it from there)."""
    from vaesweep.platform.study import shown_storage, study_name, study_storage

    return {"optuna_storage": shown_storage(study_storage(plan)), "optuna_study": study_name(plan)}


def run_sweep(plan: SweepPlan, *, out: IO[str] = sys.stderr) -> SweepOutcome:
    """Run (or resume) the planned sweep, stage by stage; every MLflow run is closed when this
    returns.

    Raises TrackingUnavailable within seconds, before anything is written or started, when a
    given tracking server does not answer or refuses the credentials.
    """
    from vaesweep.platform.tracking import SweepRun, TrialTracking, check_tracking

    hand_down_driver_pid()
    kill_point("planned")
    started = time.monotonic()
    if plan.options.tracking_uri:
        check_tracking(plan.options.tracking_uri)  # before Ray is even imported

    from vaesweep.platform.progress import MONITORS, SweepMonitor

    _quiet_tune()
    if not plan.options.resume:
        write_definition(plan)  # first: from here on, --resume finds this sweep
    kill_point("defined")
    server = (
        None
        if plan.options.tracking_uri
        else TrackingServer(plan.options.runs_dir, backend_store_uri=plan.options.backend_store_uri)
    )
    if server is not None:
        server.launch()  # it starts while Ray does and the packs are planned
    disconnect = False
    planner = ThreadPoolExecutor(1, thread_name_prefix="vaesweep-packs")
    try:
        # Sizing the packs measures a member's memory (a model and a step, seconds of imports
        # among them): it runs while Ray starts, which mostly waits for Ray's processes.
        packing = planner.submit(_packing_line, plan)
        disconnect = connect_ray(plan.options.address)
        packing_line = packing.result()
        uri = plan.options.tracking_uri or server.wait_ready()
        tracking = SweepRun(
            uri, plan.experiment.name, plan.name, resume=plan.options.resume, tags=_tracking_tags(plan)
        )
        tracking.log_params(_parameters(plan))
        kill_point("tracking")
        monitor = SweepMonitor(plan, tracking, out)
        MONITORS[plan.name] = monitor
        status, records = "FAILED", []
        try:
            trainable = _trainable(plan, TrialTracking(tracking.target))
            monitor.begin(uri)
            if packing_line:
                monitor.line(packing_line)
            for stage in plan_stages(plan):
                if not _run_stage(plan, stage, trainable, tracking, monitor):
                    break
            outcomes = monitor.outcomes()
            interrupted = any(not o.terminal for o in outcomes.values())
            tracking.reconcile(outcomes, interrupted=interrupted)
            failed = sum(o.state == "failed" for o in outcomes.values())
            status = (
                "KILLED" if interrupted else "FAILED" if outcomes and failed == len(outcomes) else "FINISHED"
            )
            records = monitor.records()  # while Ray runs: a failed trial's reason is in its session
        except KeyboardInterrupt:
            status = "KILLED"
            raise
        finally:
            MONITORS.pop(plan.name, None)
            if plan.packing is not None and plan.options.scheduler == "asha":
                from vaesweep.platform.rungs import stop_board

                stop_board(_board_name(plan))
            tracking.close(status, monitor.counts())
        kill_point("closed")
    finally:
        planner.shutdown(cancel_futures=True)
        if server is not None:
            server.terminate()  # it shuts down while Ray does
        if disconnect:
            import ray

            ray.shutdown()
        if server is not None:
            server.stop()
    return SweepOutcome(
        plan=plan,
        status=status,
        tracking_uri=uri,
        parent_run_id=tracking.target.parent_run_id,
        experiment_id=tracking.target.experiment_id,
        records=records,
        seconds=time.monotonic() - started,
        local_store=server.directory if server is not None else None,
    )
