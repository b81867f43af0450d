"""The embedded digits: fixed stratified split, [0, 1] pixels, IWAE-style binarisation."""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits as sklearn_digits

from vaesweep.config import DataConfig
from vaesweep.data.digits import digits_split_indices, load_digits


@pytest.fixture(scope="module")
def sklearn_bunch():
    return sklearn_digits()


@pytest.fixture(scope="module")
def digits():
    return load_digits(DataConfig(name="digits"))


def test_shapes_types_and_ranges(digits):
    assert (len(digits.train), len(digits.valid), len(digits.test)) == (1257, 180, 360)
    assert digits.kind == "image" and digits.image_shape == (1, 8, 8)
    assert digits.num_classes == 10 and digits.binarisation == "none"
    for split in (digits.train, digits.valid, digits.test):
        assert split.x.dtype == torch.float32 and split.x.shape[1:] == (1, 8, 8)
        assert float(split.x.min()) >= 0.0 and float(split.x.max()) <= 1.0
        assert split.labels.dtype == torch.long
        assert set(split.labels.tolist()) == set(range(10))
    assert float(digits.train.x.max()) == 1.0  # scaled by 16, not by 255


def test_split_is_disjoint_stratified_and_matches_the_images(sklearn_bunch, digits):
    labels = sklearn_bunch.target
    train, valid, test = digits_split_indices(labels)
    everything = np.concatenate([train, valid, test])
    assert len(everything) == len(set(everything.tolist())) == len(labels)
    counts = np.bincount(labels)
    for index, size in ((valid, 180), (test, 360)):
        expected = size * counts / len(labels)
        assert np.all(np.abs(np.bincount(labels[index], minlength=10) - expected) < 1)
    pixels = torch.from_numpy(sklearn_bunch.images[test] / 16.0).float().unsqueeze(1)
    assert torch.equal(digits.test.x, pixels)
    assert torch.equal(digits.test.labels, torch.from_numpy(labels[test]))


def test_split_is_fixed_whatever_the_run_seed(sklearn_bunch, digits):
    torch.manual_seed(123)
    np.random.seed(123)
    again = load_digits(DataConfig(name="digits"))
    for name in ("train", "valid", "test"):
        assert torch.equal(digits.split(name).x, again.split(name).x)
    first = digits_split_indices(sklearn_bunch.target)
    second = digits_split_indices(sklearn_bunch.target)
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))


def test_max_train_keeps_the_first_examples(digits):
    small = load_digits(DataConfig(name="digits", max_train=100))
    assert len(small.train) == 100
    assert torch.equal(small.train.x, digits.train.x[:100])
    assert torch.equal(small.test.x, digits.test.x)


def test_dynamic_binarisation_fixes_valid_and_test_and_leaves_train(digits):
    first = load_digits(DataConfig(name="digits", binarisation="dynamic"))
    second = load_digits(DataConfig(name="digits", binarisation="dynamic"))
    assert first.binarisation == "dynamic"
    assert torch.equal(first.train.x, digits.train.x)  # the trainer binarises each batch
    for name in ("valid", "test"):
        binary = first.split(name).x
        assert set(binary.unique().tolist()) == {0.0, 1.0}
        assert torch.equal(binary, second.split(name).x)
        assert torch.equal(first.split(name).labels, digits.split(name).labels)
        # a Bernoulli(pixel) sample: the mean intensity is kept
        assert abs(float(binary.mean()) - float(digits.split(name).x.mean())) < 0.02
