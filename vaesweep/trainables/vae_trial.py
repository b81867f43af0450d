"""One trial = one ``train.fit``, as a Ray Tune function trainable.

The Tune config holds one serialised ``TrialSpec`` (``{"trial": spec.as_dict()}``), whether a
grid or Optuna produced it. Every epoch is reported to Tune with its checkpoint and to the
trial's tracker; a retried or resumed trial continues from its newest readable checkpoint, a
trial an earlier attempt already finished reports that attempt's results without training
again, and a staged trial starts from the final model of the run its spec names. All training
logic stays in ``fit``; what to log to comes from the platform as an ``OpenTracker``
(vaesweep.trainables.tracker).
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ray import tune

from vaesweep.faults import kill_point
from vaesweep.metric_registry import metric_spec, resolve
from vaesweep.search_spaces.definitions import TrialSpec
from vaesweep.train import CHECKPOINT_FILE, EpochReport, fit
from vaesweep.trainables.checkpoints import epoch_checkpoint, restore_checkpoint, use_trial_cpus
from vaesweep.trainables.tracker import OpenTracker, TrialTracker
from vaesweep.warm_start import WarmStart

OBJECTIVE = "objective"  # what the search optimises, in every result
FINAL = "final"  # 1.0 in the last result of a trial that completed its evaluation


def epoch_objective(metrics: Mapping[str, float], metric: str) -> float:
    """The per-epoch stand-in for a final metric, so schedulers (ASHA) and Optuna can compare
    trials mid-run: its validation value, or the estimate its declaration in
    vaesweep.metric_registry names (for NLL its upper bound -ELBO on validation)."""
    if f"valid_{metric}" in metrics:
        return metrics[f"valid_{metric}"]
    if estimate := metric_spec(metric).epoch_estimate:
        stand_in = resolve(estimate)
        return stand_in({k.removeprefix("valid_"): v for k, v in metrics.items() if k.startswith("valid_")})
    return metrics.get(metric, math.nan)


def final_result(metrics: Mapping[str, float], objective: str) -> dict[str, Any]:
    """The last result of a completed trial."""
    return {**metrics, OBJECTIVE: metrics.get(objective, math.nan), FINAL: 1.0}


def _warm_start(spec: TrialSpec, tracker: TrialTracker, directory: Path) -> WarmStart:
    """A staged trial's start: the final checkpoint of the run its spec names (the planner
    named it: vaesweep.platform.stages)."""
    run_id = spec.start_from.get("run_id")
    if not run_id:
        raise RuntimeError(
            f"the trial it starts from ({spec.start_from['arm']}, {spec.dataset}, seed {spec.seed}) did "
            "not finish: there is no final model to start from"
        )
    return WarmStart(tracker.fetch_checkpoint(run_id, CHECKPOINT_FILE, directory), spec.start_from["mapping"])


def run_trial(config: dict[str, Any], *, open_tracker: OpenTracker, objective: str) -> None:
    """Train ``config["trial"]`` and report to Tune and the tracker; raises what ``fit`` raises
    (after the tracker recorded it), so Tune records the error and the sweep goes on."""
    spec = TrialSpec.from_dict(config["trial"])
    run_config = spec.config()
    context = tune.get_context()
    use_trial_cpus()
    with tempfile.TemporaryDirectory(prefix="vaesweep-trial-") as scratch:
        checkpoint_dir, artifacts_dir = Path(scratch, "checkpoint"), Path(scratch, "artifacts")
        restored = restore_checkpoint(tune.get_checkpoint(), checkpoint_dir)
        tracker = open_tracker(
            spec, run_config, context.get_trial_id(), restored.epoch if restored is not None else None
        )
        finished = tracker.open()
        if finished is not None:
            tune.report(final_result(finished, objective))
            return
        history = list(restored.history) if restored is not None else []
        for epoch, metrics in history:  # epochs the tracker may not have recorded before the loss
            tracker.log_epoch(epoch, metrics)

        def report(epoch: EpochReport) -> None:
            tracker.log_epoch(epoch.epoch, epoch.metrics)
            history.append((epoch.epoch, dict(epoch.metrics)))
            kill_point("checkpoint")
            tune.report(
                {**epoch.metrics, OBJECTIVE: epoch_objective(epoch.metrics, objective)},
                checkpoint=epoch_checkpoint(checkpoint_dir, epoch.epoch, history),
            )

        try:
            warm_start = None
            if spec.start_from is not None and restored is None:
                warm_start = _warm_start(spec, tracker, Path(scratch, "start"))
            metrics = fit(
                run_config,
                report,
                checkpoint_dir=checkpoint_dir,
                resume_from=checkpoint_dir if restored is not None else None,
                artifacts_dir=artifacts_dir,
                warm_start=warm_start,
            )
            tracker.finish(metrics, artifacts_dir, checkpoint_dir / CHECKPOINT_FILE)
        except Exception as error:
            tracker.fail(error)
            raise
    tune.report(final_result(metrics, objective))
