"""The metric registry: every metric a run logs is declared, and the readers derive from it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from vaesweep import metric_registry as registry
from vaesweep.analysis import schema
from vaesweep.analysis.reference import parse_hparams, reference_rows
from vaesweep.config import resolve_config
from vaesweep.errors import ConfigError
from vaesweep.platform.plan import SweepOptions, plan_sweep
from vaesweep.search_spaces.presets import EXPERIMENTS
from vaesweep.train import fit
from vaesweep.trainables import epoch_objective

# Every evaluation option on, each sized to seconds; validation measures everything it can.
EVERYTHING = {
    "epochs": 2,
    "data.max_train": 128,
    "train.valid_metrics": "all",
    "eval.max_examples": 32,
    "eval.nll_samples": 4,
    "eval.cu_rounds": 2,
    "eval.cu_samples_per_round": 8,
    "eval.probe_restarts": 1,
    "eval.probe_epochs": 1,
    "eval.label_budget_probes": True,
    "eval.label_budgets": (10, 50),
    "eval.few_shot_probes": True,
    "eval.few_shot_percents": (10.0,),
    "eval.per_character_probes": True,
}
IMAGES = {
    "eval.fid": True,
    "eval.fid_samples": 32,
    "eval.fid_gmm_components": (2,),
    "eval.fid_second_stage_hidden": (8,),
    "eval.fid_second_stage_epochs": 1,
}
TEXT = {
    "eval.language_model": True,
    "eval.lm_generated": 32,
    "eval.lm_epochs": 1,
    "eval.lm_embed_dim": 8,
    "eval.lm_hidden": 8,
    "eval.agreement": True,
    "eval.classifier_embed_dim": 8,
    "eval.classifier_hidden": 8,
    "eval.classifier_epochs": 1,
}


@pytest.mark.parametrize(
    ("method", "dataset", "options", "shown"),
    [
        ("c_vae", "digits", {}, {"target_kl", "probe_mlp", "accuracy_labels_10", "accuracy_percent_10"}),
        ("ar_elbo", "digits", IMAGES, {"sigma_x2", "expected_gap_1e-3", "fid_gmm2", "fid_interp_random"}),
        ("vae", "synthetic_text", TEXT, {"bleu4", "reverse_ppl", "robust_accuracy", "accuracy_labels_50"}),
        ("agg_vae", "digits", {}, {"aggressive", "encoder_steps", "decoder_steps", "seconds_per_epoch"}),
    ],
)
def test_every_metric_a_run_logs_is_declared(method, dataset, options, shown, stand_in_network, one_thread):
    """Short fits with every evaluation option on: what comes back, per epoch and at the end,
    is what the registry declares (``shown``: some of what each option adds, so it did run)."""
    if options is IMAGES:
        options = {**options, "eval.fid_network": stand_in_network}
    reports = []
    final = fit(resolve_config(method, dataset, {**EVERYTHING, **options}), reports.append)
    per_epoch = reports[-1].metrics
    assert shown <= set(final) | set(per_epoch)
    assert {"valid_nll", "valid_cu_0.03", "valid_probe_linear"} <= set(per_epoch)  # validation measured all
    for name in per_epoch:
        assert registry.metric_spec(name).scope == registry.EPOCH, name
    for name in final:
        assert registry.metric_spec(name).scope == registry.FINAL, name


def test_the_schema_is_the_registry_at_the_default_configuration():
    assert "valid_elbo" in schema.EPOCH_METRICS and "train_loss" in schema.EPOCH_METRICS
    assert "valid_nll" not in schema.EPOCH_METRICS  # only with train.valid_metrics=all
    config = resolve_config("vae", "digits")
    assert {f"accuracy_percent_{p:g}" for p in config.eval.few_shot_percents} <= set(schema.FINAL_METRICS)
    assert {f"cu_{t:g}" for t in config.eval.cu_thresholds} <= set(schema.FINAL_METRICS)
    assert {"expected_gap_1e-2", "fid_gmm100", "accuracy_labels_10000"} <= set(schema.FINAL_METRICS)
    assert all(registry.is_declared(name) for name in schema.EPOCH_METRICS + schema.FINAL_METRICS)


def test_every_declaration_is_complete_and_names_a_producer_that_exists():
    for spec in registry.DECLARED:
        assert spec.label and spec.description and spec.direction in registry.DIRECTIONS, spec.name
        assert spec.scope in (registry.EPOCH, registry.FINAL), spec.name
        assert spec.validation in (registry.ALWAYS, registry.WITH_ALL, registry.NEVER), spec.name
        assert callable(registry.resolve(spec.producer)), spec.producer
        if spec.epoch_estimate:
            assert callable(registry.resolve(spec.epoch_estimate)), spec.epoch_estimate
        if spec.parameter is not None:
            assert spec.default_names() and all(spec.match(n) is not None for n in spec.default_names())


def test_every_preset_reads_declared_metrics():
    for experiment in EXPERIMENTS.values():
        names = list(experiment.metrics) + [m for view in experiment.tables for m in view.extra_metrics]
        if experiment.reference:
            ref = reference_rows(experiment.reference)
            names += [
                experiment.metric_map.get(metric, metric).format(**parse_hparams(param))
                for metric, param in zip(ref["metric"], ref["param"], strict=True)
            ]
        for name in names:
            ours = experiment.metric_map.get(name, name)
            assert registry.is_declared(ours) or "{" in ours, (experiment.name, name)
        assert registry.metric_spec(experiment.objective[0]).direction == experiment.objective[1]


def test_family_members_and_validation_names_resolve_to_their_declaration():
    assert registry.label("expected_gap_1e-2") == "gap(1e-2)"
    assert registry.label("accuracy_labels_100") == "Acc (100 labels)"
    assert registry.label("accuracy") == "Acc" and registry.direction("accuracy") == "max"
    assert registry.direction("kl") == "none" and registry.direction("nll") == "min"
    assert registry.metric_spec("valid_cu_0.03").scope == registry.EPOCH
    assert not registry.is_declared("valid_fid_prior")  # protocols never run on validation
    assert not registry.is_declared("cu_tau") and not registry.is_declared("accuracy_labels_")
    assert (
        registry.CU_AT.named(0.03) == "cu_0.03"
        and registry.ACCURACY_PERCENT.named(10.0) == "accuracy_percent_10"
    )


def test_the_per_epoch_objective_is_the_declared_stand_in():
    metrics = {"train_loss": 9.0, "valid_rec": 3.0, "valid_kl": 2.0, "valid_elbo": -5.0}
    assert epoch_objective(metrics, "rec") == 3.0  # the validation value
    assert epoch_objective(metrics, "nll") == 5.0  # nll's declared stand-in: -ELBO on validation
    assert epoch_objective({"valid_rec": 4.0}, "nll") == 4.0  # an AE: its reconstruction loss
    assert epoch_objective(metrics, "train_loss") == 9.0
    assert registry.measured_every_epoch("nll") and not registry.measured_every_epoch("bleu2")


def test_an_unknown_metric_is_refused_where_a_user_names_one(tmp_path):
    with pytest.raises(ConfigError) as caught:
        plan_sweep(SweepOptions("demo", metric="nll_typo", mode="min", runs_dir=str(tmp_path)))
    assert caught.value.field == "--metric" and "prior_ll" in caught.value.allowed
    with pytest.raises(ConfigError) as caught:
        plan_sweep(SweepOptions("demo", metric="bleu2", mode="max", scheduler="asha", runs_dir=str(tmp_path)))
    assert caught.value.field == "--metric" and "every epoch" in caught.value.allowed


def test_the_registry_imports_without_torch():
    code = "import sys, vaesweep.metric_registry, vaesweep.analysis.schema; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
