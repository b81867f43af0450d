"""Adding a regulariser is one file plus its registry line (tests/extending/toy_plugin.py):
the toy regulariser trains through ``fit``, sweeps on a real local Ray whose workers import it
from ``$VAESWEEP_PLUGINS``, and its rows reach the sweep's report table."""

from __future__ import annotations

import math
import re
import sys

import pytest
import torch
from mlflow.tracking import MlflowClient

from vaesweep.config import resolve_config
from vaesweep.errors import ConfigError
from vaesweep.methods import METHODS
from vaesweep.objectives.objective import Objective
from vaesweep.objectives.regularisers import REGULARISERS
from vaesweep.plugins import ENVIRONMENT_VARIABLE, load_plugins, worker_environment
from vaesweep.train import fit, load_trained

PLUGIN = "tests.extending.toy_plugin"
QUICK = {
    "eval.nll_samples": 10,
    "eval.cu_rounds": 5,
    "eval.cu_samples_per_round": 16,
    "eval.probes": False,
    "eval.max_examples": 64,
    "eval.smoothness": False,
    "data.max_train": 256,
}


@pytest.fixture(scope="module")
def toy_plugin():
    """The plugin named in $VAESWEEP_PLUGINS and imported as vaesweep would; removed afterwards
    so that no other test sees a toy method."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(ENVIRONMENT_VARIABLE, PLUGIN)
        load_plugins()
        yield sys.modules[PLUGIN]
    REGULARISERS.unregister("toy_mean_l2")
    METHODS.pop("toy_vae")
    sys.modules.pop(PLUGIN)


def test_the_plugin_registers_a_unit_whose_field_has_its_symbol(toy_plugin):
    assert REGULARISERS["toy_mean_l2"] is toy_plugin.MeanL2
    config = resolve_config("toy_vae", "digits", {"w_mu": 0.25})
    assert config.regulariser.kind == "toy_mean_l2" and config.regulariser.mu_weight == 0.25
    with pytest.raises(ConfigError) as caught:  # its range, from its declaration
        resolve_config("toy_vae", "digits", {"w_mu": -1})
    assert caught.value.field == "regulariser.mu_weight" and ">= 0.0" in str(caught.value)
    with pytest.raises(ConfigError) as caught:  # its field does nothing for another method
        resolve_config("vae", "digits", {"w_mu": 0.5})
    assert caught.value.field == "regulariser.mu_weight" and "toy_mean_l2" in str(caught.value)


@pytest.mark.parametrize(
    ("method", "overrides", "field", "allowed"),
    [
        ("toy_vae_typo", {}, "method", ("vae", "toy_vae")),
        ("vae", {"regulariser.kind": "toy_mean_l3"}, "regulariser.kind", ("kl", "toy_mean_l2")),
    ],
)
def test_an_unknown_name_is_refused_naming_the_allowed_ones_plugins_included(
    toy_plugin, method, overrides, field, allowed
):
    with pytest.raises(ConfigError) as caught:
        resolve_config(method, "digits", overrides)
    assert caught.value.field == field
    assert set(allowed) <= set(caught.value.allowed.removeprefix("one of ").split(", "))


def test_the_toy_parts_are_declared_metrics_and_an_unknown_metric_is_refused(toy_plugin):
    from vaesweep.metric_registry import is_declared, measured_every_epoch, metric_spec

    assert is_declared("train_toy_mu_l2") and measured_every_epoch("train_toy_mu_l2")
    assert "w_mu" in metric_spec("train_toy_mu_l2").description
    with pytest.raises(ConfigError) as caught:
        metric_spec("train_toy_mu_l3")
    assert "train_toy_mu_l2" in caught.value.allowed and "nll" in caught.value.allowed


def test_fit_logs_the_toy_parts_and_adds_them_to_the_loss(toy_plugin, tmp_path):
    config = resolve_config("toy_vae", "digits", {**QUICK, "epochs": 2, "w_mu": 0.5})
    reports = []
    fit(config, reports.append, checkpoint_dir=tmp_path)
    assert [r.epoch for r in reports] == [1, 2]
    for report in reports:
        m = report.metrics
        assert m["train_toy_mu_l2"] > 0 and m["train_toy_kl"] > 0
        # no KL schedule: loss = rec + toy_kl + toy_mu_l2, batch by batch, so also averaged
        assert m["train_loss"] == pytest.approx(
            m["train_rec"] + m["train_toy_kl"] + m["train_toy_mu_l2"], rel=1e-5
        )
    # the part is w_mu * E ||mu||^2, recomputed from the trained encoder
    config, model, data = load_trained(tmp_path)
    model.eval()
    x, lengths = next(data.train.batches(64))
    objective = Objective(config, steps_per_epoch=4, total_steps=8)
    with torch.no_grad():
        terms = objective(model(x, lengths), model, x, lengths, objective.values(8)).terms
        mean = model.encode(x, lengths).mean
    assert terms["toy_mu_l2"].item() == pytest.approx(0.5 * mean.pow(2).sum(-1).mean().item(), rel=1e-6)


def test_with_zero_weight_the_toy_vae_trains_bitwise_as_the_vae(toy_plugin, tmp_path):
    finals = {}
    for method in ("vae", "toy_vae"):
        finals[method] = fit(
            resolve_config(method, "digits", {**QUICK, "epochs": 2}), checkpoint_dir=tmp_path / method
        )
    for key in ("rec", "kl", "elbo", "nll", "mi", "au"):
        assert finals["vae"][key] == finals["toy_vae"][key] or math.isnan(finals["vae"][key]), key
    _, vae, _ = load_trained(tmp_path / "vae")
    _, toy, _ = load_trained(tmp_path / "toy_vae")
    for (name, a), b in zip(vae.state_dict().items(), toy.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_the_workers_get_the_plugin_list_and_a_path_to_it(toy_plugin, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    found = worker_environment()
    repository = str(toy_plugin.__file__).rsplit("/tests/", 1)[0]
    assert found == {ENVIRONMENT_VARIABLE: PLUGIN, "PYTHONPATH": f"{repository}:/elsewhere"}
    monkeypatch.delenv(ENVIRONMENT_VARIABLE)
    assert worker_environment() == {}


@pytest.fixture
def tracking_server(tmp_path_factory):
    from vaesweep.platform.server import TrackingServer

    server = TrackingServer(tmp_path_factory.mktemp("mlflow"))
    server.start()
    yield server
    server.stop()


@pytest.mark.slow
def test_a_grid_over_the_toy_method_runs_on_ray_workers_and_reaches_the_report(
    toy_plugin, tracking_server, tmp_path, monkeypatch
):
    import ray

    from tests.platform.support import children, sweep
    from vaesweep.platform.results import report_lines
    from vaesweep.search_spaces.definitions import Arm, Experiment

    assert not ray.is_initialized()  # the sweep starts Ray itself (connect_ray), with the plugin
    # Workers start in the driver's directory with its PYTHONPATH: neither finds tests/ here,
    # so a worker imports the plugin only through the path connect_ray hands it.
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PYTHONPATH", raising=False)
    grid = Experiment(
        "toy_grid",
        "the toy regulariser at two weights",
        ("digits",),
        (Arm("toy_vae", "Toy-VAE", grid={"w_mu": (0.0, 0.5)}),),
        seeds=(0,),
    )
    outcome, progress = sweep(grid, tmp_path, tracking_server.uri)
    assert not ray.is_initialized()
    assert outcome.status == "FINISHED", progress
    runs = children(tracking_server.uri, outcome)
    assert sorted(r.data.tags["arm"] for r in runs) == ["Toy-VAE (mu_weight=0)", "Toy-VAE (mu_weight=0.5)"]
    assert all(r.data.tags["status"] == "finished" for r in runs), progress
    client = MlflowClient(tracking_server.uri)
    for run in runs:
        weight = float(run.data.params["regulariser.mu_weight"])
        history = client.get_metric_history(run.info.run_id, "train_toy_mu_l2")
        assert sorted(m.step for m in history) == [1, 2]
        assert all((m.value > 0) == (weight > 0) for m in history)
    table = "\n".join(report_lines(outcome))
    rows = [line.split() for line in table.splitlines() if re.search(r"^\S*\s+Toy-VAE \(mu_weight=", line)]
    # finished, stopped (by a scheduler), failed, then the objective
    assert [row[-5:-1] for row in rows] == [
        ["(mu_weight=0)", "1", "0", "0"],
        ["(mu_weight=0.5)", "1", "0", "0"],
    ], table
    assert all(math.isfinite(float(row[-1])) for row in rows)  # the objective, nll
    assert "vaesweep train --method toy_vae" in table


def test_a_plugin_that_cannot_be_imported_stops_the_cli_naming_it(monkeypatch, capsys):
    from vaesweep import cli

    monkeypatch.setenv(ENVIRONMENT_VARIABLE, "tests.extending.no_such_plugin")
    assert cli.main(["methods"]) == 2
    error = capsys.readouterr().err
    assert "VAESWEEP_PLUGINS='tests.extending.no_such_plugin'" in error and "No module named" in error


def test_the_cli_lists_a_plugin_method(toy_plugin, capsys):
    from vaesweep import cli

    assert cli.main(["methods"]) == 0
    assert "toy_vae" in capsys.readouterr().out


def test_a_workers_config_error_reaches_the_driver_whole():
    """Ray pickles a trial's exception: a plugin a worker cannot import must still read as a
    ConfigError naming it, not as a TypeError from rebuilding the error."""
    import pickle

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(ENVIRONMENT_VARIABLE, "tests.extending.no_such_plugin")
        with pytest.raises(ConfigError) as caught:
            load_plugins()
    copy = pickle.loads(pickle.dumps(caught.value))
    assert (copy.field, copy.value, str(copy)) == (
        ENVIRONMENT_VARIABLE,
        caught.value.value,
        str(caught.value),
    )
