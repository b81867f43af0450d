"""The validated configuration of one training run.

A run is a method preset (vaesweep.methods) on a data set (its profile sets architecture,
optimisation and schedule: vaesweep.data.registry), with any field overridden by dotted key
(``regulariser.target_kl=15``) or by the papers' symbol (``C=15``). Every field is declared
once, by the unit that reads it or by its section (``Param``: default, doc, allowed values,
symbol, packing role), and validation, ``vaesweep methods``, the CLI's symbols and the packing
signature read those declarations. ``resolve_config`` validates before any data is loaded.

  fields.py    Param: one declared field
  registry.py  Unit and Registry: the choices of an axis, refusing unknown names
  sections.py  the sections and RunConfig
  keys.py      dotted keys, symbols, assigning values
  rules.py     validation
  resolve.py   defaults -> profile -> preset -> overrides
"""

from vaesweep.config.fields import PER_TRIAL, STRUCTURAL, Param
from vaesweep.config.keys import (
    all_keys,
    all_params,
    apply_overrides,
    canonical_key,
    param_of,
    parse_assignments,
    symbols,
    unflatten,
)
from vaesweep.config.registry import Registry, Unit
from vaesweep.config.resolve import resolve_config
from vaesweep.config.rules import validate
from vaesweep.config.sections import (
    SECTIONS,
    AnnealingConfig,
    DataConfig,
    EvalConfig,
    LikelihoodConfig,
    ModelConfig,
    OptimConfig,
    PosteriorConfig,
    PriorConfig,
    RegulariserConfig,
    RunConfig,
    Section,
    TrainConfig,
)
from vaesweep.errors import ConfigError

__all__ = [
    "PER_TRIAL",
    "SECTIONS",
    "STRUCTURAL",
    "AnnealingConfig",
    "ConfigError",
    "DataConfig",
    "EvalConfig",
    "LikelihoodConfig",
    "ModelConfig",
    "OptimConfig",
    "Param",
    "PosteriorConfig",
    "PriorConfig",
    "Registry",
    "RegulariserConfig",
    "RunConfig",
    "Section",
    "TrainConfig",
    "Unit",
    "all_keys",
    "all_params",
    "apply_overrides",
    "canonical_key",
    "param_of",
    "parse_assignments",
    "resolve_config",
    "symbols",
    "unflatten",
    "validate",
]
