"""Tune's Optuna searcher over the sweep's stored study (vaesweep.platform.study).

The study in its RDB storage can be ahead of the searcher state Tune restores on ``--resume``:
Tune saves that state every few seconds, while every tell reaches the database at once. A trial
told before the driver was killed but after Tune's last save is then run again by Tune (its
MLflow run, found finished, reports without training); its results must not touch the trial the
study already closed (Optuna refuses, and the sweep would stop).
"""

from __future__ import annotations

import contextlib
from typing import Any

from optuna.exceptions import UpdateFinishedTrialError
from ray.tune.search.optuna import OptunaSearch


class StoredStudySearch(OptunaSearch):
    """``OptunaSearch`` that leaves a trial the stored study already finished as it is."""

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        with contextlib.suppress(UpdateFinishedTrialError):  # told before the kill: see above
            super().on_trial_result(trial_id, result)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        known = self._ot_trials.get(trial_id)
        if known is not None and self._ot_study._storage.get_trial(known._trial_id).state.is_finished():
            self._completed_trials.add(trial_id)  # told already, with this same result
            return
        super().on_trial_complete(trial_id, result, error)
