"""The whole suite runs in a world of its own, whatever the machine holds: an empty data cache,
run directory and Tune storage of the session's own, no tracking server or credentials from the
environment, no kill point. Set before any test (and so before any Ray worker or tracking server
a test starts, which inherit the environment); a test may narrow it further (tests/paper gives
each test its own cache)."""

from __future__ import annotations

import pytest

from vaesweep.data.cache import ENV_VAR as DATA_CACHE_ENV
from vaesweep.faults import DRIVER_PID_ENV, KILL_AT_ENV

FROM_THE_MACHINE = (
    "MLFLOW_TRACKING_URI",
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
    "VAESWEEP_STORAGE",
    KILL_AT_ENV,
    DRIVER_PID_ENV,
)


@pytest.fixture(scope="session", autouse=True)
def isolated_environment(tmp_path_factory):
    root = tmp_path_factory.mktemp("isolated")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(DATA_CACHE_ENV, str(root / "cache"))
        patch.setenv("VAESWEEP_RUNS_DIR", str(root / "runs"))
        for name in FROM_THE_MACHINE:
            patch.delenv(name, raising=False)
        yield root
