"""Data sets a user adds: ``vaesweep data add NAME --kind text|image --from PATH``.

The source is checked (errors name the file, and the line for text), split when it is one pool
(a fixed seed; stratified by label when there are labels), written into the cache entry
``<cache>/NAME`` in the layout a loader reads, and loaded once by that loader before the entry
is swapped in (``vaesweep.data.cache.install``):

- text: He et al. files ``NAME.train.txt``, ``NAME.valid.txt``, ``NAME.test.txt`` (plus
  ``vocab.txt`` and label files when given), read by ``load_text_dataset``; a directory in
  either paper layout is copied as ``vaesweep data prepare`` copies the papers' corpora.
- images: ``<split>_x.npy`` (uint8 or float32 [N, C, H, W]) and ``<split>_y.npy`` (labels
  0..K-1), read by ``load_added_images``; sources as ``vaesweep.data.image_files`` reads them.

The manifest's ``added`` section records kind, shape, sizes, classes and the profile that
``vaesweep.data.profiles`` chose; ``dataset_info`` reads it, so a configuration naming the data
set is validated without loading it, on the driver and on every Ray worker sharing the cache.
"""

from __future__ import annotations

import math
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vaesweep.config import DataConfig
from vaesweep.data.base import Dataset, Split
from vaesweep.data.cache import cache_root, data_directory, install
from vaesweep.data.corpora import prepare_text_files, write_split
from vaesweep.data.image_files import ALL, ImagePart, read_image_source
from vaesweep.data.images import read_image_array
from vaesweep.data.profiles import TEXT_PROTOCOLS, ProfileChoice, greyness, image_profile, text_profile
from vaesweep.data.registry import ADDED, DATASETS
from vaesweep.data.splits import image_dataset, stratified_split
from vaesweep.data.text import (
    SPLITS,
    VOCAB_FILE,
    check_covered,
    load_text_dataset,
    read_labels,
    read_sentences,
    read_vocab,
)
from vaesweep.errors import ConfigError, DataError

KINDS = ("text", "image")
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
DEFAULT_SPLIT = (0.8, 0.1, 0.1)
IMAGE_LOADER = "vaesweep.data.user:load_added_images"
TEXT_LOADER = "vaesweep.data.text:load_text_dataset"
IMAGE_LAYOUT = (
    "train_x.npy, valid_x.npy, test_x.npy (uint8 or float32 [N, C, H, W]) and <split>_y.npy labels; "
    "`vaesweep data add NAME --kind image --from PATH` writes them"
)


@dataclass(frozen=True)
class AddOptions:
    labels: Path | None = None  # labels of a single text or image file
    vocab: Path | None = None  # vocabulary of a single text file
    split: tuple[float, float, float] = DEFAULT_SPLIT  # train, valid, test shares of one pool
    seed: int = 0  # of the split
    protocol: str = "auto"  # text: auto, he_sgd or igp_adam (vaesweep.data.profiles)
    replace: bool = False  # overwrite an added data set of the same name


def parse_split(text: str) -> tuple[float, float, float]:
    """``"0.8,0.1,0.1"`` -> the train, valid and test shares (positive, summing to 1)."""
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 3 or min(values) <= 0 or not math.isclose(sum(values), 1.0, abs_tol=1e-6):
        raise ConfigError(
            "--split", text, "three positive shares train,valid,test summing to 1, e.g. 0.8,0.1,0.1"
        )
    return values  # type: ignore[return-value]


def _check_name(name: str, root: Path, replace: bool) -> None:
    if not NAME_PATTERN.fullmatch(name):
        raise ConfigError("NAME", name, "letters, digits, '_', '-' and '.', starting with a letter or digit")
    if name in DATASETS:
        raise ConfigError("NAME", name, f"a name that is not a built-in data set ({', '.join(DATASETS)})")
    if (root / name).exists() and not replace:
        raise DataError(f"{root / name}: already in the cache; pass --replace to overwrite it")


def split_sizes(count: int, shares: tuple[float, ...], where: str) -> list[int]:
    """Sizes of the parts of ``count`` examples: every part after the first rounds its share,
    the first takes the rest; each must get at least one example."""
    rest = [round(count * share) for share in shares[1:]]
    sizes = [count - sum(rest), *rest]
    if min(sizes) < 1:
        raise DataError(
            f"{where}: {count} examples are too few to split by {', '.join(f'{s:g}' for s in shares)} "
            f"(sizes {sizes}; every split needs at least one)"
        )
    return sizes


def partition(
    count: int, labels: np.ndarray | None, shares: tuple[float, ...], seed: int, where: str
) -> list[np.ndarray]:
    """Index arrays of a seeded split of ``count`` examples, stratified when labelled."""
    sizes = split_sizes(count, shares, where)
    rng = np.random.default_rng(seed)
    if labels is not None:
        return stratified_split(labels, sizes, rng)
    return np.split(rng.permutation(count), np.cumsum(sizes)[:-1])


