"""Real image loaders on small files written in the exact real formats."""

import gzip
import re
import struct
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch

from vaesweep.config import DataConfig
from vaesweep.data.images import load_fashion_mnist, load_mnist, load_omniglot, read_idx
from vaesweep.errors import DataError

IDX_CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int32): 0x0C, np.dtype(np.float32): 0x0D}


def write_idx(path: Path, array: np.ndarray, gz: bool = False) -> Path:
    """IDX: two zero bytes, type code, rank, big-endian uint32 dims, big-endian payload."""
    header = bytes([0, 0, IDX_CODES[array.dtype], array.ndim])
    header += struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


# -- IDX ------------------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize(
    "array",
    [
        np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4),
        np.array([1, -70000, 3], dtype=np.int32),
        np.array([[0.5, -1.25], [3.0, 1e-3]], dtype=np.float32),
    ],
)
def test_read_idx_round_trips(tmp_path, array, gz):
    path = write_idx(tmp_path / ("a.idx.gz" if gz else "a.idx"), array, gz)
    read = read_idx(path)
    assert read.dtype.isnative and read.dtype.kind == array.dtype.kind
    np.testing.assert_array_equal(read, array)


def test_truncated_idx_says_how_many_bytes(tmp_path):
    path = write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((3, 28, 28), np.uint8))
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte.*truncated.*2352.*2342"):
        read_idx(path)


def test_truncated_gzip_idx_is_a_data_error(tmp_path):
    path = write_idx(tmp_path / "x.gz", np.zeros((3, 28, 28), np.uint8), gz=True)
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(DataError, match=r"x\.gz.*gzip"):
        read_idx(path)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda raw: b"\x01" + raw[1:], "magic"),
        (lambda raw: raw[:2] + b"\x07" + raw[3:], "type code 0x07"),
        (lambda raw: raw + b"\x00", "trailing"),
        (lambda raw: raw[:6], "truncated.*header"),
    ],
)
def test_malformed_idx_names_the_file_and_the_fault(tmp_path, edit, message):
    path = write_idx(tmp_path / "labels.idx", np.zeros(5, np.uint8))
    path.write_bytes(edit(path.read_bytes()))
    with pytest.raises(DataError, match=f"labels.idx.*{message}"):
        read_idx(path)


# -- MNIST / Fashion-MNIST ------------------------------------------------------------------

N_TRAIN, N_TEST = 5010, 20


@pytest.fixture(scope="module")
def mnist_arrays():
    rng = np.random.default_rng(0)
    return {
        "train_x": rng.integers(0, 256, (N_TRAIN, 28, 28), dtype=np.uint8),
        "train_y": rng.integers(0, 10, N_TRAIN, dtype=np.uint8),
        "test_x": rng.integers(0, 256, (N_TEST, 28, 28), dtype=np.uint8),
        "test_y": rng.integers(0, 10, N_TEST, dtype=np.uint8),
    }


@pytest.fixture(scope="module")
def mnist_dir(tmp_path_factory, mnist_arrays):
    directory = tmp_path_factory.mktemp("mnist")
    write_idx(directory / "train-images-idx3-ubyte.gz", mnist_arrays["train_x"], gz=True)
    write_idx(directory / "train-labels-idx1-ubyte", mnist_arrays["train_y"])
    write_idx(directory / "t10k-images-idx3-ubyte", mnist_arrays["test_x"])
    write_idx(directory / "t10k-labels-idx1-ubyte.gz", mnist_arrays["test_y"], gz=True)
    return directory


