"""Noise that reproduces each member's unpacked run: member k draws from its own generator
exactly what its `fit` run draws from the global RNG.

`fit` seeds the global RNG, builds the model (initialisation consumes draws) and then draws its
training noise from that one stream. A pack gives member k a ``torch.Generator`` holding the
global state its run has after building its model (``generator_from_global_state``). Model code
calls ``randn_like``, ``bernoulli``, ``keep_mask`` and ``dropout`` below (through the pack's
``vaesweep.noise`` source) instead of torch's: outside vmap they
draw from the global RNG (the unpacked run, unchanged), and under ``torch.func.vmap`` over the
members, inside ``drawing_from(generators)``, member k's draw comes from ``generators[k]``
with the same shape and in the same order as alone, so it is bitwise the unpacked draw.

Why custom ops: vmap's ``randomness="different"`` gives every member independent noise, but
not its unpacked run's; a custom op's vmap rule sees the member dimension and can draw member
by member. Call them on tensors that carry the member dimension (e.g. the posterior mean), and
directly under the members' vmap, not under a vmap nested inside it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence

import torch
import torch.nn.functional as F

from vaesweep.noise import dropout_mask

_state = threading.local()
# Every op "mutates" this counter: torch.compile then keeps the draws in program order (it
# reorders and fuses independent ops, which would hand a member's draws out in another order).
_DRAWS = torch.zeros((), dtype=torch.int64)


def generator_from_global_state(device: str | torch.device = "cpu") -> torch.Generator:
    """A generator in the global RNG's current state for ``device`` (call it right after
    building member k's model the way `fit` builds it)."""
    device = torch.device(device)
    generator = torch.Generator(device=device)
    if device.type == "cuda":
        generator.set_state(torch.cuda.get_rng_state(device))
    else:
        generator.set_state(torch.get_rng_state())
    return generator


@contextlib.contextmanager
def _holding(name: str, value: object) -> Iterator[None]:
    """This thread's ``name`` is ``value`` within the block (what it held before, after it)."""
    previous = getattr(_state, name, None)
    setattr(_state, name, value)
    try:
        yield
    finally:
        setattr(_state, name, previous)


def drawing_from(generators: Sequence[torch.Generator]) -> contextlib.AbstractContextManager[None]:
    """Within this block, noise ops under the members' vmap draw member k's from generators[k]."""
    return _holding("generators", list(generators))


def _member_generators(members: int) -> list[torch.Generator]:
    generators = getattr(_state, "generators", None)
    if generators is None:
        raise RuntimeError("noise drawn under vmap outside a drawing_from(generators) block")
    if len(generators) != members:
        raise RuntimeError(
            f"noise drawn under a vmap of size {members} with {len(generators)} member generators: "
            "call the noise ops directly under the members' vmap"
        )
    return generators


def _global_draw(draw: Callable[[torch.Generator | None], torch.Tensor]) -> torch.Tensor:
    if getattr(_state, "generators", None) is not None:
        raise RuntimeError(
            "noise drawn from a tensor without the member dimension inside drawing_from(): "
            "every member would get the same draw"
        )
    return draw(None)


