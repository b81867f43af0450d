"""Tune's searchers over an Optuna sweep's stored study (vaesweep.platform.study): one trial per
Tune trial (``StoredStudySearch``), or a pack of trials per Tune trial (``PackedStudySearch``).

The study in its RDB storage can be ahead of the searcher state Tune restores on ``--resume``:
Tune saves that state every few seconds, while every tell reaches the database at once. A trial
told before the driver was killed but after Tune's last save is then run again by Tune (its
MLflow run, found finished, reports without training); its results must not touch the trial the
study already closed (Optuna refuses, and the sweep would stop).
"""

from __future__ import annotations

import contextlib
import json
import math
import pickle
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from ray.air.constants import TRAINING_ITERATION
from ray.tune.search import Searcher
from ray.tune.search.optuna import OptunaSearch

from vaesweep.packing.trainer import FINISHED, STOPPED
from vaesweep.platform.packs import PackPolicy, memory_cap, pack_key
from vaesweep.search_spaces.definitions import TrialSpec
from vaesweep.search_spaces.optuna_spaces import ARM_PARAM, ExperimentSpace
from vaesweep.trainables import FINAL, MEMBERS, OBJECTIVE
from vaesweep.trainables.pack_trial import RUNNING


def _finished(study: optuna.Study, trial: optuna.Trial) -> bool:
    """Whether the stored study already closed ``trial`` (its state in the storage, not the
    searcher's copy: Optuna has no public call for one trial's state by id)."""
    return study._storage.get_trial(trial._trial_id).state.is_finished()


class StoredStudySearch(OptunaSearch):
    """``OptunaSearch`` that leaves a trial the stored study already finished as it is."""

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        with contextlib.suppress(UpdateFinishedTrialError):  # told before the kill: see above
            super().on_trial_result(trial_id, result)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        known = self._ot_trials.get(trial_id)
        if known is not None and _finished(self._ot_study, known):
            self._completed_trials.add(trial_id)  # told already, with this same result
            return
        super().on_trial_complete(trial_id, result, error)


@dataclass
class _Asked:
    """A trial the study suggested: its serialised spec, the arm it drew (None: the experiment
    has one), what it must share with a pack's other members (None: it runs alone) and how
    many of them its slot holds."""

    trial: optuna.Trial
    spec: dict[str, Any]
    arm: str | None
    key: object | None
    fits: int  # the members of its architecture a slot's memory holds (auto), else unbounded


def _states(result: dict[str, Any], ended: bool) -> list[dict[str, Any]]:
    """What a Tune result says of each trial it runs, as a pack's ``MEMBERS`` entries (a trial
    alone: finished with its final result, stopped when it ended without one, else running)."""
    if MEMBERS in result:
        return json.loads(result[MEMBERS])
    if result.get(FINAL):
        return [{"state": FINISHED, "result": result}]
    return [{"state": STOPPED if ended else RUNNING, "objective": result.get(OBJECTIVE, math.nan)}]


class PackedStudySearch(Searcher):
    """Tune's searcher for a packed Optuna sweep: each Tune trial is a pack of up to ``members``
    trials the study was asked for at once (ask/tell), all of one architecture signature.

    A pack's first member picks the experiment's arm; the next ones are asked with that arm
    fixed (``enqueue_trial``), so their sampled values differ but their architecture rarely
    does. One whose signature still differs (a searched value that changes shapes), or that
    must run alone, is held over to start the next pack. Per-epoch objectives go to each
    member's Optuna trial as intermediate values; at the end each member is told on its own:
    finished with its final objective, failed, or pruned when ASHA stopped it. At most
    ``total`` trials are asked. A resumed sweep restores this state from Tune's and, like
    ``StoredStudySearch``, leaves a trial the stored study already finished as it is.
    """

    def __init__(
        self,
        space: ExperimentSpace,
        *,
        metric: str,
        mode: str,
        sampler: optuna.samplers.BaseSampler,
        study_name: str,
        storage: optuna.storages.BaseStorage,
        members: int,
        total: int,
        policy: PackPolicy,
    ) -> None:
        super().__init__(metric=metric, mode=mode)
        self._space, self._members, self._total, self._policy = space, members, total, policy
        self._study = optuna.create_study(
            storage=storage,
            sampler=sampler,
            study_name=study_name,
            direction="minimize" if mode == "min" else "maximize",
            load_if_exists=True,
        )
        self._asked = 0
        self._held: list[_Asked] = []  # asked, not yet in a pack: it starts the next one
        self._packs: dict[str, list[optuna.Trial]] = {}  # Tune trial id -> its members' trials

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
        members: list[_Asked] = []
        limit = self._members  # and once the first is asked, what its slot's memory holds
        while len(members) < limit:
            if self._held:
                asked = self._held.pop(0)
            elif self._asked < self._total:
                asked = self._ask(members[0].arm if members else None)
            else:
                break
            if members and (asked.key is None or asked.key != members[0].key):
                self._held.insert(0, asked)
                break
            members.append(asked)
            limit = min(limit, asked.fits)
            if asked.key is None:  # it runs alone
                break
        if not members:
            return Searcher.FINISHED
        self._packs[trial_id] = [m.trial for m in members]
        return {"pack": [m.spec for m in members]}

    def _ask(self, arm: str | None) -> _Asked:
        """The study's next trial (with ``arm`` fixed when given) as a trial spec."""
        if arm is not None:
            self._study.enqueue_trial({ARM_PARAM: arm})
        trial = self._study.ask()
        self._asked += 1
        config = self._space(trial)["trial"]
        spec = TrialSpec.from_dict(config)
        resolved = spec.config()
        key = pack_key(spec, resolved, self._policy)
        cap = memory_cap(resolved, self._policy) if key is not None else None
        return _Asked(trial, config, trial.params.get(ARM_PARAM), key, cap or self._members)

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        if result.get(FINAL) or "epoch" not in result:  # an epoch's, not members evaluated
            return
        step = int(result.get(TRAINING_ITERATION, 0))
        for trial, state in zip(self._packs[trial_id], _states(result, ended=False), strict=True):
            value = state.get("objective", math.nan)
            if state.get("state") == RUNNING and math.isfinite(value) and not _finished(self._study, trial):
                trial.report(value, step)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        trials = self._packs[trial_id]
        alone_raised = error and not (result and MEMBERS in result)
        states = [] if alone_raised or not result else _states(result, ended=True)
        states += [{}] * (len(trials) - len(states))  # no word of it: it failed with its pack
        for trial, state in zip(trials, states, strict=True):
            if _finished(self._study, trial):
                continue  # told before the driver was killed: see StoredStudySearch
            value = state.get("result", {}).get(OBJECTIVE, math.nan)
            if state.get("state") == FINISHED and math.isfinite(value):
                self._study.tell(trial, value)
            elif state.get("state") == STOPPED:
                self._study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            else:  # failed, diverged, or its pack ended in an error
                self._study.tell(trial, state=optuna.trial.TrialState.FAIL)

    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "wb") as file:
            pickle.dump(self.__dict__, file)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as file:
            self.__dict__.update(pickle.load(file))
