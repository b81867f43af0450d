"""Table builders: the papers' own numbers come back unchanged; planted runs give exact cells."""

from __future__ import annotations

import dataclasses
from importlib import resources

import numpy as np
import pandas as pd
import pytest

from tests.analysis.paper_runs import paper_runs, run_row
from tests.analysis.sweeps import planted_sweep
from vaesweep.analysis import schema
from vaesweep.analysis.reference import parse_hparams, reference_rows, row_matches, run_config_for
from vaesweep.analysis.runs import typed
from vaesweep.analysis.tables import TableView, build_table, cell_text, summary_table, tables_for
from vaesweep.config import resolve_config
from vaesweep.search_spaces.definitions import Arm, Experiment, expand
from vaesweep.search_spaces.presets import EXPERIMENTS

PAPER_TABLES = sorted(name for name, experiment in EXPERIMENTS.items() if experiment.reference)


@pytest.mark.parametrize("name", PAPER_TABLES)
def test_the_papers_numbers_as_runs_rebuild_the_paper_table(name):
    table = build_table(name, paper_runs(name))
    ref = reference_rows(EXPERIMENTS[name].reference)
    printed = table.cells[table.cells["paper_text"] != ""]
    assert len(printed) == len(ref)  # every printed cell is in the table
    compared = printed[printed["n"] > 0]
    assert len(compared) == len(ref)  # ... and has our value beside it (every row can be run)
    assert np.allclose(compared["diff"], 0.0, atol=1e-9)
    assert np.allclose(compared["std"].fillna(0), compared["paper_std"].fillna(0), atol=1e-9)
    assert (compared["best"] == compared["paper_best"]).all()
    plain = compared[~compared["paper_text"].str.contains("e", case=False)]
    for cell in plain.to_dict("records"):  # ours printed exactly as the paper printed it
        ours, paper = cell_text(cell, compared=True)
        assert paper.startswith(f"{ours} (") and paper.endswith("0)"), (ours, paper)
    assert table.status == "ok"


def test_selection_tables_report_the_best_start_not_the_mean():
    table = build_table("igp_table12", paper_runs("igp_table12"))
    vae = table.cells[(table.cells["row"] == "VAE, DGP") & (table.cells["metric"] == "rec")].iloc[0]
    assert (vae["mean"], vae["n"], vae["starts"]) == (78.64, 1, 5)
    assert "highest elbo" in " ".join(table.notes)


def test_planted_runs_give_the_expected_cells():
    runs = planted_sweep()[0]
    table = build_table(TableView("igp_table9", "digits"), runs)
    cells = table.cells.set_index(["row", "metric"])
    assert table.status == "partial"
    assert "Run on digits" in table.caption and "its cbt numbers" in table.caption
    assert table.notes[0] == "rows not run: AE (no runs)"
    assert "not measured on digits: BLEU-2, BLEU-4, ROUGE-2, ROUGE-4" in table.notes
    dgp5 = cells.loc[("DGP (C=5)", "rec")]
    assert (dgp5["mean"], dgp5["std"], dgp5["n"]) == (29.5, 0.5, 2)  # the failed third seed is left out
    # digits against the paper's CBT: the paper's value for reference, no difference against it
    assert dgp5["paper_mean"] == 60.04 and np.isnan(dgp5["diff"])
    assert cells.loc[("IGP (C=50)", "rec"), "best"] and not cells.loc[("DGP (C=50)", "rec"), "best"]
    assert cells.loc[("IGP (C=5)", "au"), "mean"] == 16.0
    assert "| DGP (C=5) | 29.50 ± 0.50 | 60.04 ± 0.04 |" in table.render("md")
    assert "Rec paper (for reference)" in table.render("md")
    # what carries across: the ordering of each column's rows against the paper's
    ordering = table.ordering.set_index("metric")
    assert ordering.loc["rec", "rows"] == 6 and ordering.loc["rec", "flipped"] == [
        "DGP (C=5) > IGP (C=5) (paper <)",
        "DGP (C=15) > IGP (C=15) (paper <)",
    ]
    # 15 pairs, 2 discordant, no ties: tau = (13 - 2) / 15
    assert ordering.loc["rec", "tau"] == pytest.approx(11 / 15)
    assert ordering.loc["au", "flipped"] == [] and ordering.loc["au", "tau"] == pytest.approx(1.0)
    assert any(
        n.startswith("ordering of Rec on digits vs the paper's on cbt: Kendall's tau +0.73")
        for n in table.notes
    )
    assert "AU: activity > 0.01 (the papers) (eval.au_strict)" in table.notes
    assert set(table.cells["row"]) == {f"{m} (C={c})" for m in ("DGP", "IGP") for c in (5, 15, 50)}

    du = build_table(TableView("duvae_table1", "synthetic_text"), runs).cells.set_index("row")
    assert du.loc["VAE"].set_index("metric").loc["nll", "paper_mean"] == 328.5  # matched to the paper's VAE
    assert du.loc["DU-VAE (not in the paper)"].set_index("metric").loc["mi", "mean"] == 1.1

    arelbo = build_table(TableView("arelbo_table3", "digits", ("sigma_x2",)), runs).cells
    row = arelbo[(arelbo["row"] == "AR-ELBO (variance=Iso-I)") & (arelbo["metric"] == "mse")].iloc[0]
    assert (row["mean"], row["std"], row["paper_mean"]) == (pytest.approx(1.05), pytest.approx(0.05), 4.40)
    assert arelbo[arelbo["metric"] == "sigma_x2"].set_index("row")["mean"].to_dict() == {
        "VAE (sigma_x2=1.0)": 1.0,
        "AR-ELBO (variance=Iso-I)": 0.02,
    }


