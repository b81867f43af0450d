"""A packed member is its unpacked trial: the same losses step by step, the same final metrics up
to float rounding, its own divergence and early stop, an exact resume, and a normal fit
checkpoint when extracted."""

from __future__ import annotations

import math

import pytest
import torch
from torch._dynamo.utils import counters

from vaesweep.config import resolve_config
from vaesweep.errors import ConfigError, DivergedError
from vaesweep.evaluation import full_metrics
from vaesweep.methods import METHODS
from vaesweep.objectives.objective import Objective
from vaesweep.packing import trainer as packing
from vaesweep.packing.signature import unpackable_reason
from vaesweep.packing.trainer import PACK_CHECKPOINT_FILE, PackedTrainer, fit_pack
from vaesweep.train import CHECKPOINT_FILE, fit

QUICK = {
    "eval.nll_samples": 10,
    "eval.cu_rounds": 3,
    "eval.probe_restarts": 1,
    "eval.probe_epochs": 2,
    "eval.max_examples": 100,
    "eval.ll_samples": 2,
}
CASES = {
    # an image method with three values of C, a DU-VAE head with gamma and p per member (the
    # first without variance dropout: its run draws no mask, and the pack's others still do), a
    # text model
    "c_vae": ("c_vae", "digits", [{"C": 5.0}, {"C": 15.0}, {"C": 50.0}]),
    "du_vae": (
        "du_vae",
        "digits",
        [{"gamma": 0.5, "p": 1.0}, {"gamma": 0.7, "p": 0.6}, {"gamma": 0.4, "p": 0.9}],
    ),
    "text": ("vae", "synthetic_text", [{"data.max_train": 650}] * 3),
}
# Continuous final metrics compared after a short run (AU and CU count units and can flip by one).
COMPARED = ("rec", "kl", "elbo", "nll", "mi", "mse", "sigma_z2")


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _configs(case: str, epochs: int, **extra):
    method, dataset, members = CASES[case]
    return [
        resolve_config(method, dataset, {**QUICK, **member, "epochs": epochs, "seed": seed, **extra})
        for seed, member in enumerate(members)
    ]


def _packed_step_losses(monkeypatch, configs) -> list[dict[int, float]]:
    losses: list[dict[int, float]] = []
    step_group = PackedTrainer._group_step

    def recording(self, group, position, epochs, step, everyone):
        loss, terms, names = step_group(self, group, position, epochs, step, everyone)
        while len(losses) <= step:
            losses.append({})
        losses[step].update({k: float(terms[i, 0].detach()) for i, k in enumerate(group)})
        return loss, terms, names

    monkeypatch.setattr(PackedTrainer, "_group_step", recording)
    fit_pack(configs)
    monkeypatch.undo()
    return losses


def _fit_step_losses(monkeypatch, config) -> list[float]:
    losses: list[float] = []
    call = Objective.__call__

    def recording(self, *args, **kwargs):
        terms = call(self, *args, **kwargs)
        losses.append(float(terms.loss.detach()))
        return terms

    monkeypatch.setattr(Objective, "__call__", recording)
    fit(config)
    monkeypatch.undo()
    return losses


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_member_takes_its_unpacked_runs_steps(monkeypatch, case):
    """Member k (seed k) and fit with seed k agree on the loss of each of the first 20 steps to
    1e-5 relative: the same initial weights, batches and noise draws (only the rounding of
    batched products differs). A text member's batch is padded to the longest member's and its
    dropout still draws over its own length."""
    configs = _configs(case, epochs=1)
    packed = _packed_step_losses(monkeypatch, configs)
    for k, config in enumerate(configs):
        alone = _fit_step_losses(monkeypatch, config)
        assert len(alone) >= 20 and len(packed) == len(alone)
        for step, loss in enumerate(alone[:20]):
            assert packed[step][k] == pytest.approx(loss, rel=1e-5), (k, step)


