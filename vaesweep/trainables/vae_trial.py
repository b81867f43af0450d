"""One trial = one ``train.fit``, as a Ray Tune function trainable.

The Tune config holds one serialised ``TrialSpec`` (``{"trial": spec.as_dict()}``), whether a
grid or Optuna produced it. Every epoch is reported to Tune with its checkpoint and logged to
the trial's MLflow run; a retried or resumed trial continues from Tune's latest checkpoint, and a
staged trial starts from the final checkpoint of the run its spec names. All training logic
stays in ``fit``; all MLflow logic in vaesweep.platform.tracking.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

import torch
from ray import tune

from vaesweep.metric_registry import metric_spec, resolve
from vaesweep.platform.tracking import TrackingTarget, TrialRun, download_checkpoint
from vaesweep.search_spaces.definitions import TrialSpec
from vaesweep.train import CHECKPOINT_FILE, EpochReport, fit
from vaesweep.warm_start import WarmStart

OBJECTIVE = "objective"  # what the search optimises, in every result
FINAL = "final"  # 1.0 in the last result of a trial that completed its evaluation
CHECKPOINT_EPOCH = "epoch"  # Tune checkpoint metadata: the epoch it holds


def epoch_objective(metrics: dict[str, float], metric: str) -> float:
    """The per-epoch stand-in for a final metric, so schedulers (ASHA) and Optuna can compare
    trials mid-run: its validation value, or the estimate its declaration in
    vaesweep.metric_registry names (for NLL its upper bound -ELBO on validation)."""
    if f"valid_{metric}" in metrics:
        return metrics[f"valid_{metric}"]
    if estimate := metric_spec(metric).epoch_estimate:
        stand_in = resolve(estimate)
        return stand_in({k.removeprefix("valid_"): v for k, v in metrics.items() if k.startswith("valid_")})
    return metrics.get(metric, math.nan)


def _warm_start(spec: TrialSpec, tracking: TrackingTarget, directory: Path) -> WarmStart:
    """A staged trial's start: the final checkpoint of the run its spec names (the planner
    named it: vaesweep.platform.stages)."""
    run_id = spec.start_from.get("run_id")
    if not run_id:
        raise RuntimeError(
            f"the trial it starts from ({spec.start_from['arm']}, {spec.dataset}, seed {spec.seed}) did "
            "not finish: there is no final model to start from"
        )
    return WarmStart(
        download_checkpoint(tracking, run_id, CHECKPOINT_FILE, directory), spec.start_from["mapping"]
    )


def run_trial(config: dict[str, Any], *, tracking: TrackingTarget, objective: str) -> None:
    """Train ``config["trial"]`` and report to Tune and MLflow; raises what ``fit`` raises
    (after recording it in MLflow), so Tune records the error and the sweep goes on."""
    spec = TrialSpec.from_dict(config["trial"])
    run_config = spec.config()
    context = tune.get_context()
    torch.set_num_threads(max(1, int(context.get_trial_resources().required_resources.get("CPU", 1))))
    checkpoint = tune.get_checkpoint()
    with tempfile.TemporaryDirectory(prefix="vaesweep-trial-") as scratch:
        checkpoint_dir, artifacts_dir = Path(scratch, "checkpoint"), Path(scratch, "artifacts")
        resumed_from = None
        if checkpoint is not None:
            checkpoint.to_directory(str(checkpoint_dir))
            resumed_from = checkpoint.get_metadata().get(CHECKPOINT_EPOCH)
        run = TrialRun(tracking, spec, run_config, context.get_trial_id(), resumed_from)

        def report(epoch: EpochReport) -> None:
            run.log_epoch(epoch.epoch, epoch.metrics)
            saved = tune.Checkpoint.from_directory(str(checkpoint_dir))
            saved.set_metadata({CHECKPOINT_EPOCH: epoch.epoch})
            tune.report(
                {**epoch.metrics, OBJECTIVE: epoch_objective(epoch.metrics, objective)}, checkpoint=saved
            )

        try:
            warm_start = None
            if spec.start_from is not None and checkpoint is None:
                warm_start = _warm_start(spec, tracking, Path(scratch, "start"))
            metrics = fit(
                run_config,
                report,
                checkpoint_dir=checkpoint_dir,
                resume_from=checkpoint_dir if checkpoint is not None else None,
                artifacts_dir=artifacts_dir,
                warm_start=warm_start,
            )
            run.finish(metrics, artifacts_dir, checkpoint_dir / CHECKPOINT_FILE)
        except Exception as error:
            run.fail(error)
            raise
    tune.report({**metrics, OBJECTIVE: metrics.get(objective, math.nan), FINAL: 1.0})
