"""Resolution: defaults, then the data set's profile, then the method preset, then overrides."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vaesweep.config.keys import apply_overrides, canonical_key
from vaesweep.config.rules import baseline, validate
from vaesweep.config.sections import RunConfig
from vaesweep.errors import ConfigError
from vaesweep.plugins import load_plugins


def resolve_config(
    method: str, dataset: str = "digits", overrides: Mapping[str, Any] | None = None
) -> RunConfig:
    """Defaults, then the data set's profile, then the method preset, then ``overrides``.

    Validated before anything is loaded; raises ConfigError naming the first bad field.
    """
    from vaesweep.data.registry import dataset_info
    from vaesweep.methods import METHODS

    load_plugins()
    if method not in METHODS:
        raise ConfigError("method", method, "one of " + ", ".join(METHODS))
    overrides = dict(overrides or {})
    for key in list(overrides):
        if canonical_key(key) == "data.name":
            dataset = str(overrides.pop(key))
    dataset_info(dataset)  # built-in or added to the cache, else ConfigError
    config = apply_overrides(baseline(dataset), {"method": method, **METHODS[method].settings})
    config = apply_overrides(config, overrides)
    if config.model.architecture == "auto":
        config.model.architecture = dataset_info(dataset).architecture
    return validate(config)
