"""The claims ledger: every claim holds and fails on frames built to make it, exact verdicts on
planted runs, seed-aware margins, and the papers' own numbers against their claims."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.analysis.claim_frames import DIGITS, FRAMES, _igp_dgp, arm, frame
from tests.analysis.paper_runs import paper_runs
from tests.analysis.sweeps import planted_sweep
from vaesweep.analysis import plots, schema
from vaesweep.analysis.claims import (
    CLAIMS,
    FAILS,
    HOLDS,
    INCONCLUSIVE,
    NOT_RUN,
    evaluate_claims,
    margin_text,
    render_ledger,
)

CLAIM_NAMES = [claim.name for claim in CLAIMS]


def _verdicts(ledger: pd.DataFrame) -> dict[tuple[str, str], str]:
    return {(row.claim, row.dataset): row.verdict for row in ledger.itertuples()}


def _row(runs: pd.DataFrame, claim: str) -> pd.Series:
    ledger = evaluate_claims(runs)
    return ledger[ledger["claim"] == claim].iloc[0]


def test_every_claim_has_a_holding_and_a_failing_frame():
    assert set(FRAMES) == set(CLAIM_NAMES), "a claim without both frames cannot be shown to fail"


@pytest.mark.parametrize("claim", CLAIM_NAMES)
def test_every_claim_can_hold_and_can_fail(claim):
    holds, fails = FRAMES[claim]
    held, failed = _row(holds(), claim), _row(fails(), claim)
    assert held["verdict"] == HOLDS and held["margin"] > 0, held["evidence"]
    assert failed["verdict"] == FAILS and failed["margin"] < 0, failed["evidence"]
    assert held["noise"] >= 0 and failed["noise"] >= 0  # three seeds: the spread is known


def test_seed_noise_makes_a_verdict_inconclusive_and_says_how_many_seeds_settle_it():
    # IGP 1 point above DGP, seeds spread +-2: difference 1, 2 SE = 2 * sqrt(2 * 4 / 3) = 3.27
    row = _row(_igp_dgp("probe_mlp", 76.0, 75.0, spread=2.0), "igp_downstream")
    assert row["verdict"] == INCONCLUSIVE
    assert (row["margin"], row["noise"]) == pytest.approx((1.0, 2 * (8 / 3) ** 0.5))
    # difference > 2 sqrt((4 + 4) / n) needs n > 32 seeds per arm
    assert row["seeds_needed"] == 33
    assert margin_text(row) == ("+1 points ± 3.3 (probe_mlp at C=5); about 33 seeds per arm would settle it")
    # the same effect with a tight spread holds, and worse beyond the noise fails
    assert _row(_igp_dgp("probe_mlp", 76.0, 75.0, spread=0.2), "igp_downstream")["verdict"] == HOLDS
    assert _row(_igp_dgp("probe_mlp", 70.0, 75.0, spread=2.0), "igp_downstream")["verdict"] == FAILS


def test_igp_downstream_wants_better_not_merely_close():
    # the old rule (IGP >= DGP - 0.5) passed this; IGP 0.4 points worse with no spread fails
    assert _row(_igp_dgp("probe_mlp", 74.6, 75.0), "igp_downstream")["verdict"] == FAILS


def test_one_seed_gives_a_face_value_verdict_that_says_the_spread_is_unknown():
    runs = _igp_dgp("probe_mlp", 80.0, 75.0, spread=0.5)
    row = _row(runs[runs["seed"] == 0], "igp_downstream")
    assert row["verdict"] == HOLDS and pd.isna(row["noise"]) and pd.isna(row["seeds_needed"])
    assert margin_text(row) == "+5 points one seed: spread unknown (probe_mlp at C=5)"


def test_the_weakest_comparison_decides_and_is_reported():
    # C=5: 6 units ahead, 2 SE = 0.82; C=50: 1 unit ahead, the same noise: C=50 is the weakest
    runs = pd.concat([_igp_dgp("au", 16.0, 10.0, 0.5, c=5.0), _igp_dgp("au", 16.0, 15.0, 0.5, c=50.0)])
    row = _row(runs, "igp_au_over_dgp")
    assert row["verdict"] == HOLDS and row["deciding"] == "C=50" and row["margin"] == pytest.approx(1.0)


def test_adaptive_variance_is_judged_against_the_data_and_the_collapsed_model():
    # a decoder of the mean image: sigma_x^2 = MSE/d = the data's per-pixel variance
    row = _row(FRAMES["arelbo_adaptive_small"][1](), "arelbo_adaptive_small")
    assert row["verdict"] == FAILS and row["margin"] == pytest.approx(-0.035)
    assert "sigma_x^2 0.07 vs data variance 0.07" in row["evidence"]
    # the old fixed bound (sigma_x^2 <= 0.1) passed it; with neither reference it is not run
    ar_elbo = frame(arm("ar_elbo", DIGITS, {}, 0.0, sigma_x2=0.07))
    assert _row(ar_elbo, "arelbo_adaptive_small")["verdict"] == NOT_RUN


def test_planted_runs_give_the_expected_verdicts():
    ledger = evaluate_claims(planted_sweep()[0])
    assert _verdicts(ledger) == {
        ("igp_au_full", "digits"): HOLDS,
        ("igp_au_over_dgp", "digits"): HOLDS,
        ("igp_kl_matches_c", "digits"): HOLDS,
        ("igp_downstream", "digits"): HOLDS,
        ("duvae_kl_mi_over_bn", "synthetic_text"): HOLDS,
        ("duvae_au_over_bn", "synthetic_text"): FAILS,  # planted: DU-VAE AU 1 < BN-VAE AU 2
        ("duvae_over_vae", "synthetic_text"): HOLDS,
        ("duvae_best_nll", "synthetic_text"): HOLDS,
        ("duvae_dropout_mpd_ce", "synthetic_text"): HOLDS,
        ("duvae_training_cost", ""): NOT_RUN,
        ("dgvae_b1_vanilla", "digits"): HOLDS,
        ("dgvae_b_raises_kl_mi", "digits"): HOLDS,
        ("dgvae_cu_full", ""): NOT_RUN,
        ("arelbo_collapse_at_one", "digits"): HOLDS,
        ("arelbo_sigma_trend", ""): NOT_RUN,
        ("arelbo_adaptive_small", "digits"): HOLDS,
        ("arelbo_mse_below_fixed", "digits"): HOLDS,
    }
    numbers = ledger.set_index("claim")["numbers"]
    assert numbers["igp_au_over_dgp"] == {
        "au_igp[C=5]": 16.0,
        "au_dgp[C=5]": 4.5,
        "au_igp[C=15]": 16.0,
        "au_dgp[C=15]": 6.5,
        "au_igp[C=50]": 16.0,
        "au_dgp[C=50]": 10.5,
    }
    assert numbers["duvae_au_over_bn"] == {"au_du[gamma=1,p=0.5]": 1.0, "au_bn[gamma=1]": 2.0}
    assert numbers["arelbo_mse_below_fixed"] == {"mse_fixed": 3.0, "mse[iso_i]": pytest.approx(1.05)}
    failed = ledger[ledger["claim"] == "duvae_au_over_bn"].iloc[0]
    assert failed["evidence"] == "DU-VAE (gamma=1, p=0.5) vs BN-VAE: AU 1 vs 2 (-0.5 ± 0)"
    assert (failed["margin"], failed["noise"], failed["unit"]) == (-0.5, 0.0, "units")
    # the IGP seeds differ by 1 in AU nowhere, DGP's by 1: 2 SE of the difference = 2 sqrt(0.5 / 2)
    igp = ledger[ledger["claim"] == "igp_au_over_dgp"].iloc[0]
    assert (igp["margin"], igp["noise"], igp["deciding"]) == (5.5, 1.0, "C=50")
    assert ledger[ledger["claim"] == "arelbo_sigma_trend"].iloc[0]["evidence"].startswith("needs ")


def test_a_claim_turns_when_its_numbers_do():
    runs = planted_sweep()[0]
    collapsed = runs.assign(au=runs["au"].where(runs["method"] != "igp", 12.0))
    verdicts = _verdicts(evaluate_claims(collapsed))
    assert verdicts[("igp_au_full", "digits")] == FAILS
    assert verdicts[("igp_au_over_dgp", "digits")] == HOLDS  # 12 > 10.5 + 1 still


def test_without_runs_every_claim_is_not_run():
    ledger = evaluate_claims(planted_sweep()[0].iloc[:0])
    assert set(ledger["verdict"]) == {NOT_RUN} and len(ledger) == len(CLAIMS)


# The papers' own tables, read as runs (three seeds with the printed mean and std), against the
# papers' claims. One verdict fails: DU-VAE Table 1 has fewer active units for DU-VAE than for
# BN-VAE (28 vs 32 on Yahoo). Two cannot be told apart at the printed spread: IGP Table 11 at
# C = 5 on DBpedia (80.62 vs 81.88, which the paper calls "comparable ... no statistically
# significant advantage"), and IGP Table 9's AU at C = 50 on Yahoo (32 vs 31.3 +- 0.5).
PAPER_VERDICTS = {
    "igp_table9": {
        "igp_au_full": HOLDS,
        "igp_au_over_dgp": INCONCLUSIVE,
        "igp_kl_matches_c": HOLDS,
        "igp_downstream": HOLDS,
    },
    "igp_table10": {
        "igp_au_full": HOLDS,
        "igp_au_over_dgp": HOLDS,
        "igp_kl_matches_c": HOLDS,
        "igp_downstream": HOLDS,
    },
    "igp_table11": {"igp_downstream": INCONCLUSIVE},
    "duvae_table1": {
        "duvae_kl_mi_over_bn": HOLDS,
        "duvae_au_over_bn": FAILS,
        "duvae_over_vae": HOLDS,
        "duvae_best_nll": HOLDS,
    },
    "dgvae_yahoo": {"dgvae_b1_vanilla": HOLDS, "dgvae_b_raises_kl_mi": HOLDS, "dgvae_cu_full": HOLDS},
    "arelbo_table1": {"arelbo_collapse_at_one": HOLDS, "arelbo_sigma_trend": HOLDS},
    "arelbo_table3": {"arelbo_mse_below_fixed": HOLDS},
}


def _overall(verdicts: pd.Series) -> str:
    found = set(verdicts)
    return FAILS if FAILS in found else INCONCLUSIVE if INCONCLUSIVE in found else HOLDS


@pytest.mark.parametrize("table", sorted(PAPER_VERDICTS))
def test_the_papers_numbers_against_their_claims(table):
    ledger = evaluate_claims(paper_runs(table))
    checked = ledger[ledger["verdict"] != NOT_RUN]
    assert checked.groupby("claim")["verdict"].agg(_overall).to_dict() == PAPER_VERDICTS[table]
    if table == "igp_table11":
        row = checked[(checked["claim"] == "igp_downstream") & (checked["dataset"] == "dbpedia")].iloc[0]
        assert row["verdict"] == INCONCLUSIVE and "probe_mlp IGP 80.6 vs DGP 81.9" in row["evidence"]
        assert row["deciding"] == "probe_mlp at C=5" and row["seeds_needed"] > 3


def test_the_ledger_renders_margins_and_failures_in_bold():
    ledger = evaluate_claims(planted_sweep()[0])
    markdown = render_ledger(ledger, "md")
    assert (
        "| Verdict | Margin |" in markdown
        and "| **fails** | -0.5 units ± 0 (au at gamma=1, p=0.5) |" in markdown
    )
    assert "<b>fails</b>" in render_ledger(ledger, "html")
    assert r"\textbf{fails}" in render_ledger(ledger, "latex")
    header = render_ledger(ledger, "csv").splitlines()[0].split(",")
    assert "numbers" not in header and {"margin", "noise", "unit", "seeds_needed"} <= set(header)


def test_every_metric_read_is_a_name_the_platform_logs():
    logged = set(schema.FINAL_METRICS) | set(schema.EPOCH_METRICS)
    assert {m for claim in CLAIMS for m in claim.metrics} <= logged
    assert set(plots.EPOCH_PANELS) <= logged


def test_equivalence_claims_allow_for_seed_noise():
    runs = planted_sweep()[0]
    b1 = (runs["method"] == "dg_vae") & (runs["regulariser.aggregation_size"] == 1)
    steady = runs.assign(au=runs["au"].where(~b1, 3.5))  # 1.5 units from the VAE's 2, seeds agree
    assert _verdicts(evaluate_claims(steady))[("dgvae_b1_vanilla", "digits")] == FAILS
    noisy = steady.copy()
    noisy.loc[b1 & (noisy["seed"] == 0), "au"], noisy.loc[b1 & (noisy["seed"] == 1), "au"] = 2.0, 5.0
    ledger = evaluate_claims(noisy).set_index("claim")
    # the same mean, 0.5 units beyond the tolerance of 1 but within 2 SE = 3: cannot tell
    assert ledger.loc["dgvae_b1_vanilla", "verdict"] == INCONCLUSIVE
    assert "au |b|=1 3.5 vs VAE 2 (-0.5 ± 3)" in ledger.loc["dgvae_b1_vanilla", "evidence"]
