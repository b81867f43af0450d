"""Starting a run from another run's final model: the declared mappings of what carries over.

A staged trial (an experiment arm with ``start_from``, IGP Table 7) begins with the parameters
of the model another trial evaluated, mapped onto its own architecture by a named mapping:

- ``same``: every tensor as it is; the architectures must match.
- ``untie_variances``: an isotropic posterior's single log-variance unit (IGP) becomes every
  unit of a diagonal one (DGP): its weights and bias are copied to each of the dim(z) rows, so
  the untied model starts out computing the same posterior (IGP section 5.2, "using its
  weights, we untie variances to initialize a DGP model"); everything else as it is.

Nothing carries over but the model: the optimiser, the schedules and the step count start
afresh. The declarations import no torch (the planner checks a mapping before Ray starts).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vaesweep.errors import ConfigError

if TYPE_CHECKING:
    from torch import Tensor

    from vaesweep.config import RunConfig

MAPPINGS: dict[str, str] = {
    "same": "every parameter as it is (the same architecture)",
    "untie_variances": "an isotropic posterior's log-variance unit copied to every unit of a diagonal one",
}
_LOGVAR = ("logvar.weight", "logvar.bias")  # the posterior heads' log-variance layer


@dataclass(frozen=True)
class WarmStart:
    """Where a run starts from: another run's final checkpoint, and the mapping to apply."""

    checkpoint: str | Path
    mapping: str = "same"


def check_mapping(mapping: str, source: RunConfig, target: RunConfig, key: str = "start_from") -> None:
    """ConfigError unless ``mapping`` is declared and carries ``source``'s model to ``target``'s."""
    if mapping not in MAPPINGS:
        raise ConfigError(f"{key}.mapping", mapping, "one of " + ", ".join(MAPPINGS))
    families = (source.posterior.family, target.posterior.family)
    if mapping == "untie_variances" and families != ("isotropic", "diagonal"):
        raise ConfigError(
            f"{key}.mapping",
            mapping,
            f"same: untie_variances maps an isotropic posterior to a diagonal one, not {families[0]} "
            f"to {families[1]}",
        )
    if mapping == "same" and families[0] != families[1]:
        raise ConfigError(
            f"{key}.mapping", mapping, f"a mapping from a {families[0]} posterior to a {families[1]} one"
        )
    flat_source, flat_target = source.flatten(), target.flatten()
    architecture = [key for key in flat_target if key.startswith("model.")]
    architecture += ["posterior.flow", "prior.kind", "likelihood.kind", "likelihood.variance"]
    for field in architecture:
        if flat_source[field] != flat_target[field]:
            raise ConfigError(
                field,
                flat_target[field],
                f"{flat_source[field]}, the value of the run it starts from (a warm start keeps the "
                "architecture)",
            )


def mapped_state(mapping: str, source: Mapping[str, Tensor], target: Mapping[str, Any]) -> dict[str, Tensor]:
    """``source`` (the finished run's model state) laid onto ``target``'s keys and shapes."""
    if mapping not in MAPPINGS:
        raise ValueError(f"unknown warm-start mapping {mapping!r}; one of {', '.join(MAPPINGS)}")
    missing = set(target) ^ set(source)
    if missing:
        raise ValueError(f"{mapping}: the two models' parameters differ: {sorted(missing)}")
    mapped = {}
    for key, value in target.items():
        given = source[key]
        if given.shape == value.shape:
            mapped[key] = given.clone()
        elif mapping == "untie_variances" and key.endswith(_LOGVAR) and given.shape[0] == 1:
            mapped[key] = given.expand_as(value).clone()
        else:
            raise ValueError(
                f"{mapping}: {key} has shape {tuple(given.shape)}, expected {tuple(value.shape)}"
            )
    return mapped
