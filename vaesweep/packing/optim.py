"""Optimisers over member-stacked parameters: dim 0 of every tensor is the pack member.

Member m follows the trajectory that its `fit` run's optimiser gives on its own slices ``p[m]``:
- ``MemberAdam`` runs torch's fused Adam kernel, as `fit`'s ``torch.optim.Adam(fused=True)``
  does, over the whole stack: one pass over each tensor instead of one per operation (on a
  GPU, a few multi-tensor launches in place of about eight kernels per tensor). The kernel
  rounds the vectorised body of the range a thread gets and its tail differently, and a
  member's elements sit elsewhere in the stack than alone, so a member agrees with `fit` to
  rounding (a few float32 ulps on the elements that change place), not bitwise. Every call
  takes the whole stack, so a member's numbers do not depend on what the other members do
  (diverge, stop, decay);
- ``MemberSGD`` does the element-wise operations of ``torch.optim.SGD``'s single-tensor path
  (the one torch takes on CPU) in the same order, the per-member scalars computed in Python
  floats and rounded as torch's kernels round a Python scalar: bitwise equal on CPU; on CUDA
  torch defaults to its multi-tensor path, which fuses differently (agreement to rounding).
tests/packing/test_optim.py checks both.

What `fit` does to its one optimiser, done here per member:
- its own learning rate (``set_lr``);
- ``reset(member)``: the empty state of a newly built torch optimiser, since `fit` re-creates
  its optimiser on every learning-rate decay (forgetting Adam's moments, SGD's momentum);
- ``freeze(member)``: a diverged member, or one stopped early, is no longer updated and keeps
  its optimiser state;
- ``clip_grad_norm_per_member_``: ``torch.nn.utils.clip_grad_norm_`` over each member's own
  parameters.
A member's state converts to and from a torch optimiser's ``state_dict`` (``member_state_dict``,
``load_member_state_dict``), so one member can be written out as a normal `fit` checkpoint.

On CPU the element-wise update (SGD) runs over groups of members whose slices take at most
``chunk_bytes`` (0: one group): passes over a group that stays in cache instead of over the
whole stack (at 64 MLP-VAE members, 2-3x faster than one pass per tensor; the same bit for bit).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch


def _per_member(value: float | Sequence[float], members: int, name: str) -> list[float]:
    if isinstance(value, int | float):
        return [float(value)] * members
    values = [float(v) for v in value]
    if len(values) != members:
        raise ValueError(f"{name} has {len(values)} values for {members} members")
    return values


def _check_stacked(params: list[torch.Tensor]) -> None:
    if not params:
        raise ValueError("no parameters to optimise")
    first = params[0]
    for index, p in enumerate(params):
        if p.dim() == 0 or p.shape[0] != first.shape[0]:
            raise ValueError(
                f"parameter {index} has shape {tuple(p.shape)}: every parameter must have the "
                f"member dimension first, of size {first.shape[0]}"
            )
        if p.dtype != first.dtype or p.device != first.device or not p.is_floating_point():
            raise ValueError(
                f"parameter {index} is {p.dtype} on {p.device}: a pack's parameters share one "
                f"floating dtype and device ({first.dtype} on {first.device})"
            )
        if not p.is_leaf:
            raise ValueError(f"parameter {index} is not a leaf tensor")


def _member_view(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Per-member scalars [M'] shaped to broadcast against a stacked tensor [M', ...]."""
    return values.view(-1, *([1] * (like.dim() - 1)))


def _strided_like(grad: torch.Tensor, param: torch.Tensor) -> torch.Tensor:
    """``grad`` laid out in memory as ``param`` is: the fused kernel walks the parameter, its
    gradient and its state as flat arrays, so they must share strides (autograd's gradients do;
    one set by hand may not)."""
    if grad.stride() == param.stride():
        return grad
    return torch.empty_like(param, memory_format=torch.preserve_format).copy_(grad)


