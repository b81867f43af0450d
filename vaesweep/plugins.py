"""Units, methods and experiments from outside vaesweep.

The modules named in ``$VAESWEEP_PLUGINS`` (comma-separated import paths) are imported before
the configuration schema is first read, in every process that reads it: the CLI, a sweep's
driver and each Ray worker. A sweep passes the variable, and a ``PYTHONPATH`` that finds the
plugins where the driver found them, to its workers (``worker_environment``); on a cluster the
plugin files must be at the same paths on every node. A plugin registers its units with the
registries (``REGULARISERS.register(MyRegulariser)``), its methods with ``METHODS.register``
and its experiments with the experiment registry, and is then used like a built-in one.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

from vaesweep.errors import ConfigError

ENVIRONMENT_VARIABLE = "VAESWEEP_PLUGINS"


def plugin_names() -> list[str]:
    """The module names ``$VAESWEEP_PLUGINS`` lists."""
    return [name.strip() for name in os.environ.get(ENVIRONMENT_VARIABLE, "").split(",") if name.strip()]


def load_plugins() -> None:
    """Import every plugin module named in the environment (a module imported once is not
    imported again: Python keeps it in ``sys.modules``)."""
    for name in plugin_names():
        if name not in sys.modules:
            try:
                importlib.import_module(name)
            except ImportError as error:
                raise ConfigError(
                    ENVIRONMENT_VARIABLE, name, f"modules Python can import (sys.path); importing it: {error}"
                ) from error


def worker_environment() -> dict[str, str]:
    """The environment variables a Ray worker needs to import this process's plugins: the
    plugin list, and ``PYTHONPATH`` led by the directory each plugin's top-level package was
    imported from (workers do not share the driver's ``sys.path``). Empty without plugins."""
    names = plugin_names()
    if not names:
        return {}
    load_plugins()
    roots: list[str] = []
    for name in names:
        path = Path(sys.modules[name].__file__).resolve()
        levels = name.count(".") + (2 if path.stem == "__init__" else 1)  # up to the package root
        root = str(path.parents[levels - 1])
        if root not in roots:
            roots.append(root)
    inherited = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p not in roots]
    return {ENVIRONMENT_VARIABLE: ",".join(names), "PYTHONPATH": os.pathsep.join(roots + inherited)}
