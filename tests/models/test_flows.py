"""IAF: the reported log-determinant is the true one, and each step is autoregressive."""

import torch

from vaesweep.models.flows import IAF


def _jacobian(flow, z0, context):
    return torch.autograd.functional.jacobian(lambda z: flow(z.unsqueeze(0), context)[0][0], z0)


def test_log_determinant_matches_the_jacobian():
    torch.manual_seed(0)
    flow = IAF(dim=4, hidden=32, context_dim=3, blocks=2)
    for block in flow.blocks:  # move away from the near-identity start
        torch.nn.init.normal_(block.scale.bias, std=1.0)
    context = torch.randn(1, 3)
    z0 = torch.randn(4)
    jacobian = _jacobian(flow, z0, context)
    _, log_det = flow(z0.view(1, 4), context)
    assert torch.allclose(torch.linalg.slogdet(jacobian).logabsdet, log_det[0], atol=1e-5)


def test_each_block_is_autoregressive_in_its_order_and_orders_alternate():
    torch.manual_seed(1)
    flow = IAF(dim=5, hidden=20, context_dim=2, blocks=2)
    context = torch.randn(1, 2)
    z0 = torch.randn(5)
    first = torch.autograd.functional.jacobian(lambda z: _one_block(flow.blocks[0], z, context), z0)
    second = torch.autograd.functional.jacobian(lambda z: _one_block(flow.blocks[1], z, context), z0)
    assert torch.allclose(first, torch.tril(first))  # natural order: lower triangular
    assert torch.allclose(second, torch.triu(second))  # reversed order: upper triangular


def _one_block(block, z, context):
    m, s = block(z.view(1, -1), context)
    gate = torch.sigmoid(s)
    return (gate * z.view(1, -1) + (1 - gate) * m)[0]
