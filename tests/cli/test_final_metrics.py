"""``vaesweep train``'s final metrics: grouped by what they measure and each explained from the
metric registry (label, unit, which direction is better, the paper that defines it)."""

from __future__ import annotations

import re

from vaesweep import metric_registry
from vaesweep.config import resolve_config
from vaesweep.train import fit
from vaesweep.train_progress import final_metric_lines

TINY = {"train.epochs": 1, "eval.nll_samples": 4, "eval.cu_rounds": 2, "data.max_train": 200}


def test_every_final_metric_is_shown_once_under_its_group_with_its_explanation():
    metrics = fit(resolve_config("du_vae", "digits", TINY))
    lines = final_metric_lines(metrics)
    headings = [line[:-1] for line in lines if line and not line.startswith(" ")]
    order = [title for title, _ in metric_registry.GROUPS] + [metric_registry.OTHER_GROUP]
    assert headings == sorted(headings, key=order.index) and len(set(headings)) == len(headings)
    assert headings[0] == "likelihood" and "latent usage" in headings
    rows = [line for line in lines if line.startswith("  ")]
    assert len(rows) == len(metrics)  # each metric once
    heading = None
    for line in lines:
        if line and not line.startswith(" "):
            heading = line[:-1]
        elif line:
            label = re.split(r"\s{2,}", line.strip())[0]
            name = next(n for n in metrics if metric_registry.label(n) == label)
            assert metric_registry.group(name) == heading, line
    nll = next(line for line in rows if line.strip().startswith("NLL "))
    assert f"{metrics['nll']:.4g}" in nll and "nats" in nll and "(lower is better; DU-VAE)" in nll
    mi = next(line for line in rows if line.strip().startswith("MI "))
    assert "Monte Carlo estimate" in mi and "slightly negative" in mi  # what a negative MI means


def test_a_metric_the_registry_does_not_declare_is_shown_under_other_as_it_is():
    lines = final_metric_lines({"nll": 88.0, "my_metric": 0.25})
    assert lines == [
        "likelihood:",
        lines[1],
        "",
        "other:",
        "  my_metric                    0.25",
    ]
    assert lines[1].startswith("  NLL                            88 nats")
