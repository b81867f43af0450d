"""Which data sets exist, what kind each is, and its profile of run defaults.

Knowing a data set's kind and shape without loading it lets configuration errors (a Gaussian
decoder on text, a 28x28 conv net on 8x8 digits) surface before anything expensive starts.
A profile holds what depends on the data rather than the method: architecture and sizes,
optimiser and schedule, epochs and batch size (DESIGN.md section 3, "Optimisation").

Built-in data sets are listed here (``DATASETS``); a data set a user adds with ``vaesweep data
add`` is described by its cache manifest (``vaesweep.data.user``), so ``dataset_info`` reads
kind, shape and profile from there, on the driver and on every Ray worker that shares the cache.
"""

from __future__ import annotations

import functools
import importlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vaesweep.data.cache import MANIFEST, cache_root
from vaesweep.errors import ConfigError

ADDED = "added"  # the manifest section of a data set added with `vaesweep data add`

# He et al. / DU-VAE text protocol: SGD lr 1, clip 5, KL warm-up 10 epochs, lr x0.5 after
# 5 epochs without improvement (from epoch 15), best model reloaded, stop after 5 decays.
TEXT_SGD_PROTOCOL: dict[str, Any] = {
    "optim.name": "sgd",
    "optim.lr": 1.0,
    "optim.grad_clip": 5.0,
    "optim.decay_patience": 5,
    "optim.decay_factor": 0.5,
    "optim.decay_start_epoch": 15,
    "optim.max_decays": 5,
    "optim.reload_best_on_decay": True,
    "annealing.schedule": "linear",
    "annealing.warmup_epochs": 10.0,
    "train.batch_size": 32,
    "train.epochs": 120,
    "eval.batch_size": 64,
}

# IGP text protocol: Adam 5e-4, batch 128, 20 epochs.
IGP_TEXT_PROTOCOL: dict[str, Any] = {
    "optim.name": "adam",
    "optim.lr": 5e-4,
    "train.batch_size": 128,
    "train.epochs": 20,
    "model.text_decoder": "igp",
    "model.dropout_in": 0.0,
    "model.dropout_out": 0.0,
}


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    kind: str  # "image" | "text"
    loader: str  # "module:function" taking the DataConfig, imported lazily
    architecture: str
    image_shape: tuple[int, int, int] | None = None
    embedded: bool = False  # ships with the project or is generated: needs no files
    num_classes: int | None = None
    description: str = ""
    profile: dict[str, Any] = field(default_factory=dict)

    def load_function(self) -> Callable[..., Any]:
        module, function = self.loader.split(":")
        return getattr(importlib.import_module(module), function)


def _info(**kwargs: Any) -> DatasetInfo:
    return DatasetInfo(**kwargs)


DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in [
        _info(
            name="digits",
            kind="image",
            loader="vaesweep.data.digits:load_digits",
            architecture="mlp",
            image_shape=(1, 8, 8),
            embedded=True,
            num_classes=10,
            description="scikit-learn's bundled 8x8 handwritten digits (1,797), scaled to [0, 1]",
            profile={
                "model.hidden_sizes": (128, 128),
                "model.latent_dim": 16,
                "model.flow_hidden": 128,
                "optim.name": "adam",
                "optim.lr": 1e-3,
                "train.batch_size": 64,
                "train.epochs": 100,
                "eval.batch_size": 512,
            },
        ),
        _info(
            name="synthetic_text",
            kind="text",
            loader="vaesweep.data.synthetic_text:load_synthetic_text",
            architecture="lstm",
            embedded=True,
            num_classes=5,
            description="DU-VAE appendix E: 2-D latent from a 5-component mixture, random LSTM, "
            "vocabulary 1,000, length 10, 16,000/2,000/2,000",
            profile={
                **TEXT_SGD_PROTOCOL,
                "model.embed_dim": 50,
                "model.lstm_hidden": 50,
                "model.latent_dim": 2,
                "model.flow_hidden": 100,
                "eval.batch_size": 500,
            },
        ),
        _info(
            name="mnist",
            kind="image",
            loader="vaesweep.data.images:load_mnist",
            architecture="mlp",
            image_shape=(1, 28, 28),
            num_classes=10,
            description="MNIST from the four IDX files",
            profile={"model.latent_dim": 32, "train.batch_size": 128, "train.epochs": 50},
        ),
        _info(
            name="fashion_mnist",
            kind="image",
            loader="vaesweep.data.images:load_fashion_mnist",
            architecture="mlp",
            image_shape=(1, 28, 28),
            num_classes=10,
            description="Fashion-MNIST from the four IDX files",
            profile={"model.latent_dim": 32, "train.batch_size": 128, "train.epochs": 50},
        ),
        _info(
            name="omniglot",
            kind="image",
            loader="vaesweep.data.images:load_omniglot",
            architecture="resnet_pixelcnn",
            image_shape=(1, 28, 28),
            num_classes=50,
            description="OMNIGLOT 28x28 (IWAE / He et al. split), alphabet labels",
            profile={
                "model.latent_dim": 32,
                "data.binarisation": "dynamic",
                "optim.decay_patience": 20,
                "optim.max_decays": 5,
                "optim.reload_best_on_decay": True,
                "train.batch_size": 50,
                "train.epochs": 500,
            },
        ),
        _info(
            name="celeba",
            kind="image",
            loader="vaesweep.data.images:load_celeba",
            architecture="conv_celeba",
            image_shape=(3, 64, 64),
            description="CelebA aligned, centre-cropped 140x140 and resized to 64x64",
            profile={"model.latent_dim": 64, "optim.lr": 2e-4, "train.batch_size": 64, "train.epochs": 70},
        ),
    ]
}