@pytest.mark.parametrize(
    ("case", "epochs", "tolerance"), [("c_vae", 2, 1e-4), ("du_vae", 2, 1e-2), ("text", 1, 1e-3)]
)
def test_final_metrics_after_a_short_run_match_fit_up_to_compounded_rounding(case, epochs, tolerance):
    """After a short run the continuous final metrics agree with fit's, to the rounding that
    training compounds. A packed step differs from fit's by an ulp at most steps (batched
    products round differently), and training amplifies such differences as it does any: nudging
    fit's initial weights by one ulp moves its own final KL after 2 epochs by ~4e-6 (c_vae) and
    ~1e-4 (DU head, whose batch-norm statistics amplify most). Text under SGD with lr 1 is
    chaotic: the per-step gap grows about tenfold every five steps (1e-7 at step 15, 1e-2 by
    step 40), so it is compared after one epoch (21 steps)."""
    configs = _configs(case, epochs=epochs)
    results = fit_pack(configs)
    for k, config in enumerate(configs):
        assert results[k].status == "finished"
        alone = fit(config)
        for metric in COMPARED:
            if metric in alone:
                assert results[k].metrics[metric] == pytest.approx(alone[metric], rel=tolerance), (k, metric)


@pytest.mark.slow
def test_a_compiled_pack_takes_its_members_compiled_fit_steps_and_freezes_a_diverging_one(monkeypatch):
    """``train.compile`` compiles the whole vmapped step (forward and backward, one graph; fit
    compiles its encoder and decoder): member k still takes fit's steps with seed k, to 1e-5
    relative over the first 20 (measured: 1.4e-7 for C-VAE, as fit compiled against fit eager),
    so the draws keep their order in the compiled graph. A member that diverges is frozen; the
    smaller group recompiles and the others end as they did without it."""
    configs = _configs("c_vae", epochs=1, **{"train.compile": True})
    counters.clear()
    packed = _packed_step_losses(monkeypatch, configs)
    # compiled (a graph per batch shape), not fallen back to eager at a graph break
    assert counters["stats"]["unique_graphs"] >= 1 and not counters["graph_break"]
    for k, config in enumerate(configs):
        alone = _fit_step_losses(monkeypatch, config)
        for step, loss in enumerate(alone[:20]):
            assert packed[step][k] == pytest.approx(loss, rel=1e-5), (k, step)
    reference = fit_pack(configs)
    configs[2].optim.lr = 1e30
    results = fit_pack(configs)
    assert results[2].status == "failed" and isinstance(results[2].error, DivergedError)
    for k in (0, 1):
        assert _untimed(results[k].metrics) == _untimed(reference[k].metrics)


def test_a_compiled_text_model_runs_alone():
    config = resolve_config("vae", "synthetic_text", {"train.compile": True})
    assert "each new sentence length compiles again" in unpackable_reason(config)
    assert unpackable_reason(resolve_config("vae", "digits", {"train.compile": True})) is None


def _untimed(metrics: dict[str, float]) -> dict[str, float]:
    """Metrics without the wall-clock ones (a run's time is not its result)."""
    return {k: v for k, v in metrics.items() if k not in ("train_seconds", "seconds_per_epoch")}


def test_a_diverging_member_fails_alone_and_leaves_the_others_bitwise_unchanged():
    configs = _configs("c_vae", epochs=2)
    reference = fit_pack(configs)
    configs[2].optim.lr = 1e30  # its first Adam steps overflow: a non-finite loss
    results = fit_pack(configs)
    assert results[2].status == "failed" and isinstance(results[2].error, DivergedError)
    for k in (0, 1):
        assert results[k].status == "finished"
        assert _untimed(results[k].metrics) == _untimed(reference[k].metrics)


def test_members_probed_together_get_bitwise_what_each_evaluated_alone_gets():
    """The pack's final evaluation trains its members' probes as one batch; every metric of every
    member equals, bitwise, that member evaluated alone by full_metrics (its own probes, drawing
    from the state its generator ended training in, which the evaluation leaves as it was)."""
    configs = _configs("du_vae", epochs=1, **{"eval.probe_restarts": 2, "eval.probe_epochs": 3})
    trainer = PackedTrainer(configs)
    trainer.run(None, None)
    together = trainer.final_metrics([0, 1, 2])
    for k, (metrics, details) in enumerate(together):
        m = trainer.members[k]
        generator = torch.Generator()
        generator.set_state(m.generator.get_state())
        trainer._load_evaluated(k)
        with packing.member_rng(generator):
            alone, alone_details = full_metrics(trainer.model, trainer.dataset, "test", m.config)
        assert {"probe_linear", "probe_mlp"} <= alone.keys()
        assert _untimed(metrics) == _untimed(alone | {"epochs_run": 1.0})
        assert details == alone_details
    assert len({metrics["probe_mlp"] for metrics, _ in together}) > 1


