"""Each method's hyper-parameter grid as its paper swept it.

``vaesweep sweep METHOD`` runs the grid on one data set (``method_experiment``), the same way
a table preset runs its arms, so a method sweep and a table sweep share one code path from
``expand`` to MLflow. Keys are dotted config keys; every grid point validates on the embedded
data sets (tests/search_spaces/test_grids.py).
"""

from __future__ import annotations

from vaesweep.errors import ConfigError
from vaesweep.methods import METHODS, Grid
from vaesweep.search_spaces.definitions import Arm, Experiment

# Each method's grid lives in its spec (vaesweep.methods); this is the view by name.
PAPER_GRIDS: dict[str, Grid] = {name: method.grid for name, method in METHODS.items()}

# What a method sweep reports (a table preset names its own).
METHOD_SWEEP_METRICS = ("nll", "rec", "kl", "elbo", "mi", "au", "cu")


def paper_grid(method: str) -> Grid:
    """The grid ``method``'s paper swept (empty for a method without hyper-parameters to sweep)."""
    if method not in PAPER_GRIDS:
        raise ConfigError("method", method, "one of " + ", ".join(PAPER_GRIDS))
    return PAPER_GRIDS[method]


def method_experiment(method: str, dataset: str = "digits", seeds: tuple[int, ...] = (0, 1, 2)) -> Experiment:
    """The method's paper grid on one data set, as an experiment that ``expand`` and the sweep run."""
    grid = paper_grid(method)
    return Experiment(
        name=method,
        title=f"{METHODS[method].title}: its paper's grid on {dataset}",
        datasets=(dataset,),
        arms=(Arm(method, method, grid=grid),),
        seeds=seeds,
        metrics=METHOD_SWEEP_METRICS,
    )