_TEXT_SETS = {
    # name: (embed, hidden, latent, num_classes, protocol, description)
    "yahoo": (512, 1024, 32, 10, TEXT_SGD_PROTOCOL, "Yahoo Answers (He et al. 100k/10k/10k sample)"),
    "yelp": (512, 1024, 32, 5, TEXT_SGD_PROTOCOL, "Yelp reviews (He et al. 100k/10k/10k sample)"),
    "short_yelp": (128, 512, 32, 2, TEXT_SGD_PROTOCOL, "down-sampled Yelp sentiment (Shen et al. 2017)"),
    "snli": (50, 128, 8, None, IGP_TEXT_PROTOCOL, "SNLI hypotheses (IGP: 100k/10k/10k)"),
    "cbt": (200, 512, 32, None, IGP_TEXT_PROTOCOL, "Children's Book Test sentences (IGP)"),
    "dbpedia": (200, 512, 32, 14, IGP_TEXT_PROTOCOL, "DBpedia ontology classification text (IGP)"),
    "ptb": (256, 256, 32, None, TEXT_SGD_PROTOCOL, "Penn Treebank (Mikolov split)"),
}
for _name, (_embed, _hidden, _latent, _classes, _protocol, _description) in _TEXT_SETS.items():
    DATASETS[_name] = _info(
        name=_name,
        kind="text",
        loader="vaesweep.data.text:load_text_dataset",
        architecture="lstm",
        num_classes=_classes,
        description=_description,
        profile={
            **_protocol,
            "model.embed_dim": _embed,
            "model.lstm_hidden": _hidden,
            "model.latent_dim": _latent,
        },
    )


def added_info(name: str, added: dict[str, Any]) -> DatasetInfo:
    """The DatasetInfo of an added data set, from its manifest's ``added`` section."""
    shape = added.get("image_shape")
    return DatasetInfo(
        name=name,
        kind=added["kind"],
        loader=added["loader"],
        architecture=added["architecture"],
        image_shape=None if shape is None else tuple(shape),
        num_classes=added.get("num_classes"),
        description=added.get("description", ""),
        profile=dict(added["profile"]),
    )


@functools.lru_cache(maxsize=64)
def _read_added(manifest: str, modified_ns: int) -> dict[str, Any] | None:
    """The ``added`` section of a manifest, read once per version of the file."""
    try:
        return json.loads(Path(manifest).read_text()).get(ADDED)
    except (OSError, ValueError):
        return None


def added_section(name: str, root: str | Path | None = None) -> dict[str, Any] | None:
    """The ``added`` manifest section of cache entry ``name`` (None: no such added data set)
    in the cache ``root`` (default: ``$VAESWEEP_DATA`` or ~/.cache/vaesweep)."""
    if not name or name.startswith(".") or "/" in name or name in DATASETS:
        return None
    manifest = cache_root(root) / name / MANIFEST
    try:
        modified = manifest.stat().st_mtime_ns
    except OSError:
        return None
    return _read_added(str(manifest), modified)


def added_names(root: str | Path | None = None) -> list[str]:
    """Names of the data sets added to the cache ``root``, sorted."""
    directory = cache_root(root)
    if not directory.is_dir():
        return []
    return sorted(entry.name for entry in directory.iterdir() if added_section(entry.name, root) is not None)


def dataset_info(name: str) -> DatasetInfo:
    """A built-in data set's info, else an added one's from the cache manifest."""
    if name in DATASETS:
        return DATASETS[name]
    added = added_section(name)
    if added is None:
        raise ConfigError(
            "data.name",
            name,
            "one of " + ", ".join([*DATASETS, *added_names()]) + f", or a data set added with "
            f"`vaesweep data add {name} ...` (none named so in the cache {cache_root()})",
        )
    return added_info(name, added)
