"""The command line, run as a user would: a real subprocess, real output."""

import json
import subprocess
import sys

import pytest

from vaesweep.methods import METHODS


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "vaesweep.cli", *args], capture_output=True, text=True, timeout=600
    )


def test_train_json_prints_the_final_metrics_and_the_resolved_config():
    result = run(
        "train",
        "--method",
        "igp",
        "--dataset",
        "digits",
        "--epochs",
        "2",
        "--seed",
        "3",
        "--json",
        "--set",
        "C=5",
        "--set",
        "eval.nll_samples=20",
        "--set",
        "eval.probes=false",
    )
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    for key in ("rec", "kl", "elbo", "nll", "mi", "au", "cu", "latent_dim"):
        assert key in payload, key
    assert payload["config"]["regulariser"]["target_kl"] == 5.0
    assert payload["config"]["train"]["seed"] == 3
    assert payload["latent_dim"] == payload["config"]["model"]["latent_dim"]


def test_methods_lists_every_preset_with_axes_hyperparameters_and_ranges():
    result = run("methods", "--json")
    assert result.returncode == 0
    catalogue = {entry["method"]: entry for entry in json.loads(result.stdout)}
    assert set(catalogue) == set(METHODS)
    du = catalogue["du_vae"]
    assert du["axes"]["posterior.family"] == "du"
    assert du["hyperparameters"]["posterior.keep_prob"] == {"default": 0.8, "allowed": "> 0.0 and <= 1.0"}
    assert catalogue["bow_vae"]["data"] == ["text"] and catalogue["skip_vae"]["data"] == ["text"]
    assert catalogue["bow_vae"]["axes"]["regulariser.bow_weight"] == 1.0
    assert catalogue["bow_vae"]["hyperparameters"]["regulariser.bow_weight"]["default"] == 1.0
    assert catalogue["skip_vae"]["axes"]["model.decoder_skip"] is True
    assert catalogue["vae"]["axes"]["model.decoder_skip"] is False
    assert catalogue["agg_vae"]["axes"]["train.encoder_updates"] == "aggressive"
    assert catalogue["agg_vae"]["hyperparameters"]["train.aggressive_max_steps"]["default"] == 100
    assert catalogue["sa_vae"]["axes"]["posterior.refinement"] == "svi"
    assert catalogue["sa_vae"]["hyperparameters"]["posterior.refine_steps"]["default"] == 20
    assert catalogue["vae"]["axes"]["posterior.refinement"] == "none"
    fields = run("methods", "--fields")
    assert "regulariser.aggregation_size" in fields.stdout


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("train", "--method", "nope"), "method='nope' is invalid"),
        (("train", "--method", "du_vae", "--set", "p=0"), "posterior.keep_prob=0.0 is invalid"),
        (("train", "--method", "dg_vae", "--set", "b=5"), "regulariser.aggregation_size=5 is invalid"),
        (("train", "--method", "ar_elbo", "--dataset", "synthetic_text"), "likelihood.kind"),
        (("train", "--method", "bow_vae"), "regulariser.bow_weight=1.0 is invalid"),
        (("train", "--method", "skip_vae"), "model.decoder_skip=True is invalid"),
    ],
)
def test_bad_input_exits_2_with_one_line_naming_the_field(args, fragment):
    result = run(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0]


def test_set_takes_several_assignments_at_once_and_repeated():
    from vaesweep.cli import build_parser, resolved_overrides

    args = build_parser().parse_args(
        ["train", "--method", "du_vae", "--set", "gamma=1.0", "p=0.5", "--epochs", "3", "--set", "C=0"]
    )
    assert args.set == ["gamma=1.0", "p=0.5", "C=0"] and args.epochs == 3
    assert resolved_overrides(args) == {"gamma": "1.0", "p": "0.5", "C": "0", "train.epochs": 3}
