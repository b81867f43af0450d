"""DG-VAE: the density gap on the aggregated posterior in place of the KL."""

from vaesweep.methods.space import Choice
from vaesweep.methods.spec import Method

DG_VAE = Method(
    "dg_vae",
    "DG-VAE",
    "DG-VAE: density gap on the aggregated posterior, per dimension",
    "DG-VAE",
    "DG-VAE",
    {"posterior.family": "diagonal", "regulariser.kind": "density_gap"},
    ("regulariser.aggregation_size", "regulariser.density_gap_mode"),
    grid={"regulariser.aggregation_size": (1, 2, 4, 8, 16, 32)},  # DG-VAE |b|
    # |b| must divide the batch size: powers of two up to 32 divide every profile's but OMNIGLOT's.
    space={"regulariser.aggregation_size": Choice((1, 2, 4, 8, 16, 32))},
)
METHODS = (DG_VAE,)