# -- text -----------------------------------------------------------------------------------


def _split_text_file(name: str, source: Path, staging: Path, options: AddOptions) -> None:
    """One sentence file (labels inline or in ``options.labels``) -> the three split files."""
    sentences, labels = read_sentences(source)
    if not sentences:
        raise DataError(f"{source}: no sentences")
    if options.labels is not None:
        if labels is not None:
            raise DataError(f"{options.labels}: {source} already labels its lines inline")
        labels = read_labels(options.labels, source, len(sentences))
    if options.vocab is not None:
        check_covered(sentences, source, read_vocab(options.vocab), options.vocab)
        shutil.copyfile(options.vocab, staging / VOCAB_FILE)
    label_array = None if labels is None else np.asarray(labels)
    parts = partition(len(sentences), label_array, options.split, options.seed, str(source))
    for split, index in zip(SPLITS, parts, strict=True):
        units = [(sentences[i], None if labels is None else labels[i]) for i in index.tolist()]
        write_split(staging / f"{name}.{split}.txt", units)


def _add_text(name: str, source: Path, staging: Path, options: AddOptions) -> dict[str, Any]:
    if source.is_dir():
        for flag, given in (("--labels", options.labels), ("--vocab", options.vocab)):
            if given is not None:
                raise DataError(
                    f"{flag} {given}: only with a single sentence file; in a directory the files are "
                    f"named vocab.txt and <split>_class_label.txt"
                )
        prepare_text_files(name, source, staging)
        layout = "split files"
    else:
        _split_text_file(name, source, staging, options)
        layout = f"one file, split {'/'.join(f'{s:g}' for s in options.split)} with seed {options.seed}"
    dataset = load_text_dataset(DataConfig(name=name, path=str(staging)))
    lengths = dataset.train.lengths.double() - 1  # without </s>
    choice = text_profile(len(dataset.vocab), len(dataset.train), options.protocol)
    stats = {
        "vocab_size": len(dataset.vocab),
        "mean_length": round(float(lengths.mean()), 2),
        "max_length": int(lengths.max()),
    }
    what = (
        f"{len(dataset.train):,}/{len(dataset.valid):,}/{len(dataset.test):,} sentences, "
        f"vocabulary {len(dataset.vocab):,}, mean length {stats['mean_length']:g}"
    )
    return _section("text", TEXT_LOADER, dataset, choice, source, layout, what, stats, options)


# -- images ---------------------------------------------------------------------------------


def _image_splits(parts: dict[str, ImagePart], options: AddOptions) -> tuple[dict[str, ImagePart], str]:
    """train/valid/test parts and how they were made: a pool split by ``options.split``; a
    missing valid held out of train by its share of train + valid."""
    shares = "/".join(f"{s:g}" for s in options.split)
    if ALL in parts:
        pool = parts[ALL]
        index = partition(len(pool.x), pool.labels, options.split, options.seed, pool.where)
        splits = {split: _subset(pool, i) for split, i in zip(SPLITS, index, strict=True)}
        return splits, f"one pool, split {shares} with seed {options.seed}"
    if "valid" in parts:
        return parts, "train, valid and test as given"
    train = parts["train"]
    share = options.split[1] / (options.split[0] + options.split[1])
    keep, held = partition(len(train.x), train.labels, (1 - share, share), options.seed, train.where)
    splits = {"train": _subset(train, keep), "valid": _subset(train, held), "test": parts["test"]}
    return splits, f"train and test as given, valid = {share:.3g} of train (seed {options.seed})"


def _subset(part: ImagePart, index: np.ndarray) -> ImagePart:
    return ImagePart(part.x[index], None if part.labels is None else part.labels[index], part.where)


def _check_parts(parts: dict[str, ImagePart]) -> None:
    shapes = {split: part.x.shape[1:] for split, part in parts.items()}
    if len(set(shapes.values())) > 1:
        shown = ", ".join(f"{parts[s].where}: {list(shape)}" for s, shape in shapes.items())
        raise DataError(f"the splits' images differ in shape [C, H, W] ({shown}); they must agree")
    labelled = [part.where for part in parts.values() if part.labels is not None]
    if labelled and len(labelled) != len(parts):
        missing = [part.where for part in parts.values() if part.labels is None]
        raise DataError(f"{', '.join(missing)}: no labels, while {', '.join(labelled)} has them; all or none")


