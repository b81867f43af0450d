"""Kill a small sweep's driver (SIGKILL) at many points, resume it, and check each ends exactly
as an uninterrupted sweep (tests/platform/kill_harness.py says what is checked).

    python bench/kill_points.py --random 50 [--seed 0]     # random named points and moments
    python bench/kill_points.py --points tuner result:3 checkpoint:6 --damage

Timed kills fall within the time an uninterrupted sweep takes (measured first: the table's
"no kill" row). Prints a table (one line per case) and, with --json FILE, every case's result.
About a minute per case on 2 cores; set RAY_TMPDIR and VAESWEEP_RUNS_DIR as for any sweep.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: tests.platform

from tests.platform.kill_harness import (
    ARMS,
    EPOCHS,
    RESULTS_PER_TRIAL,
    CaseResult,
    KillCase,
    reference_results,
    run_case,
    table,
)

# Each named point with how many times a 3-trial, 4-epoch sweep reaches it.
REACHED = {
    "planned": 1,
    "defined": 1,
    "tracking": 1,
    "tuner": 1,
    "trial_start": len(ARMS),
    "result": len(ARMS) * RESULTS_PER_TRIAL,
    "trial_complete": len(ARMS),
    "checkpoint": len(ARMS) * EPOCHS,
    "reconcile": 1,
    "closed": 1,
}


def random_cases(count: int, seed: int, longest_s: float) -> list[KillCase]:
    """Named points (with a random N) and kills at random moments, some with the resumed-from
    checkpoint damaged."""
    rng = random.Random(seed)
    cases = []
    for _ in range(count):
        damage = rng.random() < 0.25
        if rng.random() < 0.6:
            point = rng.choice(sorted(REACHED))
            times = rng.randint(1, REACHED[point])
            cases.append(KillCase(point=f"{point}:{times}" if times > 1 else point, damage=damage))
        else:
            cases.append(KillCase(after_s=round(rng.uniform(2.0, longest_s), 1), damage=damage))
    return cases


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--random", type=int, help="this many random cases")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--longest",
        type=float,
        help="latest moment of a timed kill (s); default: an uninterrupted sweep's time",
    )
    parser.add_argument("--points", nargs="+", default=[], help="named points POINT[:N]")
    parser.add_argument("--damage", action="store_true", help="damage checkpoints in --points cases")
    parser.add_argument("--json", help="write every case's result here")
    args = parser.parse_args()
    if not (args.random or args.points):
        parser.error("give --random N or --points")
    reference = reference_results()
    results = []
    with tempfile.TemporaryDirectory(prefix="vaesweep-kill-") as scratch:
        cases = [KillCase(point=p, damage=args.damage) for p in args.points]
        if args.random:
            longest = args.longest
            if longest is None:  # a sweep's length on this machine now: timed kills fall within it
                calibration = run_case(KillCase(), Path(scratch, "calibration"), reference)
                results.append(calibration)
                print(table(results).splitlines()[-1], flush=True)
                longest = calibration.killed_after_s
            cases += random_cases(args.random, args.seed, longest)
        for i, case in enumerate(cases):
            try:
                results.append(run_case(case, Path(scratch, f"case{i:03d}"), reference))
            except Exception as error:  # the harness itself: a case, not the whole table
                results.append(CaseResult(case, problems=[f"harness: {type(error).__name__}: {error}"[:300]]))
            print(table(results).splitlines()[-1], flush=True)
    print(table(results))
    passed = sum(r.ok for r in results)
    print(f"{passed}/{len(results)} cases ended exactly as an uninterrupted sweep")
    if args.json:
        Path(args.json).write_text(json.dumps([dataclasses.asdict(r) for r in results], indent=2))
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
