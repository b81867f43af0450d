"""The done-criterion of "your own data": a corpus the project has never seen goes from
``vaesweep data add`` to a sweep and a report with no other step, every step a real command
(real local Ray, whose workers read the same cache; a real local ``mlflow server``)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

TINY = [
    "train.epochs=2",
    "eval.nll_samples=10",
    "eval.cu_rounds=5",
    "eval.probes=false",
    "eval.smoothness=false",
]
SUBJECTS = {
    0: ["the river", "a storm", "the valley", "rain"],
    1: ["the market", "shares", "a bank", "prices"],
}
VERBS = {
    0: ["floods", "rises over", "soaks", "drifts across"],
    1: ["falls", "climbs past", "trades near", "beats"],
}


def forecast_corpus(count: int = 240, seed: int = 0) -> str:
    """'label<TAB>sentence' lines of two topics (weather 0, markets 1), from a tiny grammar."""
    rng = np.random.default_rng(seed)
    lines = []
    for _ in range(count):
        topic = int(rng.integers(2))
        words = [rng.choice(SUBJECTS[topic]), rng.choice(VERBS[topic]), rng.choice(SUBJECTS[topic])]
        lines.append(f"{topic}\t{' '.join(words)} .")
    return "\n".join(lines) + "\n"


def vaesweep(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "vaesweep.cli", *args], capture_output=True, text=True, timeout=600, env=env
    )
    assert result.returncode == 0, f"vaesweep {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.mark.slow
def test_a_new_corpus_goes_from_data_add_to_a_sweep_and_a_report(tmp_path):
    env = {
        **os.environ,
        "VAESWEEP_DATA": str(tmp_path / "cache"),
        "VAESWEEP_RUNS_DIR": str(tmp_path / "runs"),
    }
    env.pop("MLFLOW_TRACKING_URI", None)
    corpus = tmp_path / "forecasts.txt"
    corpus.write_text(forecast_corpus())

    added = vaesweep("data", "add", "forecasts", "--kind", "text", "--from", str(corpus), env=env).stdout
    assert "text: 192/24/24 sentences" in added and "2 classes" in added
    assert "profile: lstm 64/128, z 16" in added
    listed = vaesweep("data", "list", env=env).stdout
    assert "forecasts      added" in listed and "He et al. SGD protocol" in listed

    # IGP Table 7 moved to the new corpus: DGP and IGP at C = 5, then the Base IGP and the DGP
    # that starts from it (a second stage): four trials on a local Ray
    sweep = vaesweep("sweep", "igp_table7", "--dataset", "forecasts", "--seeds", "1", "--set", *TINY, env=env)
    assert "FINISHED" in sweep.stdout and "finished  C = 5, IGP | forecasts | seed 0" in sweep.stderr

    report = vaesweep("report", "igp_table7", "--out", str(tmp_path / "report"), env=env).stdout
    assert "## IGP Table 7" in report and "Run on forecasts" in report
    ledger = [line for line in report.splitlines() if line.startswith("| igp_au_full: ")]
    assert len(ledger) == 1 and "| forecasts |" in ledger[0]
    assert "**holds**" in ledger[0] or "**fails**" in ledger[0]
    assert (tmp_path / "report" / "report.md").exists()

    vaesweep("export", "igp_table7", "--out", str(tmp_path / "runs.parquet"), env=env)
    runs = pd.read_parquet(tmp_path / "runs.parquet")
    assert len(runs) == 4 and set(runs["status"]) == {"FINISHED"} and set(runs["dataset"]) == {"forecasts"}
    # the trials ran with the profile chosen at `data add` (LSTM 64/128, z 16, He et al. SGD)
    assert set(runs["model.embed_dim"]) == {64} and set(runs["model.lstm_hidden"]) == {128}
    assert set(runs["model.latent_dim"]) == {16} and set(runs["optim.name"]) == {"sgd"}
    assert runs["nll"].notna().all() and (runs["au"] <= 16).all()
