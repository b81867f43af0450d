"""Member-stacked optimisers: each member is torch.optim.Adam / SGD run alone on its slices.

The reference for member m is a torch optimiser over clones of p[m], given the same gradients,
re-created on a learning-rate decay (as `fit` does), not stepped once frozen, and clipped with
torch.nn.utils.clip_grad_norm_. SGD agrees bitwise (torch.equal) on CPU: the odd shapes put a
member's elements in other vector lanes than they have alone. Adam runs torch's fused kernel
over the whole stack, which rounds the vectorised body of a thread's range and its tail
differently: a member agrees with its torch optimiser to a few float32 ulps (``close``), and
bitwise with itself whatever the other members do.
"""

import copy

import pytest
import torch

from vaesweep.packing.optim import MemberAdam, MemberSGD, clip_grad_norm_per_member_

MEMBERS = 5
SHAPES = [(7,), (33, 5), (), (16, 16), (3, 129)]
STEPS = 30
# step -> list of (event, member): a decay halves lr and re-creates the optimiser
EVENTS = {8: [("decay", 1)], 12: [("freeze", 3)], 17: [("decay", 2), ("decay", 1)], 21: [("freeze", 0)]}


def stacked_parameters(seed: int = 0, column_major: bool = False) -> list[torch.Tensor]:
    """``column_major``: each member's matrices stored transposed, as a pack stores its linear
    layers' weights (the gradients set here by hand are contiguous all the same)."""
    generator = torch.Generator().manual_seed(seed)
    params = [torch.randn(MEMBERS, *shape, generator=generator) for shape in SHAPES]
    if column_major:
        params = [p.transpose(1, 2).contiguous().transpose(1, 2) if p.dim() == 3 else p for p in params]
    return [p.requires_grad_() for p in params]


def gradients(step: int) -> list[torch.Tensor]:
    """Gradients whose scale varies by member and step, so clipping sometimes bites."""
    generator = torch.Generator().manual_seed(1000 + step)
    scale = torch.rand(MEMBERS, generator=generator) * 4
    return [
        torch.randn(MEMBERS, *shape, generator=generator) * scale.view(-1, *[1] * len(shape))
        for shape in SHAPES
    ]


class Reference:
    """Member m as `fit` runs it: plain tensors, a torch optimiser, clip_grad_norm_."""

    def __init__(self, params, member, make_optimiser, lr):
        contiguous = torch.contiguous_format  # as `fit`'s parameters are
        self.params = [p[member].detach().clone(memory_format=contiguous).requires_grad_() for p in params]
        self.make_optimiser, self.lr = make_optimiser, lr
        self.optimiser = make_optimiser(self.params, lr)
        self.active = True

    def step(self, grads, member, clip):
        for p, g in zip(self.params, grads, strict=True):
            p.grad = g[member].clone()
        norm = torch.nn.utils.clip_grad_norm_(self.params, clip) if clip else None
        if self.active:
            self.optimiser.step()
        return norm

    def decay(self):
        self.lr *= 0.5
        self.optimiser = self.make_optimiser(self.params, self.lr)


def run_both(pack_class, make_torch, lrs, clip, same=torch.equal, events=EVENTS, column_major=False, **hyper):
    params = stacked_parameters(column_major=column_major)
    pack = pack_class(params, lrs, **hyper)
    references = [Reference(params, m, make_torch, lrs[m]) for m in range(MEMBERS)]
    for step in range(STEPS):
        for event, member in events.get(step, []):
            if event == "decay":
                pack.set_lr(member, pack.lrs[member] * 0.5)
                pack.reset(member)
                references[member].decay()
            else:
                pack.freeze(member)
                references[member].active = False
        grads = gradients(step)
        for p, g in zip(params, grads, strict=True):
            p.grad = g.clone()
        norms = clip_grad_norm_per_member_(params, clip) if clip else None
        pack.step()
        for m, reference in enumerate(references):
            reference_norm = reference.step(grads, m, clip)
            if clip:
                assert torch.equal(norms[m], reference_norm), (step, m)
            for p, q in zip(params, reference.params, strict=True):
                assert same(p[m].detach(), q.detach()), (step, m)
    return params, pack


