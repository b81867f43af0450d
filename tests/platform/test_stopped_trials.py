"""A trial ASHA stops is shown as stopped, with the epoch and the value it was judged on, in the
progress lines, the sweep's summary, its MLflow run and the report, and never averaged as if it
had finished. Real Ray, real MLflow: two trials one after the other, the second hopeless (a
learning rate of 1e-7), so at the first rung its validation -ELBO is worse than the first's."""

from __future__ import annotations

import re

import pytest

from tests.platform.support import children, sweep
from vaesweep.platform.results import report_lines
from vaesweep.search_spaces.definitions import Arm, Experiment

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("local_ray")]

GOOD_AND_HOPELESS = Experiment(
    "asha_two",
    "a VAE, then one that cannot learn",
    ("digits",),
    (Arm("vae", "VAE"), Arm("vae", "stalled VAE", settings={"optim.lr": 1e-7})),
    seeds=(0,),
)
JUDGED = re.compile(r"stopped at epoch 1 by ASHA: valid -ELBO \(an upper bound of NLL\) = (\d+(\.\d+)?)")


@pytest.fixture(scope="module")
def stopped_sweep(tracking_server, tmp_path_factory):
    outcome, progress = sweep(
        GOOD_AND_HOPELESS,
        tmp_path_factory.mktemp("asha"),
        tracking_server.uri,
        {"train.epochs": "3"},
        scheduler="asha",
        max_concurrent=1,
    )
    assert outcome.status == "FINISHED", progress
    return outcome, progress


def test_the_stopped_trial_is_stopped_with_its_epoch_and_bound_in_progress_and_summary(stopped_sweep):
    outcome, progress = stopped_sweep
    states = {r.spec.arm: r.outcome for r in outcome.records}
    assert states["VAE"].state == "finished"
    stopped = states["stalled VAE"]
    assert stopped.state == "stopped" and stopped.stopped_by == "asha" and stopped.stopped_at_epoch == 1
    record = next(r for r in outcome.records if r.spec.arm == "stalled VAE")
    judged = JUDGED.fullmatch(stopped.reason)
    assert judged, stopped.reason
    assert float(judged.group(1)) == pytest.approx(-record.result["valid_elbo"], rel=1e-3)
    assert f"stopped   stalled VAE | digits | seed 0: {stopped.reason}" in progress
    assert "finished  VAE | digits | seed 0: nll=" in progress
    assert "1/2 finished, 1 stopped early" in progress
    lines = report_lines(outcome)
    assert f"stopped stalled VAE | digits | seed 0: {stopped.reason}" in lines
    table = next(line for line in lines if "stalled VAE" in line and "digits" in line and "seed" not in line)
    finished, stopped_count, failed, nll = table.split()[-4:]
    assert (finished, stopped_count, failed, nll) == ("0", "1", "0", "-")  # mid-run values not averaged


def test_the_stopped_trials_mlflow_run_says_who_stopped_it_when_and_on_what(tracking_server, stopped_sweep):
    outcome, _ = stopped_sweep
    runs = {run.data.tags["arm"]: run for run in children(tracking_server.uri, outcome)}
    tags = runs["stalled VAE"].data.tags
    assert runs["stalled VAE"].info.status == "KILLED" and runs["VAE"].info.status == "FINISHED"
    assert tags["status"] == "stopped" and tags["stopped_by"] == "asha" and tags["stopped_at_epoch"] == "1"
    assert JUDGED.fullmatch(tags["stop_reason"]) and "failure_reason" not in tags


def test_the_report_shows_the_stopped_trial_and_leaves_it_out_of_the_tables(tracking_server, stopped_sweep):
    from vaesweep.analysis.claims import evaluate_claims
    from vaesweep.analysis.report import Report
    from vaesweep.analysis.runs import load_runs

    outcome, _ = stopped_sweep
    runs = load_runs(tracking_uri=tracking_server.uri, parent_run_id=outcome.parent_run_id)
    report = Report("t", "s", runs, [], evaluate_claims(runs), [], None)
    lines = report.summary_lines()
    assert "trials: 1 finished, 1 stopped" in lines
    (line,) = [line for line in lines if line.startswith("stopped trial")]
    assert "(stalled VAE, seed 0): stopped at epoch 1 by ASHA: valid -ELBO" in line
    assert any("the tables and claims leave them out" in line for line in lines)
    assert dict(zip(runs["arm"], runs["status"], strict=True)) == {"VAE": "FINISHED", "stalled VAE": "KILLED"}
