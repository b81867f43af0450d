"""A trial restores from the newest stored checkpoint that reads whole: a damaged one (a copy
cut short) is passed over for the one before, and with none left the trial starts afresh."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from ray import tune

from tests.platform.support import TINY
from vaesweep.config import resolve_config
from vaesweep.train import CHECKPOINT_FILE, EpochReport, fit
from vaesweep.trainables.checkpoints import epoch_checkpoint, restore_checkpoint

CONFIG = {**TINY, "train.epochs": "3"}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> tuple[Path, dict]:
    """A trial directory as Tune leaves it: checkpoint_000000..2 (epochs 1..3), each with the
    epoch history in its metadata; and the run's final metrics."""
    trial = tmp_path_factory.mktemp("trial")
    scratch = tmp_path_factory.mktemp("scratch")
    history: list = []

    def report(epoch: EpochReport) -> None:
        history.append((epoch.epoch, dict(epoch.metrics)))
        stored = trial / f"checkpoint_{epoch.epoch - 1:06d}"
        shutil.copytree(scratch, stored)
        epoch_checkpoint(stored, epoch.epoch, history)

    final = fit(resolve_config("vae", "digits", CONFIG), report, checkpoint_dir=scratch)
    return trial, final


@pytest.fixture
def stored(uninterrupted) -> Path:
    return uninterrupted[0]


def _copy(stored: Path, tmp_path: Path) -> Path:
    trial = tmp_path / "trial"
    shutil.copytree(stored, trial)
    return trial


def _truncate(file: Path) -> None:
    file.write_bytes(file.read_bytes()[: file.stat().st_size // 2])


def test_the_latest_whole_checkpoint_is_restored_with_its_history(stored, tmp_path):
    restored = restore_checkpoint(tune.Checkpoint(str(stored / "checkpoint_000002")), tmp_path / "into")
    assert restored.epoch == 3 and [e for e, _ in restored.history] == [1, 2, 3]
    assert (tmp_path / "into" / CHECKPOINT_FILE).stat().st_size == (
        stored / "checkpoint_000002" / CHECKPOINT_FILE
    ).stat().st_size


def test_a_truncated_checkpoint_falls_back_to_the_one_before(uninterrupted, tmp_path):
    trial = _copy(uninterrupted[0], tmp_path)
    _truncate(trial / "checkpoint_000002" / CHECKPOINT_FILE)
    restored = restore_checkpoint(tune.Checkpoint(str(trial / "checkpoint_000002")), tmp_path / "into")
    assert restored.epoch == 2 and [e for e, _ in restored.history] == [1, 2]
    resumed = fit(resolve_config("vae", "digits", CONFIG), resume_from=tmp_path / "into")
    assert resumed["nll"] == uninterrupted[1]["nll"]  # resumed from the fallback: the same result


def test_damaged_metadata_counts_as_damage_and_newer_unregistered_checkpoints_are_ignored(stored, tmp_path):
    trial = _copy(stored, tmp_path)
    (trial / "checkpoint_000001" / ".metadata.json").write_text("{not json")
    _truncate(trial / "checkpoint_000002" / CHECKPOINT_FILE)  # newer than what Tune registered
    restored = restore_checkpoint(tune.Checkpoint(str(trial / "checkpoint_000001")), tmp_path / "into")
    assert restored.epoch == 1


def test_with_every_checkpoint_damaged_the_trial_starts_afresh(stored, tmp_path):
    trial = _copy(stored, tmp_path)
    for checkpoint in trial.glob("checkpoint_*"):
        _truncate(checkpoint / CHECKPOINT_FILE)
    assert restore_checkpoint(tune.Checkpoint(str(trial / "checkpoint_000002")), tmp_path / "into") is None
    assert not (tmp_path / "into").exists()
    assert restore_checkpoint(None, tmp_path / "into") is None  # a new trial
