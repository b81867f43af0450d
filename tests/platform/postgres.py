"""A throwaway PostgreSQL cluster for tests and benchmarks: ``initdb`` in a temporary directory,
served on a free loopback port, removed afterwards.

Debian's ``postgresql`` package keeps its programs in /usr/lib/postgresql/VERSION/bin (.ci/run
installs it). PostgreSQL refuses to run as root, so as root the cluster runs as the package's
``postgres`` user.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from vaesweep.platform.server import free_port

USER = "vaesweep"


def postgres_bindir() -> Path | None:
    """Where initdb and pg_ctl are: Debian's newest version, else the PATH; None if absent."""
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if versions:
        return Path(versions[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


# Run beside the cluster: when the process that started it dies without stopping it (a killed
# pytest), stop the server and remove its directory, so no stray postmaster outlives the tests.
_WATCHDOG = """
import os, shutil, subprocess, sys, time
owner, root, command = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
while True:
    try:
        os.kill(owner, 0)
    except ProcessLookupError:
        break
    time.sleep(1)
subprocess.run(command, capture_output=True, timeout=60, cwd=root)
shutil.rmtree(root, ignore_errors=True)
"""


class PostgresCluster:
    """``with PostgresCluster() as cluster: cluster.uri("mlflow")`` -> a database URI."""

    def __init__(self) -> None:
        bindir = postgres_bindir()
        if bindir is None:
            raise FileNotFoundError("PostgreSQL's initdb was not found (Debian: apt-get install postgresql)")
        self.bindir = bindir
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="vaesweep-pg-"))
        self.data = self.root / "data"
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, *args: str) -> None:
        subprocess.run([*self.as_user, *args], check=True, capture_output=True, timeout=120, cwd=self.root)

    def start(self) -> PostgresCluster:
        if self.as_user:
            shutil.chown(self.root, "postgres")
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-A", "trust", "-U", USER, "--no-sync")
        options = f"-h 127.0.0.1 -p {self.port} -k {self.root} -F -c max_connections=300"
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.root / "log"),
            "-w",
            "start",
        )
        self.watchdog = subprocess.Popen(
            [sys.executable, "-c", _WATCHDOG, str(os.getpid()), str(self.root), *self._stop_command()],
            start_new_session=True,  # a Ctrl-C to the tests' process group must not end it first
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return self

    def _stop_command(self) -> list[str]:
        return [*self.as_user, str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"]

    def create_database(self, name: str) -> str:
        """A new database; its SQLAlchemy/MLflow URI."""
        self._run(str(self.bindir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", USER, name)
        return self.uri(name)

    def uri(self, database: str) -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        if self.data.exists():
            subprocess.run(self._stop_command(), capture_output=True, timeout=60, cwd=self.root)
        shutil.rmtree(self.root, ignore_errors=True)
        watchdog = getattr(self, "watchdog", None)
        if watchdog is not None:
            watchdog.kill()
            watchdog.wait()

    def __enter__(self) -> PostgresCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
