"""The experiment presets, one module per paper (and the demo), in one registry.

``EXPERIMENTS`` maps a preset's name to its ``Experiment``; looking up a name it does not hold
raises ``ConfigError`` naming the presets that exist. A new table preset is one ``Experiment``
in its paper's ``PRESETS`` (its layout and report tables are fields of the experiment).
"""

from __future__ import annotations

from collections.abc import Iterable

from vaesweep.errors import ConfigError
from vaesweep.search_spaces.definitions import Experiment
from vaesweep.search_spaces.presets import arelbo, demo, dgvae, duvae, igp


class ExperimentRegistry(dict[str, Experiment]):
    """Preset name -> experiment; an unknown name is a ConfigError, not a KeyError."""

    def __init__(self, experiments: Iterable[Experiment]) -> None:
        super().__init__()
        for experiment in experiments:
            if experiment.name in self:
                raise ValueError(f"two experiment presets are named {experiment.name!r}")
            self[experiment.name] = experiment

    def __missing__(self, name: str) -> Experiment:
        raise ConfigError("preset", name, "one of " + ", ".join(self))


EXPERIMENTS = ExperimentRegistry(
    experiment for paper in (igp, duvae, dgvae, arelbo, demo) for experiment in paper.PRESETS
)


def experiment(name: str) -> Experiment:
    """The preset ``name`` (ConfigError naming the presets if there is none)."""
    return EXPERIMENTS[name]
