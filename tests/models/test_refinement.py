"""SA-VAE's refinement (Kim et al. 2018): zero steps is the plain VAE; each step of gradient ascent
raises every example's ELBO on a fixed decoder, towards its maximum; training reaches the encoder
through the steps; evaluation uses the refined or the amortised posterior, as configured."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from torch import nn

from vaesweep import noise
from vaesweep.config import resolve_config
from vaesweep.data import load_dataset
from vaesweep.errors import ConfigError
from vaesweep.metric_registry import is_wall_clock
from vaesweep.models.build import build_model
from vaesweep.models.posteriors.heads import Posterior
from vaesweep.models.posteriors.refinement import SVI
from vaesweep.models.priors import LOG_2PI
from vaesweep.train import fit, load_trained

LATENT = 3
QUICK = {
    "epochs": 2,
    "data.max_train": 128,
    "eval.nll_samples": 10,
    "eval.cu_rounds": 5,
    "eval.probes": False,
    "eval.smoothness": False,
}


class SigmaPoints(noise.Noise):
    """eps = +-sqrt(D) e_d for every d: zero mean and identity covariance exactly, so an ELBO
    estimated from them is the exact ELBO of a decoder that is linear in z."""

    def normal(self, shape, like):
        k, batch, dim = shape
        assert k == 2 * dim, "ask for 2 * dim(z) samples"
        eye = torch.eye(dim, dtype=like.dtype, device=like.device) * math.sqrt(dim)
        return torch.cat([eye, -eye]).unsqueeze(1).expand(k, batch, dim)


class LinearDecoder(nn.Module):
    """mu(z) = W z + b, for images of ``shape`` (a Gaussian decoder with sigma_x^2 = 1)."""

    autoregressive = False

    def __init__(self, shape: tuple[int, int, int]) -> None:
        super().__init__()
        self.shape = shape
        self.linear = nn.Linear(LATENT, shape[0] * shape[1] * shape[2])
        with torch.no_grad():  # spectral norm well below 1: plain gradient ascent with step 1 is stable
            self.linear.weight.mul_(0.4 / torch.linalg.matrix_norm(self.linear.weight, ord=2))

    def forward(self, z, x=None):
        return self.linear(z).view(-1, 1, *self.shape)


def _linear_gaussian_model(**overrides):
    config = resolve_config(
        "sa_vae",
        "digits",
        {
            "likelihood.kind": "gaussian",
            "likelihood.variance": "fixed",
            "likelihood.mean_activation": "identity",
            "sigma_x2": 1.0,
            "latent_dim": LATENT,
            "posterior.refine_samples": 2 * LATENT,
            "train.batch_size": 1,  # the step is alpha / B per example: here alpha itself
            **overrides,
        },
    )
    torch.manual_seed(0)
    dataset = load_dataset(config.data)
    model = build_model(config, dataset)
    model.decoder = LinearDecoder(dataset.image_shape)
    with torch.no_grad():  # an encoder whose posteriors lie far from the best ones
        model.head.mean.bias.fill_(2.0)
        if model.head.logvar is not None:
            model.head.logvar.bias.fill_(1.0)
    return config, model.double(), dataset.valid.x[:64].double()  # float64: exact comparisons


def _exact_elbo(model, x, mean, logvar):
    """Every example's ELBO in closed form for mu(z) = W z + b and sigma_x^2 = 1."""
    weight, bias = model.decoder.linear.weight, model.decoder.linear.bias
    residual = x.flatten(1) - mean @ weight.T - bias
    spread = (torch.exp(logvar) * weight.pow(2).sum(0)).sum(-1)
    log_px = -0.5 * (residual.pow(2).sum(-1) + spread + weight.shape[0] * LOG_2PI)
    kl = 0.5 * (mean.pow(2) + torch.exp(logvar) - logvar - 1).sum(-1)
    return log_px - kl


def _optimum(model, x):
    """The ELBO's maximiser: (W^T W + I) mu = W^T (x - b), sigma_d^2 = 1 / (||W_d||^2 + 1)."""
    weight, bias = model.decoder.linear.weight, model.decoder.linear.bias
    system = weight.T @ weight + torch.eye(LATENT, dtype=weight.dtype)
    mean = torch.linalg.solve(system, ((x.flatten(1) - bias) @ weight).T).T.detach()
    logvar = (-torch.log1p(weight.pow(2).sum(0))).expand_as(mean).detach()
    return mean, logvar


