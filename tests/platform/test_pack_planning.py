"""Planning packs (``--pack auto|K|off``): which trials share a Tune trial, and how many."""

from __future__ import annotations

import pytest

from vaesweep.errors import ConfigError
from vaesweep.packing.signature import signature
from vaesweep.platform import packs
from vaesweep.platform.packs import PackPolicy, pack_units
from vaesweep.platform.plan import SweepOptions, plan_sweep
from vaesweep.platform.stages import plan_stages
from vaesweep.search_spaces.definitions import Arm, Experiment, expand
from vaesweep.search_spaces.grids import method_experiment

NO_SERVER = "http://127.0.0.1:1"  # planning never contacts it


def _plan(tmp_path, target="du_vae", **options):
    return plan_sweep(SweepOptions(target, storage=str(tmp_path), tracking_uri=NO_SERVER, **options))


def test_twenty_trials_of_du_vae_on_two_slots_form_two_packs_of_ten():
    """DU-VAE's grid is one signature: p = 1 (no variance dropout) packs with p < 1, its members
    drawing no mask (vaesweep.packing.noise.keep_mask)."""
    trials = expand(method_experiment("du_vae", "digits"), seeds=(1,))
    assert {t.config().posterior.keep_prob for t in trials} == {1.0, 0.9, 0.8, 0.7, 0.6}
    units = pack_units(trials, PackPolicy(None, slots=2, on_gpu=False))
    assert sorted(t for unit in units for t in (x.arm for x in unit)) == sorted(t.arm for t in trials)
    assert len({signature(t.config()) for t in trials}) == 1
    assert [len(unit) for unit in units] == [10, 10]


