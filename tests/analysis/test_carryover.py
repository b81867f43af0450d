"""Claims across data sets: a claim's verdict on the preset's data set against its verdict on a
second data set of the same kind, with disagreement flagged (frames from claim_frames)."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.analysis.claim_frames import FRAMES, arm, frame
from vaesweep.analysis.carryover import (
    AGREES,
    DISAGREES,
    ONE_SIDED,
    UNSETTLED,
    agreement,
    compare_across_datasets,
    render_carryover,
)
from vaesweep.analysis.claims import FAILS, HOLDS, INCONCLUSIVE, NOT_RUN, evaluate_claims


def _moved(runs: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """The same runs as if they had been run on ``dataset``."""
    return runs.assign(dataset=dataset)


def _only(frame: pd.DataFrame, claim: str) -> pd.Series:
    rows = frame[frame["claim"] == claim]
    assert len(rows) == 1, rows
    return rows.iloc[0]


@pytest.mark.parametrize(("claim", "second"), [("igp_kl_matches_c", "mnist"), ("duvae_kl_mi_over_bn", "ptb")])
def test_a_claim_that_holds_on_one_data_set_and_fails_on_another_is_flagged(claim, second):
    holding, failing = (make() for make in FRAMES[claim])
    first = holding["dataset"].iloc[0]
    comparison = compare_across_datasets(evaluate_claims(pd.concat([holding, _moved(failing, second)])))
    row = _only(comparison, claim)
    assert (row.reference, row.reference_verdict, row.dataset, row.verdict) == (first, HOLDS, second, FAILS)
    assert row.agreement == DISAGREES and row.reference_margin > 0 > row.margin
    assert row.kind == ("image" if first == "digits" else "text")
    text = render_carryover(comparison, "md")
    assert f"**{DISAGREES}**" in text and second in text


def test_the_same_runs_on_two_data_sets_agree_and_data_of_another_kind_is_not_compared():
    holding, _ = FRAMES["igp_kl_matches_c"]
    runs = holding()
    text_runs = FRAMES["duvae_au_over_bn"][0]()
    ledger = evaluate_claims(pd.concat([runs, _moved(runs, "mnist"), text_runs]))
    comparison = compare_across_datasets(ledger)
    assert set(comparison["dataset"]) == {"mnist"}  # synthetic_text has no second text data set
    assert _only(comparison, "igp_kl_matches_c").agreement == AGREES


def test_an_inconclusive_side_is_unsettled_and_a_claim_one_data_set_cannot_check_is_one_sided():
    decided = frame(arm("igp", "digits", {"C": 15.0}, 0.05, kl=15.2, au=16.0))
    noisy = _moved(frame(arm("igp", "digits", {"C": 15.0}, 2.0, kl=16.0)), "mnist")  # no au
    ledger = evaluate_claims(pd.concat([decided, noisy]))
    assert _only(ledger[ledger["dataset"] == "mnist"], "igp_kl_matches_c").verdict == INCONCLUSIVE
    comparison = compare_across_datasets(ledger)
    assert _only(comparison, "igp_kl_matches_c").agreement == UNSETTLED
    one_sided = _only(comparison, "igp_au_full")
    assert (one_sided.reference_verdict, one_sided.verdict) == (HOLDS, NOT_RUN)
    assert one_sided.agreement == ONE_SIDED


def test_nothing_to_compare_on_one_data_set_per_kind():
    ledger = evaluate_claims(FRAMES["igp_kl_matches_c"][0]())
    assert compare_across_datasets(ledger).empty
    assert render_carryover(compare_across_datasets(ledger), "md") == ""


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (HOLDS, HOLDS, AGREES),
        (FAILS, FAILS, AGREES),
        (INCONCLUSIVE, INCONCLUSIVE, UNSETTLED),
        (HOLDS, FAILS, DISAGREES),
        (FAILS, HOLDS, DISAGREES),
        (HOLDS, INCONCLUSIVE, UNSETTLED),
        (INCONCLUSIVE, FAILS, UNSETTLED),
        (NOT_RUN, HOLDS, ONE_SIDED),
    ],
)
def test_agreement_of_two_verdicts(a, b, expected):
    assert agreement(a, b) == expected


def test_a_data_set_this_machine_does_not_know_is_its_own_kind():
    runs = FRAMES["igp_kl_matches_c"][0]()
    ledger = evaluate_claims(pd.concat([runs, _moved(runs, "images_from_elsewhere")]))
    assert compare_across_datasets(ledger).empty
    moved = compare_across_datasets(ledger, kinds={"digits": "image", "images_from_elsewhere": "image"})
    assert _only(moved, "igp_kl_matches_c").agreement == AGREES


def test_the_report_shows_and_writes_the_comparison(tmp_path):
    from vaesweep.analysis.report import CARRYOVER_TITLE, Report, render_report, write_report

    holding, failing = (make() for make in FRAMES["igp_kl_matches_c"])
    runs = pd.concat([holding, _moved(failing, "mnist")], ignore_index=True)
    ledger = evaluate_claims(runs)
    report = Report("t", "planted", runs, [], ledger, [], tmp_path, compare_across_datasets(ledger))
    text = render_report(report, "md")
    assert f"## {CARRYOVER_TITLE}" in text and f"**{DISAGREES}**" in text
    assert "claims across data sets: 0 agrees, 1 DISAGREES" in text
    assert f"\\subsection*{{{CARRYOVER_TITLE}}}" in render_report(report, "latex")
    assert f"<h2>{CARRYOVER_TITLE}</h2>" in render_report(report, "html")
    written = pd.read_csv(write_report(report) / "ledger_across_datasets.csv")
    assert written[["claim", "reference", "dataset", "agreement"]].values.tolist() == [
        ["igp_kl_matches_c", "digits", "mnist", DISAGREES]
    ]
