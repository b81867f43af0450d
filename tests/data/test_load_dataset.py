"""The one entry point: the registry names a loader, and the loader honours the config."""

import re

import pytest

from vaesweep.config import DataConfig
from vaesweep.data import DATASETS, Dataset, load_dataset
from vaesweep.errors import DataError

OWNED_ELSEWHERE = {"celeba"}  # its loader is not part of this package's loaders


@pytest.mark.parametrize("name", sorted(set(DATASETS) - OWNED_ELSEWHERE))
def test_every_registered_loader_exists(name):
    assert callable(DATASETS[name].load_function())


def test_load_dataset_dispatches_by_name():
    data = load_dataset(DataConfig(name="digits", max_train=10))
    assert isinstance(data, Dataset)
    assert data.name == "digits" and len(data.train) == 10
    assert data.image_shape == DATASETS["digits"].image_shape
    assert data.num_classes == DATASETS["digits"].num_classes


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist", "omniglot", "yahoo", "ptb"])
def test_real_data_sets_without_files_say_where_to_put_them(tmp_path, name):
    with pytest.raises(DataError, match=re.escape(str(tmp_path))):
        load_dataset(DataConfig(name=name, path=str(tmp_path)))