def test_each_demo_table_has_demo_trials_to_show():
    trials = expand(EXPERIMENTS["demo"])
    for view in EXPERIMENTS["demo"].tables:
        methods = set(reference_rows(EXPERIMENTS[view.name].reference)["method"])
        shown = [t for t in trials if t.dataset == view.dataset and t.method in methods | {"fixed_sigma"}]
        assert len({t.arm for t in shown}) >= 2, view


def test_the_demo_preset_gives_its_four_echo_tables_and_a_summary():
    tables = tables_for(planted_sweep()[0])
    assert [t.name for t in tables] == [
        "igp_table9",
        "duvae_table1",
        "dgvae_yahoo",
        "arelbo_table3",
        "summary",
    ]
    summary = tables[-1].cells.set_index(["dataset", "row", "metric"])
    assert summary.loc[("synthetic_text", "BN-VAE", "kl"), "mean"] == 1.2
    assert summary.loc[("digits", "sigma_x^2 = 1", "mse"), "n"] == 2
    assert "paper" not in tables[-1].render("md")


def test_the_tables_say_how_au_and_cu_were_counted():
    runs = planted_sweep()[0]
    assert (
        "CU: KL(qbar(z_d) || p(z_d)) < tau (DG-VAE poster) (eval.cu_direction)" in summary_table(runs).notes
    )
    code = runs.assign(**{"eval.cu_direction": "p_qbar", "eval.au_strict": False})
    older = runs.drop(columns=["eval.cu_direction", "eval.au_strict"])  # logged before the options
    for frame in (code, older):
        notes = summary_table(frame).notes
        assert "CU: KL(p(z_d) || qbar(z_d)) < tau (DG-VAE code) (eval.cu_direction)" in notes
        assert "AU: activity >= 0.01 (He et al. code) (eval.au_strict)" in notes


def test_ordering_with_ties_and_flat_columns():
    runs = planted_sweep()[0]
    digits = runs[runs["dataset"] == "digits"].copy()
    digits.loc[digits["method"].isin(["igp", "c_vae"]), "kl"] = 5.0  # every row equal: no ordering
    ordering = build_table(TableView("igp_table9", "digits"), digits).ordering.set_index("metric")
    assert np.isnan(ordering.loc["kl", "tau"]) and ordering.loc["kl", "flipped"] == []


def test_tables_without_runs_say_what_is_missing():
    runs = planted_sweep()[0]
    digits_only = runs[runs["dataset"] == "digits"]
    empty = build_table("duvae_table1", digits_only[digits_only["method"] == "igp"])
    assert empty.status == "not run" and empty.notes[0] == "no runs on yahoo, yelp, omniglot"
    assert empty.render("md") == ""
    # a paper table run on one of its data sets with some methods
    base = resolve_config("vae", "yahoo").flatten()
    yahoo = typed(pd.DataFrame([run_row(base, {"nll": 330.0}, dataset="yahoo")]))
    partial = build_table("duvae_table1", yahoo)
    assert partial.status == "partial"
    assert partial.notes[0].startswith(
        "rows not run: beta-VAE (beta=0.4/0.4/0.8) (no runs); SA-VAE (no runs); Agg-VAE (no runs); FB"
    )
    assert "no runs on yelp, omniglot" in partial.notes
    cell = partial.cells[(partial.cells["row"] == "VAE") & (partial.cells["metric"] == "nll")].iloc[0]
    assert cell["diff"] == pytest.approx(1.5)


