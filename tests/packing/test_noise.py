"""Per-member noise: under vmap, member k's draws are bitwise those of its unpacked run."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import vmap

from vaesweep.noise import GlobalNoise
from vaesweep.packing.noise import (
    bernoulli,
    drawing_from,
    dropout,
    generator_from_global_state,
    keep_mask,
    keep_probabilities,
    randn_like,
)

SEEDS = [3, 5, 8]
BATCH, LATENT, FEATURES, KEEP, DROP = 6, 4, 7, 0.7, 0.3


def build_model() -> nn.Module:
    """Initialisation consumes global draws, as building a model in `fit` does."""
    return nn.Sequential(nn.Linear(5, LATENT), nn.LSTM(3, 2))


def step(mean: torch.Tensor, x: torch.Tensor):
    """The noise of a training step, in `fit`'s order: posterior sample, DU-VAE's Bernoulli
    keep mask, dropout; two draws of each kind with different shapes."""
    z = mean + randn_like(mean)
    keep = bernoulli(torch.full_like(mean, KEEP))
    dropped = dropout(x, DROP)
    samples = randn_like(mean.expand(3, *mean.shape))
    return z, keep, dropped, samples


def torch_step(mean: torch.Tensor, x: torch.Tensor):
    """The same with torch's own functions and the global RNG (what `fit` runs today)."""
    z = mean + torch.randn(mean.shape)
    keep = torch.bernoulli(torch.full_like(mean, KEEP))
    dropped = F.dropout(x, DROP, training=True)
    samples = torch.randn((3, *mean.shape))
    return z, keep, dropped, samples


def inputs(steps: int = 2):
    generator = torch.Generator().manual_seed(99)
    means = torch.randn(steps, len(SEEDS), BATCH, LATENT, generator=generator)
    xs = torch.randn(steps, len(SEEDS), BATCH, FEATURES, generator=generator)
    return means, xs


def unpacked(function):
    means, xs = inputs()
    runs = []
    for k, seed in enumerate(SEEDS):
        torch.manual_seed(seed)
        build_model()
        runs.append([function(means[t, k], xs[t, k]) for t in range(len(means))])
    return runs


def test_outside_vmap_the_ops_are_torch_ops_on_the_global_rng():
    for mine, theirs in zip(unpacked(step), unpacked(torch_step), strict=True):
        for a, b in zip(mine, theirs, strict=True):
            for u, v in zip(a, b, strict=True):
                assert torch.equal(u, v)


def test_packed_members_draw_their_unpacked_noise_bitwise():
    generators = []
    for seed in SEEDS:
        torch.manual_seed(seed)
        build_model()
        generators.append(generator_from_global_state())
    torch.manual_seed(12345)  # the global RNG must play no part in the packed draws
    means, xs = inputs()
    with drawing_from(generators):
        packed = [vmap(step)(means[t], xs[t]) for t in range(len(means))]
    for k, run in enumerate(unpacked(torch_step)):
        for t, expected in enumerate(run):
            for got, want in zip(packed[t], expected, strict=True):
                assert torch.equal(got[k], want), (k, t)


def test_dropout_gradient_is_the_mask():
    x = torch.randn(len(SEEDS), BATCH, FEATURES, requires_grad=True)
    generators = [torch.Generator().manual_seed(s) for s in SEEDS]
    with drawing_from(generators):
        out = vmap(lambda x: dropout(x, DROP))(x)
    out.sum().backward()
    for k, seed in enumerate(SEEDS):
        alone = x[k].detach().clone().requires_grad_()
        torch.manual_seed(seed)
        F.dropout(alone, DROP, training=True).sum().backward()
        assert torch.equal(x.grad[k], alone.grad)


