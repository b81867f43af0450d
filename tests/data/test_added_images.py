"""``vaesweep data add --kind image``: arrays, IDX files and folders of pictures, checked,
split, registered, and given an architecture and decoder by their shape and greyness."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from tests.data.test_images import write_idx
from vaesweep.config import DataConfig, resolve_config
from vaesweep.data import load_dataset
from vaesweep.data.registry import dataset_info
from vaesweep.data.user import AddOptions, add_dataset
from vaesweep.errors import DataError
from vaesweep.train import fit


def binary_images(count: int, side: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """uint8 0/255 images whose label is the row that is lit (so classes differ visibly)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, count)
    x = (rng.random((count, side, side)) < 0.1).astype(np.uint8) * 255
    x[np.arange(count), labels] = 255
    return x, labels


def save_png(path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def test_a_npy_pool_with_labels_is_split_stratified_and_read_back_exactly(tmp_path, data_cache):
    x, labels = binary_images(200)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", labels * 10 + 3)  # values 3, 13, 23, 33 become classes 0..3
    _, summary = add_dataset(
        "mine", "image", tmp_path / "x.npy", options=AddOptions(labels=tmp_path / "y.npy")
    )
    added = summary["added"]
    assert added["sizes"] == {"train": 160, "valid": 20, "test": 20}
    assert added["classes"] == ["3", "13", "23", "33"] and added["image_shape"] == [1, 8, 8]

    data = load_dataset(DataConfig(name="mine"))
    assert data.kind == "image" and data.image_shape == (1, 8, 8) and data.num_classes == 4
    together = torch.cat([data.train.x, data.valid.x, data.test.x])
    assert together.shape == (200, 1, 8, 8) and set(together.unique().tolist()) == {0.0, 1.0}
    originals = {tuple(row) for row in (x.reshape(200, -1) / 255.0)}
    assert {tuple(row) for row in together.reshape(200, -1).tolist()} == originals
    for split in (data.train, data.valid, data.test):  # each image's lit row is its class
        rows = split.x[:, 0].sum(dim=2).argmax(dim=1)
        assert torch.equal(rows, split.labels)
    assert np.bincount(data.valid.labels.numpy(), minlength=4).tolist() == [
        round(c * 0.1) for c in np.bincount(labels, minlength=4)
    ]


def test_binary_28x28_images_get_the_conv_net_and_a_bernoulli_decoder(tmp_path, data_cache):
    x, _ = binary_images(60, side=28)
    np.save(tmp_path / "x.npy", x)
    add_dataset("mine", "image", tmp_path / "x.npy")
    info = dataset_info("mine")
    assert (info.kind, info.architecture, info.image_shape, info.num_classes) == (
        "image",
        "conv",
        (1, 28, 28),
        None,
    )
    config = resolve_config("vae", "mine", {"train.epochs": 1, "eval.nll_samples": 4, "eval.cu_rounds": 2})
    assert config.likelihood_kind == "bernoulli" and config.model.latent_dim == 32
    assert np.isfinite(fit(config)["nll"])


def test_grey_channel_last_floats_get_an_mlp_and_a_gaussian_decoder(tmp_path, data_cache):
    rng = np.random.default_rng(0)
    x = rng.uniform(0.2, 0.8, (50, 6, 5, 3)).astype(np.float64)  # [N, H, W, C], mid greys
    np.save(tmp_path / "x.npy", x)
    add_dataset("mine", "image", tmp_path / "x.npy")
    data = load_dataset(DataConfig(name="mine"))
    assert data.image_shape == (3, 6, 5)
    pool = torch.cat([data.train.x, data.valid.x, data.test.x]).double()
    expected = torch.from_numpy(x.transpose(0, 3, 1, 2)).float().double()
    assert sorted(map(tuple, pool.reshape(50, -1).tolist())) == sorted(
        map(tuple, expected.reshape(50, -1).tolist())
    )
    config = resolve_config("vae", "mine")
    assert config.model.architecture == "mlp" and config.model.hidden_sizes == (128, 128)
    assert (config.likelihood_kind, config.likelihood.variance) == ("gaussian", "trainable")


def test_integer_zeros_and_ones_are_black_and_white(tmp_path, data_cache):
    x, _ = binary_images(40)
    np.save(tmp_path / "x.npy", (x > 0).astype(np.int64))
    add_dataset("mine", "image", tmp_path / "x.npy")
    assert load_dataset(DataConfig(name="mine")).train.x.max() == 1.0


def test_npz_with_train_and_test_holds_out_valid_from_train(tmp_path, data_cache):
    x, labels = binary_images(120)
    np.savez(tmp_path / "d.npz", train_x=x[:90], train_y=labels[:90], test_x=x[90:], test_y=labels[90:])
    _, summary = add_dataset("mine", "image", tmp_path / "d.npz")
    # valid takes 0.1 / (0.8 + 0.1) of train
    assert summary["added"]["sizes"] == {"train": 80, "valid": 10, "test": 30}
    data = load_dataset(DataConfig(name="mine"))
    assert torch.equal(data.test.x, torch.from_numpy(x[90:, None] / 255.0).float())


def test_idx_files_in_mnist_names_and_a_single_idx_file(tmp_path, data_cache):
    x, labels = binary_images(50, side=10)
    source = tmp_path / "idx"
    source.mkdir()
    write_idx(source / "train-images-idx3-ubyte", x[:40])
    write_idx(source / "train-labels-idx1-ubyte.gz", labels[:40].astype(np.uint8), gz=True)
    write_idx(source / "t10k-images-idx3-ubyte", x[40:])
    write_idx(source / "t10k-labels-idx1-ubyte", labels[40:].astype(np.uint8))
    _, summary = add_dataset("mine", "image", source)
    assert summary["added"]["sizes"]["test"] == 10 and summary["added"]["num_classes"] == 4
    single = write_idx(tmp_path / "images.idx", x)
    _, summary = add_dataset(
        "other",
        "image",
        single,
        options=AddOptions(labels=write_idx(tmp_path / "labels.idx", labels.astype(np.uint8))),
    )
    assert summary["added"]["sizes"] == {"train": 40, "valid": 5, "test": 5}


def test_folders_of_pictures_with_class_folders_and_split_folders(tmp_path, data_cache):
    x, labels = binary_images(30)
    names = ["circle", "square", "star", "zigzag"]
    for i, (image, label) in enumerate(zip(x, labels, strict=True)):
        split = "test" if i >= 24 else "train"
        save_png(tmp_path / "split" / split / names[label] / f"{i}.png", image)
        save_png(tmp_path / "pool" / names[label] / f"{i}.png", image)
    _, summary = add_dataset("pool", "image", tmp_path / "pool")
    assert summary["added"]["classes"] == names and sum(summary["added"]["sizes"].values()) == 30
    _, summary = add_dataset("split", "image", tmp_path / "split")
    assert summary["added"]["sizes"]["test"] == 6
    data = load_dataset(DataConfig(name="split"))
    assert data.image_shape == (1, 8, 8)
    rows = data.test.x[:, 0].sum(dim=2).argmax(dim=1)
    assert torch.equal(rows, data.test.labels)  # folder names in sorted order = the lit rows


def test_a_colour_picture_makes_the_whole_set_rgb(tmp_path, data_cache):
    grey = np.full((5, 4), 100, np.uint8)
    save_png(tmp_path / "pics" / "a.png", grey)
    save_png(tmp_path / "pics" / "b.jpg", np.stack([grey, grey, grey + 50], axis=2))
    for i in range(8):
        save_png(tmp_path / "pics" / f"c{i}.png", grey)
    _, summary = add_dataset("mine", "image", tmp_path / "pics", options=AddOptions(split=(0.6, 0.2, 0.2)))
    assert summary["added"]["image_shape"] == [3, 5, 4] and summary["added"]["classes"] is None


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda d: [
                save_png(d / "a.png", np.zeros((8, 8), np.uint8)),
                save_png(d / "b.png", np.zeros((7, 8), np.uint8)),
            ],
            r"b\.png: 8x7 pixels, but .*a\.png is 8x8; every image must have the same size",
        ),
        (
            lambda d: [
                save_png(d / "a.png", np.zeros((8, 8), np.uint8)),
                save_png(d / "k" / "b.png", np.zeros((8, 8), np.uint8)),
            ],
            r"holds both images and class folders \(k\)",
        ),
        (
            lambda d: np.save(d / "x.npy", np.full((20, 4, 4), 1.5)),
            r"x\.npy: float intensities must lie in \[0, 1\], found 1\.5\.\.1\.5",
        ),
        (
            lambda d: np.save(d / "x.npy", np.zeros((20, 16))),
            r"x\.npy: images must be \[N, H, W\].*found shape \[20, 16\]",
        ),
        (
            lambda d: np.save(d / "x.npy", np.full((20, 4, 4), 300)),
            r"integer intensities must lie in 0\.\.255, found 300\.\.300",
        ),
    ],
)
def test_malformed_images_are_named(tmp_path, data_cache, make, message):
    source = tmp_path / "src"
    source.mkdir()
    make(source)
    target = source / "x.npy" if (source / "x.npy").exists() else source
    with pytest.raises(DataError, match=message):
        add_dataset("mine", "image", target)
    assert list(data_cache.iterdir()) == []