def _pixels(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(images).float().unsqueeze(1) / 255.0


@pytest.mark.parametrize("loader", [load_mnist, load_fashion_mnist])
def test_mnist_split_values_and_labels(mnist_dir, mnist_arrays, loader):
    data = loader(DataConfig(name="mnist", path=str(mnist_dir)))
    assert (len(data.train), len(data.valid), len(data.test)) == (10, 5000, 20)
    assert data.image_shape == (1, 28, 28) and data.num_classes == 10
    assert data.binarisation == "none"
    cut = N_TRAIN - 5000  # valid = the last 5,000 of the training file
    assert torch.equal(data.train.x, _pixels(mnist_arrays["train_x"][:cut]))  # row-major, upright
    assert torch.equal(data.valid.x, _pixels(mnist_arrays["train_x"][cut:]))
    assert torch.equal(data.test.x, _pixels(mnist_arrays["test_x"]))
    assert data.train.x.dtype == torch.float32
    assert float(data.test.x.min()) >= 0.0 and float(data.test.x.max()) <= 1.0
    assert data.valid.labels.dtype == torch.long
    assert torch.equal(data.valid.labels, torch.from_numpy(mnist_arrays["train_y"][cut:]).long())
    assert torch.equal(data.test.labels, torch.from_numpy(mnist_arrays["test_y"]).long())


def test_mnist_dynamic_binarisation_and_max_train(mnist_dir, mnist_arrays):
    config = DataConfig(name="mnist", path=str(mnist_dir), binarisation="dynamic", max_train=3)
    first, second = load_mnist(config), load_mnist(config)
    assert first.binarisation == "dynamic" and len(first.train) == 3
    assert torch.equal(first.train.x, _pixels(mnist_arrays["train_x"][:3]))
    for name in ("valid", "test"):
        assert set(first.split(name).x.unique().tolist()) == {0.0, 1.0}
        assert torch.equal(first.split(name).x, second.split(name).x)


def test_mnist_missing_file_names_what_is_expected(tmp_path, mnist_arrays):
    write_idx(tmp_path / "train-images-idx3-ubyte", mnist_arrays["train_x"])
    with pytest.raises(DataError, match=re.escape(str(tmp_path)) + ".*train-labels-idx1-ubyte"):
        load_mnist(DataConfig(name="mnist", path=str(tmp_path)))
    with pytest.raises(DataError, match=r"data\.path is empty"):
        load_mnist(DataConfig(name="mnist", path=""))


def test_mnist_label_count_mismatch_names_both_files(tmp_path, mnist_arrays):
    write_idx(tmp_path / "train-images-idx3-ubyte", mnist_arrays["train_x"])
    write_idx(tmp_path / "train-labels-idx1-ubyte", mnist_arrays["train_y"][:-1])
    write_idx(tmp_path / "t10k-images-idx3-ubyte", mnist_arrays["test_x"])
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", mnist_arrays["test_y"])
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte.*5009.*train-images.*5010"):
        load_mnist(DataConfig(name="mnist", path=str(tmp_path)))


def test_mnist_needs_more_than_the_validation_images(tmp_path, mnist_arrays):
    write_idx(tmp_path / "train-images-idx3-ubyte", mnist_arrays["train_x"][:5000])
    write_idx(tmp_path / "train-labels-idx1-ubyte", mnist_arrays["train_y"][:5000])
    write_idx(tmp_path / "t10k-images-idx3-ubyte", mnist_arrays["test_x"])
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", mnist_arrays["test_y"])
    with pytest.raises(DataError, match="5000"):
        load_mnist(DataConfig(name="mnist", path=str(tmp_path)))


# -- OMNIGLOT -------------------------------------------------------------------------------

N_OMNI_TRAIN, N_OMNI_TEST = 1350, 6


def _gamma_shape() -> np.ndarray:
    """An asymmetric image: a vertical bar on the left and a bar along the top (like 'Γ')."""
    image = np.zeros((28, 28))
    image[2:24, 4] = 1.0
    image[2, 4:18] = 1.0
    return image


@pytest.fixture(scope="module")
def omniglot_arrays():
    rng = np.random.default_rng(1)
    train = rng.random((N_OMNI_TRAIN, 28, 28)).round(3)
    train[0] = _gamma_shape()
    return {
        "train_x": train,
        "train_y": rng.integers(0, 50, N_OMNI_TRAIN),
        "test_x": rng.random((N_OMNI_TEST, 28, 28)).round(3),
        "test_y": rng.integers(0, 50, N_OMNI_TEST),
    }


def _iwae_columns(images: np.ndarray) -> np.ndarray:
    """IWAE's layout: one column per image, each stored column-major (pixel (r, c) at r + 28c)."""
    columns = np.zeros((784, len(images)))
    for n, image in enumerate(images):
        for r in range(28):
            for c in range(28):
                columns[r + 28 * c, n] = image[r, c]
    return columns


def _one_hot(labels: np.ndarray) -> np.ndarray:
    target = np.zeros((50, len(labels)))
    target[labels, np.arange(len(labels))] = 1.0
    return target


@pytest.fixture(scope="module")
def chardata_dir(tmp_path_factory, omniglot_arrays):
    directory = tmp_path_factory.mktemp("omniglot_mat")
    scipy.io.savemat(
        directory / "chardata.mat",
        {
            "data": _iwae_columns(omniglot_arrays["train_x"]),
            "target": _one_hot(omniglot_arrays["train_y"]),
            "testdata": _iwae_columns(omniglot_arrays["test_x"]),
            "testtarget": _one_hot(omniglot_arrays["test_y"]),
        },
    )
    return directory


def _by_content(images: np.ndarray, labels: np.ndarray) -> dict[bytes, int]:
    pairs = zip(images, labels, strict=True)
    return {image.astype(np.float32).tobytes(): int(y) for image, y in pairs}


def test_omniglot_from_chardata_is_upright_with_alphabet_labels(chardata_dir, omniglot_arrays):
    data = load_omniglot(DataConfig(name="omniglot", path=str(chardata_dir)))
    assert (len(data.train), len(data.valid), len(data.test)) == (5, 1345, 6)
    assert data.image_shape == (1, 28, 28) and data.num_classes == 50
    expected = _by_content(omniglot_arrays["train_x"], omniglot_arrays["train_y"])
    seen = {}
    for split in (data.train, data.valid):
        for image, label in zip(split.x[:, 0].numpy(), split.labels.tolist(), strict=True):
            seen[image.tobytes()] = label
    assert seen == expected  # train + valid = the training file, disjoint, upright, labelled
    gamma = torch.from_numpy(_gamma_shape()).float()
    both = torch.cat([data.train.x, data.valid.x])[:, 0]
    assert any(torch.equal(image, gamma) for image in both)
    assert not any(torch.equal(image, gamma.T) for image in both)
    test = torch.from_numpy(omniglot_arrays["test_x"]).float().unsqueeze(1)
    assert torch.equal(data.test.x, test)  # test keeps the file order
    assert torch.equal(data.test.labels, torch.from_numpy(omniglot_arrays["test_y"]))


def test_omniglot_npz_gives_the_same_data_set(tmp_path, chardata_dir, omniglot_arrays):
    np.savez(tmp_path / "omniglot.npz", **omniglot_arrays)
    from_npz = load_omniglot(DataConfig(name="omniglot", path=str(tmp_path)))
    from_mat = load_omniglot(DataConfig(name="omniglot", path=str(chardata_dir / "chardata.mat")))
    for name in ("train", "valid", "test"):
        assert torch.equal(from_npz.split(name).x, from_mat.split(name).x)
        assert torch.equal(from_npz.split(name).labels, from_mat.split(name).labels)


def test_omniglot_missing_files_are_named(tmp_path):
    message = re.escape(str(tmp_path)) + r".*chardata\.mat or omniglot\.npz"
    with pytest.raises(DataError, match=message):
        load_omniglot(DataConfig(name="omniglot", path=str(tmp_path)))


def test_omniglot_chardata_without_targets_is_a_data_error(tmp_path):
    scipy.io.savemat(tmp_path / "chardata.mat", {"data": np.zeros((784, 2))})
    with pytest.raises(DataError, match=r"chardata\.mat.*missing"):
        load_omniglot(DataConfig(name="omniglot", path=str(tmp_path)))
