"""The vmap-able LSTM against nn.LSTM: outputs, final state and gradients, alone and packed."""

import pytest
import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from vaesweep.packing.lstm import PackableLSTM, lstm

TOLERANCE = 1e-5  # relative to the largest magnitude of the reference, float32


def assert_close(actual: torch.Tensor, expected: torch.Tensor) -> None:
    error = (actual - expected).abs().max().item()
    assert error <= TOLERANCE * expected.abs().max().item(), error


def parameters_of(module: nn.LSTM) -> dict[str, torch.Tensor]:
    return dict(module.named_parameters())


def call(params: dict[str, torch.Tensor], x, state=None):
    return lstm(
        x,
        params["weight_ih_l0"],
        params["weight_hh_l0"],
        params.get("bias_ih_l0"),
        params.get("bias_hh_l0"),
        state,
    )


@pytest.mark.parametrize("with_state", [False, True])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize(("batch", "length", "inputs", "hidden"), [(4, 1, 3, 5), (7, 30, 17, 33)])
def test_matches_nn_lstm_forward_and_gradients(with_state, bias, batch, length, inputs, hidden):
    torch.manual_seed(0)
    module = nn.LSTM(inputs, hidden, batch_first=True, bias=bias)
    x = torch.randn(batch, length, inputs, requires_grad=True)
    state = None
    if with_state:
        state = tuple(torch.randn(1, batch, hidden, requires_grad=True) for _ in range(2))
    weights = torch.randn(batch, length, hidden)  # a loss that weighs every output differently
    expected, (h_expected, c_expected) = module(x, state)
    mine, (h_mine, c_mine) = call(parameters_of(module), x, state)
    for a, b in [(mine, expected), (h_mine, h_expected), (c_mine, c_expected)]:
        assert a.shape == b.shape
        assert_close(a, b)
    leaves = [x, *module.parameters(), *(state or ())]

    def gradients(outputs, h, c):
        loss = (outputs * weights).sum() + h.sum() * 0.3 - c.pow(2).sum()
        return torch.autograd.grad(loss, leaves)

    for a, b in zip(
        gradients(mine, h_mine, c_mine), gradients(expected, h_expected, c_expected), strict=True
    ):
        assert_close(a, b)


def test_packed_members_match_their_own_nn_lstm():
    """Under vmap over stacked parameters (and per-member inputs and states) member k is nn.LSTM
    k; backward of the summed losses gives each member its own gradient."""
    torch.manual_seed(1)
    members, batch, length, inputs, hidden = 4, 5, 9, 6, 11
    modules = [nn.LSTM(inputs, hidden, batch_first=True) for _ in range(members)]
    x = torch.randn(members, batch, length, inputs)
    h0, c0 = torch.randn(2, members, 1, batch, hidden)
    params, _ = stack_module_state(modules)

    def member_loss(p, x, h0, c0):
        outputs, (h, c) = call(p, x, (h0, c0))
        return outputs.square().mean() + h.sum() - c.mean()

    losses = vmap(member_loss)(params, x, h0, c0)
    losses.sum().backward()
    for k, module in enumerate(modules):
        outputs, (h, c) = module(x[k], (h0[k], c0[k]))
        loss = outputs.square().mean() + h.sum() - c.mean()
        assert_close(losses[k], loss)
        loss.backward()
        for name, p in module.named_parameters():
            assert_close(params[name].grad[k], p.grad)


def test_functional_call_of_a_module_that_uses_it():
    """A module holding an nn.LSTM but calling lstm() keeps nn.LSTM's state_dict keys."""

    class Wrapped(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.LSTM(3, 4, batch_first=True)

        def forward(self, x):
            p = self.rnn
            return lstm(x, p.weight_ih_l0, p.weight_hh_l0, p.bias_ih_l0, p.bias_hh_l0)[0]

    torch.manual_seed(2)
    modules = [Wrapped() for _ in range(3)]
    params, buffers = stack_module_state(modules)
    x = torch.randn(2, 5, 3)  # the same input for every member
    packed = vmap(lambda p, b: functional_call(modules[0], (p, b), (x,)))(params, buffers)
    for k, module in enumerate(modules):
        assert_close(packed[k], module.rnn(x)[0])


@pytest.mark.parametrize("bias", [True, False])
def test_packable_lstm_is_nn_lstm_by_seed_state_dict_and_output(bias):
    torch.manual_seed(3)
    reference = nn.LSTM(6, 9, batch_first=True, bias=bias)
    after_reference = torch.get_rng_state()
    torch.manual_seed(3)
    packable = PackableLSTM(6, 9, bias=bias)
    assert torch.equal(torch.get_rng_state(), after_reference), "init must draw what nn.LSTM draws"
    assert packable.state_dict().keys() == reference.state_dict().keys()
    for (name, p), (_, q) in zip(packable.named_parameters(), reference.named_parameters(), strict=True):
        assert torch.equal(p, q), name
    packable.load_state_dict(reference.state_dict())
    x = torch.randn(3, 4, 6)
    assert_close(packable(x)[0], reference(x)[0])


def test_packable_lstm_compiles_under_vmap_without_graph_breaks():
    """dynamo graph-breaks on an nn.LSTM module; a packed model holding PackableLSTM traces
    as one graph (what torch.compile(vmap(loss)) needs to fuse the time loop)."""

    class Model(nn.Module):
        def __init__(self, rnn: nn.Module):
            super().__init__()
            self.rnn = rnn

        def forward(self, x):
            r = self.rnn
            return lstm(x, r.weight_ih_l0, r.weight_hh_l0, r.bias_ih_l0, r.bias_hh_l0)[0].sum()

    torch.manual_seed(4)
    x = torch.randn(2, 3, 5, 4)
    counts = {}
    for name, make in [
        ("packable", lambda: PackableLSTM(4, 5)),
        ("nn", lambda: nn.LSTM(4, 5, batch_first=True)),
    ]:
        models = [Model(make()) for _ in range(2)]
        params, buffers = stack_module_state(models)

        def packed(p, b, x, base=models[0]):
            return vmap(lambda p, b, x: functional_call(base, (p, b), (x,)))(p, b, x)

        torch._dynamo.reset()
        explanation = torch._dynamo.explain(packed)(params, buffers, x)
        counts[name] = (explanation.graph_count, explanation.graph_break_count)
    assert counts["packable"] == (1, 0)
    assert counts["nn"][0] != 1 or counts["nn"][1] > 0, "dynamo now traces nn.LSTM: see the module doc"
