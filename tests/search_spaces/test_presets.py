"""The preset registry: torch-free, refuses unknown names, and every preset keeps its trials.

``presets_golden.json.gz`` holds every preset's definition and expanded trials (on its paper
data and moved to the embedded data set) as the code produced them before the presets were
split by paper; a change that moves a trial shows here (a new preset does not). After a
deliberate change, rewrite it with ``python -m tests.search_spaces.test_presets`` and say in the
commit which trials moved.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from vaesweep.data.registry import dataset_info
from vaesweep.errors import ConfigError
from vaesweep.search_spaces.definitions import expand
from vaesweep.search_spaces.presets import EXPERIMENTS

GOLDEN = Path(__file__).with_name("presets_golden.json.gz")


def snapshot() -> dict[str, Any]:
    """Every preset as JSON data: its definition and its trials (tuples read back as lists)."""
    presets = {}
    for name, experiment in EXPERIMENTS.items():
        embedded = "digits" if dataset_info(experiment.datasets[0]).kind == "image" else "synthetic_text"
        layout = experiment.layout
        presets[name] = {
            "definition": {
                "title": experiment.title,
                "datasets": experiment.datasets,
                "seeds": experiment.seeds,
                "metrics": experiment.metrics,
                "reference": experiment.reference,
                "metric_map": dict(experiment.metric_map),
                "objective": experiment.objective,
                "unsupported": experiment.unsupported,
                "description": experiment.description,
                "layout": {"blocks": layout.blocks, "select": layout.select},
                "tables": [[v.name, v.dataset, v.extra_metrics] for v in experiment.tables],
            },
            "trials": [t.as_dict() for t in expand(experiment)],
            "trials_on_embedded": [t.as_dict() for t in expand(experiment, dataset=embedded)],
        }
    return json.loads(json.dumps({"order": list(presets), "presets": presets}))


def test_every_preset_expands_to_the_trials_it_always_had():
    golden = json.loads(gzip.decompress(GOLDEN.read_bytes()))
    now = snapshot()
    kept = [name for name in now["order"] if name in golden["presets"]]  # new presets may join
    assert kept == golden["order"]
    for name in golden["order"]:
        expected, actual = golden["presets"][name], now["presets"][name]
        assert actual["definition"] == expected["definition"], name
        for key in ("trials", "trials_on_embedded"):
            assert len(actual[key]) == len(expected[key]), (name, key)
            for got, want in zip(actual[key], expected[key], strict=True):
                assert got == want, (name, key)


def test_definitions_and_presets_import_without_torch():
    code = (
        "import sys\n"
        "import vaesweep.search_spaces.definitions, vaesweep.search_spaces.presets\n"
        "heavy = sorted(m for m in ('torch', 'ray', 'mlflow', 'optuna') if m in sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_the_registry_refuses_an_unknown_preset_naming_the_known_ones():
    with pytest.raises(ConfigError) as caught:
        EXPERIMENTS["igp_table99"]
    assert caught.value.field == "preset" and "igp_table9, igp_table2" in caught.value.allowed
    assert "igp_table99" not in EXPERIMENTS and EXPERIMENTS.get("igp_table99") is None


if __name__ == "__main__":
    text = json.dumps(snapshot(), sort_keys=True, indent=1)
    GOLDEN.write_bytes(gzip.compress(text.encode(), mtime=0))
    print(f"wrote {GOLDEN}")
