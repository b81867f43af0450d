"""Put a real data set into the cache, checked, or say exactly why not (``vaesweep data ...``).

``fetch`` downloads from the public source (MNIST / Fashion-MNIST: the IDX files from the
mirrors torchvision uses, MD5-checked; OMNIGLOT: IWAE's ``chardata.mat``; text: Hugging Face
``datasets``). ``prepare`` reads a local copy (the authors' files, or CelebA's aligned JPEGs).
Either way the result is written to a staging directory, loaded once by the data set's own
loader, given a MANIFEST.json (sizes and SHA-256) and only then moved to ``<cache>/<name>``, so
a failed or interrupted acquisition never leaves a half-written data set behind.

Offline (here the only network is the package registries) every fetch probes its host first,
with a short timeout, and fails with "no network: put the files at <path>; expected layout ...".
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vaesweep.config import DataConfig
from vaesweep.data.cache import cache_root, install, verify_manifest
from vaesweep.data.corpora import RECIPES, TEXT_LAYOUT, convert_hub_corpus, prepare_text_files, recipe_for
from vaesweep.data.images import (
    CELEBA_FILES,
    CELEBA_SHAPE,
    MNIST_FILES,
    OMNIGLOT_FILES,
    load_celeba,
    load_fashion_mnist,
    load_mnist,
    load_omniglot,
)
from vaesweep.errors import DataError

# torchvision's MNIST / FashionMNIST resources: mirrors and the MD5 of each gzipped IDX file
MNIST_MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")
FASHION_MNIST_MIRRORS = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
FASHION_MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}
# IWAE (Burda et al. 2016), the 28x28 OMNIGLOT of He et al. 2019 / DU-VAE; no checksum is
# published, so a fetched file is checked by its contents: 24,345 train and 8,070 test images.
OMNIGLOT_URL = "https://raw.githubusercontent.com/yburda/iwae/master/datasets/OMNIGLOT/chardata.mat"
OMNIGLOT_COUNTS = (24_345, 8_070)
HUB_HOST = "https://huggingface.co/"
# CelebA's official partition by image number when list_eval_partition.txt is absent
CELEBA_LAST = {"train": 162_770, "valid": 182_637}
CELEBA_CROP = 140  # AR-ELBO appendix J.2 (after Tolstikhin et al. 2018, Ghosh et al. 2020)
CELEBA_PARTITIONS = {"0": "train", "1": "valid", "2": "test"}
DEFAULT_TIMEOUT = 10.0

IDX_LAYOUT = ", ".join(f"{name}[.gz]" for name in MNIST_FILES.values()) + " (IDX files)"
OMNIGLOT_LAYOUT = (
    "chardata.mat (IWAE's 28x28 OMNIGLOT: data, target, testdata, testtarget and the character numbers "
    "targetchar, testtargetchar) or omniglot.npz"
)
CELEBA_LAYOUT = (
    "prepare --from a folder holding img_align_celeba/*.jpg (or the JPEGs themselves) and "
    "list_eval_partition.txt; the cache then holds "
    + ", ".join(CELEBA_FILES.values())
    + " (uint8 [N, 3, 64, 64])"
)


@dataclass(frozen=True)
class FetchOptions:
    timeout: float = DEFAULT_TIMEOUT  # seconds per network probe and per blocking read
    seed: int = 0  # text: the sampling seed
    vocab_size: int | None = None  # text: override the recipe's vocabulary size
    hub_id: str | None = None  # text: override the recipe's Hugging Face id


@dataclass(frozen=True)
class Acquisition:
    """How one data set gets into the cache."""

    layout: str  # the files the cache (and `prepare --from`) holds
    source: str  # where `fetch` gets them, or why it cannot
    prepare: Callable[[str, Path, Path], dict]  # (name, source, staging) -> summary
    fetch: Callable[[str, Path, FetchOptions], dict]  # (name, staging, options) -> summary; may refuse


# -- network --------------------------------------------------------------------------------


def network_error(url: str, timeout: float) -> str | None:
    """None when ``url``'s host accepts a TCP connection within ``timeout`` s, else the reason.

    The attempt runs in a daemon thread joined with the timeout, because name resolution has no
    timeout of its own and must not hang a command. file:// URLs need no network.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "file":
        return None
    port = parts.port or (443 if parts.scheme == "https" else 80)
    outcome: list[str | None] = []

    def attempt() -> None:
        try:
            with socket.create_connection((parts.hostname, port), timeout=timeout):
                outcome.append(None)
        except OSError as error:
            outcome.append(str(error) or type(error).__name__)

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(timeout)
    return outcome[0] if outcome else f"no answer within {timeout:g} s"


