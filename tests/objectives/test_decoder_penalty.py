"""RAE's decoder regularisers (Ghosh et al. 2020, eq. 11): the gradient penalty ||d mu/dz||_F^2
(AR-ELBO eq. 4's) and the L2 norm of the decoder's parameters, and how the objective adds them."""

import math
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from tests.train.test_fit import QUICK
from vaesweep.config import resolve_config
from vaesweep.data import load_dataset
from vaesweep.models.build import build_model
from vaesweep.objectives.decoder_penalties import DECODER_PENALTIES, decoder_gradient_penalty, decoder_l2
from vaesweep.objectives.objective import Objective
from vaesweep.train import fit

# float() of a loss that keeps its graph (the penalties must stay differentiable)
pytestmark = pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad=True")


def _linear_codes(batch=32, dim=3, out=6, seed=0):
    generator = torch.Generator().manual_seed(seed)
    weight = torch.randn(out, dim, generator=generator, dtype=torch.float64, requires_grad=True)
    z = torch.randn(1, batch, dim, generator=generator, dtype=torch.float64, requires_grad=True)
    return weight, z


def test_exact_gradient_penalty_of_a_linear_decoder_is_the_squared_frobenius_norm():
    weight, z = _linear_codes()
    mean = (z @ weight.T).reshape(1, 32, 1, 2, 3)  # D(z) = W z, laid out as a 1x2x3 image
    penalty = decoder_gradient_penalty(mean, z, probes=0)
    assert float(penalty.detach()) == pytest.approx(float(weight.detach().pow(2).sum()), rel=1e-12)
    (grad,) = torch.autograd.grad(penalty, weight)  # differentiable: d ||W||_F^2 / dW = 2 W
    assert torch.allclose(grad, 2 * weight)


def test_hutchinson_gradient_penalty_is_unbiased():
    weight, z = _linear_codes(batch=64)
    mean = z @ weight.T
    torch.manual_seed(0)
    estimates = torch.stack([decoder_gradient_penalty(mean, z, probes=4).detach() for _ in range(30)])
    frobenius = float(weight.detach().pow(2).sum())
    standard_error = float(estimates.std()) / len(estimates) ** 0.5
    assert abs(float(estimates.mean()) - frobenius) < 4 * standard_error
    assert float(estimates.mean()) == pytest.approx(frobenius, rel=0.05)
    assert float(estimates.std()) > 0  # random probes, not the exact value


def test_exact_gradient_penalty_of_a_nonlinear_decoder_is_the_mean_jacobian_norm():
    weight, z = _linear_codes(batch=5)

    def decoder(codes):
        return torch.sigmoid(codes @ weight.T)

    penalty = decoder_gradient_penalty(decoder(z), z, probes=0)
    jacobians = [torch.autograd.functional.jacobian(decoder, code) for code in z[0]]
    expected = sum(float(j.pow(2).sum()) for j in jacobians) / len(jacobians)
    assert float(penalty.detach()) == pytest.approx(expected, rel=1e-10)


def test_decoder_l2_is_the_sum_of_squared_decoder_parameters():
    decoder = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    expected = sum(float(p.detach().pow(2).sum()) for p in decoder.parameters())  # weights and biases
    assert float(decoder_l2(decoder).detach()) == pytest.approx(expected, rel=1e-6)
    unit = DECODER_PENALTIES["l2"](resolve_config("rae", "digits"))
    parts = unit(None, SimpleNamespace(decoder=decoder), SimpleNamespace(decoder_penalty_weight=0.25), None)
    assert float(parts["decoder_penalty"].detach()) == pytest.approx(0.25 * expected, rel=1e-6)


@pytest.mark.parametrize("method", ["rae", "rae_gp"])
def test_objective_is_reconstruction_plus_latent_l2_plus_the_decoder_penalty(method):
    """RAE eq. 11: ||x - mu(z)||^2 + beta ||z||^2 / 2 + lambda L_REG, on the real model."""
    weight = {"rae": 0.5, "rae_gp": 2.0}[method]
    overrides = {"data.max_train": 64, "regulariser.decoder_penalty_weight": weight}
    if method == "rae_gp":
        overrides["regulariser.decoder_penalty_probes"] = 0
    config = resolve_config(method, "digits", overrides)
    dataset = load_dataset(config.data)
    model = build_model(config, dataset).eval()  # BN statistics fixed: examples independent
    x = dataset.train.x[:8]
    objective = Objective(config, steps_per_epoch=1, total_steps=1)
    out = model(x)
    terms = objective(out, model, x, None, objective.values(0))
    assert set(terms.terms) == {"rec", "kl", "latent_l2", "decoder_penalty"}
    mean = model.likelihood.mean(out.params)[0]  # K = 1 sample
    sse = (x - mean).pow(2).flatten(1).sum(-1).mean()  # sigma_x^2 = 1/2: rec = SSE + const
    latent = 1e-4 * 0.5 * out.z.pow(2).sum(-1).mean()
    if method == "rae":
        penalty = weight * sum(p.pow(2).sum() for p in model.decoder.parameters())
    else:

        def decoder_mean(code):
            return model.likelihood.mean(model.decoder(code[None], None))

        jacobians = [torch.autograd.functional.jacobian(decoder_mean, code) for code in out.z[0]]
        penalty = weight * sum(j.pow(2).sum() for j in jacobians) / len(jacobians)
    constant = x[0].numel() / 2 * math.log(math.pi)  # -log N(x; mu, I/2) = SSE + d/2 log(pi)
    assert float(terms.rec) == pytest.approx(float(sse) + constant, rel=1e-6)
    expected = float(sse) + constant + float(latent) + float(penalty)
    assert float(terms.loss) == pytest.approx(expected, rel=1e-5)
    assert float(penalty) > 1e-3 * float(terms.loss)  # the check sees the penalty


@pytest.mark.parametrize(
    ("method", "dataset", "overrides"),
    [
        ("vae", "digits", {"regulariser.kind": "mmd"}),  # WAE-MMD with a Gaussian encoder
        ("ar_elbo", "digits", {"decoder_penalty": "gradient_penalty", "decoder_penalty_weight": 0.01}),
    ],
)
def test_the_new_terms_train_inside_other_methods(method, dataset, overrides):
    quick = {**QUICK, "epochs": 1, "data.max_train": 64, "eval.probes": False, "eval.max_examples": 32}
    metrics = fit(resolve_config(method, dataset, {**quick, **overrides}))
    assert math.isfinite(metrics["rec"]) and math.isfinite(metrics["nll"])
