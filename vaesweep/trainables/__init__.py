"""Ray Tune trainables around ``train.fit`` and ``fit_pack``: report, checkpoint, resume;
nothing else."""

from vaesweep.trainables.pack_trial import MEMBERS, PACK_TAG, run_pack
from vaesweep.trainables.scheduling import StopMembers
from vaesweep.trainables.tracker import OpenTracker, TrialTracker
from vaesweep.trainables.vae_trial import FINAL, OBJECTIVE, epoch_objective, final_result, run_trial

__all__ = [
    "FINAL",
    "MEMBERS",
    "OBJECTIVE",
    "PACK_TAG",
    "OpenTracker",
    "StopMembers",
    "TrialTracker",
    "epoch_objective",
    "final_result",
    "run_pack",
    "run_trial",
]
