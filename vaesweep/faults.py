"""Deterministic fault injection: the sweep's driver is SIGKILLed at a named point.

``VAESWEEP_KILL_AT=POINT`` or ``POINT:N`` kills the driver the N-th time (default: the first)
this process reaches ``kill_point(POINT)``; nothing is cleaned up, as when a head node is
preempted or an SSH session closes. A point reached in a trial's worker kills the driver too,
whose process id the driver hands down to its local Ray workers in ``VAESWEEP_DRIVER_PID``.
The kill-point tests and ``bench/kill_points.py`` use it; without the variable a kill point
costs one environment lookup.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

KILL_AT_ENV = "VAESWEEP_KILL_AT"
DRIVER_PID_ENV = "VAESWEEP_DRIVER_PID"

# Where the driver can be killed, in the order a sweep reaches them (see run_sweep).
DRIVER_POINTS = (
    "planned",  # the sweep is planned, nothing written yet
    "defined",  # its definition is stored (what --resume reads), no server or Ray yet
    "tracking",  # the parent MLflow run exists, Ray started, no Tuner built
    "tuner",  # the Tuner is built (or restored), no trial started
    "trial_start",  # Tune started a trial (N: the N-th start)
    "result",  # Tune received an epoch's result and checkpoint (N: the N-th result)
    "trial_complete",  # a trial ended, the next not yet started (N: the N-th end)
    "reconcile",  # every trial ended; the child runs not yet settled with Tune's outcomes
    "closed",  # the parent run is closed; the report not yet printed
)
# Where a trial's worker kills the driver.
WORKER_POINTS = ("checkpoint",)  # fit wrote the epoch's checkpoint; Tune is storing it (N: N-th)
POINTS = DRIVER_POINTS + WORKER_POINTS

_reached: Counter[str] = Counter()


def armed() -> bool:
    """Whether this process runs with a kill point set."""
    return bool(os.environ.get(KILL_AT_ENV))


def parse(spec: str) -> tuple[str, int]:
    """``POINT[:N]`` -> (point, N); ValueError naming the known points."""
    point, _, count = spec.partition(":")
    if point not in POINTS or (count and (not count.isdigit() or int(count) < 1)):
        raise ValueError(f"{KILL_AT_ENV}={spec!r}: expected POINT or POINT:N (N >= 1), POINT in {POINTS}")
    return point, int(count or 1)


def hand_down_driver_pid() -> None:
    """Let local Ray workers (they inherit the driver's environment) kill this driver."""
    if armed():
        os.environ[DRIVER_PID_ENV] = str(os.getpid())


def kill_point(name: str) -> None:
    """SIGKILL the driver if ``VAESWEEP_KILL_AT`` names this point and its count is reached."""
    spec = os.environ.get(KILL_AT_ENV)
    if not spec:
        return
    point, count = parse(spec)
    if point != name:
        return
    _reached[name] += 1
    if _reached[name] == count:
        os.kill(int(os.environ.get(DRIVER_PID_ENV, os.getpid())), signal.SIGKILL)
