"""Epoch batching: every example once per epoch, length buckets, and exact replay."""

from itertools import pairwise

import pytest
import torch

from vaesweep.data.batching import batch_indices, trim


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_each_index_once_per_epoch_and_only_last_batch_smaller():
    batches = batch_indices(103, 10, _generator(0))
    assert torch.equal(torch.cat(batches).sort().values, torch.arange(103))
    assert [len(b) for b in batches] == [10] * 10 + [3]
    assert batches[0].dtype == torch.long


def test_order_is_shuffled_and_set_by_the_generator():
    first = torch.cat(batch_indices(200, 16, _generator(0)))
    again = torch.cat(batch_indices(200, 16, _generator(0)))
    other = torch.cat(batch_indices(200, 16, _generator(1)))
    assert torch.equal(first, again)
    assert not torch.equal(first, other)
    assert not torch.equal(first, torch.arange(200))


def test_restoring_the_generator_state_replays_the_epoch():
    generator = _generator(3)
    lengths = torch.randint(1, 30, (300,), generator=_generator(9))
    batch_indices(300, 32, generator, lengths)  # an epoch before the checkpoint
    state = generator.get_state()
    expected = batch_indices(300, 32, generator, lengths)
    generator.set_state(state)
    replay = batch_indices(300, 32, generator, lengths)
    assert all(torch.equal(a, b) for a, b in zip(expected, replay, strict=True))


def test_length_buckets_hold_similar_lengths_in_shuffled_batch_order():
    lengths = torch.randint(1, 50, (1000,), generator=_generator(5))
    batches = batch_indices(1000, 32, _generator(0), lengths)
    assert torch.equal(torch.cat(batches).sort().values, torch.arange(1000))
    ranges = sorted((int(lengths[b].min()), int(lengths[b].max())) for b in batches)
    # sorted-then-chunked: the length ranges of the batches do not overlap
    for (_, high), (low, _) in pairwise(ranges):
        assert high <= low
    spread = sum(high - low for low, high in ranges) / len(ranges)
    random_spread = sum(
        int(lengths[b].max() - lengths[b].min()) for b in batch_indices(1000, 32, _generator(0))
    ) / len(ranges)
    assert spread < 0.2 * random_spread
    minima = [int(lengths[b].min()) for b in batches]
    assert minima != sorted(minima)  # batch order is shuffled, not shortest first


def test_equal_lengths_are_shuffled_within_their_bucket():
    lengths = torch.full((64,), 7)
    a = batch_indices(64, 8, _generator(0), lengths)
    b = batch_indices(64, 8, _generator(1), lengths)
    assert {tuple(x.sort().values.tolist()) for x in a} != {tuple(x.sort().values.tolist()) for x in b}


def test_device_argument_and_bad_inputs():
    batches = batch_indices(10, 4, _generator(0), device="cpu")
    assert all(b.device.type == "cpu" for b in batches)
    with pytest.raises(ValueError, match="batch_size"):
        batch_indices(10, 0, _generator(0))
    with pytest.raises(ValueError, match="shape"):
        batch_indices(10, 4, _generator(0), torch.ones(9, dtype=torch.long))


def test_trim_cuts_to_the_longest_sentence_of_the_batch():
    x = torch.tensor([[5, 6, 2, 0, 0, 0], [7, 2, 0, 0, 0, 0]])
    trimmed = trim(x, torch.tensor([3, 2]))
    assert torch.equal(trimmed, x[:, :3])