def test_misuse_is_an_error_not_shared_noise():
    mean = torch.zeros(len(SEEDS), BATCH, LATENT)
    with pytest.raises(RuntimeError, match="drawing_from"):
        vmap(randn_like)(mean)
    generators = [torch.Generator() for _ in SEEDS]
    with drawing_from(generators), pytest.raises(RuntimeError, match="same draw"):
        vmap(lambda m: m + randn_like(torch.zeros(LATENT)))(mean)
    with drawing_from(generators[:2]), pytest.raises(RuntimeError, match="2 member generators"):
        vmap(randn_like)(mean)


def test_a_member_whose_keep_probability_is_one_draws_no_mask_and_the_others_draw_theirs():
    """DU-VAE's p = 1 and p < 1 share a pack: the run with p = 1 has no variance dropout, so its
    member gets ones and its generator is left as it was; the others get their runs' masks."""
    keeps = [0.7, 1.0, 0.4]
    variance = torch.rand(len(SEEDS), BATCH, LATENT)
    generators = [torch.Generator().manual_seed(s) for s in SEEDS]
    with drawing_from(generators), keep_probabilities(keeps):
        masks = vmap(keep_mask)(torch.tensor(keeps), variance)
    for k, (seed, keep) in enumerate(zip(SEEDS, keeps, strict=True)):
        alone = torch.Generator().manual_seed(seed)
        expected = (
            torch.ones(BATCH, LATENT)
            if keep == 1
            else torch.bernoulli(torch.full((BATCH, LATENT), keep), generator=alone)
        )
        assert torch.equal(masks[k], expected), k
        assert torch.equal(torch.rand(3, generator=generators[k]), torch.rand(3, generator=alone)), k
    with drawing_from(generators), pytest.raises(RuntimeError, match="keep_probabilities"):
        vmap(keep_mask)(torch.tensor(keeps), variance)


@pytest.mark.parametrize("time_major", [False, True])
def test_fits_dropout_is_f_dropout_on_the_cpu_draw_for_draw(time_major):
    """`fit` draws its dropout mask itself (on CUDA F.dropout's fused kernel hands its draws to
    elements in its own order, which a packed member cannot reproduce). On the CPU that mask is
    F.dropout's: the same output, and the global RNG left in the same state. ``time_major``: an
    nn.LSTM batch-first output, a transposed view whose memory is time-major."""
    x = torch.randn(FEATURES, BATCH, LATENT).transpose(0, 1) if time_major else torch.randn(BATCH, FEATURES)
    torch.manual_seed(0)
    ours = GlobalNoise().dropout(x, DROP, time_major)
    after = torch.randn(3)
    torch.manual_seed(0)
    assert torch.equal(ours, F.dropout(x, DROP, training=True))
    assert torch.equal(after, torch.randn(3))
    kept = ours != 0
    assert torch.allclose(ours[kept], x[kept] / (1 - DROP))


def test_no_draw_where_f_dropout_draws_none():
    x = torch.randn(BATCH, FEATURES)
    for p, training in [(0.0, True), (1.0, True), (0.5, False)]:
        torch.manual_seed(0)
        assert torch.equal(dropout(x, p, training), F.dropout(x, p, training))
        assert torch.equal(torch.randn(3), torch.randn(3, generator=torch.Generator().manual_seed(0)))


@pytest.mark.slow
def test_compiled_pack_draws_in_program_order():
    """torch.compile reorders independent ops; the draws must still come out in program order
    (here inductor would otherwise run the Bernoulli draw before the dropout mask)."""
    x = torch.randn(len(SEEDS), BATCH, FEATURES, requires_grad=True)
    means = torch.randn(len(SEEDS), BATCH, LATENT)

    def packed(means, x):
        return vmap(step)(means, x)

    def run(function):
        with drawing_from([torch.Generator().manual_seed(s) for s in SEEDS]):
            return [function(means, x) for _ in range(2)]

    torch._dynamo.reset()
    for eager, compiled in zip(run(packed), run(torch.compile(packed)), strict=True):
        for a, b in zip(eager, compiled, strict=True):
            assert torch.equal(a, b)
