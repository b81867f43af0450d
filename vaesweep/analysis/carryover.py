"""Do the claims carry over? A claim's verdict on one data set against its verdict on another
of the same kind (digits against a second image set, one corpus against another).

A verdict that holds on digits and fails on a second image set says the paper's ordering depends
on the data; one that is inconclusive on either side says the runs there cannot tell. The first
data set of each kind in the ledger (the preset's own) is the reference the others are set
against; each row pairs the two verdicts and margins of one claim.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from vaesweep.analysis.claims import NOT_RUN
from vaesweep.analysis.evidence import INCONCLUSIVE
from vaesweep.analysis.render import Grid, render
from vaesweep.errors import ConfigError

AGREES, DISAGREES, UNSETTLED, ONE_SIDED = "agrees", "DISAGREES", "unsettled", "checked on one only"
AGREEMENTS = (AGREES, DISAGREES, UNSETTLED, ONE_SIDED)
CARRYOVER_COLUMNS = [
    "claim",
    "paper",
    "kind",
    "reference",
    "reference_verdict",
    "reference_margin",
    "dataset",
    "verdict",
    "margin",
    "unit",
    "agreement",
]


def agreement(reference: str, other: str) -> str:
    """How two verdicts of one claim relate: one data set could not check it, the runs on one
    cannot tell (inconclusive), the same decided verdict, or opposite ones (holds vs fails)."""
    if NOT_RUN in (reference, other):
        return ONE_SIDED
    if INCONCLUSIVE in (reference, other):
        return UNSETTLED
    return AGREES if reference == other else DISAGREES


def data_kinds(datasets: list[str]) -> dict[str, str]:
    """Each data set's kind ("image", "text"); "unknown" for one this machine does not know
    (a report read from an export of runs on data added elsewhere)."""
    from vaesweep.data.registry import dataset_info

    kinds = {}
    for name in datasets:
        try:
            kinds[name] = dataset_info(name).kind
        except ConfigError:
            kinds[name] = "unknown"
    return kinds


def compare_across_datasets(ledger: pd.DataFrame, kinds: Mapping[str, str] | None = None) -> pd.DataFrame:
    """One row per claim and non-reference data set of a kind that has a reference: the claim's
    verdict and margin on the reference (the kind's first data set in the ledger) and on the
    other data set, and their ``agreement``. Empty where no kind has two data sets."""
    checked = ledger[ledger["verdict"] != NOT_RUN]
    datasets = list(dict.fromkeys(checked["dataset"]))
    kinds = dict(kinds) if kinds is not None else data_kinds(datasets)
    by_kind: dict[str, list[str]] = {}
    for name in datasets:
        by_kind.setdefault(kinds.get(name, "unknown"), []).append(name)
    rows = []
    for kind, names in by_kind.items():
        reference, others = names[0], names[1:]
        for other in others:
            for claim in dict.fromkeys(checked["claim"]):
                rows.append(_row(checked, claim, kind, reference, other))
    return pd.DataFrame([r for r in rows if r is not None], columns=CARRYOVER_COLUMNS)


def _row(checked: pd.DataFrame, claim: str, kind: str, reference: str, other: str) -> dict | None:
    here = checked[checked["claim"] == claim].set_index("dataset")
    if reference not in here.index and other not in here.index:
        return None  # a claim of the other kind
    first = here.loc[reference] if reference in here.index else None
    second = here.loc[other] if other in here.index else None
    present = first if first is not None else second
    return {
        "claim": claim,
        "paper": present["paper"],
        "kind": kind,
        "reference": reference,
        "reference_verdict": first["verdict"] if first is not None else NOT_RUN,
        "reference_margin": first["margin"] if first is not None else float("nan"),
        "dataset": other,
        "verdict": second["verdict"] if second is not None else NOT_RUN,
        "margin": second["margin"] if second is not None else float("nan"),
        "unit": present["unit"],
        "agreement": agreement(
            first["verdict"] if first is not None else NOT_RUN,
            second["verdict"] if second is not None else NOT_RUN,
        ),
    }


def _margin(value: float) -> str:
    return "" if pd.isna(value) else f"{value:+.3g}"


def carryover_grid(frame: pd.DataFrame) -> Grid:
    header = ["Claim", "Paper", "Reference", "Verdict", "Margin"]
    header += ["Data set", "Verdict", "Margin", "Unit", "Carries over"]
    grid = Grid([[(name, 1) for name in header]])
    for row in frame.itertuples():
        grid.body.append(
            [
                row.claim,
                row.paper,
                row.reference,
                row.reference_verdict,
                _margin(row.reference_margin),
                row.dataset,
                row.verdict,
                _margin(row.margin),
                row.unit if isinstance(row.unit, str) else "",
                row.agreement,
            ]
        )
        if row.agreement == DISAGREES:
            grid.bold.add((len(grid.body) - 1, len(header) - 1))
    return grid


def render_carryover(frame: pd.DataFrame, fmt: str) -> str:
    """The comparison as a table (csv: the frame); empty text where there is nothing to compare."""
    if frame.empty:
        return ""
    if fmt == "csv":
        return frame.to_csv(index=False)
    return render(carryover_grid(frame), fmt)
