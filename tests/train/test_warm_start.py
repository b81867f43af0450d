"""Staged trials (IGP Table 7): the second stage starts from the first stage's final model under
the declared mapping, and a mapping that cannot carry one model to the other is refused."""

from __future__ import annotations

import pytest
import torch

from vaesweep.config import resolve_config
from vaesweep.errors import ConfigError
from vaesweep.train import Trainer, evaluated_state, fit
from vaesweep.warm_start import WarmStart, check_mapping, mapped_state

QUICK = {"eval.nll_samples": 10, "eval.cu_rounds": 5, "eval.probes": False, "eval.smoothness": False}
BASE = {**QUICK, "C": 5.0, "epochs": 2, "data.max_train": 256}


@pytest.fixture(scope="module")
def base_checkpoint(tmp_path_factory):
    """An IGP trained two epochs: the first stage's final checkpoint."""
    directory = tmp_path_factory.mktemp("base")
    fit(resolve_config("igp", "digits", BASE), checkpoint_dir=directory)
    return directory / "checkpoint.pt"


def test_the_second_stage_starts_from_the_first_stages_final_model_untied(base_checkpoint):
    payload = torch.load(base_checkpoint, weights_only=False)
    base = payload["model"]
    config = resolve_config("c_vae", "digits", BASE)
    trainer = Trainer(config)
    fresh = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.warm_start(WarmStart(base_checkpoint, "untie_variances"))
    started = trainer.model.state_dict()
    assert base["head.logvar.weight"].shape[0] == 1 and started["head.logvar.weight"].shape[0] == 16
    for key, value in started.items():
        if key.startswith("head.logvar."):  # the one unit copied to every dimension
            assert torch.equal(value, base[key].expand_as(value)), key
        else:
            assert torch.equal(value, base[key]), key
        assert not torch.equal(value, fresh[key]), key  # nothing kept of the new model's own start
    # the untied model starts out computing the base model's posterior
    x = trainer.dataset.valid.x[:32]
    igp_trainer = Trainer(resolve_config("igp", "digits", BASE))
    igp_trainer.model.load_state_dict(base)
    trainer.model.eval()
    igp_trainer.model.eval()
    with torch.no_grad():
        untied, tied = trainer.model.encode(x), igp_trainer.model.encode(x)
    assert torch.equal(untied.mean, tied.mean)
    assert torch.allclose(untied.logvar, tied.logvar, rtol=0, atol=1e-6)  # a [16, H] product, not [1, H]
    # nothing but the model carries over: the optimiser and the progress start afresh
    assert trainer.state.step == 0 and trainer.state.epoch == 0 and not trainer.optimiser.state


def test_fit_starts_from_the_warm_start_and_a_resumed_run_from_its_own_checkpoint(base_checkpoint, tmp_path):
    config = resolve_config("c_vae", "digits", {**BASE, "epochs": 1})
    start = WarmStart(base_checkpoint, "untie_variances")
    warm = fit(config, checkpoint_dir=tmp_path / "warm", warm_start=start)
    cold = fit(config)
    assert warm["rec"] != cold["rec"]  # the warm start is used ...
    again = fit(config, warm_start=start)
    assert again["rec"] == warm["rec"]  # ... deterministically
    # a run resumed from its own final checkpoint ignores the warm start
    resumed = fit(config, checkpoint_dir=tmp_path / "warm", resume_from=tmp_path / "warm", warm_start=start)
    ours = torch.load(tmp_path / "warm" / "checkpoint.pt", weights_only=False)["model"]
    assert resumed["rec"] == warm["rec"] and ours["head.logvar.weight"].shape[0] == 16


def test_the_evaluated_model_is_the_best_one_under_an_lr_schedule(base_checkpoint):
    payload = torch.load(base_checkpoint, weights_only=False)
    assert evaluated_state(payload) is payload["model"]  # no lr schedule: the last model
    best = {k: v + 1 for k, v in payload["model"].items()}
    scheduled = {**payload, "best_model": best}
    scheduled["config"] = {**payload["config"], "optim": {**payload["config"]["optim"], "decay_patience": 2}}
    assert evaluated_state(scheduled) is best


def test_a_mapping_that_cannot_carry_the_model_is_refused():
    igp = resolve_config("igp", "digits", {"C": 5.0})
    dgp = resolve_config("c_vae", "digits", {"C": 5.0})
    check_mapping("untie_variances", igp, dgp)
    check_mapping("same", igp, igp)
    with pytest.raises(ConfigError, match="untie_variances maps an isotropic posterior"):
        check_mapping("untie_variances", dgp, igp)
    with pytest.raises(ConfigError, match="a mapping from a isotropic posterior to a diagonal one"):
        check_mapping("same", igp, dgp)
    with pytest.raises(ConfigError) as caught:
        check_mapping("untie_variances", igp, resolve_config("c_vae", "digits", {"latent_dim": 8}))
    assert caught.value.field == "model.latent_dim"
    with pytest.raises(ConfigError) as caught:
        check_mapping("copy_everything", igp, dgp)
    assert caught.value.field == "start_from.mapping"
    source = {"head.mean.weight": torch.zeros(4, 3)}
    with pytest.raises(ValueError, match=r"head\.mean\.weight has shape"):
        mapped_state("untie_variances", source, {"head.mean.weight": torch.zeros(5, 3)})
