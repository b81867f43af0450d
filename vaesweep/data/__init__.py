"""Data sets: embedded (digits, synthetic text) and real loaders, plus epoch batching.

``load_dataset(config)`` is the one entry point: the registry maps ``data.name`` to its loader,
imported only when that data set is used (so importing this package pulls in no scikit-learn
or SciPy).
"""

from __future__ import annotations

from vaesweep.config import DataConfig
from vaesweep.data.base import Dataset, Split, Vocabulary
from vaesweep.data.batching import batch_indices, trim
from vaesweep.data.registry import DATASETS, DatasetInfo, dataset_info


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
