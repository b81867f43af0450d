"""Agg-VAE (He et al. 2019): the aggressive phase updates the encoder more often than the decoder,
ends when the validation MI stops rising, and training afterwards is the plain method's."""

from __future__ import annotations

import math
import shutil

import pytest
import torch

from vaesweep.config import resolve_config
from vaesweep.errors import ConfigError
from vaesweep.metric_registry import is_wall_clock
from vaesweep.train import fit, load_trained

SMALL = {
    "data.max_train": 256,
    "eval.nll_samples": 10,
    "eval.cu_rounds": 5,
    "eval.probes": False,
    "eval.smoothness": False,
    "eval.max_examples": 64,
}
STEPS_PER_EPOCH = math.ceil(256 / 64)


def _reports(overrides: dict, **kwargs) -> tuple[list, dict]:
    reports = []
    final = fit(resolve_config("agg_vae", "digits", {**SMALL, **overrides}), reports.append, **kwargs)
    return [r.metrics for r in reports], final


def test_the_aggressive_phase_updates_the_encoder_more_often_and_ends_by_its_rule():
    epochs, _ = _reports({"epochs": 4, "train.seed": 4})
    assert epochs[0]["aggressive"] == epochs[1]["aggressive"] == 1.0  # on, and on after a rise
    for epoch in epochs:
        assert epoch["decoder_steps"] == STEPS_PER_EPOCH  # one decoder step per batch, always
        if epoch["aggressive"]:
            assert epoch["encoder_steps"] > 2 * epoch["decoder_steps"]
        else:
            assert epoch["encoder_steps"] == epoch["decoder_steps"]  # joint steps
    # He et al.'s rule: on while each epoch's validation MI is at least the previous one's (the
    # first against 0), off from the epoch after the first fall, and never on again
    previous, on = 0.0, True
    for epoch in epochs:
        assert epoch["aggressive"] == float(on)
        if on:
            on = epoch["valid_mi"] >= previous
            previous = epoch["valid_mi"]
    assert not on, "the phase did not end within the run: the rule was not exercised"


def test_the_inner_loop_stops_at_its_step_cap():
    # a window longer than the cap never compares losses: every inner loop runs to the cap
    epochs, _ = _reports({"epochs": 1, "train.aggressive_max_steps": 3, "train.aggressive_window": 10})
    assert epochs[0]["aggressive"] == 1.0
    assert epochs[0]["encoder_steps"] == 3 * epochs[0]["decoder_steps"]
    # a window of one stops at the first step whose loss rose: never more than the cap
    epochs, _ = _reports({"epochs": 1, "train.aggressive_max_steps": 40, "train.aggressive_window": 1})
    assert epochs[0]["decoder_steps"] <= epochs[0]["encoder_steps"] < 40 * epochs[0]["decoder_steps"]


def test_after_the_phase_training_is_the_plain_method(tmp_path):
    """From the checkpoint of an Agg-VAE whose phase has ended, Agg-VAE and the plain VAE train
    the same epochs bitwise."""
    epochs, _ = _reports({"epochs": 2, "train.seed": 3}, checkpoint_dir=tmp_path / "agg")
    assert epochs[0]["aggressive"] == 1.0 and epochs[1]["aggressive"] == 0.0  # ended after epoch 1
    shutil.copytree(tmp_path / "agg", tmp_path / "plain")
    more = {**SMALL, "epochs": 4, "train.seed": 3}
    agg_reports, plain_reports = [], []
    agg = fit(
        resolve_config("agg_vae", "digits", more),
        lambda r: agg_reports.append(r.metrics),
        checkpoint_dir=tmp_path / "agg",
        resume_from=tmp_path / "agg",
    )
    plain = fit(
        resolve_config("vae", "digits", more),
        lambda r: plain_reports.append(r.metrics),
        checkpoint_dir=tmp_path / "plain",
        resume_from=tmp_path / "plain",
    )
    assert [m["epoch"] for m in agg_reports] == [3.0, 4.0]
    for with_phase, without in zip(agg_reports, plain_reports, strict=True):
        assert with_phase["aggressive"] == 0.0
        shared = {k: v for k, v in without.items() if not is_wall_clock(k)}
        assert {k: with_phase[k] for k in shared} == shared
    assert {k: v for k, v in agg.items() if not is_wall_clock(k)} == {
        k: v for k, v in plain.items() if not is_wall_clock(k)
    }
    _, model_agg, _ = load_trained(tmp_path / "agg")
    _, model_plain, _ = load_trained(tmp_path / "plain")
    for (name, a), b in zip(model_agg.state_dict().items(), model_plain.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_a_resumed_agg_vae_run_ends_as_an_uninterrupted_one(tmp_path):
    """The phase's state (on or off, the previous MI, its batch generator) is in the checkpoint."""
    config = resolve_config("agg_vae", "digits", {**SMALL, "epochs": 3, "train.seed": 3})
    straight = fit(config, checkpoint_dir=tmp_path / "straight")

    class Interrupt(Exception):
        pass

    def stop_after_one(report):
        if report.epoch == 1:
            raise Interrupt

    with pytest.raises(Interrupt):
        fit(config, stop_after_one, checkpoint_dir=tmp_path / "resumed")
    resumed = fit(config, checkpoint_dir=tmp_path / "resumed", resume_from=tmp_path / "resumed")
    assert {k: v for k, v in resumed.items() if not is_wall_clock(k)} == {
        k: v for k, v in straight.items() if not is_wall_clock(k)
    }


def test_the_phase_needs_a_posterior_whose_mi_is_measured():
    with pytest.raises(ConfigError) as caught:
        resolve_config("agg_vae", "digits", {"posterior.flow": "iaf"})
    assert caught.value.field == "train.encoder_updates"
    with pytest.raises(ConfigError) as caught:
        resolve_config("vae", "digits", {"train.aggressive_max_steps": 10})  # joint reads no cap
    assert caught.value.field == "train.aggressive_max_steps"
