"""The packed sweep's ASHA rungs decide exactly as Tune's ASHA does for the same results."""

from __future__ import annotations

import random
from types import SimpleNamespace

import pytest
from ray.tune.schedulers import TrialScheduler
from ray.tune.schedulers.async_hyperband import AsyncHyperBandScheduler

from vaesweep.platform.rungs import GRACE_PERIOD, REDUCTION_FACTOR, AshaRungs


@pytest.mark.parametrize("mode", ["min", "max"])
@pytest.mark.parametrize("max_t", [3, 5, 17, 65])
def test_rung_decisions_equal_tunes_asha_on_the_same_asynchronous_results(mode, max_t):
    rng = random.Random(max_t)
    tune_asha = AsyncHyperBandScheduler(
        time_attr="t", metric="v", mode=mode, max_t=max_t, grace_period=GRACE_PERIOD,
        reduction_factor=REDUCTION_FACTOR,
    )  # fmt: skip
    ours = AshaRungs(max_t, mode)
    trials = [SimpleNamespace(trial_id=f"t{i}") for i in range(40)]
    for trial in trials:
        tune_asha.on_trial_add(None, trial)
    iteration = {t.trial_id: 0 for t in trials}
    alive = list(trials)
    stops = 0
    while alive:  # trials report in a random interleaving, as concurrent trials and members do
        trial = rng.choice(alive)
        iteration[trial.trial_id] += 1
        value = rng.gauss(0, 1) if rng.random() > 0.05 else float("nan")
        result = {"t": iteration[trial.trial_id], "v": value}
        expected = tune_asha.on_trial_result(None, trial, result) == TrialScheduler.STOP
        assert ours.stops(trial.trial_id, result["t"], value) == expected, (trial.trial_id, result)
        if expected:
            alive.remove(trial)
            stops += iteration[trial.trial_id] < max_t
    assert stops > 0  # the rungs did stop trials early
