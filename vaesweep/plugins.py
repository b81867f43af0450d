"""Units, methods and experiments from outside vaesweep.

The modules named in ``$VAESWEEP_PLUGINS`` (comma-separated import paths) are imported before
the configuration schema is first read, in every process that reads it: the CLI, a sweep's
driver and each Ray worker (local workers inherit the driver's environment; on a cluster, set
the variable on every node). A plugin registers its units with the registries
(``REGULARISERS.register(MyRegulariser)``), its methods with ``METHODS.register`` and its
experiments with the experiment registry, and is then used like a built-in one.
"""

from __future__ import annotations

import importlib
import os

ENVIRONMENT_VARIABLE = "VAESWEEP_PLUGINS"
_loaded: set[str] = set()


def load_plugins() -> None:
    """Import every plugin module named in the environment that is not imported yet."""
    for name in os.environ.get(ENVIRONMENT_VARIABLE, "").split(","):
        name = name.strip()
        if name and name not in _loaded:
            _loaded.add(name)
            importlib.import_module(name)
