"""What a trainable logs to, as the platform hands it over: a callback, not an import.

The platform builds an ``OpenTracker`` (picklable: Tune ships it to every worker) and passes
it to the trainable with ``tune.with_parameters``; the trainable calls it once per trained
model — once per trial, or once per member of a packed trial — and reports through the
``TrialTracker`` it returns. vaesweep.platform.tracking implements both over MLflow.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from vaesweep.config import RunConfig
from vaesweep.search_spaces.definitions import TrialSpec


class TrialTracker(Protocol):
    """One trained model's record (its MLflow child run)."""

    def open(self) -> dict[str, float] | None:
        """Create the record, or continue the one an earlier attempt left (a retry, a resumed
        sweep). Returns the final metrics instead, untouched, when an earlier attempt already
        finished this trial: its results stand and it must not train again."""
        ...

    def log_epoch(self, epoch: int, metrics: Mapping[str, float]) -> None:
        """One epoch's metrics; an epoch already recorded is skipped (a replay from a checkpoint)."""
        ...

    def finish(self, metrics: Mapping[str, float], artifacts_dir: Path, checkpoint: Path) -> None:
        """Final metrics and artifacts; returns once they are recorded."""
        ...

    def fail(self, error: BaseException) -> None:
        """Record why training raised (best effort: Tune records it too)."""
        ...

    def fetch_checkpoint(self, run_id: str, file_name: str, directory: Path) -> Path:
        """The final checkpoint ``file_name`` that the finished run ``run_id`` recorded, copied
        into ``directory`` (a staged trial starts from it)."""
        ...


class OpenTracker(Protocol):
    """Builds the tracker of one trained model: its spec and configuration, the Tune trial it
    runs in, the epoch it resumes from (None: from the start) and tags beside the platform's
    own (a pack member's ``pack`` tags)."""

    def __call__(
        self,
        spec: TrialSpec,
        config: RunConfig,
        trial_id: str,
        resumed_from_epoch: int | None,
        tags: Mapping[str, str] | None = None,
    ) -> TrialTracker: ...
