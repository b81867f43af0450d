"""What ``vaesweep train`` shows while it trains: fit's per-step hook, the bars, the epoch line."""

from __future__ import annotations

import io
import math
import subprocess
import sys

from vaesweep.config import resolve_config
from vaesweep.metric_registry import is_wall_clock
from vaesweep.train import fit
from vaesweep.train_progress import TrainProgress, format_epoch, format_number

TINY = {
    "train.epochs": 2,
    "eval.nll_samples": 4,
    "eval.probes": False,
    "eval.cu_rounds": 2,
    "data.max_train": 200,
}


class TtyStream(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_step_hook_sees_every_step_and_changes_nothing():
    config = resolve_config("vae", "digits", {**TINY, "train.batch_size": 64})
    calls = []
    with_hook = fit(config, on_step=lambda *counters: calls.append(counters))
    steps = math.ceil(200 / 64)
    assert calls == [(epoch, step, steps) for epoch in (1, 2) for step in range(1, steps + 1)]
    assert all(type(value) is int for counters in calls for value in counters)
    without = fit(config)
    assert {k: v for k, v in with_hook.items() if not is_wall_clock(k)} == {
        k: v for k, v in without.items() if not is_wall_clock(k)
    }


def test_an_epoch_line_is_formatted_not_a_dict():
    metrics = {
        "train_loss": 45.123456,
        "train_rec": 40.1,
        "train_kl": 5.0234,
        "kl_weight": 0.3,
        "lr": 1.0,
        "valid_rec": 41.3,
        "valid_kl": 4.9,
        "valid_mi": 1.23456,
        "valid_au": 8.0,
        "epoch": 3.0,
    }
    line = format_epoch(3, 20, metrics, 2.14)
    assert line == (
        "epoch  3/20  train loss 45.12 rec 40.1 kl 5.023 | valid rec 41.3 kl 4.9 mi 1.235 au 8 "
        "| kl weight 0.3, lr 1 | 2.1 s"
    )
    assert [format_number(v) for v in (12345.6, 2e-5, 0.5, -3.0)] == ["12346", "2e-05", "0.5", "-3"]


def test_bars_on_a_terminal_lines_elsewhere_and_nothing_when_quiet():
    config = resolve_config("vae", "digits", TINY)
    outputs = {}
    for mode, stream, options in (
        ("terminal", TtyStream(), {}),
        ("pipe", io.StringIO(), {}),
        ("quiet", TtyStream(), {"quiet": True}),
    ):
        progress = TrainProgress(2, "test", stream=stream, **options)
        fit(config, progress.epoch_done, on_step=progress.step)
        progress.close()
        outputs[mode] = stream.getvalue()
    for mode in ("terminal", "pipe"):
        assert outputs[mode].count("epoch 1/2  train loss ") == 1, mode
        assert "epoch 2/2" in outputs[mode] and "final evaluation on the test split" in outputs[mode]
    assert "epoch 2: validating" in outputs["terminal"] and "step/s" in outputs["terminal"]
    assert "\r" not in outputs["pipe"] and "step/s" not in outputs["pipe"]
    assert outputs["quiet"] == ""


def test_the_command_prints_epoch_lines_to_stderr_and_nothing_extra_with_json():
    base = [sys.executable, "-m", "vaesweep.cli", "train", "--method", "vae", "--epochs", "2"]
    tiny = ["--set", "eval.nll_samples=4", "eval.probes=false", "eval.smoothness=false", "eval.cu_rounds=2"]
    plain = subprocess.run([*base, *tiny], capture_output=True, text=True, timeout=600)
    assert plain.returncode == 0, plain.stderr
    assert "epoch 1/2  train loss" in plain.stderr and "{" not in plain.stderr
    assert "\r" not in plain.stderr  # not a terminal: no bars
    assert plain.stdout.startswith("likelihood:\n  NLL ")  # the final metrics, grouped and explained
    assert "(lower is better; DU-VAE)" in plain.stdout.splitlines()[1]
    quiet = subprocess.run([*base, "--json", *tiny], capture_output=True, text=True, timeout=600)
    assert quiet.returncode == 0 and quiet.stdout.startswith("{")
    assert "epoch 1/2" not in quiet.stderr