def _in_memory_order(tensor: torch.Tensor) -> torch.Tensor:
    """``tensor``, or its last two dims swapped where that view is contiguous (a stack of
    transposed matrices). The fused kernel copies a gradient that is not contiguous; an
    element-wise update given the parameter, gradient and state viewed alike is the same."""
    if tensor.dim() >= 2 and not tensor.is_contiguous() and tensor.transpose(-2, -1).is_contiguous():
        return tensor.transpose(-2, -1)
    return tensor


def _as_fit_keeps(state: torch.Tensor) -> torch.Tensor:
    """A copy of a member's state tensor, contiguous as `fit`'s parameters are: torch's fused
    kernel walks a parameter and its state as flat arrays without checking their layouts."""
    return state.clone(memory_format=torch.contiguous_format)


CPU_CHUNK_BYTES = 256 * 2**10  # a member group's slice of one parameter (with its state, in L2)


class MemberOptimiser:
    """Per-member learning rates and active flags over stacked parameters; subclasses give the
    update rule, its state tensors and the torch optimiser it mirrors."""

    torch_class: ClassVar[type[torch.optim.Optimizer]]

    def __init__(self, params: Sequence[torch.Tensor], lr: float | Sequence[float]) -> None:
        self.params = list(params)
        _check_stacked(self.params)
        self.members = self.params[0].shape[0]
        self.lrs = _per_member(lr, self.members, "lr")
        self._active = [True] * self.members
        # which parameters get gradients: fixed at the first step, as a member's state (and
        # Adam's step count) is shared by all of its parameters
        self._with_grad: tuple[bool, ...] | None = None
        self.state: dict[str, list[torch.Tensor]] = {
            name: [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
            for name in self.state_names()
        }

    # -- what a subclass provides ---------------------------------------------------------
    def state_names(self) -> tuple[str, ...]:
        """Names of the per-parameter state tensors, as torch's optimiser names them."""
        raise NotImplementedError

    def hyperparameters(self) -> dict[str, Any]:
        """Keyword arguments of the torch optimiser besides ``lr`` (shared by all members)."""
        raise NotImplementedError

    def torch_options(self) -> dict[str, Any]:
        """Keyword arguments that choose how the torch optimiser computes (not what): `fit`'s
        choice, given to the optimiser a member's checkpoint is written for."""
        return {}

    def _step(self, live: list[int]) -> None:
        """Update the ``live`` members' parameters and state in place (the others stay)."""
        raise NotImplementedError

    def _member_has_state(self, member: int) -> bool:
        """Whether ``member``'s torch optimiser would hold state (it has stepped since a reset)."""
        raise NotImplementedError

    def _torch_state(self, member: int, index: int) -> dict[str, torch.Tensor]:
        """Parameter ``index``'s state for ``member``, as torch's optimiser keeps it."""
        raise NotImplementedError

    def _load_torch_state(
        self, member: int, states: list[dict[str, torch.Tensor]], with_grad: tuple[bool, ...]
    ) -> None:
        """Set ``member``'s state from torch's per-parameter states (those with gradients)."""
        raise NotImplementedError

    # -- per-member control ---------------------------------------------------------------
    @property
    def active(self) -> tuple[bool, ...]:
        return tuple(self._active)

    def set_lr(self, member: int, lr: float) -> None:
        self.lrs[member] = float(lr)

    def freeze(self, member: int) -> None:
        """Stop updating ``member``; its parameters and optimiser state stay as they are."""
        self._active[member] = False

    def reset(self, member: int) -> None:
        """Forget ``member``'s state, as re-creating its torch optimiser does."""
        with torch.no_grad():
            for tensors in self.state.values():
                for tensor in tensors:
                    tensor[member].zero_()

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    # -- the step -------------------------------------------------------------------------
    @torch.no_grad()
    def step(self) -> None:
        with_grad = tuple(p.grad is not None for p in self.params)
        if not any(with_grad):
            return
        if self._with_grad is None:
            self._with_grad = with_grad
        elif with_grad != self._with_grad:
            raise RuntimeError(
                "the set of parameters with gradients changed between steps; a member's optimiser "
                "state is shared by all its parameters, so each must always or never get a gradient"
            )
        live = [m for m in range(self.members) if self._active[m]]
        if live:
            self._step(live)

    # -- checkpoints ----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The whole pack's optimiser state (for a pack checkpoint)."""
        return {
            "lrs": list(self.lrs),
            "active": list(self._active),
            "with_grad": self._with_grad,
            "state": {name: [t.detach().clone() for t in tensors] for name, tensors in self.state.items()},
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if len(state_dict["lrs"]) != self.members or set(state_dict["state"]) != set(self.state):
            raise ValueError("the state dict is of another pack (member count or state names differ)")
        self.lrs = [float(v) for v in state_dict["lrs"]]
        self._active = [bool(v) for v in state_dict["active"]]
        self._with_grad = state_dict["with_grad"]
        with torch.no_grad():
            for name, tensors in self.state.items():
                for tensor, saved in zip(tensors, state_dict["state"][name], strict=True):
                    tensor.copy_(saved)

    def member_state_dict(self, member: int) -> dict[str, Any]:
        """``member``'s state as ``torch_class(params, lr=...).state_dict()`` would give it for a
        model whose (requires-grad) parameters are this pack's, in order, sliced at ``member``."""
        slices = [p[member].detach() for p in self.params]
        optimiser = self.torch_class(
            slices, lr=self.lrs[member], **self.hyperparameters(), **self.torch_options()
        )
        if self._member_has_state(member) and self._with_grad is not None:
            for i, tensor in enumerate(slices):
                if self._with_grad[i]:
                    optimiser.state[tensor] = self._torch_state(member, i)
        return optimiser.state_dict()

    def load_member_state_dict(self, member: int, state_dict: dict[str, Any]) -> None:
        """Set ``member``'s learning rate and state from a torch optimiser's ``state_dict``."""
        groups = state_dict["param_groups"]
        if len(groups) != 1 or len(groups[0]["params"]) != len(self.params):
            raise ValueError(
                f"expected one parameter group of {len(self.params)} parameters, got "
                f"{[len(g['params']) for g in groups]}"
            )
        group = groups[0]
        for key, value in self.hyperparameters().items():
            saved = tuple(group[key]) if isinstance(value, tuple) else group[key]
            if saved != value:
                raise ValueError(f"{key}={saved!r} in the state dict, but this pack uses {value!r}")
        states = [state_dict["state"].get(pid, {}) for pid in group["params"]]
        with_grad = tuple(bool(s) for s in states)
        if any(with_grad) and self._with_grad is not None and with_grad != self._with_grad:
            raise ValueError("the state dict has state for other parameters than this pack's")
        self.reset(member)
        self.lrs[member] = float(group["lr"])
        if any(with_grad):
            self._with_grad = with_grad
            self._load_torch_state(member, [s for s in states if s], with_grad)


class MemberAdam(MemberOptimiser):
    """``torch.optim.Adam(fused=True)`` per member (no weight decay, amsgrad or maximize: `fit`
    uses none)."""

    torch_class = torch.optim.Adam

    def __init__(
        self,
        params: Sequence[torch.Tensor],
        lr: float | Sequence[float] = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        self.betas = (float(betas[0]), float(betas[1]))
        self.eps = float(eps)
        super().__init__(params, lr)
        self.steps = [0] * self.members

    def state_names(self) -> tuple[str, ...]:
        return ("exp_avg", "exp_avg_sq")

    def hyperparameters(self) -> dict[str, Any]:
        return {"betas": self.betas, "eps": self.eps}

    def torch_options(self) -> dict[str, Any]:
        return {"fused": True}

    def reset(self, member: int) -> None:
        super().reset(member)
        self.steps[member] = 0

    def _step(self, live: list[int]) -> None:
        """torch's fused Adam kernel over the whole stack, once per learning rate and step count
        among the live members (usually once). The kernel splits a tensor over threads and
        rounds the vectorised body of each part and its tail differently, so every call takes
        the whole stack, whoever it updates: a member's elements are then always rounded the
        same way, whatever the other members do. Members a call must not move (frozen, or of
        another group) are put back as they were."""
        with_grad = [i for i, p in enumerate(self.params) if p.grad is not None]
        grads = [_in_memory_order(_strided_like(self.params[i].grad, self.params[i])) for i in with_grad]
        params = [_in_memory_order(self.params[i]) for i in with_grad]
        states = [
            _in_memory_order(self.state[name][i]) for name in ("exp_avg", "exp_avg_sq") for i in with_grad
        ]
        groups: dict[tuple[float, int], list[int]] = {}
        for m in live:
            self.steps[m] += 1
            groups.setdefault((self.lrs[m], self.steps[m]), []).append(m)
        for (lr, step), members in groups.items():
            chosen = set(members)
            others = [m for m in range(self.members) if m not in chosen]
            kept = None  # usually every member takes the call: nothing to put back
            if others:
                index = torch.tensor(others, device=params[0].device)
                kept = [t.index_select(0, index) for t in params + states]
            torch._fused_adam_(
                params,
                grads,
                states[: len(params)],
                states[len(params) :],
                [],
                # the kernel reads the step from a float tensor on the parameters' device, as
                # torch's fused Adam keeps it (it only reads it)
                [torch.full((), float(step), device=params[0].device)] * len(params),
                lr=lr,
                beta1=self.betas[0],
                beta2=self.betas[1],
                weight_decay=0.0,
                eps=self.eps,
                amsgrad=False,
                maximize=False,
            )
            if kept is not None:
                for tensor, values in zip(params + states, kept, strict=True):
                    tensor.index_copy_(0, index, values)

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "steps": list(self.steps)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        self.steps = [int(s) for s in state_dict["steps"]]

    def _member_has_state(self, member: int) -> bool:
        return self.steps[member] > 0

    def _torch_state(self, member: int, index: int) -> dict[str, torch.Tensor]:
        return {
            "step": torch.tensor(float(self.steps[member])),
            "exp_avg": _as_fit_keeps(self.state["exp_avg"][index][member]),
            "exp_avg_sq": _as_fit_keeps(self.state["exp_avg_sq"][index][member]),
        }

    def _load_torch_state(
        self, member: int, states: list[dict[str, torch.Tensor]], with_grad: tuple[bool, ...]
    ) -> None:
        steps = {float(s["step"]) for s in states}
        if len(steps) != 1:
            raise ValueError(f"the parameters' Adam step counts differ ({sorted(steps)})")
        self.steps[member] = int(steps.pop())
        positions = [i for i, has in enumerate(with_grad) if has]
        with torch.no_grad():
            for i, state in zip(positions, states, strict=True):
                self.state["exp_avg"][i][member].copy_(state["exp_avg"])
                self.state["exp_avg_sq"][i][member].copy_(state["exp_avg_sq"])


class MemberSGD(MemberOptimiser):
    """``torch.optim.SGD`` per member, with optional momentum (no dampening or Nesterov)."""

    torch_class = torch.optim.SGD

    def __init__(
        self,
        params: Sequence[torch.Tensor],
        lr: float | Sequence[float],
        momentum: float = 0.0,
        chunk_bytes: int | None = None,
    ) -> None:
        self.momentum = float(momentum)
        super().__init__(params, lr)
        if chunk_bytes is None:  # groups help CPU caches; a GPU takes the whole stack at once
            chunk_bytes = CPU_CHUNK_BYTES if self.params[0].device.type == "cpu" else 0
        self.chunk_bytes = chunk_bytes
        self._has_buffer = [False] * self.members

    def state_names(self) -> tuple[str, ...]:
        return ("momentum_buffer",) if self.momentum else ()

    def hyperparameters(self) -> dict[str, Any]:
        return {"momentum": self.momentum}

    def reset(self, member: int) -> None:
        super().reset(member)
        self._has_buffer[member] = False

    def _step(self, live: list[int]) -> None:
        """torch's single-tensor operations on the stack, over groups of members that stay in
        cache (``chunk_bytes``); with frozen members, on copies of the live ones."""
        first = self.params[0]
        scalars = {
            name: torch.tensor(values, dtype=first.dtype, device=first.device)
            for name, values in self._begin_step(live).items()
        }
        index = None if len(live) == self.members else torch.tensor(live, device=first.device)
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            tensors = [p, p.grad, *(self.state[name][i] for name in self.state)]
            if index is not None:  # update copies of the live members, then write them back
                tensors = [t.index_select(0, index) for t in tensors]
            shaped = {name: _member_view(v, p) for name, v in scalars.items()}
            for group in self._member_groups(p, len(live)):
                self._update(*(t[group] for t in tensors), **{name: v[group] for name, v in shaped.items()})
            if index is not None:
                p.index_copy_(0, index, tensors[0])
                for name, updated in zip(self.state, tensors[2:], strict=True):
                    self.state[name][i].index_copy_(0, index, updated)

    def _member_groups(self, param: torch.Tensor, members: int) -> list[slice]:
        if not self.chunk_bytes:
            return [slice(None)]
        size = max(1, self.chunk_bytes // max(1, param[0].numel() * param.element_size()))
        return [slice(start, start + size) for start in range(0, members, size)]

    def _begin_step(self, live: list[int]) -> dict[str, list[float]]:
        """Per-member scalars of this step for the members in ``live``."""
        for m in live:
            self._has_buffer[m] = bool(self.momentum)
        return {"neg_lr": [-self.lrs[m] for m in live]}

    def _update(self, param: torch.Tensor, grad: torch.Tensor, *state: torch.Tensor, neg_lr) -> None:
        """Update ``param`` and its state in place (member-stacked, scalars broadcast)."""
        direction = grad
        if self.momentum:
            (buffer,) = state
            # torch starts the buffer as a copy of the first gradient: from a zeroed buffer
            # 0 * momentum + grad is that copy exactly
            buffer.mul_(self.momentum).add_(grad)
            direction = buffer
        # torch: param.add_(direction, alpha=-lr), computed as one fused multiply-add
        param.addcmul_(direction, neg_lr)

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "has_buffer": list(self._has_buffer)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        self._has_buffer = [bool(b) for b in state_dict["has_buffer"]]

    def _member_has_state(self, member: int) -> bool:
        return self._has_buffer[member]

    def _torch_state(self, member: int, index: int) -> dict[str, torch.Tensor]:
        return {"momentum_buffer": _as_fit_keeps(self.state["momentum_buffer"][index][member])}

    def _load_torch_state(
        self, member: int, states: list[dict[str, torch.Tensor]], with_grad: tuple[bool, ...]
    ) -> None:
        buffers = [s.get("momentum_buffer") for s in states]
        if not self.momentum or any(b is None for b in buffers):
            raise ValueError("momentum buffers in the state dict do not match this pack's momentum")
        positions = [i for i, has in enumerate(with_grad) if has]
        with torch.no_grad():
            for i, buffer in zip(positions, buffers, strict=True):
                self.state["momentum_buffer"][i][member].copy_(buffer)
        self._has_buffer[member] = True


@torch.no_grad()
def clip_grad_norm_per_member_(
    params: Sequence[torch.Tensor], max_norm: float | Sequence[float]
) -> torch.Tensor:
    """``torch.nn.utils.clip_grad_norm_`` (2-norm) applied to each member's own gradients.

    Returns the per-member total norms [M] before clipping, as torch returns its one norm.
    Same reductions and order as torch (per-tensor norms, then the norm of those, then
    ``grad * min(max_norm / (norm + 1e-6), 1)``), so each member is clipped bitwise as alone.
    """
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.zeros(0)
    members = grads[0].shape[0]
    norms = [torch.linalg.vector_norm(g.reshape(members, -1), 2, dim=1) for g in grads]
    total = torch.linalg.vector_norm(torch.stack(norms, dim=1), 2, dim=1)
    limit = torch.tensor(_per_member(max_norm, members, "max_norm"), dtype=total.dtype, device=total.device)
    # torch writes max_norm / (total + 1e-6), which Tensor.__rtruediv__ computes as below
    coefficient = ((total + 1e-6).reciprocal() * limit).clamp(max=1.0)
    for g in grads:
        g.mul_(_member_view(coefficient, g))
    return total