def _two_signatures(first: int, second: int) -> list:
    """``first`` VAE trials with 8 latent units, then ``second`` with 16 (two signatures)."""
    arms = (
        Arm("vae", "VAE z8", settings={"model.latent_dim": 8}, datasets=("digits",)),
        Arm("c_vae", "C-VAE", grid={"C": tuple(range(1, second // first + 1))}),
    )
    trials = expand(Experiment("two", "two signatures", ("digits",), arms, seeds=tuple(range(first))))
    signatures = [{signature(t.config()) for t in trials if t.arm.startswith(a)} for a in ("VAE", "C-")]
    assert [len(s) for s in signatures] == [1, 1] and signatures[0] != signatures[1]
    return trials


def test_auto_sizes_packs_so_that_the_slots_finish_together():
    """100 trials of two signatures (20 and 80) on 2 slots: packs of 27 end the grid sooner than
    packs of 40 (20 | 40 then 40 on one slot), by the planner's own model of a Tune trial's time;
    and 4 and 16 form packs of 4, 5, 5 and 6 rather than 4, 8 and 8, whose last pack would run
    with the other slot idle."""
    trials = _two_signatures(20, 80)
    policy = PackPolicy(None, slots=2, on_gpu=False)
    units = pack_units(trials, policy)
    assert sorted(len(u) for u in units) == [20, 26, 27, 27]
    forty = pack_units(trials, PackPolicy(40, slots=2, on_gpu=False))
    assert sorted(len(u) for u in forty) == [20, 40, 40]
    assert packs._finish_time(units, 2) < packs._finish_time(forty, 2)
    assert sorted(len(u) for u in pack_units(_two_signatures(4, 16), policy)) == [4, 5, 5, 6]


def test_pack_k_caps_members_and_off_runs_every_trial_alone():
    trials = expand(method_experiment("du_vae", "digits"), seeds=(1,))
    assert {len(u) for u in pack_units(trials, PackPolicy(3, slots=2, on_gpu=False))} <= {1, 2, 3}
    assert max(len(u) for u in pack_units(trials, PackPolicy(64, slots=2, on_gpu=False))) == 20
    assert pack_units(trials, None) == [(t,) for t in trials]


def test_unpackable_staged_and_cpu_text_trials_run_alone():
    wide = {"model.lstm_hidden": packs.AUTO_TEXT_MAX_HIDDEN + 1}  # e.g. Yahoo's LSTM-1024
    experiment = Experiment(
        "mixed",
        "packable, unpackable and text trials",
        ("digits", "synthetic_text"),
        (
            Arm("vae", "VAE", datasets=("digits",)),
            Arm("rae_gp", "RAE-GP", datasets=("digits",)),  # the gradient penalty: a double backward
            Arm("vae", "text VAE", datasets=("synthetic_text",)),
            Arm("vae", "wide text VAE", settings=wide, datasets=("synthetic_text",)),
        ),
        seeds=(0, 1, 2, 3),
    )
    trials = expand(experiment)
    auto = pack_units(trials, PackPolicy(None, slots=1, on_gpu=False))
    sizes = {unit[0].arm: len(unit) for unit in auto}
    assert sizes == {"VAE": 4, "RAE-GP": 1, "text VAE": 1, "wide text VAE": 1}
    assert sum(1 for unit in auto if unit[0].arm == "RAE-GP") == 4
    assert sum(1 for unit in auto if unit[0].arm == "text VAE") == 4  # CPU: alone under auto
    on_gpu = pack_units(trials, PackPolicy(None, slots=1, on_gpu=True))
    on_gpu_sizes = [(unit[0].arm, len(unit)) for unit in on_gpu if "text" in unit[0].arm]
    # a GPU packs a narrow LSTM's text trials; a wide LSTM's run alone (cuDNN's kernel is faster)
    assert sorted(on_gpu_sizes) == [("text VAE", 4)] + [("wide text VAE", 1)] * 4
    asked = pack_units(trials, PackPolicy(4, slots=1, on_gpu=False))
    asked_sizes = {unit[0].arm: len(unit) for unit in asked}
    assert asked_sizes["text VAE"] == asked_sizes["wide text VAE"] == 4  # --pack K: as asked


def test_staged_trials_run_alone(tmp_path):
    plan = _plan(tmp_path, "igp_table7", dataset="digits", seeds=(0, 1))
    first, second = plan_stages(plan)[:2]
    assert any(len(unit) > 1 for unit in pack_units(first.trials, plan.packing))
    assert all(len(unit) == 1 for unit in pack_units(second.trials, plan.packing))


def test_plan_packs_grids_and_optuna_by_default_and_leaves_off_unpacked(tmp_path):
    assert _plan(tmp_path).packing is not None
    assert _plan(tmp_path, pack="off").packing is None
    assert _plan(tmp_path, pack="5").packing.max_members == 5
    assert _plan(tmp_path, search="optuna").packing is not None  # asked for a pack at once
    assert _plan(tmp_path, scheduler="asha").packing is not None  # ASHA applies per member
    assert _plan(tmp_path, max_concurrent=1).packing.slots == 1


@pytest.mark.parametrize("value", ["0", "-2", "many", "1.5", ""])
def test_a_bad_pack_value_is_a_config_error_naming_the_allowed_ones(tmp_path, value):
    with pytest.raises(ConfigError) as error:
        _plan(tmp_path, pack=value)
    assert error.value.field == "--pack" and "auto, off" in str(error.value)


def test_auto_packs_no_more_members_than_a_slots_memory_holds():
    from vaesweep.packing.memory import PACKABLE_FRACTION, member_bytes

    trials = expand(method_experiment("du_vae", "digits"), seeds=(1,))
    each = member_bytes(trials[0].config())
    roomy = pack_units(trials, PackPolicy(None, slots=2, on_gpu=False))
    tight = pack_units(
        trials, PackPolicy(None, slots=2, on_gpu=False, memory=int(3.5 * each / PACKABLE_FRACTION))
    )
    assert max(len(u) for u in roomy) > 3 and max(len(u) for u in tight) == 3
    assert sorted(t.arm for u in tight for t in u) == sorted(t.arm for t in trials)
    measured = packs.pack_policy("auto", cpus_per_trial=1, gpus_per_trial=0, max_concurrent=None)
    assert measured.memory > 100 * each  # this machine's memory over its slots, read at planning
    assert packs.pack_policy("4", cpus_per_trial=1, gpus_per_trial=0, max_concurrent=None).memory is None


def test_a_gpu_sweep_planned_where_no_gpu_is_leaves_memory_unknown():
    import torch

    from vaesweep.packing.memory import slot_memory

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert slot_memory(on_gpu=True, gpus_per_trial=1, slots=1) is None