def _offline(name: str, reason: str, layout: str, root: Path, problem: str = "no network") -> DataError:
    return DataError(
        f"{problem} ({reason}): put the files at {root / name}; expected layout: {layout}; "
        f"or put them anywhere and run `vaesweep data prepare {name} --from DIR`"
    )


def _download(url: str, target: Path, timeout: float) -> None:
    """torchvision's downloader when it imports, else urllib; both stream to ``target``."""
    try:
        from torchvision.datasets.utils import download_url
    except Exception:  # torchvision absent, or built for another torch: use urllib
        download_url = None
    if download_url is not None:
        download_url(url, str(target.parent), filename=target.name)
        return
    partial = target.with_suffix(target.suffix + ".part")
    with urllib.request.urlopen(url, timeout=timeout) as response, partial.open("wb") as stream:
        shutil.copyfileobj(response, stream)
    os.replace(partial, target)


def _fetch_file(
    name: str, filename: str, mirrors: tuple[str, ...], staging: Path, options: FetchOptions, layout: str
) -> Path:
    """Download ``filename`` from the first mirror that works."""
    reasons, reached = [], False
    for mirror in mirrors:
        url = urllib.parse.urljoin(mirror, filename)
        reason = network_error(url, options.timeout)
        if reason is None:
            reached = True
            try:
                _download(url, staging / filename, options.timeout)
                return staging / filename
            except (OSError, urllib.error.URLError, RuntimeError) as error:
                reason = str(error)
        reasons.append(f"{url}: {reason}")
    problem = f"download of {filename} failed" if reached else "no network"
    raise _offline(name, "; ".join(reasons), layout, staging.parent, problem)


def _check_md5(path: Path, expected: str) -> None:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != expected:
        raise DataError(
            f"{path}: MD5 {digest.hexdigest()} differs from the published {expected}; download again"
        )


# -- MNIST / Fashion-MNIST ------------------------------------------------------------------

IDX_SETS = {
    "mnist": (MNIST_MIRRORS, MNIST_MD5, load_mnist),
    "fashion_mnist": (FASHION_MNIST_MIRRORS, FASHION_MNIST_MD5, load_fashion_mnist),
}


def _fetch_idx(name: str, staging: Path, options: FetchOptions) -> dict:
    mirrors, checksums, loader = IDX_SETS[name]
    for filename, md5 in checksums.items():
        _check_md5(_fetch_file(name, filename, mirrors, staging, options, IDX_LAYOUT), md5)
    loader(DataConfig(name=name, path=str(staging)))
    return {"source": list(mirrors), "md5": "verified"}


def _prepare_idx(name: str, source: Path, staging: Path) -> dict:
    for filename in MNIST_FILES.values():
        found = [source / f for f in (filename, f"{filename}.gz") if (source / f).is_file()]
        if not found:
            raise DataError(f"{source}: missing {filename}[.gz]; expected {IDX_LAYOUT}")
        shutil.copyfile(found[0], staging / found[0].name)
    IDX_SETS[name][2](DataConfig(name=name, path=str(staging)))
    return {"source": str(source.resolve())}


# -- OMNIGLOT -------------------------------------------------------------------------------


def _fetch_omniglot(name: str, staging: Path, options: FetchOptions) -> dict:
    filename = OMNIGLOT_FILES[0]
    base = OMNIGLOT_URL.rsplit("/", 1)[0] + "/"
    _fetch_file(name, filename, (base,), staging, options, OMNIGLOT_LAYOUT)
    data = load_omniglot(DataConfig(name=name, path=str(staging)))
    counts = (len(data.train) + len(data.valid), len(data.test))
    if counts != OMNIGLOT_COUNTS or "character" not in data.test.extras:
        raise DataError(
            f"{staging / filename}: {counts[0]} train and {counts[1]} test images"
            f"{'' if 'character' in data.test.extras else ', no character labels'}; "
            f"IWAE's file has {OMNIGLOT_COUNTS[0]} and {OMNIGLOT_COUNTS[1]} with character labels"
        )
    return {"source": OMNIGLOT_URL, "check": "24,345 train / 8,070 test images with character labels"}


