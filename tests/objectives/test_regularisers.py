"""Regulariser units and schedules, each against its paper's formula."""

import math
from types import SimpleNamespace

import pytest
import torch

from vaesweep.config import AnnealingConfig, RunConfig, resolve_config
from vaesweep.errors import ConfigError
from vaesweep.models.posteriors.heads import Posterior
from vaesweep.models.vae import ForwardOutput
from vaesweep.noise import GlobalNoise
from vaesweep.objectives.objective import Objective
from vaesweep.objectives.regularisers import REGULARISERS, ramped_target
from vaesweep.objectives.regularisers.base import weighted
from vaesweep.objectives.schedules import SCHEDULES
from vaesweep.train import Trainer

NOISE = GlobalNoise()


def _term(kind: str, out, **values) -> float:
    """The regulariser ``kind``'s loss (the sum of its parts) at the given per-trial values."""
    parts = REGULARISERS[kind](RunConfig())(out, SimpleNamespace(**values), NOISE)
    return float(sum(parts.values()))


def kl_weight(annealing, step, steps_per_epoch, total_steps):
    return SCHEDULES[annealing.schedule].weight(annealing, step, steps_per_epoch, total_steps)


def _output(mean, logvar, kl_per_dim=None):
    posterior = Posterior(mean, logvar)
    kl_per_dim = posterior.kl_to_standard_normal() if kl_per_dim is None else kl_per_dim
    zeros = torch.zeros(1, mean.shape[0])
    return ForwardOutput(
        posterior, mean.unsqueeze(0), zeros, zeros, zeros, zeros, kl_per_dim.sum(-1), kl_per_dim
    )


def test_target_kl_is_per_example_absolute_gap():
    """IGP eq. 2 is per example: two examples at C +- 1 cost 1 each, not |mean - C| = 0."""
    kl_per_dim = torch.tensor([[4.0], [6.0]])
    out = _output(torch.zeros(2, 1), torch.zeros(2, 1), kl_per_dim)
    assert _term("target_kl", out, beta=0.5, target_kl=5.0) == pytest.approx(0.5 * 1.0)
    assert _term("kl", out, beta=0.4) == pytest.approx(0.4 * 5.0)


def test_free_bits_hinge_per_dimension_on_batch_means():
    kl_per_dim = torch.tensor([[0.0, 1.0, 0.3], [0.1, 3.0, 0.1]])
    out = _output(torch.zeros(2, 3), torch.zeros(2, 3), kl_per_dim)
    # batch means: 0.05, 2.0, 0.2 -> max(0.5, .) = 0.5 + 2.0 + 0.5
    assert _term("free_bits", out, beta=1.0, free_bits=0.5) == pytest.approx(3.0)


def test_mae_rewards_diverse_posteriors():
    values = {"beta": 1.0, "mae_gamma": 1.0, "mae_eta": 0.0}
    logvar = torch.zeros(8, 2)
    close, far = torch.randn(8, 2) * 0.1, torch.randn(8, 2) * 3
    # same KL part removed: compare only the diversity term
    close_term = _term("mae", _output(close, logvar), **values) - float(_output(close, logvar).kl.mean())
    far_term = _term("mae", _output(far, logvar), **values) - float(_output(far, logvar).kl.mean())
    assert far_term < close_term


def test_linear_and_cyclic_annealing():
    linear = AnnealingConfig(schedule="linear", warmup_epochs=2.0, start_weight=0.0)
    assert kl_weight(linear, 0, 10, 100) == 0.0
    assert kl_weight(linear, 10, 10, 100) == pytest.approx(0.5)
    assert kl_weight(linear, 25, 10, 100) == 1.0
    cyclic = AnnealingConfig(schedule="cyclic", cycles=4, cycle_ratio=0.5)
    weights = [kl_weight(cyclic, s, 10, 100) for s in range(100)]
    assert weights[0] == 0.0 and weights[25] == 0.0 and weights[50] == 0.0  # restarts
    assert weights[6] == pytest.approx(0.48) and weights[20] == 1.0
    assert kl_weight(AnnealingConfig(), 0, 10, 100) == 1.0


def test_target_kl_ramp():
    assert ramped_target(15.0, 5000, 0) == 0.0
    assert ramped_target(15.0, 5000, 2500) == pytest.approx(7.5)
    assert ramped_target(15.0, 5000, 10_000) == 15.0
    assert ramped_target(15.0, 0, 0) == 15.0
    assert math.isclose(ramped_target(5.0, 100, 50), 2.5)


def test_a_ramp_in_epochs_spans_that_many_epochs_of_the_runs_steps():
    """IGP Table 7's base model: C rises to 5 over its 5 epochs, however many steps they take."""
    config = resolve_config("igp", "digits", {"C": 5.0, "regulariser.target_kl_ramp_epochs": 5.0})
    objective = Objective(config, steps_per_epoch=20, total_steps=200)
    assert [objective.values(step).target_kl for step in (0, 50, 100, 200)] == [0.0, 2.5, 5.0, 5.0]
    assert Objective(config, steps_per_epoch=1000, total_steps=5000).values(2500).target_kl == 2.5
    with pytest.raises(ConfigError) as caught:
        resolve_config("igp", "digits", {"regulariser.target_kl_ramp_epochs": 5.0, "target_kl_ramp_steps": 9})
    assert caught.value.field == "regulariser.target_kl_ramp_epochs"


def test_latent_l2_is_half_the_squared_norm_of_the_codes():
    mean = torch.tensor([[3.0, 4.0], [0.0, 0.0]])
    out = _output(mean, torch.zeros(2, 2))
    assert _term("latent_l2", out, beta=1.0) == pytest.approx(6.25)


def test_a_weight_of_one_skips_its_product_and_changes_no_bit():
    """fit's beta = 1 and full KL weight add no op to the step; a pack's weights are per-member
    tensors and always multiply. The loss and every gradient are those of the products."""
    term = torch.randn(5, requires_grad=True)
    assert weighted(1.0, term) is term and weighted(1, term) is term
    assert weighted(torch.tensor(1.0), term) is not term
    assert torch.equal(weighted(0.5, term), 0.5 * term)

    torch.manual_seed(0)
    trainer = Trainer(resolve_config("vae", "digits", {"epochs": 1}))
    model, objective = trainer.model, trainer.objective
    x, _ = trainer.batch(torch.arange(32))
    values = objective.values(0)
    assert values.beta == 1.0 and values.kl_weight == 1.0  # floats: the products are skipped

    def gradients(loss_of):
        model.zero_grad()
        torch.manual_seed(1)
        out = model(x, None)
        loss = loss_of(out)
        loss.backward()
        return loss.detach(), [p.grad.clone() for p in model.parameters()]

    loss, grads = gradients(lambda out: objective(out, model, x, None, values).loss)
    products = gradients(lambda out: -out.log_px.mean() + 1.0 * (0 + 1.0 * out.kl.mean()))
    assert torch.equal(loss, products[0])
    assert all(torch.equal(a, b) for a, b in zip(grads, products[1], strict=True))
