"""Image data sets into the cache: fetch (MD5, offline), prepare, the cache the loaders read."""

import gzip
import hashlib
import json
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch
from PIL import Image

from vaesweep.cli import main
from vaesweep.config import DataConfig, resolve_config
from vaesweep.data import acquire, load_dataset
from vaesweep.data.cache import MANIFEST, data_directory
from vaesweep.data.images import load_celeba, load_mnist, load_omniglot
from vaesweep.errors import DataError
from vaesweep.train import fit

# -- fixtures in the exact formats ----------------------------------------------------------


def write_idx(path: Path, array: np.ndarray) -> Path:
    """A gzipped IDX file: zero bytes, type 0x08 (uint8), rank, big-endian dims, payload."""
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))
    return path


@pytest.fixture(scope="module")
def idx_dir(tmp_path_factory):
    rng = np.random.default_rng(0)
    directory = tmp_path_factory.mktemp("idx")
    write_idx(directory / "train-images-idx3-ubyte.gz", rng.integers(0, 256, (5003, 28, 28)))
    write_idx(directory / "train-labels-idx1-ubyte.gz", rng.integers(0, 10, 5003))
    write_idx(directory / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (7, 28, 28)))
    write_idx(directory / "t10k-labels-idx1-ubyte.gz", rng.integers(0, 10, 7))
    return directory


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def chardata(path: Path, n_train: int = 1350, n_test: int = 10, characters: bool = True) -> Path:
    """IWAE's layout: [784, N] column-major images, [50, N] one-hot alphabets, [1, N] 1-based
    character numbers within the alphabet."""
    rng = np.random.default_rng(1)
    variables = {}
    for prefix, n in (("", n_train), ("test", n_test)):
        alphabets = np.arange(n) % 4
        target = np.zeros((50, n))
        target[alphabets, np.arange(n)] = 1.0
        images = rng.random((n, 28, 28)).round(2)
        variables[f"{prefix}data" if prefix else "data"] = images.reshape(n, -1, order="F").T
        variables[f"{prefix}target"] = target
        if characters:
            variables[f"{prefix}targetchar"] = (np.arange(n) // 4 % 3 + 1).reshape(1, n).astype(float)
    scipy.io.savemat(path, variables)
    return path


PARTITION_CODES = {"train": 0, "valid": 1, "test": 2}


def celeba_folder(root: Path, numbers: dict[str, list[int]], partition: bool = True) -> Path:
    """img_align_celeba/NNNNNN.jpg of 178x218 (the aligned size), plus list_eval_partition.txt."""
    images = root / "img_align_celeba"
    images.mkdir(parents=True)
    lines = []
    for split, values in numbers.items():
        for number in values:
            name = f"{number:06d}.jpg"
            pixels = np.zeros((218, 178, 3), np.uint8)
            pixels[39:179, 19:159] = (number * 40) % 256  # the 140x140 centre is one flat colour
            Image.fromarray(pixels).save(images / name, quality=95)
            lines.append(f"{name} {PARTITION_CODES[split]}")
    if partition:
        (root / "list_eval_partition.txt").write_text("\n".join(lines) + "\n")
    return root


# -- cache resolution -----------------------------------------------------------------------


def test_empty_data_path_reads_the_cache_or_says_how_to_fill_it(idx_dir, isolated_cache):
    with pytest.raises(DataError, match=r"data\.path is empty.*vaesweep data fetch mnist"):
        load_dataset(DataConfig(name="mnist"))
    directory, _ = acquire.prepare("mnist", idx_dir)
    assert directory == isolated_cache / "mnist"
    data = load_dataset(DataConfig(name="mnist"))
    assert (len(data.train), len(data.valid), len(data.test)) == (3, 5000, 7)


def test_manifest_catches_a_truncated_file(idx_dir):
    directory, _ = acquire.prepare("mnist", idx_dir)
    manifest = json.loads((directory / MANIFEST).read_text())
    assert set(manifest["files"]) == {f.name for f in idx_dir.iterdir()}
    target = directory / "t10k-labels-idx1-ubyte.gz"
    target.write_bytes(target.read_bytes()[:-3])
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte\.gz.*truncated or was replaced"):
        data_directory(DataConfig(name="mnist"), "the IDX files")
    assert acquire.status("mnist")[1].startswith("damaged")


def test_prepare_rejects_a_truncated_idx_and_leaves_no_cache_entry(idx_dir, tmp_path, isolated_cache):
    broken = tmp_path / "broken"
    broken.mkdir()
    for path in idx_dir.iterdir():
        broken.joinpath(path.name).write_bytes(path.read_bytes())
    raw = gzip.decompress((broken / "train-labels-idx1-ubyte.gz").read_bytes())
    (broken / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(raw[:-10]))
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte\.gz: truncated"):
        acquire.prepare("mnist", broken)
    assert not (isolated_cache / "mnist").exists()
    assert list(isolated_cache.iterdir()) == []  # the staging directory is gone too


# -- fetch ----------------------------------------------------------------------------------


def test_fetch_verifies_md5_from_a_mirror(idx_dir, monkeypatch, isolated_cache):
    checksums = {path.name: md5(path) for path in idx_dir.iterdir()}
    monkeypatch.setitem(
        acquire.IDX_SETS,
        "mnist",
        (("file:///nonexistent/", idx_dir.as_uri() + "/"), checksums, acquire.IDX_SETS["mnist"][2]),
    )
    directory, summary = acquire.fetch("mnist")
    assert summary["md5"] == "verified" and len(load_dataset(DataConfig(name="mnist")).test) == 7
    wrong = {**checksums, "t10k-labels-idx1-ubyte.gz": "0" * 32}
    monkeypatch.setitem(
        acquire.IDX_SETS, "mnist", ((idx_dir.as_uri() + "/",), wrong, acquire.IDX_SETS["mnist"][2])
    )
    with pytest.raises(
        DataError, match=r"t10k-labels-idx1-ubyte\.gz: MD5 .* differs from the published 0{32}"
    ):
        acquire.fetch("mnist")
    assert (directory / "t10k-labels-idx1-ubyte.gz").is_file()  # the good copy survives a failed refetch
    monkeypatch.setitem(acquire.IDX_SETS, "mnist", (("file:///nonexistent/",), checksums, load_mnist))
    with pytest.raises(DataError, match=r"download of \S+-ubyte\.gz failed .*put the files at"):
        acquire.fetch("mnist")


@pytest.mark.timeout(60)
def test_fetch_mnist_offline_fails_fast_and_says_where_to_put_the_files(tmp_path):
    if acquire.network_error(acquire.MNIST_MIRRORS[0], 5.0) is None:
        pytest.skip("the MNIST mirror is reachable from here")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "vaesweep.cli",
            "data",
            "fetch",
            "mnist",
            "--cache-dir",
            str(tmp_path),
            "--timeout",
            "5",
        ],
        capture_output=True,
        text=True,
        timeout=50,
    )
    assert result.returncode == 2
    assert "no network" in result.stderr
    assert f"put the files at {tmp_path / 'mnist'}" in result.stderr
    assert "train-images-idx3-ubyte[.gz]" in result.stderr and "t10k-labels-idx1-ubyte[.gz]" in result.stderr
    assert not (tmp_path / "mnist").exists()


