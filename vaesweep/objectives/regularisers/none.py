"""No regulariser: an autoencoder."""

from __future__ import annotations

from vaesweep.objectives.regularisers.base import Regulariser


class NoRegulariser(Regulariser):
    """An AE: nothing beyond the reconstruction (IGP's AE baseline)."""

    name = "none"
    posterior = "deterministic"

    def __call__(self, out, values, noise):
        return {}