def test_every_output_format():
    table = build_table(TableView("igp_table9", "digits"), planted_sweep()[0])
    html = table.render("html")
    assert "<table>" in html and "<b>16.0 ± 0.0</b>" in html and 'colspan="2">Rec</th>' in html
    latex = table.render("latex")
    assert r"\textbf{16.0 $\pm$ 0.0}" in latex and r"\multicolumn{2}{c}{Rec}" in latex
    csv = table.render("csv")
    assert csv.splitlines()[0].startswith("dataset,dataset_order,paper_dataset,row,")
    wide = table.frame()
    assert wide.loc["DGP (C=5)", ("digits", "rec", "", "mean")] == 29.5
    assert wide.loc["DGP (C=5)", ("digits", "rec", "", "paper_mean")] == 60.04


@pytest.mark.parametrize(
    ("table", "method", "posterior", "hparams", "column", "value"),
    [
        ("duvae_table3", "du_vae", "diagonal", "gamma=0.5;p_drop=0.1", "posterior.keep_prob", 0.9),
        ("dgvae_yahoo", "fb", "diagonal", "lambda=4", "regulariser.free_bits", 4 / 32),
        ("duvae_tableS1", "bn_vae", "diagonal", "beta_mu=0.3", "posterior.bn_shift", 0.3),
        (
            "arelbo_table3",
            "ar_elbo",
            "diagonal",
            "variance=Iso-D",
            "likelihood.variance_parameterisation",
            "iso_d",
        ),
        (
            "arelbo_table1",
            "vae",
            "none",
            "log_sigma_x2=-0.3;encoding=deterministic",
            "likelihood.sigma_x2",
            10**-0.3,
        ),
        ("duvae_table1", "mae", "diagonal", "gamma=2;eta=0.2", "regulariser.mae_gamma", 2.0),
        ("igp_table10", "igp", "isotropic", "C=5;prior=MoIG", "prior.kind", "moig"),
    ],
)
def test_hparams_map_to_config_and_back(table, method, posterior, hparams, column, value):
    printed = parse_hparams(hparams)
    config = run_config_for(method, posterior, printed, table, resolve_config("vae", "yahoo").flatten())
    assert config[column] == pytest.approx(value) if isinstance(value, float) else config[column] == value
    assert row_matches(config, method, posterior, printed, {method: set(printed)}, table)


def test_the_dgvae_default_row_is_not_any_aggregation_size():
    config = run_config_for("dg_vae", "diagonal", {"b": "4"}, "dgvae_yahoo")
    printed = {"dg_vae": {"b"}}
    assert row_matches(config, "dg_vae", "diagonal", {"b": "4"}, printed, "dgvae_yahoo")
    assert not row_matches(config, "dg_vae", "diagonal", {}, printed, "dgvae_yahoo")
    default = run_config_for("dg_vae", "diagonal", {}, "dgvae_yahoo")
    assert row_matches(default, "dg_vae", "diagonal", {}, printed, "dgvae_yahoo")


def test_a_fixed_sigma_vae_is_the_papers_vae_only_where_the_table_prints_sigma():
    runs = planted_sweep()[0]
    runs.loc[runs["method"] == "vae", "mse"] = 9.0  # a Bernoulli VAE's MSE: not the paper's VAE row
    arelbo = build_table(TableView("arelbo_table3", "digits"), runs)
    assert "VAE (sigma_x2=1.0)" in set(arelbo.cells.loc[arelbo.cells["n"] > 0, "row"])
    fixed = runs[(runs["method"] == "fixed_sigma") & (runs["status"] == "FINISHED")]
    mse = arelbo.cells[
        (arelbo.cells["row"] == "VAE (sigma_x2=1.0)") & (arelbo.cells["metric"] == "mse")
    ].iloc[0]
    assert (mse["n"], mse["mean"]) == (
        len(fixed),
        pytest.approx(fixed["mse"].mean()),
    )  # not the Bernoulli VAE
    dgvae = build_table(TableView("dgvae_yahoo", "digits"), runs)
    vae = dgvae.cells[(dgvae.cells["row"] == "VAE") & (dgvae.cells["metric"] == "kl")].iloc[0]
    assert (vae["mean"], vae["n"]) == (0.3, 2)  # the digits VAE alone, not the sigma_x^2 = 1 model
    assert not dgvae.cells["row"].str.startswith("sigma_x^2").any()


