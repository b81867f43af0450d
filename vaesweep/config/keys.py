"""Dotted keys (``regulariser.target_kl``), the paper symbols that stand for them (``C``) and
the assignment of values to a configuration.

Symbols come from the fields' declarations (``Param.symbol``); a unique leaf name
(``keep_prob``) is accepted as well.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from vaesweep.config.fields import Param
from vaesweep.config.registry import schema_generation
from vaesweep.config.sections import METHOD_PARAM, SECTIONS, RunConfig
from vaesweep.errors import ConfigError
from vaesweep.plugins import load_plugins


def all_params() -> dict[str, Param]:
    """Every dotted key a configuration accepts, with its declaration (plugins' units included)."""
    load_plugins()
    return _all_params(schema_generation())


@cache
def _all_params(generation: int) -> dict[str, Param]:
    params = {"method": METHOD_PARAM}
    for name, section in SECTIONS.items():
        params.update({f"{name}.{leaf}": param for leaf, param in section.params().items()})
    return params


def all_keys() -> list[str]:
    return list(all_params())


def param_of(key: str) -> Param:
    """The declaration of a dotted key (or a symbol)."""
    return all_params()[canonical_key(key)]


def symbols() -> dict[str, str]:
    """Paper symbol -> dotted key, from the fields that declare one."""
    return _symbols(schema_generation())


@cache
def _symbols(generation: int) -> dict[str, str]:
    found: dict[str, str] = {}
    for key, param in all_params().items():
        if param.symbol:
            if param.symbol in found:
                raise ValueError(f"symbol {param.symbol!r} declared by {found[param.symbol]} and {key}")
            found[param.symbol] = key
    return found


def canonical_key(key: str) -> str:
    """Resolve a symbol or a unique leaf name (``keep_prob``) to its dotted key."""
    params = all_params()
    if key in params:
        return key
    aliases = symbols()
    if key in aliases:
        return aliases[key]
    matches = [k for k in params if k.split(".")[-1] == key]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise ConfigError(key, "", f"a full dotted key, one of {matches}")
    raise ConfigError(key, "", "a known field (see `vaesweep methods --fields`)")


def unflatten(flat: Mapping[str, Any]) -> dict[str, Any]:
    """Dotted keys or symbols -> nested sections."""
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        key = canonical_key(key)
        if "." in key:
            section, leaf = key.split(".", 1)
            nested.setdefault(section, {})[leaf] = value
        else:
            nested[key] = value
    return nested


def _flat_items(overrides: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """Accept nested sections ({'regulariser': {'beta': 1}}) as well as dotted keys."""
    items = []
    for key, value in overrides.items():
        if key in SECTIONS and isinstance(value, Mapping):
            items += [(f"{key}.{leaf}", leaf_value) for leaf, leaf_value in value.items()]
        else:
            items.append((key, value))
    return items


def apply_overrides(config: RunConfig, overrides: Mapping[str, Any]) -> RunConfig:
    """A copy of ``config`` with the given keys set (values coerced to the field's type, not
    validated); keys may be dotted, symbols, unique leaves or nested sections."""
    updated = RunConfig(config.method, **{name: _copy(getattr(config, name)) for name in SECTIONS})
    params = all_params()
    for key, value in _flat_items(overrides):
        dotted = canonical_key(key)
        coerced = params[dotted].coerce(dotted, value)
        if dotted == "method":
            updated.method = coerced
        else:
            section, leaf = dotted.split(".", 1)
            setattr(getattr(updated, section), leaf, coerced)
    return updated


def _copy(section):
    return type(section)(**section.to_dict())


def parse_assignments(assignments: list[str]) -> dict[str, str]:
    """``['C=15', 'posterior.keep_prob=0.8']`` -> dict, for ``--set``."""
    parsed: dict[str, str] = {}
    for item in assignments:
        if "=" not in item:
            raise ConfigError(item, item, "key=value")
        key, value = item.split("=", 1)
        parsed[key.strip()] = value.strip()
    return parsed
