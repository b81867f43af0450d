"""What ``vaesweep train`` shows while it trains: a bar over the epochs and one over the steps
of the current epoch (tqdm, on a terminal only), and one formatted line per epoch.

The step bar is fed by ``fit``'s ``on_step`` hook, which passes counters and never a tensor, so
showing progress adds no host synchronisation to the training step; tqdm redraws at most every
``mininterval`` seconds.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from typing import TextIO

from tqdm import tqdm

from vaesweep import metric_registry
from vaesweep.train import EpochReport

# (metric key, shown as): what an epoch line shows of each phase, when the run logs it
TRAIN_SHOWN = (("train_loss", "loss"), ("train_rec", "rec"), ("train_kl", "kl"))
VALID_SHOWN = (
    ("valid_rec", "rec"),
    ("valid_kl", "kl"),
    ("valid_mi", "mi"),
    ("valid_au", "au"),
    ("valid_mse", "mse"),
)
REDRAW_SECONDS = 0.5


def format_number(value: float) -> str:
    """Integers as integers, others to 4 significant digits without an exponent below 1e5."""
    if float(value).is_integer() and abs(value) < 1e5:
        return str(int(value))
    if 1e-3 <= abs(value) < 1e5:
        return f"{value:.4g}" if abs(value) < 1e4 else f"{value:.0f}"
    return f"{value:.3g}"


def format_epoch(epoch: int, epochs: int, metrics: dict[str, float], seconds: float) -> str:
    """``epoch  3/20  train loss 45.12 rec 40.1 kl 5.02 | valid rec ... | kl weight 0.3, lr 1 | 2.1 s``."""
    width = len(str(epochs))

    def shown(pairs: tuple[tuple[str, str], ...]) -> str:
        return " ".join(f"{label} {format_number(metrics[key])}" for key, label in pairs if key in metrics)

    schedule = [f"lr {format_number(metrics['lr'])}"] if "lr" in metrics else []
    if metrics.get("kl_weight", 1.0) < 1.0:
        schedule.insert(0, f"kl weight {format_number(metrics['kl_weight'])}")
    if "target_kl" in metrics:
        schedule.append(f"C {format_number(metrics['target_kl'])}")
    parts = [
        f"epoch {epoch:>{width}d}/{epochs}  train {shown(TRAIN_SHOWN)}",
        f"valid {shown(VALID_SHOWN)}",
        ", ".join(schedule),
        f"{seconds:.1f} s",
    ]
    return " | ".join(part for part in parts if part)


BETTER = {"min": "lower is better", "max": "higher is better"}


def _position(name: str) -> tuple[int, int, str]:
    """Where a metric goes: its group's place in GROUPS, its place in the group, its name."""
    spec = metric_registry.metric_spec(name) if metric_registry.is_declared(name) else None
    key = spec.name if spec is not None else name
    for index, (_, names) in enumerate(metric_registry.GROUPS):
        if key in names:
            return index, names.index(key), name
    return len(metric_registry.GROUPS), 0, name


def final_metric_lines(metrics: Mapping[str, float]) -> list[str]:
    """The final metrics under headings of what they measure (metric_registry.GROUPS), each as
    ``label  value unit  (which direction is better; the paper that defines it)  what it is``."""
    lines: list[str] = []
    heading = None
    for name in sorted(metrics, key=_position):
        title = metric_registry.group(name)
        if title != heading:
            lines += [*([""] if lines else []), f"{title}:"]
            heading = title
        value = format_number(metrics[name])
        if not metric_registry.is_declared(name):
            lines.append(f"  {name:<22s} {value:>10s}")
            continue
        spec = metric_registry.metric_spec(name)
        notes = "; ".join(n for n in (BETTER.get(spec.direction, ""), spec.paper) if n)
        label, notes = metric_registry.label(name), f"({notes})" if notes else ""
        lines.append(f"  {label:<22s} {value:>10s} {spec.unit:<13s} {notes}  {spec.description}")
    return lines


class TrainProgress:
    """Bars and epoch lines on ``stream`` (default stderr). ``bars=None`` shows the bars only
    when ``stream`` is a terminal; ``quiet`` shows nothing (``--json``)."""

    def __init__(
        self,
        epochs: int,
        eval_split: str,
        stream: TextIO | None = None,
        bars: bool | None = None,
        quiet: bool = False,
    ) -> None:
        self.epochs, self.eval_split, self.quiet = epochs, eval_split, quiet
        self.stream = stream or sys.stderr
        self.bars = (not quiet) and (self.stream.isatty() if bars is None else bars)
        self.options = {
            "file": self.stream,
            "disable": not self.bars,
            "mininterval": REDRAW_SECONDS,
            "leave": False,
        }
        self.epoch_bar = tqdm(total=epochs, desc="epochs", unit="epoch", position=0, **self.options)
        self.step_bar: tqdm | None = None  # drawn from the first step on
        self.current = 0
        self.started = time.perf_counter()  # of the current epoch

    def step(self, epoch: int, step: int, steps_per_epoch: int) -> None:
        """``fit``'s ``on_step`` hook."""
        if self.step_bar is None:
            self.step_bar = tqdm(total=steps_per_epoch, unit="step", position=1, **self.options)
        if epoch != self.current:
            self.current = epoch
            self.started = time.perf_counter()
            self.epoch_bar.n = epoch - 1  # a resumed run starts where its checkpoint was
            self.epoch_bar.refresh()
            self.step_bar.set_description(f"epoch {epoch}", refresh=False)
            self.step_bar.reset(total=steps_per_epoch)
        self.step_bar.update(1)
        if step == steps_per_epoch:
            self.step_bar.set_description(f"epoch {epoch}: validating")

    def epoch_done(self, report: EpochReport) -> None:
        """``fit``'s per-epoch ``report`` callback."""
        seconds = time.perf_counter() - self.started
        self.epoch_bar.update(report.epoch - self.epoch_bar.n)
        self.write(format_epoch(report.epoch, self.epochs, report.metrics, seconds))
        if report.epoch == self.epochs:
            self.write(f"final evaluation on the {self.eval_split} split ...")

    def write(self, line: str) -> None:
        if self.quiet:
            return
        if self.bars:
            tqdm.write(line, file=self.stream)
        else:
            print(line, file=self.stream, flush=True)

    def close(self) -> None:
        if self.step_bar is not None:
            self.step_bar.close()
        self.epoch_bar.close()
