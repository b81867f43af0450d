"""Units and their registries: one name -> class table per axis, which refuses unknown names.

A unit is one choice on one axis (a posterior family, a regulariser, a likelihood, a prior, a
KL schedule, ...). It declares the fields it reads (``fields``: name -> ``Param``) and the
combinations it cannot run in (``check``). The configuration is derived from these
declarations: the axis's allowed values are the registered names, the section's fields are
the union of its units' fields, and a field set away from its default while the axis has
chosen a unit that does not read it is an error ("this field does nothing for this method").

Declarations import no torch, so validation and sweep planning never load it; a unit that
needs a network builds it on demand (its ``build``), importing the torch module then.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from vaesweep.config.fields import Param
from vaesweep.errors import ConfigError

if TYPE_CHECKING:
    from vaesweep.config.sections import RunConfig
    from vaesweep.data.registry import DatasetInfo


class Unit:
    """One choice on one axis. Subclasses set ``name``, ``fields`` and a docstring that cites
    the paper and equation they implement."""

    name: ClassVar[str]
    fields: ClassVar[Mapping[str, Param]] = {}

    @classmethod
    def check(cls, config: RunConfig, data: DatasetInfo) -> None:
        """Raise ConfigError for a combination this unit cannot run in (after range checks)."""

    @classmethod
    def summary(cls) -> str:
        """The first line of the docstring: what the unit is and where it comes from."""
        return (cls.__doc__ or cls.name).strip().splitlines()[0]


U = TypeVar("U", bound=type[Unit])
_generation = 0  # bumped whenever a registry changes: the derived schema is cached per generation


def schema_generation() -> int:
    """Changes whenever a unit is registered or removed (so cached schemas know to rebuild)."""
    return _generation


def _changed() -> None:
    global _generation
    _generation += 1


class Registry:
    """The units of one axis, under the configuration key that selects one (``regulariser.kind``).

    ``default`` is the key's default; ``extra_choices`` are values the key accepts that are not
    units (``likelihood.kind=auto``), which ``resolve`` maps to the unit a configuration uses.
    """

    def __init__(
        self,
        key: str,
        doc: str,
        default: str,
        units: Iterable[type[Unit]] = (),
        extra_choices: tuple[str, ...] = (),
        resolve: Callable[[RunConfig], str] | None = None,
    ) -> None:
        self.key = key
        self.doc = doc
        self.default = default
        self.extra_choices = extra_choices
        self.resolve = resolve
        self.units: dict[str, type[Unit]] = {}
        for unit in units:
            self.register(unit)

    def register(self, unit: U) -> U:
        """Add ``unit`` (usable as a class decorator). A field it shares with another unit must be
        the same declaration, so no two units can disagree on a field's default or range."""
        if unit.name in self.units or unit.name in self.extra_choices:
            raise ValueError(f"{self.key}: a unit named {unit.name!r} is already registered")
        known = self.params()
        for field, param in unit.fields.items():
            if field in known and known[field] is not param:
                raise ValueError(f"{self.key}: {unit.name} declares {field!r} differently from another unit")
        self.units[unit.name] = unit
        _changed()
        return unit

    def unregister(self, name: str) -> None:
        """Remove a unit (tests that register a toy unit clean up after themselves)."""
        del self.units[name]
        _changed()

    def names(self) -> tuple[str, ...]:
        return tuple(self.units)

    def get(self, name: str) -> type[Unit]:
        """The unit registered as ``name``; ConfigError naming the allowed names otherwise."""
        if name not in self.units:
            raise ConfigError(self.key, name, "one of " + ", ".join((*self.extra_choices, *self.units)))
        return self.units[name]

    def __getitem__(self, name: str) -> type[Unit]:
        return self.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self.units

    def selected(self, config: RunConfig) -> type[Unit]:
        """The unit ``config`` uses on this axis."""
        if self.resolve is not None:
            return self.get(self.resolve(config))
        section, leaf = self.key.split(".", 1)
        return self.get(getattr(getattr(config, section), leaf))

    def selector(self) -> Param:
        """The declaration of the key that selects a unit."""
        lines = [self.doc] + [f"{name}: {unit.summary()}" for name, unit in self.units.items()]
        return Param(self.default, "; ".join(lines), choices=(*self.extra_choices, *self.units))

    def params(self) -> dict[str, Param]:
        """Every field some unit declares (one declaration per name)."""
        merged: dict[str, Param] = {}
        for unit in self.units.values():
            merged.update(unit.fields)
        return merged

    def owners(self, field: str) -> tuple[str, ...]:
        """The units that read ``field``."""
        return tuple(name for name, unit in self.units.items() if field in unit.fields)


def declared_fields(registries: Iterable[Registry]) -> dict[str, Any]:
    """The leaf fields of a section's registries: each selector, then its units' fields."""
    fields: dict[str, Param] = {}
    for registry in registries:
        fields[registry.key.split(".", 1)[1]] = registry.selector()
        fields.update(registry.params())
    return fields