def _refined(config, model, x, steps: int):
    model.eval()
    amortised = model.head(model.encoder(x))
    config.posterior.refine_steps = steps
    with torch.no_grad(), noise.drawn_from(SigmaPoints()):
        return SVI(config)(model, amortised, x, None)


@pytest.mark.parametrize("momentum", [0.0, 0.5])
def test_each_step_raises_every_examples_elbo_on_a_fixed_decoder(momentum):
    config, model, x = _linear_gaussian_model(**{"posterior.refine_momentum": momentum})
    elbos = []
    for steps in range(21):  # K = 20 steps of size 1, clipped at norm 5 (Kim et al.)
        posterior = _refined(config, model, x, steps)
        elbos.append(_exact_elbo(model, x, posterior.mean, posterior.logvar))
    best = _exact_elbo(model, x, *_optimum(model, x))
    gained = elbos[-1] - elbos[0]
    assert (gained > 1.0).all()  # the amortised posteriors are far off
    assert (best - elbos[-1] <= 1e-3 * (best - elbos[0])).all()  # ... and 20 steps reach the optimum
    if momentum == 0:  # plain gradient ascent on a concave, smooth ELBO never goes down
        for before, after in itertools.pairwise(elbos):
            assert (after >= before - 1e-10).all()
    # the steps follow the ELBO's gradient: a step against it would lose what this one gains
    assert (elbos[1] > elbos[0]).all()


def test_a_step_moves_each_example_by_alpha_over_b_of_its_gradient_whatever_its_batch():
    """Kim et al.'s objective is the batch-mean ELBO at the training batch size B: a step of
    alpha moves each example by alpha / B times its own ELBO gradient, alone or in any batch."""
    config, model, x = _linear_gaussian_model(**{"train.batch_size": 8, "posterior.refine_clip": 0.0})
    one_step = _refined(config, model, x, 1)
    alone = torch.cat([_refined(config, model, x[i : i + 1], 1).mean for i in range(4)])
    assert torch.allclose(alone, one_step.mean[:4], rtol=0, atol=1e-12)
    amortised = model.head(model.encoder(x))
    mean = amortised.mean.detach().requires_grad_()
    (gradient,) = torch.autograd.grad(_exact_elbo(model, x, mean, amortised.logvar.detach()).sum(), mean)
    assert torch.allclose(one_step.mean, mean + gradient / 8, rtol=0, atol=1e-10)


def test_an_isotropic_posterior_is_refined_with_one_variance_per_example():
    config, model, x = _linear_gaussian_model(**{"posterior.family": "isotropic"})
    model.eval()
    amortised = model.head(model.encoder(x))
    config.posterior.refine_steps = 5
    with torch.no_grad(), noise.drawn_from(SigmaPoints()):
        refined = SVI(config)(model, amortised, x, None)
    assert torch.equal(refined.logvar, refined.logvar[:, :1].expand_as(refined.logvar))
    assert not torch.equal(refined.logvar, amortised.logvar)
    gain = _exact_elbo(model, x, refined.mean, refined.logvar) - _exact_elbo(
        model, x, amortised.mean, amortised.logvar
    )
    assert (gain > 0).all()


def test_training_backpropagates_through_the_steps_to_the_encoder():
    """d ELBO(lambda_K(phi)) / d phi by autograd through the refinement equals finite differences."""
    config, model, x = _linear_gaussian_model(**{"posterior.refine_steps": 4})
    model.train()
    svi = SVI(config)
    weight = model.head.mean.weight

    def objective() -> torch.Tensor:
        with noise.drawn_from(SigmaPoints()):
            refined = svi(model, model.head(model.encoder(x)), x, None)
        return _exact_elbo(model, x, refined.mean, refined.logvar).sum()

    (gradient,) = torch.autograd.grad(objective(), weight)
    assert gradient.abs().max() > 1e-6  # the encoder is trained through the steps
    h = 1e-6
    for index in [(0, 0), (1, 5), (2, 17)]:
        with torch.no_grad():
            weight[index] += h
            up = objective()
            weight[index] -= 2 * h
            down = objective()
            weight[index] += h
        assert float(gradient[index]) == pytest.approx(float(up - down) / (2 * h), rel=1e-4, abs=1e-7)


