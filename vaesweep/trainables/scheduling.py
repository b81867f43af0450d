"""What a pack asks the sweep's scheduler, as the platform hands it over: a callback.

ASHA's decisions apply per trial; in a pack a trial is a member, so after every epoch the pack
asks the sweep (vaesweep.platform.rungs implements it over a shared rung board) which of its
members stop, and ``fit_pack`` freezes those.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from vaesweep.search_spaces.definitions import TrialSpec


class StopMembers(Protocol):
    """Given members' (spec, epoch, epoch objective) after an epoch, whether each stops now."""

    def __call__(self, results: Sequence[tuple[TrialSpec, int, float]]) -> list[bool]: ...
