"""A trial's Tune checkpoints as the trainable restores them: the newest one that reads whole.

Tune stores a checkpoint by copying fit's checkpoint directory into the trial's storage, and a
stored file can still be damaged (a copy cut short, a disk or bucket error). A checkpoint that
does not read is passed over for the one before it (Tune keeps ``num_to_keep``); with none
left the trial starts from its first epoch. Either way its results are those of an
uninterrupted run (``fit`` resumes exactly), only later. Each checkpoint also carries the
metrics of every epoch up to it, so a tracker can record epochs that a lost driver or an
unreachable tracking server never recorded.
"""

from __future__ import annotations

import logging
import posixpath
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pyarrow.fs
import torch
from ray import tune

from vaesweep.train import CHECKPOINT_FILE

logger = logging.getLogger(__name__)

EPOCH_KEY = "epoch"  # Tune checkpoint metadata: the epoch the checkpoint holds
HISTORY_KEY = "history"  # ... and [[epoch, metrics], ...] of every epoch up to it
_CHECKPOINT_DIR = re.compile(r"checkpoint_\d+")


@dataclass(frozen=True)
class Restored:
    """A checkpoint copied into the trial's scratch directory: its epoch and epoch history."""

    epoch: int
    history: list[tuple[int, dict[str, float]]]


def epoch_checkpoint(
    directory: Path, epoch: int, history: list[tuple[int, dict[str, float]]]
) -> tune.Checkpoint:
    """The Tune checkpoint of ``directory`` (fit's or a pack's, just written) after ``epoch``,
    carrying every epoch's metrics so far."""
    checkpoint = tune.Checkpoint.from_directory(str(directory))
    checkpoint.set_metadata({EPOCH_KEY: epoch, HISTORY_KEY: [[e, dict(m)] for e, m in history]})
    return checkpoint


def use_trial_cpus() -> None:
    """Give torch as many threads as the Tune trial has CPUs (a trial of one CPU: one thread)."""
    resources = tune.get_context().get_trial_resources().required_resources
    torch.set_num_threads(max(1, int(resources.get("CPU", 1))))


def _newest_first(latest: tune.Checkpoint) -> list[tune.Checkpoint]:
    """``latest`` and the older checkpoints Tune kept beside it, newest first (never a newer
    directory: one Tune did not register was cut short)."""
    filesystem = latest.filesystem
    parent, name = posixpath.split(latest.path.rstrip("/"))
    found = filesystem.get_file_info(pyarrow.fs.FileSelector(parent, allow_not_found=True))
    names = {
        info.base_name
        for info in found
        if info.type == pyarrow.fs.FileType.Directory and _CHECKPOINT_DIR.fullmatch(info.base_name)
    }
    older = sorted((n for n in names if n < name), reverse=True)
    return [latest] + [tune.Checkpoint(posixpath.join(parent, n), filesystem) for n in older]


def restore_checkpoint(
    latest: tune.Checkpoint | None, directory: Path, file_name: str = CHECKPOINT_FILE
) -> Restored | None:
    """Copy the newest readable checkpoint (from ``latest`` back) into ``directory``; None when
    there is none (a new trial, or every stored checkpoint damaged). ``file_name``: the file
    that must load (fit's checkpoint, or a pack's)."""
    if latest is None:
        return None
    for candidate in _newest_first(latest):
        try:
            metadata = candidate.get_metadata()
            candidate.to_directory(str(directory))
            torch.load(directory / file_name, map_location="cpu", weights_only=False)
            history = [(int(epoch), dict(metrics)) for epoch, metrics in metadata.get(HISTORY_KEY, [])]
            return Restored(int(metadata[EPOCH_KEY]), history)
        except Exception as error:  # any failure to read it means damaged: try the one before
            logger.warning(
                "checkpoint %s cannot be read (%s); trying the one before it", candidate.path, error
            )
            shutil.rmtree(directory, ignore_errors=True)
    logger.warning("no stored checkpoint of this trial can be read; it starts from its first epoch")
    return None