def test_zero_refinement_steps_is_the_plain_vae(tmp_path):
    sa = fit(
        resolve_config("sa_vae", "digits", {**QUICK, "posterior.refine_steps": 0}),
        checkpoint_dir=tmp_path / "sa",
    )
    vae = fit(resolve_config("vae", "digits", QUICK), checkpoint_dir=tmp_path / "vae")
    assert {k: v for k, v in sa.items() if not is_wall_clock(k)} == {
        k: v for k, v in vae.items() if not is_wall_clock(k)
    }
    _, model_sa, _ = load_trained(tmp_path / "sa")
    _, model_vae, _ = load_trained(tmp_path / "vae")
    for (name, a), b in zip(model_sa.state_dict().items(), model_vae.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_evaluation_uses_the_refined_or_the_amortised_posterior_as_configured():
    x = None
    means = {}
    for which in ("refined", "amortised"):
        config = resolve_config("sa_vae", "digits", {"posterior.refine_eval": which, "latent_dim": LATENT})
        torch.manual_seed(0)
        dataset = load_dataset(config.data)
        model = build_model(config, dataset).eval()
        x = dataset.valid.x[:16]
        with torch.no_grad():
            means[which] = model.encode(x).mean
            amortised = model.head(model.encoder(x)).mean
    assert torch.equal(means["amortised"], amortised)
    assert not torch.allclose(means["refined"], amortised)
    assert resolve_config("sa_vae", "digits").posterior.refine_eval == "refined"  # Kim et al.'s choice


def test_refinement_needs_a_gaussian_posterior_without_a_flow():
    unrefinable = ({"posterior.family": "du"}, {"posterior.flow": "iaf"}, {"posterior.fixed_variance": 0.5})
    for overrides in unrefinable:
        with pytest.raises(ConfigError) as caught:
            resolve_config("sa_vae", "digits", overrides)
        assert caught.value.field == "posterior.refinement", overrides
    with pytest.raises(ConfigError) as caught:
        resolve_config("vae", "digits", {"posterior.refine_steps": 5})  # no refinement reads it
    assert caught.value.field == "posterior.refine_steps"


def _steep_linear_model(**overrides):
    """The linear-Gaussian model with a decoder so steep that a step of alpha / B overshoots the
    ELBO's maximum: every unclipped step multiplies the distance to it (and the gradient through
    the steps) by more than 1, as a sharp posterior under a text decoder does."""
    config, model, x = _linear_gaussian_model(**{"train.batch_size": 4, **overrides})
    with torch.no_grad():
        model.decoder.linear.weight.mul_(40.0 / torch.linalg.matrix_norm(model.decoder.linear.weight, ord=2))
    return config, model, x[:8]


def test_each_step_moves_an_example_at_most_alpha_clip_over_sqrt_b():
    """Kim et al. clip the batch's gradient to norm 5: each of B equal examples gets 5 / sqrt(B)."""
    config, model, x = _steep_linear_model()
    amortised = model.head(model.encoder(x))
    step = _refined(config, model, x, 1)
    moved = (
        (step.mean - amortised.mean).pow(2).sum(-1) + (step.logvar - amortised.logvar).pow(2).sum(-1)
    ).sqrt()
    assert torch.allclose(moved, torch.full_like(moved, 5.0 / math.sqrt(4)), rtol=0, atol=1e-9)  # clipped


def test_the_gradient_through_the_steps_is_clipped_per_example():
    """Backward as forward: the gradient reaching the encoder's (mu, log sigma^2) is at most
    5 / sqrt(B) per example however many overshooting steps it passed through (unclipped, it grew
    geometrically with K and an SA-VAE on synthetic text went non-finite)."""
    config, model, x = _steep_linear_model(**{"posterior.refine_steps": 20})
    model.train()
    amortised = model.head(model.encoder(x))
    mean, logvar = amortised.mean.detach().requires_grad_(), amortised.logvar.detach().requires_grad_()
    with noise.drawn_from(SigmaPoints()):
        refined = SVI(config)(model, Posterior(mean, logvar), x, None)
    loss = -_exact_elbo(model, x, refined.mean, refined.logvar).mean()
    grad_mean, grad_logvar = torch.autograd.grad(loss, (mean, logvar))
    norm = (grad_mean.pow(2).sum(-1) + grad_logvar.pow(2).sum(-1)).sqrt()
    assert torch.isfinite(norm).all()
    assert (norm <= 5.0 / math.sqrt(4) + 1e-9).all()
    assert (norm > 0.1).all()  # the encoder still learns through the steps