def _register(name: str, draw: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    """Two custom ops: ``name`` draws one member's noise (from the global RNG), and its vmap
    rule calls ``members_<name>``, which draws member by member from the generators.
    ``draw(like, p, generator, member)``: ``member`` is k under the vmap, None alone."""

    @torch.library.custom_op(f"vaesweep_packing::{name}", mutates_args=("draws",))
    def member_op(like: torch.Tensor, p: float, draws: torch.Tensor) -> torch.Tensor:
        draws.add_(1)
        return _global_draw(lambda generator: draw(like, p, generator, None))

    @torch.library.custom_op(f"vaesweep_packing::members_{name}", mutates_args=("draws",))
    def members_op(like: torch.Tensor, p: float, draws: torch.Tensor) -> torch.Tensor:
        draws.add_(1)
        generators = _member_generators(like.shape[0])
        return torch.stack([draw(like[k], p, g, k) for k, g in enumerate(generators)])

    for op in (member_op, members_op):
        op.register_fake(lambda like, p, draws: torch.empty_like(like))

    def vmap_rule(info, in_dims, like, p, draws):
        # called only when ``like`` is batched (an unbatched one reaches member_op, which refuses)
        return members_op(like.movedim(in_dims[0], 0).contiguous(), p, draws), 0

    member_op.register_vmap(vmap_rule)
    return member_op


def _normal(
    like: torch.Tensor, _: float, generator: torch.Generator | None, _member: int | None
) -> torch.Tensor:
    return torch.randn(like.shape, generator=generator, dtype=like.dtype, device=like.device)


def _bernoulli(
    probabilities: torch.Tensor, _: float, generator: torch.Generator | None, _member: int | None
) -> torch.Tensor:
    return torch.bernoulli(probabilities, generator=generator)


def _dropout_mask(
    like: torch.Tensor, p: float, generator: torch.Generator | None, _member: int | None
) -> torch.Tensor:
    return dropout_mask(like, p, generator=generator)


_randn_like = _register("randn_like", _normal)
_bernoulli_op = _register("bernoulli", _bernoulli)
_dropout_mask_op = _register("dropout_mask", _dropout_mask)


def randn_like(like: torch.Tensor) -> torch.Tensor:
    """``torch.randn(like.shape)`` (dtype and device of ``like``)."""
    return _randn_like(like.detach(), 0.0, _DRAWS)


def bernoulli(probabilities: torch.Tensor) -> torch.Tensor:
    """``torch.bernoulli(probabilities)``."""
    return _bernoulli_op(probabilities.detach(), 0.0, _DRAWS)


# -- DU-VAE's variance dropout -----------------------------------------------------------------
# Members with keep probabilities p < 1 and p = 1 share a pack; the unpacked run of one with p = 1
# has no dropout and draws nothing. Inside ``keep_probabilities(ps)``, ``keep_mask`` under the
# members' vmap draws member k's mask only when ps[k] < 1, and gives it ones otherwise.


def keep_probabilities(probabilities: Sequence[float]) -> contextlib.AbstractContextManager[None]:
    """Within this block, member k's keep probability is ``probabilities[k]`` (host values: which
    members draw is known without reading the device)."""
    return _holding("keep_probabilities", [float(p) for p in probabilities])


def _keep_mask_draw(
    probabilities: torch.Tensor, _: float, generator: torch.Generator | None, member: int | None
) -> torch.Tensor:
    if member is not None:
        keeps = getattr(_state, "keep_probabilities", None)
        if keeps is None or len(keeps) != len(_state.generators):
            raise RuntimeError("keep_mask drawn under the members' vmap outside keep_probabilities(...)")
        if keeps[member] >= 1.0:
            return torch.ones_like(probabilities)
    return torch.bernoulli(probabilities, generator=generator)


_keep_mask_op = _register("keep_mask", _keep_mask_draw)


def keep_mask(keep_prob: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``torch.bernoulli(keep_prob.expand_as(like))``; under the members' vmap, ones for a member
    whose keep probability is 1 (see ``keep_probabilities``)."""
    return _keep_mask_op(keep_prob.detach().expand_as(like), 0.0, _DRAWS)


def dropout(x: torch.Tensor, p: float, training: bool = True) -> torch.Tensor:
    """``F.dropout(x, p, training)`` as `fit` draws it (``vaesweep.noise.dropout_mask``): the same
    mask from the same draws."""
    if not training or p == 0.0 or p == 1.0:  # F.dropout draws nothing for these
        return F.dropout(x, p, training)
    return x * _dropout_mask_op(x.detach(), float(p), _DRAWS)


# -- sequences of different lengths --------------------------------------------------------------
# Members of a text pack train on batches of different lengths: each is padded to the longest
# member's, but its unpacked run draws its dropout masks over its own length. Inside
# ``sequence_lengths(steps)`` the sequence ops draw member k's mask over its first steps[k]
# positions of dim 1 (batch-first time) and leave the padding undropped.


def sequence_lengths(steps: Sequence[int]) -> contextlib.AbstractContextManager[None]:
    """Within this block, ``sequence_dropout`` under the members' vmap draws member k's mask over
    its first ``steps[k]`` time steps (dim 1), as its unpacked run does on its unpadded batch."""
    return _holding("steps", [int(s) for s in steps])


@torch.library.custom_op("vaesweep_packing::sequence_dropout_mask", mutates_args=("draws",))
def _sequence_mask(like: torch.Tensor, p: float, time_major: bool, draws: torch.Tensor) -> torch.Tensor:
    draws.add_(1)
    return _global_draw(lambda generator: dropout_mask(like, p, time_major, generator))


@torch.library.custom_op("vaesweep_packing::members_sequence_dropout_mask", mutates_args=("draws",))
def _members_sequence_mask(
    like: torch.Tensor, p: float, time_major: bool, draws: torch.Tensor
) -> torch.Tensor:
    draws.add_(1)
    generators = _member_generators(like.shape[0])
    steps = getattr(_state, "steps", None) or [like.shape[2]] * like.shape[0]
    masks = torch.zeros_like(like)
    for k, generator in enumerate(generators):
        masks[k, :, : steps[k]] = dropout_mask(like[k, :, : steps[k]], p, time_major, generator)
    return masks


for _op in (_sequence_mask, _members_sequence_mask):
    _op.register_fake(lambda like, p, time_major, draws: torch.empty_like(like))


@_sequence_mask.register_vmap
def _sequence_mask_vmap(info, in_dims, like, p, time_major, draws):
    return _members_sequence_mask(like.movedim(in_dims[0], 0).contiguous(), p, time_major, draws), 0


def sequence_dropout(x: torch.Tensor, p: float, time_major: bool = False) -> torch.Tensor:
    """``dropout`` of a batch-first sequence [B, T, ...] whose members' own lengths are set by
    ``sequence_lengths`` (their padding is not dropped, and draws nothing). ``time_major``: the
    unpacked run's tensor is time-major in memory (nn.LSTM's output), so its mask was drawn so."""
    if p == 0.0 or p == 1.0:
        return F.dropout(x, p, True)
    return x * _sequence_mask(x.detach(), float(p), time_major, _DRAWS)
