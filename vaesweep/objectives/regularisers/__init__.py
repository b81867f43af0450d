"""The regularisers: one unit per file, registered here by one line each.

A regulariser declares its fields (vaesweep.config reads them) and computes its named loss
parts from the forward pass; see ``base.Regulariser``.
"""

from vaesweep.config.registry import Registry
from vaesweep.objectives.regularisers.base import BETA, Regulariser
from vaesweep.objectives.regularisers.density_gap import DensityGap, density_gap
from vaesweep.objectives.regularisers.free_bits import FreeBits
from vaesweep.objectives.regularisers.iwae import IWAE
from vaesweep.objectives.regularisers.kl import KL
from vaesweep.objectives.regularisers.latent_l2 import LatentL2
from vaesweep.objectives.regularisers.mae import MAE
from vaesweep.objectives.regularisers.mmd import MMD, mmd_imq
from vaesweep.objectives.regularisers.none import NoRegulariser
from vaesweep.objectives.regularisers.target_kl import TargetKL, ramped_target

REGULARISERS = Registry(
    "regulariser.kind",
    "the term added to the reconstruction loss",
    default="kl",
    units=(KL, TargetKL, FreeBits, DensityGap, IWAE, MAE, LatentL2, MMD, NoRegulariser),
)

__all__ = ["BETA", "REGULARISERS", "Regulariser", "density_gap", "mmd_imq", "ramped_target"]
