"""The local tracking store: an ``mlflow server`` over a database (SQLite in the project's run
directory ``runs/`` by default, or PostgreSQL) and an artifact directory there, on 127.0.0.1.

Trials log to it over HTTP, so one process owns the database and concurrent trials cannot
corrupt it (a SQLite file written by many processes can be locked or torn). A sweep starts it
on a free port for its duration (``TrackingServer``); ``vaesweep ui`` serves the same store.
With ``auth`` the server runs MLflow's basic-auth app: every request needs the credentials in
$MLFLOW_TRACKING_USERNAME / $MLFLOW_TRACKING_PASSWORD (the first start makes them its admin).
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.metadata
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from vaesweep.errors import ConfigError

DEFAULT_RUNS_DIR = "runs"
DATABASE = "mlflow.db"
AUTH_DATABASE = "mlflow-auth.db"
AUTH_CONFIG = "mlflow-auth.ini"
# MLflow checks a request's password against its PBKDF2 hash, 0.25-0.4 s on 2 cores, on every
# request unless told to remember a success: a sweep's hundreds of requests took minutes. A
# remembered success (kept under a per-process HMAC of the password) lasts this long, so a
# changed password is refused at most this late.
AUTH_CACHE_SECONDS = 300
ARTIFACTS = "mlartifacts"
LOG = "mlflow-server.log"
BACKEND_SCHEMES = ("sqlite:///", "postgresql://")
CREDENTIALS_ENV = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")
_PR_SET_PDEATHSIG = 1


def runs_dir(path: str | Path | None = None) -> Path:
    """The run directory: ``path``, else $VAESWEEP_RUNS_DIR, else ./runs."""
    return Path(path or os.environ.get("VAESWEEP_RUNS_DIR") or DEFAULT_RUNS_DIR).resolve()


def server_command(
    directory: Path,
    host: str,
    port: int,
    workers: int = 1,
    backend_store_uri: str | None = None,
    auth: bool = False,
    artifacts_destination: str | None = None,
) -> list[str]:
    """``mlflow server`` on the store in ``directory`` (or the database ``backend_store_uri``),
    serving (proxying) the artifacts in ``directory`` (or ``artifacts_destination``, e.g. S3)."""
    return [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        backend_store_uri or f"sqlite:///{directory / DATABASE}",
        "--artifacts-destination",
        artifacts_destination or str(directory / ARTIFACTS),
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(workers),
        *(["--app-name", "basic-auth"] if auth else []),
    ]


def auth_environment(directory: Path) -> dict[str, str]:
    """What MLflow's basic-auth app needs: its configuration (users in ``directory``, nobody
    but the admin allowed anything), the admin from this environment's credentials, and a
    key for its CSRF tokens. ConfigError before anything starts when the credentials are unset."""
    missing = [name for name in CREDENTIALS_ENV if not os.environ.get(name)]
    if missing:
        raise ConfigError(
            "--auth", " and ".join(missing), "both set: the admin user and password of the server"
        )
    config = directory / AUTH_CONFIG
    config.write_text(
        "[mlflow]\n"
        "default_permission = NO_PERMISSIONS\n"
        f"database_uri = sqlite:///{directory / AUTH_DATABASE}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        f"auth_cache_ttl_seconds = {AUTH_CACHE_SECONDS}\n"
    )
    return {
        "MLFLOW_AUTH_CONFIG_PATH": str(config),
        "MLFLOW_AUTH_ADMIN_USERNAME": os.environ["MLFLOW_TRACKING_USERNAME"],
        "MLFLOW_AUTH_ADMIN_PASSWORD": os.environ["MLFLOW_TRACKING_PASSWORD"],
        "MLFLOW_FLASK_SERVER_SECRET_KEY": os.environ.get("MLFLOW_FLASK_SERVER_SECRET_KEY")
        or secrets.token_hex(32),
    }


def server_environment() -> dict[str, str]:
    # MLflow 3's GenAI job runner (a pool of huey consumers) serves nothing a sweep needs and
    # costs seconds of start-up and several processes on a small machine. Each server worker
    # holds up to 20 database connections (SQLAlchemy's default, 15, runs dry with dozens of
    # trials logging at once; 4 workers x 20 stay within PostgreSQL's default 100).
    return {
        "MLFLOW_SQLALCHEMYSTORE_POOL_SIZE": "8",
        "MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW": "12",
        **os.environ,
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    }


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


def _sqlite_file(directory: Path, backend_store_uri: str | None) -> Path | None:
    """The SQLite file of the store (the default one in ``directory``), or None for a server."""
    if backend_store_uri is None:
        return directory / DATABASE
    prefix = BACKEND_SCHEMES[0]  # sqlite:///
    return Path(backend_store_uri.removeprefix(prefix)) if backend_store_uri.startswith(prefix) else None


STORE_TEMPLATES = ".mlflow-stores"  # under the cache root (vaesweep.data.cache)


def _upgraded(path: Path, timeout_s: float) -> None:
    """``mlflow db upgrade`` into a new file ``path`` (MLflow's tables at its latest schema)."""
    done = subprocess.run(
        [sys.executable, "-m", "mlflow", "db", "upgrade", f"sqlite:///{path}"],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env=server_environment(),
        preexec_fn=_fate_sharing(),
    )
    if done.returncode != 0:
        last = ([line for line in done.stderr.splitlines() if line.strip()] or ["(nothing)"])[-1]
        raise RuntimeError(f"could not create the MLflow database {path}: {last.strip()[:300]}")


def _is_store(path: Path) -> bool:
    """Whether ``path`` is a whole SQLite store that MLflow's migrations completed."""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
            return bool(connection.execute("SELECT version_num FROM alembic_version").fetchone())
    except sqlite3.Error:
        return False


def store_template(timeout_s: float = 600.0) -> Path | None:
    """An empty store at the installed MLflow's schema, made once per MLflow version in the cache
    root and copied for every new store: ``mlflow db upgrade`` costs about 3.5 s on 2 cores (a
    new interpreter, MLflow's imports, every migration), the copy milliseconds. The upgrade
    writes only the schema and its version (no experiment, no time stamp), so a copy is what
    the upgrade would make. None where the cache cannot be written (the store is then made in
    place)."""
    from vaesweep.data.cache import cache_root

    template = cache_root() / STORE_TEMPLATES / f"mlflow-{importlib.metadata.version('mlflow')}.db"
    if _is_store(template):
        return template
    try:
        template.parent.mkdir(parents=True, exist_ok=True)
        temporary = template.with_name(f"{template.name}.new-{os.getpid()}")
        temporary.touch()  # OSError here where the cache is read-only
    except OSError:
        return None
    try:
        _upgraded(temporary, timeout_s)
    except BaseException:
        temporary.unlink(missing_ok=True)  # the shared cache keeps no half-made template
        raise
    os.replace(temporary, template)  # concurrent first sweeps each rename a whole template
    return template


def create_database(path: Path, timeout_s: float = 600.0) -> None:
    """A new SQLite store, whole or not at all: it is written to a temporary file that is renamed
    into place once complete. (A sweep killed while ``mlflow server`` created the tables in place
    would leave a database that MLflow can no longer open: the sweep could not resume.)"""
    for leftover in path.parent.glob(f"{path.name}.new-*"):  # from a start that was killed
        leftover.unlink()
    temporary = path.with_name(f"{path.name}.new-{os.getpid()}")
    template = store_template(timeout_s)
    if template is None:
        _upgraded(temporary, timeout_s)
    else:
        shutil.copyfile(template, temporary)
    os.replace(temporary, path)


def wait_healthy(uri: str, timeout_s: float, process: subprocess.Popen | None = None) -> None:
    """Poll ``/health`` (open to all, with basic-auth too) until the server answers;
    RuntimeError if it exits or times out."""
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
        backend_store_uri: str | None = None,
        auth: bool = False,
        artifacts_destination: str | None = None,
    ) -> None:
        self.directory = runs_dir(directory)
        self.host = host
        self.port_given = port is not None
        self.port = port or free_port(host)
        self.workers = workers
        self.backend_store_uri = backend_store_uri
        self.auth = auth
        self.artifacts_destination = artifacts_destination
        self.process: subprocess.Popen | None = None
        self._environment: dict[str, str] = {}
        self._logged = 0  # the log's size when the process started: what it wrote comes after
        self._terminating = False

    @property
    def uri(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout_s: float = 180.0, attempts: int = 3) -> str:
        """Start the server and wait until it answers (``launch`` then ``wait_ready``)."""
        self.launch()
        return self.wait_ready(timeout_s, attempts)

    def launch(self) -> None:
        """Start the server process without waiting for it: its start-up (seconds of MLflow's
        imports) can overlap the caller's own (a sweep starts Ray meanwhile)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        database = _sqlite_file(self.directory, self.backend_store_uri)
        if database is not None and not database.exists():
            create_database(database)
        self._environment = server_environment() | (auth_environment(self.directory) if self.auth else {})
        self._spawn()

    def wait_ready(self, timeout_s: float = 180.0, attempts: int = 3) -> str:
        """The URI once the launched server answers. A port chosen here can be taken by another
        program before the server binds it (a shared machine): then another port is tried."""
        attempt = 1
        while True:
            try:
                wait_healthy(self.uri, timeout_s, self.process)
                return self.uri
            except RuntimeError as error:
                self.stop()
                with open(self.directory / LOG, "rb") as log:
                    log.seek(self._logged)
                    written = log.read().decode(errors="replace")
                if not (
                    "address already in use" in written.lower() and not self.port_given and attempt < attempts
                ):
                    last = ([line for line in written.splitlines() if line.strip()] or ["(nothing logged)"])[
                        -1
                    ]
                    raise RuntimeError(
                        f"{error}: {last.strip()[:300]} (see {self.directory / LOG})"
                    ) from None
            attempt += 1
            self.port = free_port(self.host)
            self._spawn()

    def _spawn(self) -> None:
        log_path = self.directory / LOG
        self._logged = log_path.stat().st_size if log_path.exists() else 0
        log = open(log_path, "ab")  # noqa: SIM115 - the server process owns it
        self._terminating = False
        self.process = subprocess.Popen(
            server_command(
                self.directory,
                self.host,
                self.port,
                self.workers,
                self.backend_store_uri,
                self.auth,
                self.artifacts_destination,
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self._environment,
            start_new_session=True,  # its own process group, stopped as one
            preexec_fn=_fate_sharing(),
        )
        log.close()

    def terminate(self) -> None:
        """Ask the server to stop, without waiting (``stop`` waits): it shuts down (about a
        second) while the caller stops other things."""
        if self.process is not None and self.process.poll() is None and not self._terminating:
            os.killpg(self.process.pid, signal.SIGTERM)
            self._terminating = True

    def stop(self, timeout_s: float = 20.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.terminate()
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def serve(self, on_ready: Callable[[str], None] | None = None) -> int:
        """Serve until interrupted (``vaesweep ui``); the server never outlives this process.
        ``on_ready`` is given the server's URI once it answers."""
        self.start()
        try:
            if on_ready is not None:
                on_ready(self.uri)
            return self.process.wait()
        except KeyboardInterrupt:
            return 0
        finally:
            self.stop()

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
