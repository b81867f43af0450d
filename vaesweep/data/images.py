"""Real image sets read from their standard files: MNIST, Fashion-MNIST (IDX), OMNIGLOT and the
prepared CelebA arrays.

Nothing is downloaded here: ``data.path`` names a directory holding the files (empty: the data
set's cache directory, see ``vaesweep.data.cache``), and a missing or malformed file is a
``DataError`` that says which file and what is wrong, so a sweep fails before its first trial
rather than deep inside one.

Splits (fixed, independent of the run seed):
- MNIST / Fashion-MNIST: train = the first 55,000 images of the training file, valid = its last
  5,000 (the files' own order, which is already shuffled), test = the 10,000 t10k images.
- OMNIGLOT (IWAE ``chardata.mat``, the He et al. / Kim et al. data): valid = 1,345 images of
  the training set chosen by a permutation with the fixed split seed, train = the other 23,000
  in that permuted order (the file groups images by alphabet, and ``max_train`` should not take
  only the first alphabets), test = the 8,070 test images in file order.
- CelebA: the official partition (list_eval_partition.txt), applied by ``vaesweep data prepare``.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from vaesweep.config import DataConfig
from vaesweep.data.base import Dataset, Split
from vaesweep.data.cache import data_directory
from vaesweep.data.splits import SPLIT_SEED, image_dataset
from vaesweep.errors import DataError

# IDX type code -> big-endian numpy dtype (http://yann.lecun.com/exdb/mnist/, "IDX format")
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
GZIP_MAGIC = b"\x1f\x8b"
MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
MNIST_VALID = 5000
OMNIGLOT_VALID = 1345
OMNIGLOT_ALPHABETS = 50
OMNIGLOT_FILES = ("chardata.mat", "omniglot.npz")
SIDE = 28
CELEBA_FILES = {"train": "train_x.npy", "valid": "valid_x.npy", "test": "test_x.npy"}
CELEBA_SHAPE = (3, 64, 64)
IMAGE_CHUNK = 4096  # images converted to float at once


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (plain or gzip, detected from its first bytes) into a native array.

    Checks the magic number, the type code, the dimensions and that the payload has exactly
    the size they imply; anything else is a DataError naming the file.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise DataError(f"{path}: cannot read ({error.strerror})") from error
    if raw[:2] == GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as error:
            raise DataError(f"{path}: corrupt gzip stream ({error})") from error
    if len(raw) < 4:
        raise DataError(f"{path}: truncated: expected a 4-byte IDX header, found {len(raw)} bytes")
    if raw[0] != 0 or raw[1] != 0:
        raise DataError(f"{path}: bad magic number 0x{raw[:4].hex()}: an IDX file starts with two zero bytes")
    code, ndim = raw[2], raw[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise DataError(f"{path}: unknown IDX type code 0x{code:02X} (known: {known})")
    if ndim == 0:
        raise DataError(f"{path}: IDX header declares 0 dimensions")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(
            f"{path}: truncated: expected a {header}-byte header for {ndim} dimensions, "
            f"found {len(raw)} bytes"
        )
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = IDX_DTYPES[code]
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    found = len(raw) - header
    if found < expected:
        raise DataError(
            f"{path}: truncated: expected {expected} bytes of data for dimensions {dims}, found {found}"
        )
    if found > expected:
        raise DataError(
            f"{path}: {found - expected} bytes of trailing data after the {expected} bytes "
            f"that dimensions {dims} need"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)
    return data.astype(dtype.newbyteorder("="))


def find_idx(directory: Path, name: str, expected: str) -> Path:
    for candidate in (directory / name, directory / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    raise DataError(f"{directory}: missing {name}[.gz]; expected {expected} there")


def _read_idx_pair(
    images_path: Path, labels_path: Path, num_classes: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Images as float32 [N, 1, 28, 28] in [0, 1] and labels as long [N], cross-checked."""
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or images.shape[1:] != (SIDE, SIDE) or images.dtype != np.uint8:
        raise DataError(
            f"{images_path}: expected uint8 images of shape [N, {SIDE}, {SIDE}], "
            f"found {images.dtype} {list(images.shape)}"
        )
    if labels.ndim != 1:
        raise DataError(f"{labels_path}: expected a 1-D label array, found {list(labels.shape)}")
    if len(labels) != len(images):
        raise DataError(
            f"{labels_path} holds {len(labels)} labels but {images_path} holds {len(images)} images"
        )
    if len(labels) and not 0 <= int(labels.min()) <= int(labels.max()) < num_classes:
        raise DataError(f"{labels_path}: labels must lie in 0..{num_classes - 1}")
    x = torch.from_numpy(images).float().div_(255.0).unsqueeze(1)
    return x, torch.from_numpy(labels.astype(np.int64))


