"""Helpers of the platform tests: tiny trials, a sweep run in code, a sweep's child runs, and
the two-method experiment that Optuna sweeps search."""

from __future__ import annotations

import io
from pathlib import Path

from mlflow.tracking import MlflowClient

from vaesweep.platform.plan import SweepOptions, plan_sweep
from vaesweep.platform.sweep import SweepOutcome, run_sweep
from vaesweep.platform.tracking import PARENT_TAG
from vaesweep.search_spaces.definitions import Arm, Experiment

# Two epochs and a cheap evaluation: seconds per trial on 2 cores.
TINY = {
    "train.epochs": "2",
    "eval.nll_samples": "10",
    "eval.cu_rounds": "5",
    "eval.probes": "false",
    "eval.smoothness": "false",
}


def sweep(
    experiment: Experiment, tmp_path: Path, uri: str, overrides: dict | None = None, **options
) -> tuple[SweepOutcome, str]:
    """Plan and run ``experiment`` as ``vaesweep sweep`` would; returns the outcome and the
    progress lines it printed."""
    out = io.StringIO()
    plan = plan_sweep(
        SweepOptions(
            target=experiment.name,
            tracking_uri=uri,
            storage=str(tmp_path / "tune"),
            overrides={**TINY, **(overrides or {})},
            **options,
        ),
        experiment,
    )
    outcome = run_sweep(plan, out=out)
    return outcome, out.getvalue()


def children(uri: str, outcome: SweepOutcome) -> list:
    """The sweep's child runs."""
    client = MlflowClient(uri)
    query = f"tags.`{PARENT_TAG}` = '{outcome.parent_run_id}'"
    return client.search_runs([outcome.experiment_id], filter_string=query)


def igp_or_du_vae(name: str) -> Experiment:
    """An Optuna space with two methods to choose from, on digits: the arm is sampled first,
    then only that method's hyper-parameters."""
    return Experiment(
        name, "IGP or DU-VAE, sampled", ("digits",), (Arm("igp", "IGP"), Arm("du_vae", "DU-VAE")), seeds=(0,)
    )
