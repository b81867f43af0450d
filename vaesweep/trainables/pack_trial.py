"""One pack = one ``fit_pack`` of K trials sharing an architecture, as a Ray Tune trainable.

The Tune config holds the members' serialised specs (``{"pack": [spec.as_dict(), ...]}``; the
planner formed them: vaesweep.platform.packs). A pack of one is an ordinary trial (``run_trial``).
Each member records to its own tracker, exactly as its unpacked trial would (the same child
run, found by the trial's key, with the same params, per-epoch metrics, final metrics,
artifacts and final checkpoint) plus ``pack`` tags. Every epoch writes the pack's checkpoint
and reports one result to Tune: the best member's epoch objective and every member's state in
``MEMBERS`` (a JSON string: Tune keeps it as it is). After training, the members are evaluated
a few at a time (``fit_pack``'s ``on_evaluated``): each group's runs are finished in MLflow and
reported to Tune at once, so the sweep shows them finished while the pack evaluates the rest.
A member that diverges is frozen and its run ends failed with the reason, while the others go
on; one the sweep's scheduler stops (ASHA per member, ``StopMembers``) ends stopped. A retried
or resumed pack continues from its newest readable checkpoint. Members an earlier attempt
already finished are neither evaluated nor recorded again; if every member finished, the pack
reports their results without training, otherwise the whole pack trains from its checkpoint (it
holds all its members: after the last epoch's, a retry only evaluates the members left).
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path
from typing import Any

from ray import tune

from vaesweep.faults import kill_point
from vaesweep.packing.trainer import (
    FAILED,
    FINISHED,
    PACK_CHECKPOINT_FILE,
    STOPPED,
    MemberResult,
    PackEpochReport,
    fit_pack,
)
from vaesweep.search_spaces.definitions import TrialSpec
from vaesweep.train import CHECKPOINT_FILE
from vaesweep.trainables.checkpoints import epoch_checkpoint, restore_checkpoint, use_trial_cpus
from vaesweep.trainables.scheduling import StopMembers
from vaesweep.trainables.tracker import OpenTracker
from vaesweep.trainables.vae_trial import FINAL, OBJECTIVE, epoch_objective, final_result, run_trial

MEMBERS = "members"  # in a pack's results: JSON list, per member {"state", "reason", "result"}
PACK_TAG = "pack"  # a member run's pack: the pack's Tune trial id
PACK_SIZE_TAG = "pack_size"
RUNNING = "running"


def _best(values: list[float], mode: str) -> float:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return math.nan
    return min(finite) if mode == "min" else max(finite)


def _members_field(states: list[dict[str, Any]]) -> str:
    return json.dumps(states, allow_nan=True)


def run_pack(
    config: dict[str, Any],
    *,
    open_tracker: OpenTracker,
    objective: str,
    mode: str,
    stop_members: StopMembers | None = None,
) -> None:
    """Train ``config["pack"]`` as one pack and report to Tune and each member's tracker; raises
    what ``fit_pack`` raises (after every unfinished member's tracker recorded it), so Tune
    retries the pack from its checkpoint and the sweep goes on. ``stop_members``: the sweep's
    scheduler (ASHA), asked after every epoch; a member it stops ends "stopped" (the platform
    settles its run, as it does an unpacked trial's that ASHA stopped)."""
    if len(config["pack"]) == 1:
        run_trial({"trial": config["pack"][0]}, open_tracker=open_tracker, objective=objective)
        return
    specs = [TrialSpec.from_dict(d) for d in config["pack"]]
    configs = [spec.config() for spec in specs]
    context = tune.get_context()
    use_trial_cpus()
    trial_id = context.get_trial_id()
    tags = {PACK_TAG: trial_id, PACK_SIZE_TAG: str(len(specs))}
    with tempfile.TemporaryDirectory(prefix="vaesweep-pack-") as scratch:
        checkpoint_dir = Path(scratch, "checkpoint")
        restored = restore_checkpoint(tune.get_checkpoint(), checkpoint_dir, PACK_CHECKPOINT_FILE)
        resumed = restored.epoch if restored is not None else None
        trackers = [open_tracker(s, c, trial_id, resumed, tags) for s, c in zip(specs, configs, strict=True)]
        earlier = [tracker.open() for tracker in trackers]  # final metrics of members already finished
        states: list[dict[str, Any]] = [
            {"state": RUNNING}
            if done is None
            else {"state": FINISHED, "result": final_result(done, objective)}
            for done in earlier
        ]
        if all(done is not None for done in earlier):
            _report_final(states, mode)
            return
        recording = [k for k, done in enumerate(earlier) if done is None]
        history = list(restored.history) if restored is not None else []
        for epoch, members in history:  # epochs the trackers may not have recorded before the loss
            for k in recording:
                if str(k) in members:
                    trackers[k].log_epoch(epoch, members[str(k)])

        stopping: set[int] = set()  # members the scheduler stopped this epoch
        last_epoch: dict[int, dict[str, float]] = {}  # a stopped member's record keeps its last epoch

        def should_stop(member: int, epoch: int, metrics: dict[str, float]) -> bool:
            if member not in stopping:
                return False
            stopping.discard(member)
            states[member] = {"state": STOPPED, "epoch": epoch, "result": last_epoch.get(member, {})}
            return True

        def report(epoch: PackEpochReport) -> None:
            for k, metrics in epoch.metrics.items():
                if k in recording:
                    trackers[k].log_epoch(epoch.epoch, metrics)
                    states[k] = {"state": RUNNING, "objective": epoch_objective(metrics, objective)}
                    last_epoch[k] = {**metrics, OBJECTIVE: states[k]["objective"]}
            for k, error in epoch.failed.items():
                if k in recording:
                    trackers[k].fail(error)
                    states[k] = {"state": FAILED, "reason": f"{type(error).__name__}: {error}"}
            history.append((epoch.epoch, {str(k): dict(m) for k, m in epoch.metrics.items()}))
            kill_point("checkpoint")
            saved = epoch_checkpoint(checkpoint_dir, epoch.epoch, history)
            if stop_members is not None:
                asked = [k for k in epoch.metrics if k in recording and states[k]["state"] == RUNNING]
                verdicts = stop_members([(specs[k], epoch.epoch, states[k]["objective"]) for k in asked])
                stopping.update(k for k, stop in zip(asked, verdicts, strict=True) if stop)
            running = [s["objective"] for s in states if s["state"] == RUNNING and "objective" in s]
            result = {"epoch": float(epoch.epoch), OBJECTIVE: _best(running, mode)}
            tune.report({**result, MEMBERS: _members_field(states)}, checkpoint=saved)

        artifacts = [Path(scratch, f"artifacts-{k}") for k in range(len(specs))]
        finals = [Path(scratch, f"final-{k}") for k in range(len(specs))]

        def record_evaluated(members: list[MemberResult]) -> None:
            for member in members:
                k = member.member
                if k in recording:
                    trackers[k].finish(member.metrics, artifacts[k], finals[k] / CHECKPOINT_FILE)
                    states[k] = {"state": FINISHED, "result": final_result(member.metrics, objective)}
            tune.report(_finished_so_far(states, mode))  # the sweep's progress shows them now

        try:
            results = fit_pack(
                configs,
                report,
                checkpoint_dir=checkpoint_dir,
                resume_from=checkpoint_dir if restored is not None else None,
                artifacts_dirs=artifacts,
                member_checkpoint_dirs=finals,
                should_stop=should_stop,
                on_evaluated=record_evaluated,
                evaluated_before=[k for k, done in enumerate(earlier) if done is not None],
            )
        except Exception as error:
            for k in recording:
                if states[k]["state"] not in (FAILED, FINISHED):  # recorded ones stand
                    trackers[k].fail(error)
            raise
        for k, member in enumerate(results):
            if k not in recording:
                continue
            if member.status == FAILED:
                reason = f"{type(member.error).__name__}: {member.error}"
                if states[k]["state"] != FAILED:  # failed in an earlier attempt, restored so
                    trackers[k].fail(member.error)
                states[k] = {"state": FAILED, "reason": reason}
    _report_final(states, mode)


def _report_final(states: list[dict[str, Any]], mode: str) -> None:
    """The pack's last result: every member's outcome, the best finished member's objective."""
    tune.report({**_finished_so_far(states, mode), FINAL: 1.0})


def _finished_so_far(states: list[dict[str, Any]], mode: str) -> dict[str, Any]:
    """A result of every member's state and the best finished member's objective."""
    values = [s["result"][OBJECTIVE] for s in states if s["state"] == FINISHED]
    return {OBJECTIVE: _best(values, mode), MEMBERS: _members_field(states)}
