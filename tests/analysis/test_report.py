"""Figures, and ``vaesweep report`` from a live MLflow server and from an export."""

from __future__ import annotations

import contextlib
import io
import re
import shutil
import subprocess
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

from tests.analysis.sweeps import planted_sweep, write_artifacts
from vaesweep import cli
from vaesweep.analysis import make_figures
from vaesweep.analysis.runs import MlflowSource

CHROMIUM = Path("/usr/bin/chromium")
DRAWN = {
    "igp_fig1_dimensions",
    "duvae_fig1_latent_space",
    "dgvae_fig4_aggregated_posterior",
    "training_curves",
    "arelbo_variances",
}


def test_figures_are_drawn_from_artifacts_or_skipped_with_a_note(tmp_path):
    runs, histories, artifacts = planted_sweep()
    for run_id, files in artifacts.items():
        write_artifacts(tmp_path / "artifacts" / run_id, files)

    def fetch(run_id: str, name: str) -> Path | None:
        path = tmp_path / "artifacts" / run_id / name
        return path if path.exists() else None

    plots = {p.name: p for p in make_figures(runs, histories, fetch, tmp_path / "figures")}
    assert {name for name, p in plots.items() if p.path is not None} == DRAWN
    assert (
        plots["duvae_fig2_parameters"].note == "skipped: needs du_vae runs at two or more (gamma, p) settings"
    )
    for name in DRAWN:
        assert plots[name].path.stat().st_size > 10_000
    # without artifacts and histories, every figure is skipped with its reason, none fails
    bare = make_figures(runs, histories.iloc[:0], lambda run_id, name: None, tmp_path / "bare")
    assert all(p.path is None and p.note.startswith("skipped: needs") for p in bare)


@pytest.fixture(scope="module")
def live_report(logged, tmp_path_factory):
    """``vaesweep report demo`` against the server: (exit status, stdout, report dir, uri, parent)."""
    uri, parent, *_ = logged
    out = tmp_path_factory.mktemp("report") / "demo"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        status = cli.main(["report", "demo", "--tracking-uri", uri, "--out", str(out)])
    return status, printed.getvalue(), out, uri, parent


def test_report_command_writes_prints_and_logs_the_report(live_report):
    status, printed, out, uri, parent = live_report
    assert status == 0
    assert printed.startswith("# vaesweep report: demo (sweep demo-sweep)")
    for heading in (
        "## IGP Table 9",
        "## DU-VAE Table 1",
        "## DG-VAE poster",
        "## AR-ELBO Table 3",
        "## Claims ledger",
    ):
        assert heading in printed
    assert "| DGP (C=5) | 29.00 | 60.04 ± 0.04 |" in printed  # the paper's CBT value, no difference
    assert "ordering of Rec on digits vs the paper's on cbt: Kendall's tau" in printed
    assert "| duvae_au_over_bn: " in printed and "| **fails** | -0.5 units" in printed
    assert re.search(r"claims: \d+ holds, \d+ fails, \d+ inconclusive, \d+ not run", printed)
    assert "diverged trial" in printed and "diverged: NaN loss" in printed  # the platform's word
    files = ("report.md", "report.html", "report.tex", "ledger.csv", "runs.csv", "tables/igp_table9.csv")
    for name in (*files, "tables/igp_table9_ordering.csv"):
        assert (out / name).stat().st_size > 0, name
    assert {p.stem for p in (out / "figures").glob("*.png")} == DRAWN
    assert "![IGP Fig. 1" in (out / "report.md").read_text()
    tex = (out / "report.tex").read_text()
    assert tex.count(r"\begin{") == tex.count(r"\end{") and tex.count("{") == tex.count("}")
    html = (out / "report.html").read_text()
    assert len(re.findall(r'src="data:image/png;base64,', html)) == len(DRAWN)
    logged_files = {a.path for a in MlflowSource("demo", uri).client.list_artifacts(parent, "report")}
    assert {"report/report.html", "report/report.md", "report/figures"} <= logged_files


def test_report_from_an_export_matches_the_live_one(live_report, exported, tmp_path, capsys):
    out = live_report[2]
    assert cli.main(["report", "--from-file", str(exported), "--out", str(tmp_path / "offline")]) == 0
    capsys.readouterr()
    live, offline = ((d / "report.md").read_text() for d in (out, tmp_path / "offline"))
    drop_source = re.compile(r"^- source: .*$", re.MULTILINE)
    assert drop_source.sub("", live) == drop_source.sub("", offline)
    assert {p.stem for p in (tmp_path / "offline" / "figures").glob("*.png")} == DRAWN


def test_report_command_explains_a_missing_preset_or_store(live_report, tmp_path, capsys):
    uri = live_report[3]
    assert cli.main(["report", "nothing-here", "--tracking-uri", uri]) == 2
    assert "no MLflow experiment or sweep named 'nothing-here'" in capsys.readouterr().err
    assert cli.main(["report", "demo", "--runs-dir", str(tmp_path)]) == 2
    assert f"no MLflow store in {tmp_path}: run a sweep first" in capsys.readouterr().err


@pytest.mark.skipif(
    not CHROMIUM.exists(), reason="headless Chromium not installed (apt-get install -y chromium)"
)
def test_report_html_opens_in_headless_chromium(live_report, tmp_path):
    out = live_report[2]
    shot = tmp_path / "report.png"
    command = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        f"--screenshot={shot}",
        "--window-size=1280,6000",
        (out / "report.html").as_uri(),
    ]
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    pixels = matplotlib.image.imread(shot)[..., :3]
    assert pixels.shape[:2] == (6000, 1280)
    ink = (pixels.min(axis=-1) < 0.5).mean()  # text, rules and plots
    colour = ((pixels.max(axis=-1) - pixels.min(axis=-1)) > 0.3).mean()  # only the figures have colour
    assert ink > 0.01 and colour > 0.002, (ink, colour)
    shutil.copy(shot, out.parent / "report-screenshot.png")  # kept beside the report as a test artifact
    assert np.unique(pixels.reshape(-1, 3), axis=0).shape[0] > 50
