"""Priors: the standard normal and the IGP appendix C mixtures are normalised densities."""

import math

import torch

from vaesweep.models.priors.modules import MixturePrior, StandardNormalPrior


def test_mixture_prior_integrates_to_one_in_one_dimension():
    torch.manual_seed(0)
    for isotropic in (False, True):
        prior = MixturePrior(dim=1, components=5, isotropic=isotropic)
        grid = torch.linspace(-12, 12, 20001).view(-1, 1)
        density = torch.exp(prior.log_prob(grid)).detach()
        assert math.isclose(float(torch.trapezoid(density, grid[:, 0])), 1.0, rel_tol=1e-4)


def test_single_component_at_the_origin_is_the_standard_normal():
    prior = MixturePrior(dim=3, components=1, isotropic=True)
    with torch.no_grad():
        prior.means.zero_()
    z = torch.randn(10, 3)
    assert torch.allclose(prior.log_prob(z), StandardNormalPrior(3).log_prob(z), atol=1e-6)


def test_moig_ties_component_variances_and_mog_does_not():
    assert MixturePrior(4, 5, isotropic=True).logvars.shape == (5, 1)
    assert MixturePrior(4, 5, isotropic=False).logvars.shape == (5, 4)


def test_samples_follow_the_mixture():
    torch.manual_seed(1)
    prior = MixturePrior(dim=2, components=2, isotropic=True)
    with torch.no_grad():
        prior.means.copy_(torch.tensor([[-5.0, 0.0], [5.0, 0.0]]))
        prior.logvars.fill_(math.log(0.01))
        prior.logits.copy_(torch.tensor([0.0, math.log(3.0)]))
    samples = prior.sample(40_000)
    assert abs(float((samples[:, 0] > 0).float().mean()) - 0.75) < 0.01
