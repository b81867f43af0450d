"""A sweep whose driver is SIGKILLed at any moment resumes to exactly the runs of an
uninterrupted sweep (tests/platform/kill_harness.py checks what that means). A handful of the
kill points (``pytest -m long`` adds two more); ``python bench/kill_points.py --random 50`` runs
many more by hand."""

from __future__ import annotations

import sys

import pytest

from tests.platform.kill_harness import KillCase, reference_results, run_case

pytestmark = [pytest.mark.slow, pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")]

CASES = [
    KillCase("defined"),  # the sweep's definition stored; no server, no Ray (the "4 s")
    pytest.param(  # before Tune stored any state: the grid runs again under new trial ids
        KillCase("tuner"), marks=pytest.mark.long
    ),
    KillCase("result:3", damage=True),  # mid-trial, and the checkpoint Tune resumes from is damaged
    KillCase("checkpoint:6"),  # a worker: while the second trial's second checkpoint is stored
    pytest.param(  # between trials, the first finished in MLflow and Tune
        KillCase("trial_complete:1"), marks=pytest.mark.long
    ),
    KillCase("reconcile"),  # every trial ended; child runs not yet settled, report not printed
]


@pytest.fixture(scope="module")
def reference() -> dict[str, float]:
    return reference_results()


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.label)
def test_a_sweep_killed_here_resumes_to_exactly_the_runs_of_an_uninterrupted_one(case, reference, tmp_path):
    result = run_case(case, tmp_path, reference)
    assert result.killed, result.problems
    assert result.ok, "\n".join(result.problems)
    if case.damage:
        assert result.damaged, "no checkpoint was registered to damage"
        arm, epoch = result.damaged[0].rsplit("@", 1)
        assert int(result.resumed_from[arm]) < int(epoch)  # it fell back to the checkpoint before
