"""Errors that callers are expected to catch and report, each with the context they need."""

from __future__ import annotations

from typing import Any


class ConfigError(ValueError):
    """A run configuration is invalid; raised before any data is loaded.

    The message always names the field, the bad value and what is allowed, so the CLI can
    print it as one line and a sweep can reject a trial before it costs anything.
    """

    def __init__(self, field: str, value: Any, allowed: str) -> None:
        self.field = field
        self.value = value
        self.allowed = allowed
        super().__init__(f"{field}={value!r} is invalid: allowed {allowed}")

    def __reduce__(self):  # a worker's error reaches the driver whole (Ray pickles it)
        return (type(self), (self.field, self.value, self.allowed))


class DataError(ValueError):
    """A data file is missing or malformed; names the file (and line, where there is one)."""


class DivergedError(RuntimeError):
    """Training produced a NaN or infinite loss.

    Carries the epoch at which it happened and the metrics of the last good epoch, so a sweep
    can record why the trial ended and what it had reached.
    """

    def __init__(self, epoch: int, last_metrics: dict[str, float], detail: str = "") -> None:
        self.epoch = epoch
        self.last_metrics = dict(last_metrics)
        message = f"training diverged at epoch {epoch} (non-finite loss)"
        if detail:
            message += f": {detail}"
        super().__init__(message)

    def __reduce__(self):  # keeps the fields when the error crosses a process boundary (Ray)
        return (type(self), (self.epoch, self.last_metrics, ""))
