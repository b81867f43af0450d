"""load_runs / load_histories against a live MLflow server, and export -> offline load."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.analysis.sweeps import FAILURE
from vaesweep.analysis import export_runs, load_histories, load_runs, select_sweeps
from vaesweep.analysis.runs import AnalysisError, typed


@pytest.fixture(scope="module")
def live(logged):
    """The logged sweep read back once: (uri, parent, planted runs, loaded runs, loaded histories)."""
    uri, parent, planted_runs, _, _ = logged
    return (
        uri,
        parent,
        planted_runs,
        load_runs("demo", tracking_uri=uri),
        load_histories("demo", tracking_uri=uri),
    )


def test_load_runs_gives_one_typed_row_per_trial(live):
    _, parent, planted_runs, runs, _ = live
    assert len(runs) == len(planted_runs) == 16
    assert set(runs["parent_run_id"]) == {parent} and set(runs["sweep"]) == {"demo-sweep"}
    assert runs["status"].value_counts().to_dict() == {"FINISHED": 15, "FAILED": 1}
    failed = runs[runs["status"] == "FAILED"].iloc[0]
    assert failed["failure_reason"] == FAILURE and failed["trial_status"] == "diverged"
    # config parameters come back as numbers and booleans, metrics as floats
    assert runs["regulariser.target_kl"].dtype == "float64"
    assert runs["model.latent_dim"].dtype == "int64"
    assert runs["eval.probes"].dtype == bool
    assert runs["model.hidden_sizes"].iloc[0] == "(128, 128)"
    assert runs["seed"].dtype == "Int64"
    igp = runs[(runs["method"] == "igp") & (runs["regulariser.target_kl"] == 15.0)]
    assert igp["rec"].tolist() == [26.0] and igp["arm"].tolist() == ["IGP (target_kl=15.0)"]
    assert set(runs["preset"]) == {"demo"} and set(runs["git_commit"]) == {"abc1234"}
    # everything the platform logged is there, typed as the planted frame was
    shared = [c for c in planted_runs.columns if c not in ("run_id", "parent_run_id", "sweep", "experiment")]
    columns = [c for c in shared if not c.endswith("_time")]
    key = ["arm", "seed", "status"]
    expected = planted_runs[columns].sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(runs[columns].sort_values(key).reset_index(drop=True), expected)


def test_load_histories_gives_the_per_epoch_values(live):
    _, _, _, runs, histories = live
    assert list(histories.columns) == ["run_id", "step", "metric", "value"]
    run = runs.loc[runs["method"] == "ar_elbo", "run_id"].iloc[0]
    sigma = histories[(histories["run_id"] == run) & (histories["metric"] == "valid_sigma_x2")]
    assert sigma["step"].tolist() == [1, 2, 3]
    assert sigma["value"].tolist() == pytest.approx([0.04, 0.03, 0.02])
    assert set(histories["metric"]) == {
        "valid_rec",
        "valid_kl",
        "valid_au",
        "valid_sigma_x2",
        "valid_sigma_z2",
    }


def test_a_sweep_is_found_by_its_parent_run_id_or_name(live):
    uri, parent, _, runs, _ = live
    assert len(load_runs(parent_run_id=parent, tracking_uri=uri)) == len(runs)
    assert len(load_runs("demo-sweep", tracking_uri=uri)) == len(runs)
    with pytest.raises(AnalysisError, match="no-such-preset"):
        load_runs("no-such-preset", tracking_uri=uri)


def test_export_to_a_directory_then_offline_load_gives_the_same_frames(live, logged, exported):
    _, _, _, runs, histories = live
    pd.testing.assert_frame_equal(load_runs(from_file=exported), runs)
    pd.testing.assert_frame_equal(load_histories(from_file=exported), histories)
    expected = sorted(name for files in logged[4].values() for name in files)  # the plot artifacts
    assert sorted(p.name for p in (exported / "artifacts").glob("*/*")) == expected


def test_export_to_a_csv_file_then_offline_load_gives_the_same_frames(live, tmp_path):
    uri, _, _, runs, histories = live
    path = export_runs("demo", tmp_path / "demo.csv", tracking_uri=uri)
    assert (tmp_path / "demo.histories.csv").exists()
    pd.testing.assert_frame_equal(load_runs(from_file=path), runs)
    pd.testing.assert_frame_equal(load_histories(from_file=path), histories)


def test_latest_sweep_is_chosen_for_a_preset(planted):
    runs = planted[0]
    older = runs.assign(
        parent_run_id="o" * 32, sweep="older", sweep_start_time=-1, run_id=runs["run_id"] + "x"
    )
    both = typed(pd.concat([older, runs]))
    assert len(select_sweeps(both, "demo")) == len(runs)
    assert set(select_sweeps(both, "demo")["sweep"]) == {"sweep"}
    assert len(select_sweeps(both, "demo", all_sweeps=True)) == 2 * len(runs)
    assert set(select_sweeps(both, "older")["sweep"]) == {"older"}