def _prepare_omniglot(name: str, source: Path, staging: Path) -> dict:
    candidates = [source] if source.is_file() else [source / f for f in OMNIGLOT_FILES]
    found = [path for path in candidates if path.is_file() and path.name in OMNIGLOT_FILES]
    if not found:
        raise DataError(f"{source}: found no {' or '.join(OMNIGLOT_FILES)}; expected {OMNIGLOT_LAYOUT}")
    shutil.copyfile(found[0], staging / found[0].name)
    load_omniglot(DataConfig(name=name, path=str(staging)))
    return {"source": str(found[0].resolve())}


# -- CelebA ---------------------------------------------------------------------------------


def _celeba_partition(source: Path, images: Path) -> dict[str, list[Path]]:
    """Image files by split: from list_eval_partition.txt when present (official partition),
    else by image number (000001-162770 train, -182637 valid, the rest test)."""
    listing = next(
        (
            p
            for p in (source / "list_eval_partition.txt", source / "Eval" / "list_eval_partition.txt")
            if p.is_file()
        ),
        None,
    )
    splits: dict[str, list[Path]] = {split: [] for split in CELEBA_FILES}
    if listing is not None:
        for number, line in enumerate(listing.read_text().splitlines(), 1):
            if not line.strip():
                continue
            fields = line.split()
            if len(fields) != 2 or fields[1] not in CELEBA_PARTITIONS:
                raise DataError(f"{listing}, line {number}: expected '<image>.jpg 0|1|2', found {line!r}")
            path = images / fields[0]
            if not path.is_file():
                raise DataError(f"{listing}, line {number}: {path} does not exist")
            splits[CELEBA_PARTITIONS[fields[1]]].append(path)
        return splits
    for path in sorted(images.glob("*.jpg")):
        if not path.stem.isdigit():
            raise DataError(
                f"{path}: no list_eval_partition.txt in {source} and the name is not a CelebA image number"
            )
        number = int(path.stem)
        split = next((s for s, last in CELEBA_LAST.items() if number <= last), "test")
        splits[split].append(path)
    return splits


