"""Benchmark of fidelity, not speed: how far packed members are from their unpacked trials on a
device, as JSON. tests/packing checks it on the CPU (1e-5 relative a step); on CUDA the batched
products' kernels round differently, and the fused Adam kernel runs over the whole stack where
a trial's runs over its own tensors, so this measures the gap.

For each case of tests/packing (an image method with three values of C, a DU-VAE head with gamma
and p per member, a text model), members with seeds 0..2 train packed and each seed trains alone
with ``fit``'s trainer (3 epochs, text 1; no final evaluation). The JSON gives the relative
difference of the training loss at the first step (rounding alone: no update yet) and its
largest value over the first 20 steps and over all steps, per precision (fp32, and the CUDA
default TF32). To read a lower precision's gap, each row also gives that precision's own error:
``fit`` in it against ``fit`` in fp32 over the first 20 steps. The text case trains by SGD at
learning rate 1, which amplifies any rounding within a few steps.

    python bench/packed_fidelity.py --device cuda
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from unittest import mock

import torch

from vaesweep.config import resolve_config
from vaesweep.objectives.objective import Objective
from vaesweep.packing.trainer import PackedTrainer
from vaesweep.train import Trainer

ROOT = Path(__file__).resolve().parents[1]
EPOCHS = {"c_vae": 3, "du_vae": 3, "text": 1}  # text under SGD with lr 1 is chaotic (tests/packing)


def checked_cases() -> dict:
    """The cases tests/packing checks on the CPU (method, data set, each member's values)."""
    sys.path.insert(0, str(ROOT))
    from tests.packing.test_packed_trainer import CASES

    return CASES


def packed_losses(configs) -> list[list[float]]:
    """Each member's training loss at every step of a packed run."""
    losses: list[list[float]] = [[] for _ in configs]
    group_step = PackedTrainer._group_step

    def recording(self, group, position, epochs, step, everyone):
        loss, terms, names = group_step(self, group, position, epochs, step, everyone)
        for row, k in enumerate(group):
            losses[k].append(float(terms[row, 0].detach()))
        return loss, terms, names

    with mock.patch.object(PackedTrainer, "_group_step", recording):
        PackedTrainer(configs).run(None, None)
    return losses


def fit_losses(config) -> list[float]:
    """The training loss at every step of ``fit``."""
    losses: list[float] = []
    call = Objective.__call__

    def recording(self, *args, **kwargs):
        terms = call(self, *args, **kwargs)
        losses.append(float(terms.loss.detach()))  # fit calls the objective in training steps only
        return terms

    with mock.patch.object(Objective, "__call__", recording):
        Trainer(config).run(None, None)
    return losses


def _gaps(losses: list[float], reference: list[float]) -> list[float]:
    return [abs(a - b) / max(abs(b), 1e-12) for a, b in zip(losses, reference, strict=True)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precisions", default="fp32,tf32", help="train.precision values (CUDA)")
    args = parser.parse_args()
    rows = []
    fp32_fits: dict[tuple[str, int], list[float]] = {}  # (case, seed) -> fit's losses in fp32

    def fit_in_fp32(case: str, seed: int) -> list[float]:
        if (case, seed) not in fp32_fits:
            method, dataset, members = checked_cases()[case]
            overrides = {**members[seed], "seed": seed, "epochs": EPOCHS[case]}
            overrides |= {"train.device": args.device, "train.precision": "fp32"}
            fp32_fits[case, seed] = fit_losses(resolve_config(method, dataset, overrides))
        return fp32_fits[case, seed]

    for precision in args.precisions.split(","):
        for case, (method, dataset, members) in checked_cases().items():
            where = {"train.device": args.device, "train.precision": precision}
            configs = [
                resolve_config(method, dataset, {**member, "seed": seed, "epochs": EPOCHS[case], **where})
                for seed, member in enumerate(members)
            ]
            packed = packed_losses(configs)
            first, worst_20, worst_all, own_20 = 0.0, 0.0, 0.0, 0.0
            for k, config in enumerate(configs):
                alone = fit_losses(config)
                if precision == "fp32":
                    fp32_fits[case, k] = alone
                gaps = _gaps(packed[k], alone)
                first, worst_20 = max(first, gaps[0]), max(worst_20, *gaps[:20])
                worst_all = max(worst_all, *gaps)
                own_20 = max(own_20, *_gaps(alone, fit_in_fp32(case, k))[:20])
            rows.append(
                {
                    "case": case,
                    "precision": precision,
                    "steps": len(packed[0]),
                    "relative_gap_first_step": float(f"{first:.3g}"),  # rounding alone, no update yet
                    "max_relative_gap_first_20_steps": float(f"{worst_20:.3g}"),
                    "max_relative_gap_all_steps": float(f"{worst_all:.3g}"),
                    # the precision's own error: fit in it against fit in fp32 (0 for fp32)
                    "fit_against_fp32_first_20_steps": float(f"{own_20:.3g}"),
                }
            )
    print(
        json.dumps(
            {"benchmark": "packed_fidelity", "device": args.device, "torch": torch.__version__, "rows": rows},
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
