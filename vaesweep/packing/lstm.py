"""A single-layer, batch_first LSTM written with plain tensor ops, so it runs under torch.func.vmap.

``nn.LSTM`` has no vmap batching rule; this function takes nn.LSTM's own parameters
(``weight_ih_l0`` [4H, I], ``weight_hh_l0`` [4H, H], ``bias_ih_l0``, ``bias_hh_l0``, gate order
i, f, g, o) and gives its outputs, so a packed model keeps nn.LSTM's state_dict and a member can
be extracted as a normal one. Under vmap over stacked parameters each matrix product becomes one
batched product over members.

The input projection of all time steps is one matrix product; the loop over time then does one
product (h W_hh^T) and the gate arithmetic per step. ``PackableLSTM`` is a module with
nn.LSTM's parameter names and initialisation that calls it: torch.compile (dynamo) refuses to
trace any nn.LSTM module unless ``torch._dynamo.config.allow_rnn`` is set, even one whose
weights only feed this function.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def lstm(
    input: torch.Tensor,
    weight_ih: torch.Tensor,
    weight_hh: torch.Tensor,
    bias_ih: torch.Tensor | None = None,
    bias_hh: torch.Tensor | None = None,
    state: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    """``nn.LSTM(batch_first=True)`` forward: input [B, T, I], state (h0, c0) each [1, B, H].

    Returns (outputs [B, T, H], (h_n [1, B, H], c_n [1, B, H])) as nn.LSTM does; a missing
    state is zeros.
    """
    hidden = weight_hh.shape[1]
    # rows i, f, g, o -> i, f, o | g: one sigmoid and one tanh per step over whole blocks
    weight_ih, weight_hh = _sigmoid_gates_first(weight_ih, hidden), _sigmoid_gates_first(weight_hh, hidden)
    bias = None
    if bias_ih is not None:
        bias = bias_ih if bias_hh is None else bias_ih + bias_hh
    elif bias_hh is not None:
        bias = bias_hh
    if bias is not None:
        bias = _sigmoid_gates_first(bias, hidden)
    projected = F.linear(input, weight_ih, bias)  # [B, T, 4H]: every step's input term at once
    weight_hh_t = weight_hh.t()
    if state is None:  # zeros, and still multiplied by W_hh so that it gets its zero gradient
        h = c = projected.new_zeros(projected.shape[0], hidden)
    else:
        h, c = state[0].squeeze(0), state[1].squeeze(0)
    outputs = []
    for step_input in projected.unbind(1):
        gates = torch.addmm(step_input, h, weight_hh_t)
        sigmoid_gates, g = gates.split([3 * hidden, hidden], dim=1)
        i, f, o = torch.sigmoid(sigmoid_gates).chunk(3, dim=1)
        c = torch.addcmul(i * torch.tanh(g), f, c)
        h = o * torch.tanh(c)
        outputs.append(h)
    if not outputs:
        raise ValueError("the LSTM input has no time steps")
    return torch.stack(outputs, dim=1), (h.unsqueeze(0), c.unsqueeze(0))


def _sigmoid_gates_first(weight: torch.Tensor, hidden: int) -> torch.Tensor:
    i_f, g, o = weight.split([2 * hidden, hidden, hidden], dim=0)
    return torch.cat([i_f, o, g], dim=0)


class PackableLSTM(nn.Module):
    """One-layer ``nn.LSTM(input_size, hidden_size, batch_first=True)``: the same parameter
    names (so the same state_dict), the same initialisation and RNG draws for a given seed, and
    the same outputs, computed by ``lstm`` so that it runs under vmap and torch.compile."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.weight_ih_l0 = nn.Parameter(torch.empty(4 * hidden_size, input_size))
        self.weight_hh_l0 = nn.Parameter(torch.empty(4 * hidden_size, hidden_size))
        if bias:
            self.bias_ih_l0 = nn.Parameter(torch.empty(4 * hidden_size))
            self.bias_hh_l0 = nn.Parameter(torch.empty(4 * hidden_size))
        else:
            self.register_parameter("bias_ih_l0", None)
            self.register_parameter("bias_hh_l0", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """nn.LSTM's: every parameter, in registration order, from U[-1/sqrt(H), 1/sqrt(H)]."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for parameter in self.parameters():
            nn.init.uniform_(parameter, -bound, bound)

    def forward(
        self, input: torch.Tensor, hx: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        return lstm(input, self.weight_ih_l0, self.weight_hh_l0, self.bias_ih_l0, self.bias_hh_l0, hx)