def _load_idx_set(config: DataConfig, name: str, description: str) -> Dataset:
    expected = ", ".join(f"{f}[.gz]" for f in MNIST_FILES.values())
    directory = data_directory(config, expected)
    paths = {key: find_idx(directory, file, expected) for key, file in MNIST_FILES.items()}
    train_x, train_y = _read_idx_pair(paths["train_images"], paths["train_labels"], 10)
    test_x, test_y = _read_idx_pair(paths["test_images"], paths["test_labels"], 10)
    n = len(train_x)
    if n <= MNIST_VALID:
        raise DataError(
            f"{paths['train_images']}: {n} images; the last {MNIST_VALID} are held out for "
            "validation, so more are needed"
        )
    cut = n - MNIST_VALID
    splits = (
        Split(train_x[:cut], labels=train_y[:cut]),
        Split(train_x[cut:], labels=train_y[cut:]),
        Split(test_x, labels=test_y),
    )
    return image_dataset(
        name,
        splits,
        10,
        config.binarisation,
        config.max_train,
        f"{description}: training file split {cut}/{MNIST_VALID} (last {MNIST_VALID} = valid), t10k = test",
    )


def load_mnist(config: DataConfig) -> Dataset:
    """MNIST from the four IDX files in ``data.path``."""
    return _load_idx_set(config, "mnist", "MNIST")


def load_fashion_mnist(config: DataConfig) -> Dataset:
    """Fashion-MNIST from the four IDX files in ``data.path`` (same names as MNIST)."""
    return _load_idx_set(config, "fashion_mnist", "Fashion-MNIST")


class OmniglotPart(NamedTuple):
    """One file split of OMNIGLOT: images [N, 28, 28] in [0, 1], alphabet ids [N] and, when the
    file has them, the index of each image's character within its alphabet [N]."""

    x: np.ndarray
    alphabet: np.ndarray
    character: np.ndarray | None


def _chardata_characters(mat: dict, key: str, count: int, path: Path) -> np.ndarray | None:
    """``targetchar`` / ``testtargetchar``: [1, N] 1-based character numbers within the alphabet."""
    if key not in mat:
        return None
    values = np.asarray(mat[key])
    if values.size != count or values.ndim != 2 or 1 not in values.shape:
        raise DataError(f"{path}: '{key}' must be [1, {count}], found {list(values.shape)}")
    values = values.ravel()
    if not np.all(values == np.round(values)) or values.min(initial=1) < 1:
        raise DataError(f"{path}: '{key}' must hold character numbers 1, 2, ... (MATLAB, 1-based)")
    return values.astype(np.int64) - 1


