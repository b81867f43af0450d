"""The memory a pack member is counted at (vaesweep.packing.memory): its parameters times the
copies training keeps, plus the bytes one training step's operations return."""

from __future__ import annotations

import pytest

from vaesweep.config import resolve_config
from vaesweep.packing.memory import PACKABLE_FRACTION, PARAMETER_COPIES, member_bytes, members_that_fit

FLOAT = 4


def _step_bytes(method: str, **overrides) -> int:
    """What the member is counted at beyond its parameters' copies."""
    from vaesweep.data import load_dataset
    from vaesweep.models.build import build_model

    config = resolve_config(method, "digits", overrides)
    parameters = sum(p.numel() for p in build_model(config, load_dataset(config.data)).parameters())
    return member_bytes(config) - PARAMETER_COPIES * FLOAT * parameters


def test_a_step_is_counted_at_least_at_the_activations_an_mlp_vae_must_keep():
    batch = 64  # digits: 64 pixels, MLP 128-128 tanh, z 16 (mean and log-variance: 32)
    widths = [128, 128, 128, 128, 32, 16, 128, 128, 128, 128, 64]  # linear and tanh outputs, z, logits
    kept = batch * sum(widths) * FLOAT
    counted = _step_bytes("c_vae", **{"train.batch_size": batch})
    assert kept <= counted <= 20 * kept


@pytest.mark.parametrize(("key", "base"), [("train.batch_size", 32), ("regulariser.iwae_samples", 2)])
def test_what_a_step_is_counted_at_grows_linearly_with_the_batch_and_the_samples(key, base):
    method = "iwae" if key.startswith("regulariser") else "c_vae"
    one, two, four = (_step_bytes(method, **{key: base * f}) for f in (1, 2, 4))
    assert four - two == pytest.approx(
        2 * (two - one), rel=0.02
    )  # activations scale, parameters' grads do not
    assert two - one > 0


def test_members_that_fit_divide_the_packable_part_of_the_memory():
    config = resolve_config("c_vae", "digits", {})
    each = member_bytes(config)
    assert members_that_fit(config, int(7.5 * each / PACKABLE_FRACTION)) == 7
    assert members_that_fit(config, each) == 1  # a trial that does not fit alone still runs, alone


def test_a_data_set_this_machine_cannot_read_is_not_counted(tmp_path):
    """A cluster's head may plan a sweep whose data only its workers hold: its packs are then
    not capped by memory, rather than the sweep failing to plan."""
    config = resolve_config("vae", "mnist", {"data.path": str(tmp_path)})  # no IDX files there
    assert member_bytes(config) is None and members_that_fit(config, 2**30) is None
