"""Ray Tune trainables around ``train.fit``: report, checkpoint, resume; nothing else."""

from vaesweep.trainables.tracker import OpenTracker, TrialTracker
from vaesweep.trainables.vae_trial import FINAL, OBJECTIVE, epoch_objective, final_result, run_trial

__all__ = [
    "FINAL",
    "OBJECTIVE",
    "OpenTracker",
    "TrialTracker",
    "epoch_objective",
    "final_result",
    "run_trial",
]
