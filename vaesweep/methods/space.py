"""The dimensions of an Optuna search space, as data (Optuna itself is imported by the searcher).

A method's spec lists its hyper-parameters' ranges with these; ``suggest`` asks a trial for a
value, ``corners`` are the values validation checks before a sweep starts (a sampled value
cannot be checked until it is drawn).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FloatRange:
    low: float
    high: float
    log: bool = False

    def suggest(self, trial: Any, name: str) -> float:
        return trial.suggest_float(name, self.low, self.high, log=self.log)

    def corners(self) -> tuple[float, ...]:
        return (self.low, self.high)


@dataclass(frozen=True)
class IntRange:
    low: int
    high: int
    log: bool = False

    def suggest(self, trial: Any, name: str) -> int:
        return trial.suggest_int(name, self.low, self.high, log=self.log)

    def corners(self) -> tuple[int, ...]:
        return (self.low, self.high)


@dataclass(frozen=True)
class Choice:
    options: tuple[Any, ...]

    def suggest(self, trial: Any, name: str) -> Any:
        return trial.suggest_categorical(name, self.options)

    def corners(self) -> tuple[Any, ...]:
        return self.options


Dimension = FloatRange | IntRange | Choice