def celeba_image(path: Path) -> np.ndarray:
    """One aligned CelebA image as uint8 [3, 64, 64]: centre crop 140x140, then resized to 64x64
    (AR-ELBO appendix J.2). PIL's bilinear filter, which averages over the whole footprint when
    it shrinks; the papers do not name the filter."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            rgb = image.convert("RGB")
    except (OSError, UnidentifiedImageError) as error:
        raise DataError(f"{path}: not a readable image ({error})") from error
    width, height = rgb.size
    if width < CELEBA_CROP or height < CELEBA_CROP:
        raise DataError(f"{path}: {width}x{height} is smaller than the {CELEBA_CROP}x{CELEBA_CROP} crop")
    left, top = (width - CELEBA_CROP) // 2, (height - CELEBA_CROP) // 2
    crop = rgb.crop((left, top, left + CELEBA_CROP, top + CELEBA_CROP))
    side = CELEBA_SHAPE[1]
    resized = crop.resize((side, side), Image.Resampling.BILINEAR)
    return np.asarray(resized, dtype=np.uint8).transpose(2, 0, 1)


def _prepare_celeba(name: str, source: Path, staging: Path) -> dict:
    if not source.is_dir():
        raise DataError(f"{source}: not a directory; expected {CELEBA_LAYOUT}")
    images = source / "img_align_celeba" if (source / "img_align_celeba").is_dir() else source
    splits = _celeba_partition(source, images)
    if not any(splits.values()):
        raise DataError(f"{images}: no .jpg images; expected {CELEBA_LAYOUT}")
    for split, paths in splits.items():
        # written into a memory-mapped .npy, so 200k images never sit in memory at once
        array = np.lib.format.open_memmap(
            staging / CELEBA_FILES[split], mode="w+", dtype=np.uint8, shape=(len(paths), *CELEBA_SHAPE)
        )
        for index, path in enumerate(paths):
            array[index] = celeba_image(path)
        array.flush()
        del array
    load_celeba(DataConfig(name=name, path=str(staging)))
    return {"source": str(source.resolve()), "sizes": {split: len(paths) for split, paths in splits.items()}}


def _fetch_celeba(name: str, staging: Path, options: FetchOptions) -> dict:
    raise DataError(
        "celeba cannot be fetched: its images are distributed through Google Drive behind a "
        f"confirmation page; download img_align_celeba.zip and list_eval_partition.txt from "
        f"https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html, unzip, then run "
        f"`vaesweep data prepare celeba --from DIR` ({CELEBA_LAYOUT})"
    )


# -- text -----------------------------------------------------------------------------------


def _fetch_text(name: str, staging: Path, options: FetchOptions) -> dict:
    recipe = recipe_for(name, options.vocab_size, options.hub_id)
    if recipe.hub_id is None:
        raise DataError(f"{name} cannot be fetched: {recipe.source}")
    try:
        import datasets
    except ImportError as error:
        raise DataError(
            f"fetching {name} needs the Hugging Face 'datasets' package: pip install 'vaesweep[paper]' "
            f"({error}); or run `vaesweep data prepare {name} --from DIR` with the authors' files"
        ) from error
    offline = any(
        os.environ.get(flag, "") not in ("", "0") for flag in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
    )
    reason = None if offline else network_error(HUB_HOST, options.timeout)
    if reason is not None:
        raise _offline(name, f"{HUB_HOST}: {reason}", TEXT_LAYOUT, staging.parent)
    source = datasets.load_dataset(recipe.hub_id, recipe.hub_config)
    return convert_hub_corpus(source, name, staging, recipe, seed=options.seed)


ACQUISITIONS: dict[str, Acquisition] = {
    "mnist": Acquisition(
        IDX_LAYOUT, "the IDX files from " + ", ".join(MNIST_MIRRORS), _prepare_idx, _fetch_idx
    ),
    "fashion_mnist": Acquisition(
        IDX_LAYOUT, "the IDX files from " + ", ".join(FASHION_MNIST_MIRRORS), _prepare_idx, _fetch_idx
    ),
    "omniglot": Acquisition(OMNIGLOT_LAYOUT, OMNIGLOT_URL, _prepare_omniglot, _fetch_omniglot),
    "celeba": Acquisition(
        CELEBA_LAYOUT, "none (Google Drive): prepare from a local copy", _prepare_celeba, _fetch_celeba
    ),
    **{
        name: Acquisition(
            TEXT_LAYOUT,
            f"huggingface:{recipe.hub_id}" if recipe.hub_id else "none: prepare from the authors' files",
            prepare_text_files,
            _fetch_text,
        )
        for name, recipe in RECIPES.items()
    },
}


def _acquisition(name: str) -> Acquisition:
    if name not in ACQUISITIONS:
        raise DataError(
            f"{name!r} is not a data set that needs files: one of {', '.join(sorted(ACQUISITIONS))}"
        )
    return ACQUISITIONS[name]


def fetch(
    name: str, cache_dir: str | Path | None = None, options: FetchOptions | None = None
) -> tuple[Path, dict]:
    """Download data set ``name`` into the cache; returns its directory and a summary."""
    acquisition = _acquisition(name)
    options = options or FetchOptions()
    return install(name, cache_dir, lambda staging: acquisition.fetch(name, staging, options))


def prepare(name: str, source: str | Path, cache_dir: str | Path | None = None) -> tuple[Path, dict]:
    """Prepare data set ``name`` from the local copy at ``source`` into the cache."""
    acquisition = _acquisition(name)
    source = Path(source).expanduser()
    if not source.exists():
        raise DataError(f"{source}: does not exist; expected {acquisition.layout}")
    return install(name, cache_dir, lambda staging: acquisition.prepare(name, source, staging))


def status(name: str, cache_dir: str | Path | None = None, full: bool = False) -> tuple[Path, str]:
    """Where data set ``name`` lives in the cache and whether it is there and intact."""
    directory = cache_root(cache_dir) / name
    if not directory.is_dir():
        return directory, "missing"
    try:
        verify_manifest(directory, full=full)
    except DataError as error:
        return directory, f"damaged: {error}"
    if not (directory / "MANIFEST.json").is_file():
        return directory, "present (no manifest: filled by hand)"
    return directory, "ready" + (" (SHA-256 verified)" if full else "")


def describe(name: str) -> dict[str, Any]:
    acquisition = _acquisition(name)
    return {"layout": acquisition.layout, "source": acquisition.source}
