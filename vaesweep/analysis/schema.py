"""Every MLflow name the analysis depends on, in one place.

The platform (vaesweep.platform) writes the runs; the analysis only reads them. If the platform
renames a tag or an artifact, this is the only module to change; metric names come from the
metric registry, where their producers declare them. The run frame's own column names (what
``load_runs`` returns) are defined here too.
"""

from __future__ import annotations

from vaesweep import metric_registry

# -- runs -------------------------------------------------------------------------------------
PARENT_RUN_TAG = "mlflow.parentRunId"  # set on every trial (child) run
RUN_NAME_TAG = "mlflow.runName"

# Tags the platform sets on each trial run -> the run frame's column for them.
TAGS: dict[str, str] = {
    "method": "method",
    "dataset": "dataset",
    "preset": "preset",
    "arm": "arm",  # the Arm's row label, e.g. "IGP (target_kl=15.0)"
    "seed": "seed",
    "git_commit": "git_commit",
    "ray_trial_id": "trial_id",
    "status": "trial_status",  # the platform's own word for the trial's outcome
    "failure_reason": "failure_reason",
    "started_from_run": "started_from_run",  # a staged trial: the run whose final model it starts from
    "started_from_arm": "started_from_arm",  # ... and that run's arm label
    # a trial a scheduler (ASHA) stopped before its final evaluation: a KILLED run whose metrics
    # are mid-run values, never averaged with finished trials
    "stopped_by": "stopped_by",
    "stopped_at_epoch": "stopped_at_epoch",
    "stop_reason": "stop_reason",
}
STARTED_FROM_ARM = TAGS["started_from_arm"]
FINISHED = "FINISHED"  # MLflow run status of a trial that completed

# -- the run frame ----------------------------------------------------------------------------
RUN_ID = "run_id"
PARENT_ID = "parent_run_id"
SWEEP = "sweep"  # the parent run's name
SWEEP_START = "sweep_start_time"  # ms since the epoch, to pick the latest sweep of a preset
EXPERIMENT = "experiment"
STATUS = "status"  # MLflow run status: FINISHED, FAILED, KILLED, RUNNING
START_TIME = "start_time"
END_TIME = "end_time"
IDENTITY_COLUMNS = (
    RUN_ID,
    PARENT_ID,
    SWEEP,
    SWEEP_START,
    EXPERIMENT,
    STATUS,
    START_TIME,
    END_TIME,
    *TAGS.values(),
)
INTEGER_IDENTITY = (SWEEP_START, START_TIME, END_TIME, "seed", "stopped_at_epoch")

# The long frame of per-epoch values.
HISTORY_COLUMNS = ("run_id", "step", "metric", "value")

# -- metrics ----------------------------------------------------------------------------------
# Declared in vaesweep.metric_registry (name, label, unit, direction, per epoch or final).
EPOCH_METRICS = metric_registry.epoch_metric_names()  # logged once per epoch at step = epoch
FINAL_METRICS = metric_registry.final_metric_names()  # logged once at the end (default config)

# -- artifacts of a trial run -----------------------------------------------------------------
DIMENSION_SUMMARY = "dimension_summary.json"
# {"dimension_summary": {"activity": [D], "active": [D], "mean_quantiles": [5][D],
#  "variance_quantiles": [5][D]}, "kl_per_dim_aggregate": [D], "cu_sampled_dims": int (CU's
#  dimensions the quadrature left to samples)}; quantile rows are at these levels.
QUANTILE_LEVELS = (0.0, 0.25, 0.5, 0.75, 1.0)
LATENTS = "latents.npz"  # mean [N, D], logvar [N, D], labels [N]; synthetic_text: true_z, component
ANALYSIS_ARTIFACTS = (DIMENSION_SUMMARY, LATENTS)  # what the plots read, and what export copies

# Where the report goes on the sweep's parent run.
REPORT_ARTIFACT_PATH = "report"
