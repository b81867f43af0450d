"""Every MLflow name the analysis depends on, in one place.

The platform (vaesweep.platform) writes the runs; the analysis only reads them. If the platform
renames a tag, a metric or an artifact, this is the only module to change. The run frame's own
column names (what ``load_runs`` returns) are defined here too.
"""

from __future__ import annotations

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
}
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
INTEGER_IDENTITY = (SWEEP_START, START_TIME, END_TIME, "seed")

# The long frame of per-epoch values.
HISTORY_COLUMNS = ("run_id", "step", "metric", "value")

# -- metrics ----------------------------------------------------------------------------------
# Logged once per epoch at step = epoch.
EPOCH_METRICS = (
    "train_loss",
    "train_rec",
    "train_kl",
    "valid_rec",
    "valid_kl",
    "valid_elbo",
    "valid_mi",
    "valid_au",
    "valid_sigma_z2",
    "valid_sigma_x2",
    "valid_mse",
    "valid_implied_sigma_x2",
    "kl_weight",
    "lr",
    "target_kl",
    "epoch",
)
# Logged once at the end, under these names (train.fit and the paper-scale metrics).
FINAL_METRICS = (
    "rec",
    "kl",
    "elbo",
    "nll",
    "mi",
    "au",
    "cu",
    "cu_0.01",
    "cu_0.03",
    "cu_0.05",
    "cu_0.1",
    "mpd",
    "ce",
    "mpd_dropout",
    "ce_dropout",
    "sigma_z2",
    "mu_sqnorm",
    "logdet_cov",
    "prior_ll",
    "post_ll",
    "mse",
    "implied_sigma_x2",
    "sigma_x2",
    "data_variance",
    "els",
    "expected_gap_1e-2",
    "expected_gap_1e-3",
    "bleu2",
    "bleu4",
    "rouge2",
    "rouge4",
    "probe_linear",
    "probe_mlp",
    "latent_dim",
    "epochs_run",
    "train_seconds",
    "fid_prior",
    "fid_gmm10",
    "fid_gmm100",
    "fid_2ndvae",
    "fid_interp_mid",
    "fid_interp_random",
    "forward_ppl",
    "reverse_ppl",
    "agreement",
    "f1",
    "robust_accuracy",
    *(f"accuracy_labels_{n}" for n in (100, 500, 1000, 2000, 10000)),
    *(f"accuracy_per_char_{n}" for n in (5, 10, 15)),
)

# -- artifacts of a trial run -----------------------------------------------------------------
DIMENSION_SUMMARY = "dimension_summary.json"
# {"dimension_summary": {"activity": [D], "active": [D], "mean_quantiles": [5][D],
#  "variance_quantiles": [5][D]}, "kl_per_dim_aggregate": [D]}; quantile rows are at these levels.
QUANTILE_LEVELS = (0.0, 0.25, 0.5, 0.75, 1.0)
LATENTS = "latents.npz"  # mean [N, D], logvar [N, D], labels [N]; synthetic_text: true_z, component
ANALYSIS_ARTIFACTS = (DIMENSION_SUMMARY, LATENTS)  # what the plots read, and what export copies

# Where the report goes on the sweep's parent run.
REPORT_ARTIFACT_PATH = "report"