REFERENCE_COLUMNS = [
    "paper",
    "table",
    "dataset",
    "method",
    "posterior",
    "hparams",
    "metric",
    "mean",
    "std",
    "note",
]


def test_packaged_reference_csvs_follow_their_readme():
    """Every packaged reference file has the README's columns, a unique row key, numbers that
    parse, and the paper and table its file name says."""
    packaged = resources.files("vaesweep.analysis") / "reference"
    names = sorted(item.name for item in packaged.iterdir() if item.name.endswith(".csv"))
    assert names == sorted(ref for experiment in EXPERIMENTS.values() for ref in experiment.reference)
    for name in names:
        with (packaged / name).open() as handle:
            frame = pd.read_csv(handle, dtype=str, keep_default_na=False)
        assert list(frame.columns) == REFERENCE_COLUMNS, name
        assert not frame.duplicated(REFERENCE_COLUMNS[:7]).any(), name
        assert pd.to_numeric(frame["mean"]).notna().all(), name
        assert (pd.to_numeric(frame["std"].replace("", None)).dropna() >= 0).all(), name
        paper, table = name.removesuffix(".csv").split("_table")
        assert set(frame["paper"]) == {paper} and set(frame["table"]) == {table.removeprefix("_")}, name


def test_a_new_preset_without_a_layout_gets_its_table_in_the_report():
    """A preset declared with no layout prints the plain layout: its table, then the summary."""
    plain = dataclasses.replace(
        EXPERIMENTS["duvae_tableS1"],
        name="bn_shift_rerun",
        title="BN shift, re-run",
        arms=(Arm("bn_vae", "BN, fixed shift", {"gamma": 0.6}, {"posterior.bn_shift": (0.1, 0.3)}),),
    )
    assert plain.layout == Experiment("x", "x", (), ()).layout
    base = resolve_config("bn_vae", "yahoo", {"gamma": 0.6}).flatten()
    runs = typed(
        pd.DataFrame(
            [
                run_row(
                    {**base, "posterior.bn_shift": shift},
                    {"nll": nll, "kl": 1.0},
                    dataset="yahoo",
                    preset=plain.name,
                )
                for shift, nll in ((0.1, 330.0), (0.3, 331.0))
            ]
        )
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(EXPERIMENTS, plain.name, plain)
        tables = tables_for(runs)
    assert [t.name for t in tables] == [plain.name, "summary"]
    table = tables[0]
    assert table.title == "BN shift, re-run" and table.blocks is None
    nll = table.cells[(table.cells["metric"] == "nll") & (table.cells["n"] > 0)].set_index("row")["mean"]
    assert nll.to_dict() == {"BN-VAE (beta_mu=0.1)": 330.0, "BN-VAE (beta_mu=0.3)": 331.0}
    assert "| BN-VAE (beta_mu=0.1) | **330.0** | 328.2 (+1.8) |" in table.render("md")


def test_every_table_reads_metric_names_the_platform_logs():
    for name in PAPER_TABLES:
        experiment = EXPERIMENTS[name]
        ref = reference_rows(experiment.reference)
        for metric, param in set(zip(ref["metric"], ref["param"], strict=True)):
            ours = experiment.metric_map.get(metric, metric).format(**parse_hparams(param))
            assert ours in schema.FINAL_METRICS, (name, ours)


def test_the_summary_rows_follow_the_preset_whatever_order_the_runs_started_in():
    """A pack's members start together: the summary must not order its rows by start time, or
    a packed sweep's report would differ from the same sweep's unpacked."""
    runs = planted_sweep()[0]
    runs["arm"] = runs["arm"].str.replace(".0)", ")")  # the labels the platform tags today
    reversed_start = runs.iloc[::-1].reset_index(drop=True)

    def rows(frame: pd.DataFrame) -> list[tuple[str, str]]:
        cells = tables_for(frame)[-1].cells
        return list(dict.fromkeys(zip(cells["dataset"], cells["row"], strict=True)))

    assert rows(reversed_start) == rows(runs)
    preset_arms = list(dict.fromkeys(t.arm for t in expand(EXPERIMENTS["demo"])))
    shown = [row for _, row in rows(runs)]
    assert [arm for arm in preset_arms if arm in shown] == list(dict.fromkeys(shown))
