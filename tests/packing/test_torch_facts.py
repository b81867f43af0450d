"""Behaviours of torch that packed training relies on (checked on the installed version)."""

import copy

import pytest
import torch
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
