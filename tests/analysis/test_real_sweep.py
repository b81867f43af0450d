"""A real small sweep, through the platform's own entry point, to a table and a ledger verdict."""

from __future__ import annotations

import pytest

from vaesweep import cli
from vaesweep.analysis import build_table, evaluate_claims, load_runs

TINY = [
    "train.epochs=2",
    "eval.nll_samples=10",
    "eval.cu_rounds=5",
    "eval.probes=false",
    "eval.smoothness=false",
]


@pytest.mark.slow
def test_a_real_sweep_goes_from_mlflow_to_a_table_and_a_verdict(mlflow_server, tmp_path, capsys):
    # IGP Table 7 is the smallest preset: DGP and IGP at C = 5, the base IGP and the DGP that
    # starts from it (a second stage), one seed; here on digits
    sweep = ["sweep", "igp_table7", "--dataset", "digits", "--seeds", "1", "--tracking-uri", mlflow_server]
    assert cli.main([*sweep, "--runs-dir", str(tmp_path / "runs"), "--set", *TINY]) == 0
    runs = load_runs("igp_table7", tracking_uri=mlflow_server)
    assert len(runs) == 4 and set(runs["status"]) == {"FINISHED"}
    assert sorted(runs["method"]) == ["c_vae", "c_vae", "igp", "igp"] and set(runs["dataset"]) == {"digits"}
    assert (runs["regulariser.target_kl"] == 5.0).all() and (runs["train.epochs"] == 2).all()
    by_arm = runs.set_index("arm")
    assert by_arm.loc["Base, C = 5, DGP", "started_from_run"] == by_arm.loc["Base, IGP", "run_id"]
    assert by_arm.loc["Base, C = 5, DGP", "started_from_arm"] == "Base, IGP"
    assert by_arm.loc["Base, IGP", "end_time"] <= by_arm.loc["Base, C = 5, DGP", "start_time"]

    table = build_table("igp_table7", runs)
    cells = table.cells.set_index(["row", "metric"])
    rows = {
        "C = 5, DGP": "DGP (C=5)",
        "C = 5, IGP": "IGP (C=5)",
        "Base, IGP": "IGP (C=5, stage=base)",
        "Base, C = 5, DGP": "DGP (C=5, init=base_igp)",
    }
    for arm, row in rows.items():
        assert cells.loc[(row, "rec"), "mean"] == by_arm.loc[arm, "rec"] and cells.loc[(row, "rec"), "n"] == 1
    assert cells.loc[("DGP (C=5)", "rec"), "paper_mean"] == 24.71
    assert cells.loc[("DGP (C=5, init=base_igp)", "rec"), "paper_mean"] == 24.53
    assert "Run on digits" in table.caption and table.status == "ok"

    ledger = evaluate_claims(runs).set_index("claim")
    assert ledger.loc["igp_au_full", "dataset"] == "digits"
    assert ledger.loc["igp_au_full", "verdict"] in ("holds", "fails")
    assert ledger.loc["igp_au_full", "evidence"].startswith("C=5: AU ")

    capsys.readouterr()
    report = ["report", "igp_table7", "--tracking-uri", mlflow_server, "--out", str(tmp_path / "report")]
    assert cli.main(report) == 0
    printed = capsys.readouterr().out
    assert "## IGP Table 7" in printed and "| igp_au_full: " in printed
    assert (tmp_path / "report" / "figures" / "igp_fig1_dimensions.png").exists()
