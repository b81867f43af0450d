"""A configuration field, declared once where it belongs: its default, what it means, what is
allowed, the paper's symbol for it and its role in packing.

The role says whether trials that differ in the field can share a pack (vaesweep.packing):
a *structural* field changes tensor shapes or the sequence of operations (the architecture,
the latent size, a regulariser's kind, |b|); a *per-trial* field is a number each packed member
can hold as its own tensor (beta, C, gamma, p, the learning rate, the seed). A per-trial field
whose value also switches an operation on or off (the bag-of-words head exists only when its
weight is above 0) declares that switch as ``structure``, so the switch, not the value, enters
the signature. A switch a pack can emulate per member stays out of it (p = 1: that member's
variance dropout draws nothing, vaesweep.packing.noise.keep_mask).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from vaesweep.errors import ConfigError

STRUCTURAL = "structural"
PER_TRIAL = "per_trial"
ROLES = (STRUCTURAL, PER_TRIAL)


@dataclass(frozen=True, eq=False)
class Param:
    """One field: ``default``, ``doc`` and the allowed values, in one declaration.

    ``choices`` lists the allowed values, or ``ge``/``gt``/``le`` bound a number; ``symbol`` is
    the paper's name accepted by ``--set`` (``C``, ``p``, ``|b|`` as ``b``); ``role`` is
    STRUCTURAL or PER_TRIAL (see the module docstring) and ``structure`` maps a per-trial value
    to the structural switch it implies.
    """

    default: Any
    doc: str
    choices: tuple[Any, ...] | None = None
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    symbol: str | None = None
    role: str = STRUCTURAL
    structure: Callable[[Any], Any] | None = None
    normalise: Callable[[str], str] | None = None  # accepted spellings -> the canonical one

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, not {self.role!r}")
        if isinstance(self.default, list):
            object.__setattr__(self, "default", tuple(self.default))

    @property
    def per_trial(self) -> bool:
        return self.role == PER_TRIAL

    def allowed(self) -> str:
        """What the field accepts, in words (for errors and ``vaesweep methods --fields``)."""
        if self.choices is not None:
            return "one of " + ", ".join(map(str, self.choices))
        bounds = []
        if self.gt is not None:
            bounds.append(f"> {self.gt}")
        if self.ge is not None:
            bounds.append(f">= {self.ge}")
        if self.le is not None:
            bounds.append(f"<= {self.le}")
        return " and ".join(bounds) or "any value of its type"

    def check(self, key: str, value: Any) -> None:
        """ConfigError unless ``value`` is allowed (choices, bounds, finiteness)."""
        if self.choices is not None:
            if value not in self.choices:
                raise ConfigError(key, value, self.allowed())
            return
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return
        if not math.isfinite(value):
            raise ConfigError(key, value, "a finite number")
        ok = (
            (self.gt is None or value > self.gt)
            and (self.ge is None or value >= self.ge)
            and (self.le is None or value <= self.le)
        )
        if not ok:
            raise ConfigError(key, value, self.allowed())

    def signature_part(self, value: Any) -> Any:
        """What of ``value`` trials must share to train in one pack."""
        if not self.per_trial:
            return value
        return self.structure(value) if self.structure is not None else None

    def coerce(self, key: str, value: Any) -> Any:
        """Cast ``value`` (often a string from the CLI or MLflow) to the type of the default."""
        current = self.default
        if self.normalise is not None and isinstance(value, str):
            value = self.normalise(value)
        try:
            if isinstance(current, bool):
                return _as_bool(value)
            if isinstance(current, int):
                number = float(value)
                if not number.is_integer():
                    raise ValueError(value)
                return int(number)
            if isinstance(current, float):
                return float(value)
            if isinstance(current, tuple):
                if isinstance(value, str):
                    items = [v for v in value.strip("()[] ").split(",") if v.strip()]
                else:
                    items = list(value)
                kind = type(current[0]) if current else float
                return tuple(kind(v) for v in items)
            if isinstance(current, str):
                if not isinstance(value, str):
                    raise ValueError(value)
                return value
        except (TypeError, ValueError):
            raise ConfigError(key, value, f"a value of type {type(current).__name__}") from None
        return value

    def field(self) -> dataclasses.Field:
        """A dataclass field holding this declaration in its metadata."""
        if isinstance(self.default, tuple):
            default = self.default
            return dataclasses.field(default_factory=lambda: default, metadata={"param": self})
        return dataclasses.field(default=self.default, metadata={"param": self})


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "1", "yes", "on"):
            return True
        if lowered in ("false", "0", "no", "off"):
            return False
    elif isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    raise ValueError(value)
