"""The sweep's closing lines: the best trial is chosen among comparable trials only."""

from vaesweep.platform.plan import SweepOptions, plan_sweep
from vaesweep.platform.results import best_records, report_lines
from vaesweep.platform.sweep import SweepOutcome
from vaesweep.platform.trials import TrialOutcome, TrialRecord
from vaesweep.trainables import FINAL


def test_best_trial_is_chosen_per_data_set_and_decoder_likelihood(tmp_path):
    plan = plan_sweep(SweepOptions("demo", storage=str(tmp_path), tracking_uri="http://127.0.0.1:1"))
    picked = {}  # one trial per arm, with an NLL that makes the Gaussian AR-ELBO "best" overall
    for spec in plan.trials:
        if spec.arm not in picked and spec.seed == 0:
            picked[spec.arm] = spec
    nll = {"AR-ELBO": -28.0, "sigma_x^2 = 1": 61.0, "DGP (target_kl=5)": 24.6, "VAE": 24.9}
    records = [
        TrialRecord(spec, TrialOutcome(str(i), "finished"), {FINAL: 1.0, "nll": nll.get(spec.arm, 50.0 + i)})
        for i, spec in enumerate(picked.values())
    ]
    outcome = SweepOutcome(plan, "FINISHED", "http://127.0.0.1:1", "p", "1", records, 1.0, None)
    best = {key: record.spec.arm for key, record in best_records(outcome).items()}
    assert best == {
        ("digits", "bernoulli"): "DGP (target_kl=5)",
        ("digits", "gaussian"): "AR-ELBO",
        ("synthetic_text", "categorical"): min(
            (r for r in records if r.spec.dataset == "synthetic_text"), key=lambda r: r.result["nll"]
        ).spec.arm,
    }
    lines = report_lines(outcome)
    assert any(
        line.startswith("best nll=24.6: DGP (target_kl=5) | digits | seed 0 (best among bernoulli")
        for line in lines
    )


def test_progress_shows_the_best_so_far_among_comparable_trials(tmp_path):
    import io
    from types import SimpleNamespace

    from vaesweep.platform.progress import SweepMonitor
    from vaesweep.trainables import OBJECTIVE

    plan = plan_sweep(SweepOptions("demo", storage=str(tmp_path), tracking_uri="http://127.0.0.1:1"))
    by_arm = {spec.arm: spec for spec in plan.trials if spec.dataset == "digits"}
    monitor = SweepMonitor(plan, tracking=None, out=io.StringIO())
    for arm, nll in (("DGP (target_kl=5)", 24.6), ("AR-ELBO", -28.0), ("VAE", 24.9)):
        trial = SimpleNamespace(trial_id=arm, status="RUNNING", config={"trial": by_arm[arm].as_dict()})
        monitor.on_result(trial, {OBJECTIVE: nll, FINAL: 1.0})
    summary = monitor.summary()  # the last result is a Bernoulli VAE: compare it with Bernoulli trials only
    assert "best nll among bernoulli decoders=24.6 (DGP (target_kl=5) | digits | seed" in summary
