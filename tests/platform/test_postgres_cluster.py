"""The tests' throwaway PostgreSQL cluster does not outlive a killed test process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.platform.postgres import postgres_bindir

OWNER = """
import sys, time
sys.path.insert(0, sys.argv[1])
from tests.platform.postgres import PostgresCluster
cluster = PostgresCluster().start()
print(cluster.root, cluster.port, flush=True)
time.sleep(600)
"""


def _accepts(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_a_cluster_whose_owner_is_killed_is_stopped_and_removed():
    if postgres_bindir() is None:
        if os.environ.get("VAESWEEP_REQUIRE_POSTGRES"):
            pytest.fail("PostgreSQL is not installed, and VAESWEEP_REQUIRE_POSTGRES is set (CI)")
        pytest.skip("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    root = Path(__file__).resolve().parents[2]
    owner = subprocess.Popen([sys.executable, "-c", OWNER, str(root)], stdout=subprocess.PIPE, text=True)
    try:
        directory, port = owner.stdout.readline().split()
        assert _accepts(int(port)) and Path(directory).exists()
    finally:
        owner.send_signal(signal.SIGKILL)  # no __exit__, no atexit: only the watchdog can clean up
        owner.wait()
    deadline = time.monotonic() + 30
    while (Path(directory).exists() or _accepts(int(port))) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not _accepts(int(port)), "the PostgreSQL server outlived the process that started it"
    assert not Path(directory).exists()
