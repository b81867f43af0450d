"""What an Optuna sweep's study adds to its report: which hyper-parameters mattered, per method
(Optuna's fANOVA importances), its optimisation history and a parallel-coordinate plot.

The study is found where the sweep's parent run says (its params ``optuna_storage`` and
``optuna_study``, written by vaesweep.platform). A conditional space samples one arm and then
only that arm's method's hyper-parameters (named ``METHOD.KEY``), so importances are computed
per method, over the trials that sampled it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from vaesweep.analysis.plots import Plot

STORAGE_PARAM = "optuna_storage"
STUDY_PARAM = "optuna_study"
ARM_PARAM = "arm"  # the categorical choice of arm (vaesweep.search_spaces.optuna_spaces)


@dataclass
class StudySection:
    """The study's part of the report: importances per method, notes, and its figures."""

    name: str
    storage: str
    importances: dict[str, dict[str, float]] = field(default_factory=dict)  # method -> param -> share
    notes: list[str] = field(default_factory=list)
    plots: list[Plot] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The section as list items: where the study is, then each method's importances."""
        out = [f"study {self.name!r} in {self.storage} (open it with  optuna-dashboard {self.storage})"]
        for method, shares in self.importances.items():
            ranked = ", ".join(f"{param} {share:.2f}" for param, share in shares.items())
            out.append(f"{method}: {ranked}")
        return out + self.notes


def _completed(study) -> list:
    import optuna

    return [
        t
        for t in study.trials
        if t.state == optuna.trial.TrialState.COMPLETE and t.value is not None and math.isfinite(t.value)
    ]


def method_importances(study) -> tuple[dict[str, dict[str, float]], list[str]]:
    """fANOVA importances of each method's hyper-parameters over the trials that sampled them
    (largest first), and a note for each method with too few trials to tell."""
    import optuna

    trials = _completed(study)
    by_method: dict[str, set[str]] = {}
    for trial in trials:
        for param in trial.params:
            if param != ARM_PARAM and "." in param:
                by_method.setdefault(param.split(".", 1)[0], set()).add(param)
    importances, notes = {}, []
    for method, params in sorted(by_method.items()):
        used = [t for t in trials if params <= set(t.params)]
        if len(used) < 2 or len({t.value for t in used}) < 2:
            notes.append(
                f"{method}: {len(used)} completed trial(s) with distinct values, too few for importances"
            )
            continue
        shares = optuna.importance.get_param_importances(
            study,
            evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0),
            params=sorted(params),
        )
        importances[method] = {p.removeprefix(f"{method}."): float(v) for p, v in shares.items()}
        notes_text = f"{method}: fANOVA over {len(used)} completed trials"
        notes.append(notes_text)
    return importances, notes


def history_figure(study, metric: str):
    """Each completed trial's objective by trial number, with the best so far."""
    trials = _completed(study)
    numbers = [t.number for t in trials]
    values = np.array([t.value for t in trials])
    best = (np.minimum if study.direction.name == "MINIMIZE" else np.maximum).accumulate(values)
    figure, axes = plt.subplots(figsize=(6, 3.5))
    axes.scatter(numbers, values, s=14, label="trial")
    axes.step(numbers, best, where="post", color="C3", label="best so far")
    axes.set(xlabel="trial", ylabel=metric, title="Optimisation history")
    axes.legend()
    figure.tight_layout()
    return figure


def parallel_figure(study, metric: str):
    """Every completed trial as a line through its hyper-parameters (each scaled to [0, 1] over
    the trials that sampled it; categorical ones by choice) and its objective, coloured by it."""
    trials = _completed(study)
    params = sorted({p for t in trials for p in t.params})
    columns = [*params, metric]

    def scaled(values: list) -> dict:
        present = [v for v in values if v is not None]
        if not present:
            return {}
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
            low, high = min(present), max(present)
            return {v: 0.5 if high == low else (v - low) / (high - low) for v in present}
        choices = sorted({str(v) for v in present})
        return {v: choices.index(str(v)) / max(1, len(choices) - 1) for v in present}

    raw = {p: [t.params.get(p) for t in trials] for p in params}
    raw[metric] = [t.value for t in trials]
    maps = {c: scaled(raw[c]) for c in columns}
    values = np.array(raw[metric])
    colours = plt.cm.viridis((values - values.min()) / (np.ptp(values) or 1.0))
    figure, axes = plt.subplots(figsize=(max(6, 1.4 * len(columns)), 4))
    for index, colour in enumerate(colours):
        points = [(x, maps[c][raw[c][index]]) for x, c in enumerate(columns) if raw[c][index] is not None]
        axes.plot(*zip(*points, strict=True), color=colour, marker="o", markersize=3, alpha=0.8)
    axes.set_xticks(range(len(columns)), columns, rotation=20, ha="right", fontsize=8)
    axes.set_yticks([0, 1], ["low", "high"])
    axes.set_title(f"Parallel coordinates (colour: {metric})")
    figure.tight_layout()
    return figure


def study_section(parent_params: Mapping[str, str], metric: str, figures: Path) -> StudySection | None:
    """The report's study section for a sweep whose parent run names its study; None for a
    sweep without one (a grid). A study that cannot be opened gives a section saying why."""
    import optuna

    storage, name = parent_params.get(STORAGE_PARAM), parent_params.get(STUDY_PARAM)
    if not storage or not name:
        return None
    section = StudySection(name, storage)
    try:
        study = optuna.load_study(study_name=name, storage=storage)
    except (KeyError, ValueError, ImportError, RuntimeError) as error:  # gone, moved, or a masked password
        section.notes.append(f"the study could not be opened here: {type(error).__name__}: {error}")
        return section
    if not _completed(study):
        section.notes.append("no trial of the study completed")
        return section
    section.importances, section.notes = method_importances(study)
    figures.mkdir(parents=True, exist_ok=True)
    for plot_name, title, draw in (
        ("optuna_history", "Optuna: optimisation history", history_figure),
        ("optuna_parallel", "Optuna: parallel coordinates", parallel_figure),
    ):
        path = figures / f"{plot_name}.png"
        figure = draw(study, metric)
        figure.savefig(path, dpi=110)
        plt.close(figure)
        section.plots.append(Plot(plot_name, title, path, f"study {name!r}, {len(_completed(study))} trials"))
    return section