LRS = [1e-3, 3e-3, 7e-4, 1e-2, 2e-3]


def close(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Within a few float32 ulps (measured: at most 2.4e-7 apart after 30 steps)."""
    return torch.allclose(a, b, rtol=1e-6, atol=1e-6)


def fused_adam(params, lr, **hyper):
    return torch.optim.Adam(params, lr=lr, fused=True, **hyper)


# per-member learning rates: a kernel call per member; one learning rate: one call for all until
# the first decay
@pytest.mark.parametrize("lrs", [LRS, [0.01] * MEMBERS])
@pytest.mark.parametrize("column_major", [False, True])
@pytest.mark.parametrize("clip", [0.0, 5.0])
def test_adam_members_follow_torch_fused_adam(clip, column_major, lrs):
    params, pack = run_both(MemberAdam, fused_adam, lrs, clip, same=close, column_major=column_major)
    assert pack.active == (False, True, True, False, True)
    assert pack.steps == [21, STEPS - 17, STEPS - 17, 12, STEPS]
    frozen_before = params[0][3].detach().clone()
    params[0].grad = torch.ones_like(params[0])
    pack.step()  # a frozen member is not moved
    assert torch.equal(params[0][3], frozen_before)


def test_an_adam_member_is_bitwise_the_same_whatever_the_others_do():
    """Member 4 has no event of its own; the others decay and freeze (EVENTS) or do not."""
    with_events, _ = run_both(MemberAdam, fused_adam, [0.01] * MEMBERS, 5.0, same=close)
    without, _ = run_both(MemberAdam, fused_adam, [0.01] * MEMBERS, 5.0, same=close, events={})
    assert all(torch.equal(a[4], b[4]) for a, b in zip(with_events, without, strict=True))
    assert not torch.equal(with_events[0][1], without[0][1])  # member 1 decayed in one run only


def test_adam_takes_gradients_laid_out_otherwise():
    """torch's fused kernel walks a parameter and its gradient as flat arrays; a gradient set by
    hand in another layout (here transposed) must give the update its values give."""
    updated = []
    for transposed in (False, True):
        params = stacked_parameters()
        pack = MemberAdam(params, LRS)
        for step in range(3):
            for p, g in zip(params, gradients(step), strict=True):
                p.grad = g.transpose(1, 2).contiguous().transpose(1, 2) if transposed and g.dim() == 3 else g
            pack.step()
        updated.append(params)
    assert all(torch.equal(a, b) for a, b in zip(*updated, strict=True))


@pytest.mark.parametrize("chunk_bytes", [0, 100])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
@pytest.mark.parametrize("clip", [0.0, 5.0])
def test_sgd_members_follow_torch_sgd_bitwise(momentum, clip, chunk_bytes):
    run_both(
        MemberSGD,
        lambda ps, lr: torch.optim.SGD(ps, lr=lr, momentum=momentum),
        [1.0, 0.5, 0.3, 0.1, 0.7],
        clip,
        chunk_bytes=chunk_bytes,
        momentum=momentum,
    )


def test_clip_with_per_member_limits_matches_torch():
    params = stacked_parameters()
    grads = gradients(0)
    limits = [0.5, 100.0, 2.0, 3.0, 1e-3]
    for p, g in zip(params, grads, strict=True):
        p.grad = g.clone()
    norms = clip_grad_norm_per_member_(params, limits)
    for m in range(MEMBERS):
        alone = [g[m].clone().requires_grad_() for g in grads]
        for a in alone:
            a.grad = a.detach().clone()
        assert torch.equal(norms[m], torch.nn.utils.clip_grad_norm_(alone, limits[m]))
        for p, a in zip(params, alone, strict=True):
            assert torch.equal(p.grad[m], a.grad)
    assert (norms > 1.0).any(), "the limits above must clip some members"


def continue_both(pack, params, torch_optimiser, torch_params, member, same, steps=10, start=100):
    for step in range(start, start + steps):
        grads = gradients(step)
        for p, g in zip(params, grads, strict=True):
            p.grad = g.clone()
        for q, g in zip(torch_params, grads, strict=True):
            q.grad = g[member].clone()
        pack.step()
        torch_optimiser.step()
        for p, q in zip(params, torch_params, strict=True):
            assert same(p[member].detach(), q.detach()), step


@pytest.mark.parametrize(
    ("pack_class", "make_torch", "hyper", "same"),
    [
        (MemberAdam, fused_adam, {"betas": (0.8, 0.99), "eps": 1e-6}, close),
        (MemberSGD, torch.optim.SGD, {"momentum": 0.9}, torch.equal),
    ],
)
@pytest.mark.parametrize("column_major", [False, True])
def test_member_state_converts_to_a_torch_optimiser_and_back(
    pack_class, make_torch, hyper, same, column_major
):
    def make(params, lr):
        return make_torch(params, lr=lr, **hyper)

    params, pack = run_both(pack_class, make, [0.01] * MEMBERS, 0.0, same, column_major=column_major, **hyper)
    member = 4
    # out: a normal optimiser over the member's parameters continues where the member is
    state = copy.deepcopy(pack.member_state_dict(member))
    if pack_class is MemberAdam:
        assert state["param_groups"][0]["fused"] is True  # `fit`'s optimiser, resumed as `fit` runs it
    torch_params = [
        p[member].detach().clone(memory_format=torch.contiguous_format).requires_grad_() for p in params
    ]
    torch_optimiser = make_torch(torch_params, lr=123.0, **hyper)
    torch_optimiser.load_state_dict(state)
    assert torch_optimiser.param_groups[0]["lr"] == pack.lrs[member]
    continue_both(pack, params, torch_optimiser, torch_params, member, same)
    # back in: a torch optimiser's state (after steps of its own) loaded into member 1
    with torch.no_grad():
        for p, q in zip(params, torch_params, strict=True):
            p[1].copy_(q)
    pack.load_member_state_dict(1, copy.deepcopy(torch_optimiser.state_dict()))
    continue_both(pack, params, torch_optimiser, torch_params, 1, same, start=200)


def test_fresh_member_converts_to_an_empty_torch_state():
    pack = MemberAdam(stacked_parameters(), lr=0.01)
    state = pack.member_state_dict(2)
    assert state["state"] == {}
    assert state["param_groups"][0]["params"] == list(range(len(SHAPES)))


def test_pack_checkpoint_resumes_exactly():
    def run(steps, resume_after=None):
        params = stacked_parameters()
        pack = MemberAdam(params, LRS)
        for step in range(steps):
            if step == 5:
                pack.freeze(2)
            if step == resume_after:
                saved = copy.deepcopy((pack.state_dict(), [p.detach().clone() for p in params]))
                params = [p.clone().requires_grad_() for p in saved[1]]
                pack = MemberAdam(params, 1.0)
                pack.load_state_dict(saved[0])
            for p, g in zip(params, gradients(step), strict=True):
                p.grad = g
            pack.step()
        return params

    for a, b in zip(run(15), run(15, resume_after=9), strict=True):
        assert torch.equal(a, b)


def test_parameters_must_keep_getting_gradients():
    params = stacked_parameters()
    pack = MemberAdam(params, 0.01)
    for p in params:
        p.grad = torch.ones_like(p)
    pack.step()
    params[1].grad = None
    with pytest.raises(RuntimeError, match="always or never"):
        pack.step()


def test_bad_shapes_and_lengths_are_named():
    with pytest.raises(ValueError, match="member dimension first"):
        MemberAdam([torch.zeros(3, 2, requires_grad=True), torch.zeros(4, requires_grad=True)])
    with pytest.raises(ValueError, match="lr has 2 values for 3 members"):
        MemberSGD([torch.zeros(3, 2, requires_grad=True)], lr=[0.1, 0.2])
    pack = MemberAdam(stacked_parameters(), 0.01)
    other = torch.optim.Adam([torch.zeros(s, requires_grad=True) for s in SHAPES], betas=(0.5, 0.5))
    with pytest.raises(ValueError, match="betas"):
        pack.load_member_state_dict(0, other.state_dict())