def _add_images(name: str, source: Path, staging: Path, options: AddOptions) -> dict[str, Any]:
    if options.vocab is not None:
        raise DataError(f"--vocab {options.vocab}: a vocabulary is for text (--kind text)")
    parts, class_names = read_image_source(source, options.labels)
    _check_parts(parts)
    parts, layout = _image_splits(parts, options)
    uint8 = all(part.x.dtype == np.uint8 for part in parts.values())
    values = sorted({int(v) for part in parts.values() if part.labels is not None for v in part.labels})
    for split, part in parts.items():
        x = part.x if uint8 else (part.x / 255.0 if part.x.dtype == np.uint8 else part.x).astype(np.float32)
        np.save(staging / f"{split}_x.npy", x)
        if part.labels is not None:
            np.save(staging / f"{split}_y.npy", np.searchsorted(values, part.labels).astype(np.int64))
    dataset = load_added_images(DataConfig(name=name, path=str(staging)))
    grey = greyness(dataset.train.x)
    choice = image_profile(dataset.image_shape, len(dataset.train), grey)  # type: ignore[arg-type]
    classes = class_names if class_names is not None else [str(v) for v in values] or None
    what = (
        f"{len(dataset.train):,}/{len(dataset.valid):,}/{len(dataset.test):,} images of "
        f"{'x'.join(map(str, dataset.image_shape))}"  # type: ignore[arg-type]
    )
    stats = {"image_shape": list(dataset.image_shape), "greyness": round(grey, 4)}  # type: ignore[arg-type]
    return _section("image", IMAGE_LOADER, dataset, choice, source, layout, what, stats, options, classes)


def load_added_images(config: DataConfig) -> Dataset:
    """An added image set from its cache entry (or ``data.path``): ``<split>_x.npy`` and,
    when labelled, ``<split>_y.npy``; the classes are 0..K-1 over all splits."""
    directory = data_directory(config, IMAGE_LAYOUT)
    splits = []
    for split in SPLITS:
        limit = config.max_train if split == "train" else 0
        x = read_image_array(directory / f"{split}_x.npy", IMAGE_LAYOUT, limit)
        labels_path = directory / f"{split}_y.npy"
        labels = None
        if labels_path.is_file():
            labels = torch.from_numpy(np.load(labels_path)[: len(x)].astype(np.int64))
        splits.append(Split(x, labels=labels))
    labelled = [s.labels for s in splits if s.labels is not None and len(s.labels)]
    num_classes = int(max(int(y.max()) for y in labelled)) + 1 if labelled else None
    sizes = "/".join(str(len(s)) for s in splits)
    return image_dataset(
        config.name,
        tuple(splits),  # type: ignore[arg-type]
        num_classes,
        config.binarisation,
        config.max_train,
        f"{config.name} (added with vaesweep data add) from {directory}: {sizes} train/valid/test",
    )


# -- both -----------------------------------------------------------------------------------


def _section(
    kind: str,
    loader: str,
    dataset: Dataset,
    choice: ProfileChoice,
    source: Path,
    layout: str,
    what: str,
    stats: dict[str, Any],
    options: AddOptions,
    classes: list[str] | None = None,
) -> dict[str, Any]:
    """The manifest's ``added`` section (``vaesweep.data.registry.added_info`` reads it)."""
    labelled = f", {dataset.num_classes} classes" if dataset.num_classes else ", unlabelled"
    return {
        ADDED: {
            "kind": kind,
            "loader": loader,
            "architecture": choice.architecture,
            "profile": choice.profile,
            "rule": choice.rule,
            "num_classes": dataset.num_classes,
            "classes": classes,
            "sizes": {split: len(dataset.split(split)) for split in SPLITS},
            **stats,
            "source": str(source.resolve()),
            "layout": layout,
            "split": list(options.split),
            "seed": options.seed,
            "description": f"added from {source.name}: {what}{labelled}",
        }
    }


def add_dataset(
    name: str,
    kind: str,
    source: str | Path,
    cache_dir: str | Path | None = None,
    options: AddOptions | None = None,
) -> tuple[Path, dict[str, Any]]:
    """Check ``source``, write it into the cache as data set ``name`` with its chosen profile;
    returns the cache entry and its manifest section. Raises DataError / ConfigError."""
    options = options or AddOptions()
    if kind not in KINDS:
        raise ConfigError("--kind", kind, " or ".join(KINDS))
    protocols = ("auto", *TEXT_PROTOCOLS) if kind == "text" else ("auto",)
    if options.protocol not in protocols:
        raise ConfigError("--protocol", options.protocol, f"{' or '.join(protocols)} for {kind} data")
    _check_name(name, cache_root(cache_dir), options.replace)
    source = Path(source).expanduser()
    if not source.exists():
        raise DataError(f"{source}: does not exist")
    for flag, path in (("--labels", options.labels), ("--vocab", options.vocab)):
        if path is not None and not Path(path).is_file():
            raise DataError(f"{flag} {path}: not a file")
    build = _add_text if kind == "text" else _add_images
    return install(name, cache_dir, lambda staging: build(name, source, staging, options))
