"""train.fit: resume equals an uninterrupted run, divergence is reported, every preset trains."""

import math

import pytest
import torch

from vaesweep.config import resolve_config
from vaesweep.errors import DivergedError
from vaesweep.methods import METHODS
from vaesweep.metric_registry import is_wall_clock
from vaesweep.train import fit, load_trained

# Small, fast evaluation for tests that only need the loop to run.
QUICK = {
    "eval.nll_samples": 10,
    "eval.cu_rounds": 5,
    "eval.cu_samples_per_round": 16,
    "eval.probe_restarts": 1,
    "eval.probe_epochs": 2,
    "eval.max_examples": 64,
    "eval.smoothness": False,
}


# Methods with inner loops (SVI steps, aggressive encoder steps), cut short for a smoke test.
FEW_INNER_STEPS = {"sa_vae": {"posterior.refine_steps": 2}, "agg_vae": {"train.aggressive_max_steps": 5}}


class Interrupt(Exception):
    pass


@pytest.mark.parametrize(("method", "dataset"), [("du_vae", "digits"), ("vae", "synthetic_text")])
def test_resumed_run_ends_identical_to_an_uninterrupted_one(tmp_path, method, dataset):
    overrides = {**QUICK, "epochs": 4, "data.max_train": 256}
    if dataset == "synthetic_text":
        overrides.update(
            {"optim.decay_start_epoch": 1, "optim.decay_patience": 1, "annealing.warmup_epochs": 2.0}
        )
    config = resolve_config(method, dataset, overrides)
    straight = fit(config, checkpoint_dir=tmp_path / "straight")

    def stop_after_two(report):
        if report.epoch == 2:
            raise Interrupt

    with pytest.raises(Interrupt):
        fit(config, stop_after_two, checkpoint_dir=tmp_path / "resumed")
    seen = []
    resumed = fit(
        config,
        lambda r: seen.append(r.epoch),
        checkpoint_dir=tmp_path / "resumed",
        resume_from=tmp_path / "resumed",
    )
    assert seen == [3, 4]  # finished epochs are not re-run
    for key in straight:
        if not is_wall_clock(key):
            assert resumed[key] == straight[key] or (
                math.isnan(resumed[key]) and math.isnan(straight[key])
            ), key
    _, model_a, _ = load_trained(tmp_path / "straight")
    _, model_b, _ = load_trained(tmp_path / "resumed")
    for (name, a), b in zip(model_a.state_dict().items(), model_b.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_divergence_raises_with_the_epoch_and_the_last_good_metrics():
    config = resolve_config(
        "fixed_sigma", "digits", {**QUICK, "epochs": 30, "lr": 1e6, "data.max_train": 256}
    )
    with pytest.raises(DivergedError) as caught:
        fit(config)
    assert caught.value.epoch >= 1
    if caught.value.epoch > 1:
        assert caught.value.last_metrics["epoch"] == caught.value.epoch - 1
    assert "diverged" in str(caught.value)


def test_reports_every_epoch_with_validation_metrics_and_a_checkpoint(tmp_path):
    reports = []
    config = resolve_config("igp", "digits", {**QUICK, "epochs": 3, "C": 5})
    final = fit(config, reports.append, checkpoint_dir=tmp_path)
    assert [r.epoch for r in reports] == [1, 2, 3]
    assert all(r.checkpoint is not None and r.checkpoint.exists() for r in reports)
    for key in ("train_loss", "valid_rec", "valid_kl", "valid_elbo", "valid_mi", "valid_au", "target_kl"):
        assert key in reports[-1].metrics
    for key in (
        "rec",
        "kl",
        "elbo",
        "nll",
        "mi",
        "au",
        "cu",
        "mpd",
        "ce",
        "prior_ll",
        "post_ll",
        "probe_linear",
    ):
        assert key in final and math.isfinite(final[key]), key
    assert final["nll"] <= -final["elbo"] + 1.0  # the IW bound is (up to MC error) tighter
    assert final["latent_dim"] == 16


def test_artifacts_are_written(tmp_path):
    config = resolve_config("vae", "digits", {**QUICK, "epochs": 1, "latent_dim": 2})
    fit(config, artifacts_dir=tmp_path)
    for name in (
        "metrics.json",
        "config.json",
        "dimension_summary.json",
        "latents.npz",
        "reconstructions.png",
        "samples.png",
        "latent_scatter.png",
    ):
        assert (tmp_path / name).stat().st_size > 0, name


def _runs_on(method: str, dataset: str) -> bool:
    kind = "image" if dataset == "digits" else "text"
    return kind in METHODS[method].data_kinds


@pytest.mark.parametrize("dataset", ["digits", "synthetic_text"])
@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_preset_trains_a_few_steps(method, dataset):
    if not _runs_on(method, dataset):
        pytest.skip(f"{method} does not model {dataset}")
    overrides = {**QUICK, "epochs": 1, "data.max_train": 128, "eval.probes": False}
    overrides |= FEW_INNER_STEPS.get(method, {})
    if dataset == "synthetic_text":
        overrides["eval.max_examples"] = 32
    metrics = fit(resolve_config(method, dataset, overrides))
    assert math.isfinite(metrics["rec"])
    if METHODS[method].settings.get("posterior.family") != "deterministic":
        assert math.isfinite(metrics["nll"]) and math.isfinite(metrics["kl"])
