"""What a method is, in one place: its units on each axis and default hyper-parameters, the grid
its paper swept, its Optuna space, how tables print it and which paper it comes from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from vaesweep.errors import ConfigError
from vaesweep.methods.space import Dimension

Grid = Mapping[str, tuple[Any, ...]]


@dataclass(frozen=True)
class Method:
    """A method preset.

    ``settings``: dotted keys fixing its units and defaults (applied after the data profile).
    ``hyperparameters``: the keys the method is about (``vaesweep methods`` shows them).
    ``grid``: the values its paper swept (``vaesweep sweep METHOD``); ``space``: the ranges of
    an Optuna search around that grid. ``label``: the row name tables print; ``paper``: the
    paper (or the baseline's own reference) it comes from.
    """

    name: str
    title: str
    source: str
    paper: str
    label: str
    settings: Mapping[str, Any]
    hyperparameters: tuple[str, ...] = ()
    grid: Grid = field(default_factory=dict)
    space: Mapping[str, Dimension] = field(default_factory=dict)
    data_kinds: tuple[str, ...] = ("image", "text")


class MethodRegistry(dict[str, Method]):
    """name -> Method; an unknown name is a ConfigError naming the known ones."""

    def __init__(self, methods: tuple[Method, ...]) -> None:
        super().__init__((m.name, m) for m in methods)

    def __missing__(self, name: str) -> Method:
        raise ConfigError("method", name, "one of " + ", ".join(self))

    def register(self, method: Method) -> Method:
        if method.name in self:
            raise ValueError(f"a method named {method.name!r} is already registered")
        self[method.name] = method
        return method