def test_network_probe_bounds_the_wait():
    assert acquire.network_error("file:///anything", 0.1) is None
    reason = acquire.network_error("http://192.0.2.1:9/", 0.5)  # TEST-NET-1: never answers
    assert reason is not None


# -- OMNIGLOT -------------------------------------------------------------------------------


def test_omniglot_keeps_alphabet_and_character_labels(tmp_path):
    path = chardata(tmp_path / "chardata.mat")
    data = load_omniglot(DataConfig(name="omniglot", path=str(path)))
    test = data.test
    assert torch.equal(test.labels, torch.arange(10) % 4)
    assert torch.equal(test.extras["character"], torch.arange(10) // 4 % 3)  # 1-based in the file
    # the train/valid permutation moves the characters with their images
    train = torch.cat([data.train.extras["character"], data.valid.extras["character"]])
    assert sorted(train.tolist()) == sorted((np.arange(1350) // 4 % 3).tolist())
    assert "character" in data.description


def test_omniglot_without_character_labels_still_loads(tmp_path):
    data = load_omniglot(
        DataConfig(name="omniglot", path=str(chardata(tmp_path / "c.mat", characters=False)))
    )
    assert data.test.extras == {}


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda v: v.pop("testtargetchar"), "only one of 'targetchar' and 'testtargetchar'"),
        (lambda v: v.__setitem__("targetchar", v["targetchar"][:, :-1]), r"'targetchar' must be \[1, 1350\]"),
        (lambda v: v.__setitem__("testtargetchar", v["testtargetchar"] - 1), "1-based"),
    ],
)
def test_malformed_character_labels_name_the_file_and_variable(tmp_path, edit, message):
    path = chardata(tmp_path / "chardata.mat")
    variables = {k: v for k, v in scipy.io.loadmat(path).items() if not k.startswith("__")}
    edit(variables)
    scipy.io.savemat(path, variables)
    with pytest.raises(DataError, match=f"chardata.mat.*{message}"):
        load_omniglot(DataConfig(name="omniglot", path=str(path)))


