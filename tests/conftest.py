"""The whole suite runs in a world of its own, whatever the machine holds: an empty data cache,
run directory and Tune storage of the session's own, no tracking server or credentials from the
environment, no kill point. Set before any test (and so before any Ray worker or tracking server
a test starts, which inherit the environment); a test may narrow it further (tests/paper gives
each test its own cache)."""

from __future__ import annotations

import warnings

import pytest
import torch

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


class ChannelMeans(torch.nn.Module):
    """A stand-in FID feature network: the mean of each colour channel, [N, 3]."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3))


@pytest.fixture
def one_thread():
    """Loops over tiny tensors, where OpenMP's intra-op threads only contend (on a busy 2-core
    machine, 40x slower): one thread keeps them fast and predictable."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def stand_in_network(tmp_path):
    """A TorchScript file of ``ChannelMeans``, for ``eval.fid_network``."""
    path = tmp_path / "features.pt"
    with warnings.catch_warnings():  # TorchScript is deprecated in torch 2.13, and what FID files use
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.script(ChannelMeans()).save(str(path))
    return str(path)