def test_label_errors_are_named(tmp_path, data_cache):
    x, labels = binary_images(20)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "short.npy", labels[:-1])
    with pytest.raises(DataError, match=r"short\.npy: 19 labels for the 20 images of .*x\.npy"):
        add_dataset("mine", "image", tmp_path / "x.npy", options=AddOptions(labels=tmp_path / "short.npy"))
    np.save(tmp_path / "halves.npy", labels + 0.5)
    with pytest.raises(DataError, match=r"halves\.npy: labels must be a 1-D array of integers"):
        add_dataset("mine", "image", tmp_path / "x.npy", options=AddOptions(labels=tmp_path / "halves.npy"))
    np.savez(tmp_path / "d.npz", train_x=x[:15], train_y=labels[:15], test_x=x[15:])
    with pytest.raises(DataError, match=r"d\.npz:test_x: no labels, while .*d\.npz:train_x has them"):
        add_dataset("mine", "image", tmp_path / "d.npz")
    np.savez(tmp_path / "e.npz", train_x=x[:15], test_x=np.zeros((5, 9, 9), np.uint8))
    with pytest.raises(DataError, match=r"the splits' images differ in shape"):
        add_dataset("mine", "image", tmp_path / "e.npz")


def test_the_manifest_describes_the_set_for_validation(tmp_path, data_cache):
    x, _ = binary_images(40)
    np.save(tmp_path / "x.npy", x)
    add_dataset("mine", "image", tmp_path / "x.npy")
    added = json.loads((data_cache / "mine" / "MANIFEST.json").read_text())["added"]
    assert added["kind"] == "image" and added["greyness"] == 0.0 and "Bernoulli" in added["rule"]
    assert set(json.loads((data_cache / "mine" / "MANIFEST.json").read_text())["files"]) == {
        f"{split}_x.npy" for split in ("train", "valid", "test")
    }