def _read_chardata(path: Path) -> tuple[OmniglotPart, OmniglotPart]:
    """IWAE's chardata.mat: [784, N] column-major images, [50, N] one-hot alphabets and, in the
    released file, [1, N] character numbers within the alphabet (``targetchar``)."""
    from scipy.io import loadmat

    try:
        mat = loadmat(str(path))
    except (OSError, ValueError, TypeError) as error:
        raise DataError(f"{path}: not a readable MATLAB file ({error})") from error
    missing = [key for key in ("data", "target", "testdata", "testtarget") if key not in mat]
    if missing:
        raise DataError(f"{path}: missing variables {missing}")
    if ("targetchar" in mat) != ("testtargetchar" in mat):
        raise DataError(f"{path}: has only one of 'targetchar' and 'testtargetchar'; both or neither")
    parts = []
    for images_key, target_key, char_key in (
        ("data", "target", "targetchar"),
        ("testdata", "testtarget", "testtargetchar"),
    ):
        images, target = mat[images_key], mat[target_key]
        if images.ndim != 2 or images.shape[0] != SIDE * SIDE:
            raise DataError(f"{path}: '{images_key}' must be [{SIDE * SIDE}, N], found {list(images.shape)}")
        if target.shape != (OMNIGLOT_ALPHABETS, images.shape[1]):
            raise DataError(
                f"{path}: '{target_key}' must be one-hot [{OMNIGLOT_ALPHABETS}, "
                f"{images.shape[1]}] to match '{images_key}', found {list(target.shape)}"
            )
        if not np.all(target.sum(axis=0) == 1):
            raise DataError(f"{path}: '{target_key}' columns are not one-hot")
        # each column is an image stored column-major (MATLAB order): pixel (r, c) at r + 28c
        parts.append(
            OmniglotPart(
                images.T.reshape(-1, SIDE, SIDE, order="F"),
                target.argmax(axis=0),
                _chardata_characters(mat, char_key, images.shape[1], path),
            )
        )
    return parts[0], parts[1]


def _read_omniglot_npz(path: Path) -> tuple[OmniglotPart, OmniglotPart]:
    """An ``omniglot.npz`` with upright row-major images ([N, 28, 28], [N, 1, 28, 28] or
    [N, 784]; floats in [0, 1] or uint8 0..255), integer alphabet labels [N] and, optionally,
    0-based character indices within the alphabet (``train_char``, ``test_char``)."""
    try:
        with np.load(path) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (OSError, ValueError) as error:
        raise DataError(f"{path}: not a readable .npz file ({error})") from error
    missing = [k for k in ("train_x", "train_y", "test_x", "test_y") if k not in arrays]
    if missing:
        raise DataError(f"{path}: missing arrays {missing}")
    if ("train_char" in arrays) != ("test_char" in arrays):
        raise DataError(f"{path}: has only one of 'train_char' and 'test_char'; both or neither")
    parts = []
    for prefix in ("train", "test"):
        x, y = arrays[f"{prefix}_x"], arrays[f"{prefix}_y"]
        if y.ndim != 1 or x.ndim < 2 or len(x) != len(y) or x.size != len(x) * SIDE * SIDE:
            raise DataError(
                f"{path}: {prefix}_x must be N images of {SIDE}x{SIDE} and {prefix}_y N labels, "
                f"found {list(x.shape)} and {list(y.shape)}"
            )
        characters = arrays.get(f"{prefix}_char")
        for key, labels in ((f"{prefix}_y", y), (f"{prefix}_char", characters)):
            if labels is not None and (
                labels.shape != y.shape or not np.issubdtype(labels.dtype, np.integer)
            ):
                raise DataError(f"{path}: {key} must hold {len(y)} integer labels, found {labels.dtype}")
        x = x.reshape(-1, SIDE, SIDE)
        parts.append(OmniglotPart(x / 255.0 if x.dtype == np.uint8 else x, y, characters))
    return parts[0], parts[1]


def _omniglot_split(part: OmniglotPart) -> Split:
    extras = (
        {} if part.character is None else {"character": torch.from_numpy(part.character.astype(np.int64))}
    )
    return Split(
        torch.from_numpy(np.ascontiguousarray(part.x)).float().unsqueeze(1),
        labels=torch.from_numpy(part.alphabet.astype(np.int64)),
        extras=extras,
    )