def test_evaluated_members_are_handed_on_a_group_at_a_time_with_their_records_written(monkeypatch, tmp_path):
    """fit_pack hands each group of evaluated members to ``on_evaluated`` (a diverged member is
    in none) once their artifacts and checkpoints are written, and a member's results do not
    depend on the group it was evaluated in."""
    configs = [
        resolve_config("c_vae", "digits", {**QUICK, "C": 5.0 * (seed + 1), "epochs": 1, "seed": seed})
        for seed in range(6)
    ]
    configs[2].optim.lr = 1e30  # diverges in its first epoch
    dirs = [tmp_path / f"member-{k}" for k in range(6)]
    events: list[tuple[str, list[int]]] = []
    final_metrics = PackedTrainer.final_metrics

    def evaluate(self, members):
        events.append(("evaluated", list(members)))
        return final_metrics(self, members)

    monkeypatch.setattr(PackedTrainer, "final_metrics", evaluate)

    def on_evaluated(members):
        events.append(("handed on", [m.member for m in members]))
        for m in members:
            assert m.status == "finished" and "nll" in m.metrics
            assert (dirs[m.member] / CHECKPOINT_FILE).exists()
            assert any((dirs[m.member] / "artifacts").iterdir())

    grouped = fit_pack(
        configs,
        artifacts_dirs=[d / "artifacts" for d in dirs],
        member_checkpoint_dirs=dirs,
        on_evaluated=on_evaluated,
    )
    first, second = [0, 1, 3, 4], [5]  # CPU_EVALUATION_GROUP = 4
    assert events == [(step, group) for group in (first, second) for step in ("evaluated", "handed on")]
    assert grouped[2].status == "failed"
    monkeypatch.setattr(packing, "CPU_EVALUATION_GROUP", 1)
    alone = fit_pack(configs)
    for k in (0, 1, 3, 4, 5):
        assert _untimed(grouped[k].metrics) == _untimed(alone[k].metrics)


def test_a_retried_pack_evaluates_only_the_members_not_recorded_before(monkeypatch, tmp_path):
    """A pack retried after its last epoch's checkpoint (it died while evaluating) trains no
    more and evaluates only the members an earlier attempt did not record; theirs are the
    uninterrupted results, bitwise."""
    configs = _configs("c_vae", epochs=2)
    uninterrupted = fit_pack(configs, checkpoint_dir=tmp_path)
    evaluated, steps = [], []
    final_metrics, train_epoch = PackedTrainer.final_metrics, PackedTrainer.train_epoch

    def evaluate(self, members):
        evaluated.extend(members)
        return final_metrics(self, members)

    def count_epoch(self):
        steps.append(1)
        return train_epoch(self)

    monkeypatch.setattr(PackedTrainer, "final_metrics", evaluate)
    monkeypatch.setattr(PackedTrainer, "train_epoch", count_epoch)
    retried = fit_pack(configs, checkpoint_dir=tmp_path, resume_from=tmp_path, evaluated_before=[1])
    assert evaluated == [0, 2] and not steps
    for k in (0, 2):
        assert _untimed(retried[k].metrics) == _untimed(uninterrupted[k].metrics)
    assert retried[1].status == "finished" and "nll" not in retried[1].metrics


def test_an_extracted_member_checkpoint_holds_its_fit_runs_last_checkpoint_rng(tmp_path):
    """A member's final checkpoint (what its MLflow run keeps) has the RNG state fit's last
    checkpoint has, the end of training: its evaluation and artifacts draw from a copy."""
    configs = _configs("c_vae", epochs=2)
    dirs = [tmp_path / f"member-{k}" for k in range(3)]
    fit_pack(configs, artifacts_dirs=[d / "artifacts" for d in dirs], member_checkpoint_dirs=dirs)
    fit(configs[1], checkpoint_dir=tmp_path / "fit")
    member = torch.load(dirs[1] / CHECKPOINT_FILE, weights_only=False)
    alone = torch.load(tmp_path / "fit" / CHECKPOINT_FILE, weights_only=False)
    assert torch.equal(member["rng"]["torch"], alone["rng"]["torch"])
    assert member["state"]["epoch"] == alone["state"]["epoch"] == 2