def test_prepare_omniglot_from_the_file(tmp_path):
    directory, _ = acquire.prepare("omniglot", chardata(tmp_path / "chardata.mat"))
    assert (directory / "chardata.mat").is_file()
    assert "character" in load_dataset(DataConfig(name="omniglot")).train.extras


# -- CelebA ---------------------------------------------------------------------------------


def test_celeba_prepare_crops_resizes_and_keeps_the_partition(tmp_path):
    source = celeba_folder(tmp_path / "celeba", {"train": [1, 2, 3], "valid": [4], "test": [5, 6]})
    assert main(["data", "prepare", "celeba", "--from", str(source)]) == 0
    data = load_celeba(DataConfig(name="celeba"))
    assert (len(data.train), len(data.valid), len(data.test)) == (3, 1, 2)
    assert data.image_shape == (3, 64, 64) and data.train.x.dtype == torch.float32
    # the centre crop is the flat square, so every resized pixel has its colour
    expected = torch.tensor([(n * 40) % 256 for n in (5, 6)], dtype=torch.float32) / 255.0
    assert torch.allclose(data.test.x.mean(dim=(1, 2, 3)), expected, atol=2 / 255)
    assert len(load_celeba(DataConfig(name="celeba", max_train=2)).train) == 2


def test_celeba_without_partition_file_uses_the_official_numbering(tmp_path):
    numbers = {"train": [162770], "valid": [162771, 182637], "test": [182638]}
    source = celeba_folder(tmp_path / "celeba", numbers, partition=False)
    acquire.prepare("celeba", source)
    data = load_dataset(DataConfig(name="celeba"))
    assert (len(data.train), len(data.valid), len(data.test)) == (1, 2, 1)


def test_celeba_partition_errors_name_file_and_line(tmp_path):
    source = celeba_folder(tmp_path / "celeba", {"train": [1], "valid": [2], "test": [3]})
    listing = source / "list_eval_partition.txt"
    listing.write_text("000001.jpg 0\n000002.jpg x\n")
    with pytest.raises(DataError, match=r"list_eval_partition\.txt, line 2: expected"):
        acquire.prepare("celeba", source)
    (source / "img_align_celeba" / "000003.jpg").write_bytes(b"not a jpeg")
    listing.write_text("000003.jpg 2\n")
    with pytest.raises(DataError, match=r"000003\.jpg: not a readable image"):
        acquire.prepare("celeba", source)


def test_conv_celeba_trains_with_fit_on_a_prepared_fixture(tmp_path):
    acquire.prepare(
        "celeba", celeba_folder(tmp_path / "celeba", {"train": [1, 2, 3, 4], "valid": [5, 6], "test": [7, 8]})
    )
    config = resolve_config(
        "ar_elbo",
        "celeba",
        {
            "epochs": 1,
            "train.batch_size": 2,
            "eval.nll_samples": 2,
            "eval.cu_rounds": 2,
            "eval.cu_samples_per_round": 4,
            "eval.ll_samples": 1,
            "eval.smoothness": False,
        },
    )
    assert config.model.architecture == "conv_celeba"
    metrics = fit(config)
    assert np.isfinite(metrics["mse"]) and metrics["epochs_run"] == 1.0


def test_data_list_reports_each_set(tmp_path, capsys, idx_dir):
    acquire.prepare("fashion_mnist", idx_dir)
    assert main(["data", "list", "--json", "--verify"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["fashion_mnist"]["status"] == "ready (SHA-256 verified)"
    assert rows["mnist"]["status"] == "missing"
    assert "huggingface" in rows["yahoo"]["source"] and "Google Drive" in rows["celeba"]["source"]
