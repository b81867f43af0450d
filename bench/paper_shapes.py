"""Data files of the papers' shapes, in the real formats, for benchmarks on machines that cannot
download MNIST or Yahoo: throughput depends on the shapes, not on the pixels or the words.

- MNIST: the four IDX files ``vaesweep.data.images.load_mnist`` reads (28x28 uint8 images, labels
  0-9), random binary-ish pixels;
- Yahoo (He et al. 2019's sample): ``yahoo.{train,valid,test}.txt`` for
  ``vaesweep.data.text.load_text_dataset``, random words over a 20,000-word vocabulary, sentence
  lengths log-normal around Yahoo's mean of 78.7 tokens, cut to 5..200.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

MNIST_SIDE = 28
YAHOO_VOCABULARY = 20_000
YAHOO_MEAN_LENGTH = 78.7
YAHOO_LENGTHS = (5, 200)


def _write_idx(path: Path, array: np.ndarray) -> None:
    """IDX: two zero bytes, type code 0x08 (uint8), rank, big-endian uint32 sizes, the bytes."""
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def write_mnist(directory: Path, train: int, test: int, seed: int = 0) -> Path:
    """MNIST's IDX files with ``train`` training images (the loader keeps the last 5,000 of them
    for validation) and ``test`` test images."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for prefix, count in (("train", train), ("t10k", test)):
        pixels = (rng.random((count, MNIST_SIDE, MNIST_SIDE)) < 0.13) * 255
        _write_idx(directory / f"{prefix}-images-idx3-ubyte", pixels)
        _write_idx(directory / f"{prefix}-labels-idx1-ubyte", rng.integers(0, 10, count))
    return directory


def write_yahoo(directory: Path, train: int, valid: int, test: int, seed: int = 0) -> Path:
    """He et al.'s Yahoo files (``yahoo.<split>.txt``, one sentence a line) at Yahoo's vocabulary
    size and sentence lengths."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    sigma = 0.6  # log-normal spread; mean exp(mu + sigma^2 / 2) = Yahoo's mean length
    mu = np.log(YAHOO_MEAN_LENGTH) - sigma**2 / 2
    for split, count in (("train", train), ("valid", valid), ("test", test)):
        lengths = np.clip(rng.lognormal(mu, sigma, count).round().astype(int), *YAHOO_LENGTHS)
        lines = (" ".join(f"w{i}" for i in rng.integers(0, YAHOO_VOCABULARY, length)) for length in lengths)
        (directory / f"yahoo.{split}.txt").write_text("\n".join(lines) + "\n")
    return directory