def load_omniglot(config: DataConfig) -> Dataset:
    """OMNIGLOT 28x28 from ``chardata.mat`` (preferred) or ``omniglot.npz`` in ``data.path``.

    ``data.path`` may also name the file itself. Labels are alphabets; ``extras["character"]``
    holds each image's character index within its alphabet when the file has it (DU-VAE
    Table 3 classifies the characters of each alphabet).
    """
    expected = " or ".join(OMNIGLOT_FILES)
    if config.path and Path(config.path).is_file():
        path = Path(config.path)
    else:
        directory = data_directory(config, expected)
        found = [directory / f for f in OMNIGLOT_FILES if (directory / f).is_file()]
        if not found:
            raise DataError(f"{directory}: found neither {expected}; expected one of them there")
        path = found[0]
    reader = _read_omniglot_npz if path.suffix == ".npz" else _read_chardata
    train_part, test_part = reader(path)
    for part in (train_part, test_part):
        if part.x.size and not 0.0 <= float(part.x.min()) <= float(part.x.max()) <= 1.0:
            raise DataError(f"{path}: pixel values must lie in [0, 1]")
        labels = part.alphabet
        if labels.size and not 0 <= int(labels.min()) <= int(labels.max()) < OMNIGLOT_ALPHABETS:
            raise DataError(f"{path}: alphabet labels must lie in 0..{OMNIGLOT_ALPHABETS - 1}")
    n = len(train_part.x)
    if n <= OMNIGLOT_VALID:
        raise DataError(
            f"{path}: {n} training images; {OMNIGLOT_VALID} are held out for validation, so more are needed"
        )
    order = torch.from_numpy(np.random.default_rng(SPLIT_SEED).permutation(n))
    train = _omniglot_split(train_part)
    splits = (
        train.subset(order[:-OMNIGLOT_VALID]),
        train.subset(order[-OMNIGLOT_VALID:]),
        _omniglot_split(test_part),
    )
    characters = (
        "; extras['character'] = character within the alphabet" if train_part.character is not None else ""
    )
    return image_dataset(
        "omniglot",
        splits,
        OMNIGLOT_ALPHABETS,
        config.binarisation,
        config.max_train,
        f"OMNIGLOT 28x28 from {path.name}: {n - OMNIGLOT_VALID}/{OMNIGLOT_VALID} fixed "
        f"hold-out of train, {len(test_part.x)} test; labels = alphabet{characters}",
    )


def read_image_array(
    path: Path, expected: str, limit: int = 0, shape: tuple[int, int, int] | None = None
) -> torch.Tensor:
    """A split stored as a .npy of images [N, C, H, W] (uint8 0..255, or float32 in [0, 1]),
    memory-mapped and converted to float in [0, 1] in chunks, so the peak is the float tensor
    alone. ``shape`` (C, H, W) is checked when given; ``limit`` > 0 reads the first images only."""
    if not path.is_file():
        raise DataError(f"{path.parent}: missing {path.name}; expected {expected}")
    try:
        array = np.load(path, mmap_mode="r")
    except (OSError, ValueError) as error:
        raise DataError(f"{path}: not a readable .npy file ({error})") from error
    if (
        array.dtype not in (np.uint8, np.float32)
        or array.ndim != 4
        or (shape is not None and array.shape[1:] != shape)
    ):
        wanted = "[N, C, H, W]" if shape is None else f"[N, {', '.join(map(str, shape))}]"
        raise DataError(
            f"{path}: expected uint8 or float32 images {wanted}, found {array.dtype} {list(array.shape)}"
        )
    count = len(array) if limit <= 0 else min(limit, len(array))
    scale = 255.0 if array.dtype == np.uint8 else 1.0
    images = torch.empty((count, *array.shape[1:]), dtype=torch.float32)
    for start in range(0, count, IMAGE_CHUNK):
        stop = min(start + IMAGE_CHUNK, count)
        images[start:stop] = torch.from_numpy(np.array(array[start:stop])).float().div_(scale)
    return images


def load_celeba(config: DataConfig) -> Dataset:
    """CelebA 64x64 as ``vaesweep data prepare celeba`` writes it (AR-ELBO appendix J.2: the
    aligned images centre-cropped to 140x140 and resized to 64x64), with the official
    train/valid/test partition. No labels. ``max_train`` is applied while reading."""
    expected = ", ".join(CELEBA_FILES.values()) + " (uint8 [N, 3, 64, 64]; `vaesweep data prepare celeba`)"
    directory = data_directory(config, expected)
    splits = tuple(
        Split(
            read_image_array(
                directory / file, expected, config.max_train if name == "train" else 0, CELEBA_SHAPE
            )
        )
        for name, file in CELEBA_FILES.items()
    )
    sizes = "/".join(str(len(split)) for split in splits)
    return image_dataset(
        "celeba",
        splits,  # type: ignore[arg-type]
        None,
        config.binarisation,
        config.max_train,
        f"CelebA 64x64 (140x140 centre crop) from {directory}: {sizes} train/valid/test",
    )
