"""Method presets: each one spec (vaesweep.methods.spec.Method) choosing a unit on every axis,
with its paper grid, Optuna space, table label and paper, in a file per paper.

A preset is data; anything can be overridden afterwards, which is how methods are combined
(``igp`` with ``regulariser.kind=density_gap``, a DU head with the AR-ELBO likelihood, ...).
Adding a method is one ``Method`` in its paper's file (or a new file) and its tuple below.
"""

from vaesweep.methods import arelbo, baselines, dgvae, duvae, igp
from vaesweep.methods.spec import Grid, Method, MethodRegistry

# The order `vaesweep methods` lists them in.
_ORDER = (
    "ae", "vae", "beta_vae", "c_vae", "igp", "iwae", "fb", "delta_vae", "mae", "bn_vae", "du_vae",
    "du_iaf", "iaf_fb", "iaf_bn", "agg_vae", "sa_vae", "dg_vae", "ar_elbo", "fixed_sigma",
    "trainable_sigma", "wae_mmd", "rae", "rae_gp", "cyclic_vae", "bow_vae", "skip_vae",
)  # fmt: skip
_ALL = {m.name: m for module in (baselines, igp, duvae, dgvae, arelbo) for m in module.METHODS}
METHODS = MethodRegistry(tuple(_ALL[name] for name in _ORDER))

__all__ = ["METHODS", "Grid", "Method"]
