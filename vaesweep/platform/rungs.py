"""ASHA per trial across a packed sweep: one rung board that packs and lone trials share.

Tune's ASHA stops Tune trials; in a packed sweep a Tune trial is a pack, and a decision must
stop one member, not the pack. So the sweep keeps the rungs itself, in one named Ray actor
(``RungBoard``): a pack asks it at the end of every epoch which of its members stop
(``fit_pack``'s ``should_stop`` then freezes them), and ``SweepASHA``, the sweep's Tune
scheduler, asks it for every result of a trial that runs alone. The rule is Tune's
asynchronous successive halving (ray/tune/schedulers/async_hyperband.py, one bracket, the
grace period and reduction factor of the unpacked path): rungs at grace * rf^k up to max_t;
a trial reaching a rung it has no value at is stopped when its value is worse than the
(1 - 1/rf) quantile of the values recorded there, and its value is recorded. A resumed sweep
starts a new board: the rungs fill again from the trials that still run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from ray.tune.schedulers import FIFOScheduler, TrialScheduler

from vaesweep.platform.trials import trial_key, trial_specs
from vaesweep.search_spaces.definitions import TrialSpec
from vaesweep.trainables import OBJECTIVE

GRACE_PERIOD = 1
REDUCTION_FACTOR = 4  # Tune's ASHAScheduler default, which the unpacked path uses
TIME_ATTR = "training_iteration"  # a trial's epoch (one result per epoch, then its final one)


class AshaRungs:
    """The rungs of one ASHA bracket over trial keys (``mode``: min or max of the values)."""

    def __init__(
        self,
        max_t: int,
        mode: str,
        grace_period: int = GRACE_PERIOD,
        reduction_factor: float = REDUCTION_FACTOR,
    ) -> None:
        self.max_t = max_t
        self.sign = -1.0 if mode == "min" else 1.0
        self.rf = reduction_factor
        count = int(np.log(max_t / grace_period) / np.log(reduction_factor) + 1)
        self.rungs: list[tuple[float, dict[str, float]]] = [
            (grace_period * reduction_factor**k, {}) for k in reversed(range(count))
        ]

    def stops(self, key: str, iteration: int, value: float) -> bool:
        """Whether trial ``key`` stops at ``iteration`` with ``value`` (recording it at its rung)."""
        if iteration >= self.max_t:
            return True
        reward = self.sign * value
        for milestone, recorded in self.rungs:  # the highest rung first
            if iteration < milestone or key in recorded:
                continue
            cutoff = np.nanpercentile(list(recorded.values()), (1 - 1 / self.rf) * 100) if recorded else None
            recorded[key] = reward
            return bool(cutoff is not None and reward < cutoff)
        return False

    def decide(self, entries: Sequence[tuple[str, int, float]]) -> list[bool]:
        """``stops`` for each (key, iteration, value), in order."""
        return [self.stops(key, iteration, value) for key, iteration, value in entries]


_BOARDS: dict[str, Any] = {}  # the driver's handles: a Ray actor lives while its handle does


def start_board(name: str, max_t: int, mode: str) -> None:
    """Start the sweep's rung board as the named Ray actor ``name`` (call it once Ray is up);
    it lives until ``stop_board``."""
    import ray

    actor = ray.remote(num_cpus=0)(AshaRungs).options(name=name, get_if_exists=True)
    _BOARDS[name] = actor.remote(max_t, mode)


def stop_board(name: str) -> None:
    """Let the board ``name`` go (its rungs are no longer needed)."""
    _BOARDS.pop(name, None)


def _ask(name: str, entries: list[tuple[str, int, float]]) -> list[bool]:
    import ray

    return ray.get(ray.get_actor(name).decide.remote(entries))


@dataclass(frozen=True)
class MemberRungs:
    """The packs' ``StopMembers`` (vaesweep.trainables.pack_trial): asks the board by name
    (picklable: Tune ships it to every worker)."""

    board: str

    def __call__(self, results: Sequence[tuple[TrialSpec, int, float]]) -> list[bool]:
        return _ask(self.board, [(trial_key(spec), epoch, value) for spec, epoch, value in results])


class SweepASHA(FIFOScheduler):
    """The sweep's Tune scheduler when packs run ASHA: a trial that runs alone is stopped by
    the board's decision; a pack is never stopped (its members are, inside it)."""

    def __init__(self, board: str) -> None:
        super().__init__()
        self.board = board

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict) -> str:
        specs = trial_specs(trial)
        if len(specs) > 1 or TIME_ATTR not in result or OBJECTIVE not in result:
            return TrialScheduler.CONTINUE
        key = trial_key(TrialSpec.from_dict(specs[0]))
        stop = _ask(self.board, [(key, int(result[TIME_ATTR]), float(result[OBJECTIVE]))])[0]
        return TrialScheduler.STOP if stop else TrialScheduler.CONTINUE
