"""DG-VAE density gap: |b| = 1 is the standard KL; larger |b| lets posteriors leave the prior."""

import math

import torch

from vaesweep.noise import GlobalNoise
from vaesweep.objectives.regularisers import density_gap as _density_gap


def density_gap(mean, logvar, aggregation_size, samples, joint):
    return _density_gap(mean, logvar, aggregation_size, samples, joint, GlobalNoise())


def _kl(mean, logvar):
    return 0.5 * (mean.pow(2) + logvar.exp() - logvar - 1).sum(-1)


def test_aggregation_size_one_is_the_standard_kl_in_expectation():
    torch.manual_seed(0)
    mean, logvar = torch.randn(16, 3), torch.randn(16, 3) * 0.3 - 1.0
    estimate = torch.stack([density_gap(mean, logvar, 1, 256, joint=False) for _ in range(50)]).mean()
    assert math.isclose(float(estimate), float(_kl(mean, logvar).mean()), rel_tol=0.02)
    joint = torch.stack([density_gap(mean, logvar, 1, 256, joint=True) for _ in range(50)]).mean()
    assert math.isclose(float(joint), float(_kl(mean, logvar).mean()), rel_tol=0.02)


def test_larger_aggregation_allows_more_kl_for_the_same_gap():
    """Posteriors whose aggregate is the prior: the KL is large, the whole-batch gap is ~0."""
    torch.manual_seed(1)
    batch, dim, s2 = 512, 2, 0.05
    mean = torch.randn(batch, dim) * math.sqrt(1 - s2)
    logvar = torch.full((batch, dim), math.log(s2))
    kl = float(_kl(mean, logvar).mean())
    gaps = {b: float(density_gap(mean, logvar, b, 64, joint=False)) for b in (1, 8, 64, 512)}
    assert gaps[1] > 0.9 * kl
    assert gaps[1] > gaps[8] > gaps[64] > gaps[512]
    assert abs(gaps[512]) < 0.05 * kl
    for b, gap in gaps.items():  # the mutual-information part is at most dim * log |b|
        assert kl - gap <= dim * math.log(b) + 0.05


def test_gradient_flows_to_means_and_variances():
    mean = torch.randn(8, 4, requires_grad=True)
    logvar = torch.zeros(8, 4, requires_grad=True)
    density_gap(mean, logvar, 4, 8, joint=False).backward()
    assert mean.grad.abs().sum() > 0 and logvar.grad.abs().sum() > 0


def test_a_last_batch_that_b_does_not_divide_is_left_out_never_aggregated_at_another_size(monkeypatch):
    """DG-VAE's subsets have exactly |b| posteriors: digits' 1,257 training images in batches of 64
    leave 41, which |b| = 8 does not divide, so each epoch trains on 19 full batches; |b| = 1
    divides everything and keeps all 20."""
    import importlib

    from vaesweep.config import resolve_config
    from vaesweep.train import Trainer

    module = importlib.import_module("vaesweep.objectives.regularisers.density_gap")

    sizes = []
    original = module.density_gap

    def recording(mean, logvar, aggregation_size, samples, joint, noise):
        sizes.append((mean.shape[0], aggregation_size))
        return original(mean, logvar, aggregation_size, samples, joint, noise)

    monkeypatch.setattr(module, "density_gap", recording)
    quick = {"epochs": 1, "eval.nll_samples": 0, "eval.probes": False, "density_gap_samples": 2}
    for b, steps in ((8, 19), (1, 20)):
        sizes.clear()
        trainer = Trainer(resolve_config("dg_vae", "digits", {**quick, "b": b}))
        assert len(trainer.dataset.train) == 1257 and trainer.steps_per_epoch == steps
        trainer.train_epoch()
        assert len(sizes) == steps
        assert all(size % b == 0 and aggregation == b for size, aggregation in sizes)