def test_a_member_stopped_early_stops_updating_and_ends_stopped():
    configs = _configs("c_vae", epochs=3)
    trainer = PackedTrainer(configs)
    seen = []

    def stop_member_one_after_its_first_epoch(member, epoch, metrics):
        seen.append((member, epoch))
        return member == 1 and epoch == 1

    frozen = {}

    def snapshot(report):
        if report.epoch == 1:
            frozen.update({n: p[1].detach().clone() for n, p in trainer.params.items()})

    trainer.run(snapshot, None, stop_member_one_after_its_first_epoch)
    assert trainer.members[1].status == "stopped" and trainer.members[0].status == "finished"
    assert all(torch.equal(trainer.params[n][1], value) for n, value in frozen.items())
    assert (1, 2) not in seen and (0, 3) in seen


def test_a_pack_killed_after_an_epoch_resumes_to_the_uninterrupted_results(tmp_path):
    configs = _configs("du_vae", epochs=3)
    uninterrupted = fit_pack(configs)

    class Killed(Exception):
        pass

    def kill_after_the_second_epoch(report):
        if report.epoch == 2:
            raise Killed

    with pytest.raises(Killed):
        fit_pack(configs, kill_after_the_second_epoch, checkpoint_dir=tmp_path)
    assert (tmp_path / PACK_CHECKPOINT_FILE).exists()
    resumed = fit_pack(configs, checkpoint_dir=tmp_path, resume_from=tmp_path)
    for before, after in zip(uninterrupted, resumed, strict=True):
        assert after.status == before.status == "finished"
        assert _untimed(after.metrics) == _untimed(before.metrics)


def test_one_member_extracted_as_a_fit_checkpoint_continues_like_the_pack(tmp_path):
    """After one epoch in the pack, member 1 written as a normal checkpoint and continued by fit
    for the second epoch ends where the pack ends it (fit and the pack agree to rounding)."""
    configs = _configs("c_vae", epochs=2)
    whole = fit_pack(configs)
    trainer = PackedTrainer(configs)

    def stop_everyone_after_one_epoch(member, epoch, metrics):
        return True

    trainer.run(None, None, stop_everyone_after_one_epoch)
    path = trainer.member_checkpoint(1, tmp_path)
    continued = fit(configs[1], resume_from=path)
    for metric in COMPARED:
        if metric in continued:
            assert continued[metric] == pytest.approx(whole[1].metrics[metric], rel=1e-4), metric


def _dataset_for(method: str) -> str:
    return "digits" if "image" in METHODS[method].data_kinds else "synthetic_text"


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_trains_packed_or_says_why_it_cannot(method):
    dataset = _dataset_for(method)
    quick = {"epochs": 1, "data.max_train": 96, "eval.nll_samples": 0, "eval.probes": False}
    quick |= {"eval.cu_rounds": 2, "eval.smoothness": False, "eval.text_metrics": False}
    configs = [resolve_config(method, dataset, {**quick, "seed": seed}) for seed in (0, 1)]
    reason = unpackable_reason(configs[0])
    if reason is not None:
        with pytest.raises(ConfigError, match="packable"):
            PackedTrainer(configs)
        return
    trainer = PackedTrainer(configs)
    for member in trainer.members:
        member.state.epoch = 1
    metrics = trainer.train_epoch()
    assert all(math.isfinite(metrics[k]["train_loss"]) for k in (0, 1))
    assert metrics[0]["train_loss"] != metrics[1]["train_loss"]  # two seeds, two trials


def test_trials_of_different_architectures_do_not_pack():
    configs = [resolve_config("c_vae", "digits"), resolve_config("igp", "digits")]
    with pytest.raises(ConfigError, match=r"posterior\.family"):
        PackedTrainer(configs)
    assert packing.check_pack([resolve_config("c_vae", "digits", {"C": c}) for c in (5, 50)]) is None
