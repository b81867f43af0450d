"""The platform: Ray connection, Tuner assembly, MLflow tracking and the CLI commands.

``plan_sweep`` validates a sweep without starting anything; ``run_sweep`` runs it on Ray Tune
(local or a cluster) with one MLflow parent run per sweep and one child run per trial.
"""

from vaesweep.platform.plan import SweepOptions, SweepPlan, plan_sweep
from vaesweep.platform.server import TrackingServer
from vaesweep.platform.sweep import SweepOutcome, run_sweep

__all__ = ["SweepOptions", "SweepOutcome", "SweepPlan", "TrackingServer", "plan_sweep", "run_sweep"]
