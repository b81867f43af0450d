"""Data sets: embedded (digits, synthetic text) and real loaders, plus epoch batching.

``load_dataset(config)`` is the one entry point: the registry maps ``data.name`` to its loader,
imported only when that data set is used (so importing this package pulls in no scikit-learn
or SciPy). The tensor types (``Dataset``, ``Split``, batching) are imported on first use, so
the registry — what configuration and the sweep presets read — does not pull in torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from vaesweep.data.registry import DATASETS, DatasetInfo, dataset_info

if TYPE_CHECKING:
    from vaesweep.config import DataConfig
    from vaesweep.data.base import Dataset, Split, Vocabulary
    from vaesweep.data.batching import batch_indices, trim

_TENSOR_TYPES = {
    "Dataset": "vaesweep.data.base",
    "Split": "vaesweep.data.base",
    "Vocabulary": "vaesweep.data.base",
    "batch_indices": "vaesweep.data.batching",
    "trim": "vaesweep.data.batching",
}


def __getattr__(name: str) -> Any:
    if name in _TENSOR_TYPES:
        return getattr(importlib.import_module(_TENSOR_TYPES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def load_dataset(config: DataConfig) -> Dataset:
    """Load the data set ``config.name`` names, with its binarisation and ``max_train``."""
    return dataset_info(config.name).load_function()(config)


__all__ = [
    "DATASETS",
    "Dataset",
    "DatasetInfo",
    "Split",
    "Vocabulary",
    "batch_indices",
    "dataset_info",
    "load_dataset",
    "trim",
]
