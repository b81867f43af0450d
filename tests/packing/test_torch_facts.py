"""Behaviours of torch that packed training relies on (checked on the installed version)."""

import copy
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, stack_module_state, vmap


@pytest.mark.parametrize(("module", "shape"), [(nn.BatchNorm1d, (16, 5)), (nn.BatchNorm2d, (16, 5, 3, 3))])
def test_batch_norm_under_vmap_updates_each_members_stacked_buffers(module, shape):
    """With running_mean/var/num_batches_tracked stacked like the parameters and passed to
    functional_call, train-mode batch norm updates member k's buffers as module k alone does;
    eval mode then uses them."""
    torch.manual_seed(0)
    members = [module(5) for _ in range(3)]
    for m in members:
        nn.init.normal_(m.weight)
        nn.init.normal_(m.bias)
    alone = copy.deepcopy(members)
    params, buffers = stack_module_state(members)
    base = copy.deepcopy(members[0]).to("meta")

    def packed(x):
        return vmap(lambda p, b, x: functional_call(base, (p, b), (x,)))(params, buffers, x)

    for _ in range(3):
        x = torch.randn(3, *shape) * 2 + 1
        out = packed(x)
        for k, m in enumerate(alone):
            torch.testing.assert_close(out[k], m(x[k]), rtol=1e-5, atol=1e-5)
    for k, m in enumerate(alone):
        for name, buffer in m.named_buffers():
            torch.testing.assert_close(buffers[name][k], buffer, rtol=1e-6, atol=0)
    assert buffers["num_batches_tracked"].tolist() == [3, 3, 3]
    base.eval()
    x = torch.randn(3, *shape)
    out = packed(x)
    for k, m in enumerate(alone):
        torch.testing.assert_close(out[k], m.eval()(x[k]), rtol=1e-5, atol=1e-5)


def test_batch_norm_refuses_shared_buffers_under_vmap():
    """Unstacked running statistics cannot be updated by batched inputs: the error, not a
    silent mix of the members' statistics."""
    bn = nn.BatchNorm1d(4)
    params = {k: v.unsqueeze(0).expand(2, -1) for k, v in bn.named_parameters()}
    buffers = dict(bn.named_buffers())
    with pytest.raises(RuntimeError, match="running_mean or running_var"):
        vmap(lambda p, x: functional_call(bn, (p, buffers), (x,)))(params, torch.randn(2, 8, 4))


K, B, D, V = 3, 4, 5, 11
OPS_WITH_BATCHING_RULES = {
    "embedding": lambda: vmap(F.embedding)(torch.randint(0, V, (K, B, 6)), torch.randn(K, V, D)),
    "gather": lambda: vmap(lambda a, i: a.gather(1, i))(torch.randn(K, B, D), torch.randint(0, D, (K, B, 2))),
    "logsumexp": lambda: vmap(lambda a: a.logsumexp(-1))(torch.randn(K, B, D)),
    "cross_entropy": lambda: vmap(F.cross_entropy)(torch.randn(K, B, V), torch.randint(0, V, (K, B))),
    "bce_with_logits": lambda: vmap(F.binary_cross_entropy_with_logits)(torch.randn(K, B), torch.rand(K, B)),
    "batch_norm": lambda: vmap(lambda a, m, v: F.batch_norm(a, m, v, training=True))(
        torch.randn(K, B, D), torch.zeros(K, D), torch.ones(K, D)
    ),
    "clamp_min(tensor)": lambda: vmap(lambda a, c: a.clamp_min(c))(torch.randn(K, B), torch.rand(K)),
    "where(per-member flag)": lambda: vmap(lambda a, s: torch.where(s < 0.5, a, -a))(
        torch.randn(K, B), torch.rand(K)
    ),
    "in-place on batched": lambda: vmap(lambda a, s: a.clone().mul_(s).add_(a))(
        torch.randn(K, B), torch.rand(K)
    ),
    "bernoulli": lambda: vmap(torch.bernoulli, randomness="different")(torch.rand(K, B)),
    "conv2d": lambda: vmap(F.conv2d)(torch.randn(K, B, 2, 6, 6), torch.randn(K, 3, 2, 3, 3)),
    "conv_transpose2d": lambda: vmap(F.conv_transpose2d)(
        torch.randn(K, B, 3, 6, 6), torch.randn(K, 3, 2, 3, 3)
    ),
    "func.grad": lambda: vmap(torch.func.grad(lambda a: a.pow(2).sum()))(torch.randn(K, B)),
}


@pytest.mark.parametrize("name", sorted(OPS_WITH_BATCHING_RULES))
def test_ops_a_packed_vae_uses_have_batching_rules(name):
    """No vmap fallback (a per-member Python loop, announced by a 'performance drop' warning)."""
    torch._C._functorch._set_vmap_fallback_warning_enabled(True)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            OPS_WITH_BATCHING_RULES[name]()
    finally:
        torch._C._functorch._set_vmap_fallback_warning_enabled(False)
    assert not [w for w in caught if "performance drop" in str(w.message)]


def _packed_nn_lstm():
    modules = [nn.LSTM(2, 3, batch_first=True) for _ in range(K)]
    params, buffers = stack_module_state(modules)
    return vmap(lambda p, b, x: functional_call(modules[0], (p, b), (x,)))(
        params, buffers, torch.randn(K, 4, 5, 2)
    )


REFUSED_UNDER_VMAP = {
    "nn.LSTM": (_packed_nn_lstm, "Batching rule not implemented"),
    ".item()": (lambda: vmap(lambda a: a * a.sum().item())(torch.randn(K, B)), "item"),
    "Python if on a member's value": (
        lambda: vmap(lambda a, s: a if s < 0.5 else -a)(torch.randn(K, B), torch.rand(K)),
        "data-dependent control flow",
    ),
    "masked_select": (lambda: vmap(lambda a: a.masked_select(a > 0))(torch.randn(K, B)), "masked_select"),
    "in-place on an unbatched tensor": (
        lambda: vmap(lambda a: torch.zeros(B).add_(a))(torch.randn(K, B)),
        "shape",
    ),
    "torch.autograd.grad": (
        lambda: vmap(lambda a: torch.autograd.grad(a.requires_grad_().pow(2).sum(), a)[0])(torch.randn(K, B)),
        "requires_grad_",
    ),
}


@pytest.mark.parametrize("name", sorted(REFUSED_UNDER_VMAP))
def test_what_vmap_refuses(name):
    """What packed model code must avoid (torch.where for branches, stacked buffers,
    torch.func.grad instead of autograd.grad, the member-batched LSTM)."""
    function, message = REFUSED_UNDER_VMAP[name]
    with pytest.raises(RuntimeError, match=message):
        function()
