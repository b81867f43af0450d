"""The local tracking store: an ``mlflow server`` over SQLite and an artifact directory in the
project's run directory (``runs/``), on 127.0.0.1.

Trials log to it over HTTP, so one process owns the database and concurrent trials cannot
corrupt it (a SQLite file written by many processes can be locked or torn). A sweep starts it
on a free port for its duration (``TrackingServer``); ``vaesweep ui`` serves the same store.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

DEFAULT_RUNS_DIR = "runs"
DATABASE = "mlflow.db"
ARTIFACTS = "mlartifacts"
LOG = "mlflow-server.log"
_PR_SET_PDEATHSIG = 1


def runs_dir(path: str | Path | None = None) -> Path:
    """The run directory: ``path``, else $VAESWEEP_RUNS_DIR, else ./runs."""
    return Path(path or os.environ.get("VAESWEEP_RUNS_DIR") or DEFAULT_RUNS_DIR).resolve()


def server_command(directory: Path, host: str, port: int, workers: int = 1) -> list[str]:
    """``mlflow server`` on the store in ``directory``, serving (proxying) its artifacts."""
    return [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        f"sqlite:///{directory / DATABASE}",
        "--artifacts-destination",
        str(directory / ARTIFACTS),
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]


def server_environment() -> dict[str, str]:
    # MLflow 3's GenAI job runner (a pool of huey consumers) serves nothing a sweep needs and
    # costs seconds of start-up and several processes on a small machine.
    return {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:  # pragma: no cover - runs in the forked child
    """Linux: the server gets SIGTERM when the sweep that started it dies, even by SIGKILL."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _fate_sharing() -> Callable[[], None] | None:
    # The kernel sends the parent-death signal when the *thread* that started the child ends,
    # so only the main thread (the CLI's) can tie the server's life to its own.
    if sys.platform == "linux" and threading.current_thread() is threading.main_thread():
        return _die_with_parent
    return None


def wait_healthy(uri: str, timeout_s: float, process: subprocess.Popen | None = None) -> None:
    """Poll ``/health`` until the server answers; RuntimeError if it exits or times out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"mlflow server exited with status {process.returncode}")
        try:
            with urllib.request.urlopen(f"{uri}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.25)
    raise RuntimeError(f"mlflow server at {uri} did not answer within {timeout_s:.0f}s")


class TrackingServer:
    """``mlflow server`` on the local store, for as long as the ``with`` block lasts."""

    def __init__(
        self,
        directory: str | Path | None = None,
        host: str = "127.0.0.1",
        port: int | None = None,
        workers: int = 1,
    ) -> None:
        self.directory = runs_dir(directory)
        self.host = host
        self.port = port or free_port(host)
        self.workers = workers
        self.process: subprocess.Popen | None = None

    @property
    def uri(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout_s: float = 180.0) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        log = open(self.directory / LOG, "ab")  # noqa: SIM115 - the server process owns it
        self.process = subprocess.Popen(
            server_command(self.directory, self.host, self.port, self.workers),
            stdout=log,
            stderr=subprocess.STDOUT,
            env=server_environment(),
            start_new_session=True,  # its own process group, stopped as one
            preexec_fn=_fate_sharing(),
        )
        log.close()
        try:
            wait_healthy(self.uri, timeout_s, self.process)
        except RuntimeError as error:
            self.stop()
            raise RuntimeError(f"{error}; see {self.directory / LOG}") from None
        return self.uri

    def stop(self, timeout_s: float = 20.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def serve(self) -> int:
        """Serve until interrupted (``vaesweep ui``); the server never outlives this process."""
        self.start()
        try:
            return self.process.wait()
        except KeyboardInterrupt:
            return 0
        finally:
            self.stop()

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
