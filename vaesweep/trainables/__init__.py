"""Ray Tune trainables around ``train.fit``: report, checkpoint, resume; nothing else."""

from vaesweep.trainables.vae_trial import FINAL, OBJECTIVE, epoch_objective, run_trial

__all__ = ["FINAL", "OBJECTIVE", "epoch_objective", "run_trial"]
