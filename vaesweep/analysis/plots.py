"""The papers' figures, redrawn from a sweep's runs, histories and artifacts.

Each figure says which runs it needs; when they are missing it is skipped with a note, never an
error, so a report can always be written. Artifacts are fetched through a callable
(run id, file name) -> local path or None, which a live MLflow store and an export both provide.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from vaesweep.analysis import schema
from vaesweep.analysis.tables import method_label

ArtifactFetcher = Callable[[str, str], Path | None]
GRID_LIMIT = 3.0  # DU-VAE Fig. 1 draws z in [-3, 3] x [-3, 3]


@dataclass(frozen=True)
class Plot:
    """A drawn figure (``path``) or a skipped one (``path`` None, ``note`` says why)."""

    name: str
    title: str
    path: Path | None
    note: str


def _arm(runs: pd.DataFrame) -> pd.Series:
    return runs["arm"].where(runs["arm"].notna(), runs["method"].map(method_label))


def _first_with(runs: pd.DataFrame, artifact: ArtifactFetcher, name: str) -> list[tuple[str, Path]]:
    """Per arm and data set, the lowest-seed run that has the artifact: (arm label, local path)."""
    found = []
    ordered = runs.assign(arm_label=_arm(runs)).sort_values(["seed", schema.START_TIME])
    for (_, label), group in ordered.groupby(["dataset", "arm_label"], sort=False):
        for run_id in group[schema.RUN_ID]:
            path = artifact(run_id, name)
            if path is not None:
                found.append((label, path))
                break
    return found


# -- IGP Fig. 1 -------------------------------------------------------------------------------


def igp_dimensions(runs: pd.DataFrame, histories: pd.DataFrame, artifact: ArtifactFetcher) -> Figure | str:
    """Boxplots of per-dimension posterior means and variances, active vs inactive units."""
    dgp, igp = runs[runs["method"] == "c_vae"], runs[runs["method"] == "igp"]
    common = sorted(set(dgp["regulariser.target_kl"]) & set(igp["regulariser.target_kl"]))
    for c in common:  # the paper draws C = 5; take the smallest C both have
        pair = [
            _first_with(part[part["regulariser.target_kl"] == c], artifact, schema.DIMENSION_SUMMARY)
            for part in (dgp, igp)
        ]
        if all(pair):
            break
    else:
        return "needs c_vae and igp runs at the same C with dimension_summary.json"
    figure, axes = plt.subplots(2, 2, figsize=(12, 6), sharey="row")
    for column, found in enumerate(pair):
        label, path = found[0]
        summary = json.loads(path.read_text())["dimension_summary"]
        active = np.asarray(summary["active"], dtype=bool)
        for row, key in enumerate(("mean_quantiles", "variance_quantiles")):
            quantiles = np.asarray(summary[key])
            stats = [
                {"whislo": q[0], "q1": q[1], "med": q[2], "q3": q[3], "whishi": q[4], "fliers": []}
                for q in quantiles.T
            ]
            boxes = axes[row, column].bxp(stats, showfliers=False, patch_artist=True)
            for box, is_active in zip(boxes["boxes"], active, strict=True):
                box.set_facecolor("tab:blue" if is_active else "tab:red")
            axes[row, column].set_xticks(range(1, len(active) + 1), range(len(active)), fontsize=6)
        axes[0, column].set_title(f"{label}: {active.sum()} active of {len(active)}")
    axes[0, 0].set_ylabel("posterior mean")
    axes[1, 0].set_ylabel("posterior variance")
    axes[1, 0].set_xlabel("dimension (blue: active, red: inactive)")
    return figure


# -- DU-VAE Fig. 2 ----------------------------------------------------------------------------


def duvae_parameters(runs: pd.DataFrame, histories: pd.DataFrame, artifact: ArtifactFetcher) -> Figure | str:
    """NLL, MI and AU of DU-VAE over gamma (lines) and the keep probability p (x axis)."""
    du = runs[runs["method"] == "du_vae"]
    settings = du[["posterior.gamma", "posterior.keep_prob"]].drop_duplicates()
    if len(settings) < 2:
        return "needs du_vae runs at two or more (gamma, p) settings"
    figure, axes = plt.subplots(1, 3, figsize=(12, 3.5))
    for axis, metric in zip(axes, ("nll", "mi", "au"), strict=True):
        if metric not in du:
            axis.set_title(f"{metric.upper()}: not measured")
            continue
        means = du.groupby(["posterior.gamma", "posterior.keep_prob"])[metric].mean().reset_index()
        for gamma, line in means.groupby("posterior.gamma"):
            axis.plot(line["posterior.keep_prob"], line[metric], marker="o", label=f"gamma = {gamma:g}")
        axis.set_xlabel("p (keep probability)")
        axis.set_title(metric.upper())
        axis.invert_xaxis()
    axes[0].legend(fontsize=7)
    return figure


# -- DU-VAE Fig. 1 ----------------------------------------------------------------------------


def _aggregate_density(mean: np.ndarray, logvar: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """q(z) = mean_i N(z; mu_i, diag s_i^2) on grid points [G, 2], chunked over examples."""
    density = np.zeros(len(grid))
    var = np.exp(logvar)
    for start in range(0, len(mean), 256):
        mu, s2 = mean[start : start + 256, None, :], var[start : start + 256, None, :]
        log_pdf = -0.5 * (((grid[None] - mu) ** 2) / s2 + np.log(2 * np.pi * s2)).sum(-1)
        density += np.exp(log_pdf).sum(0)
    return density / len(mean)


def duvae_latent_space(
    runs: pd.DataFrame, histories: pd.DataFrame, artifact: ArtifactFetcher
) -> Figure | str:
    """Aggregated posterior density (top) and posterior means by true component (bottom)."""
    panels = []
    for label, path in _first_with(runs, artifact, schema.LATENTS):
        latents = dict(np.load(path))
        if "component" in latents and latents["mean"].shape[1] == 2:
            panels.append((label, latents))
    if not panels:
        return "needs runs on the 2-D synthetic data (latents.npz with true_z and component)"
    figure, axes = plt.subplots(2, len(panels) + 1, figsize=(3 * (len(panels) + 1), 6), squeeze=False)
    axis_values = np.linspace(-GRID_LIMIT, GRID_LIMIT, 80)
    grid = np.stack(np.meshgrid(axis_values, axis_values), -1).reshape(-1, 2)
    truth = panels[0][1]
    axes[0, 0].scatter(*truth["true_z"].T, c=truth["component"], cmap="tab10", s=3)
    axes[0, 0].set_title("true latent z")
    axes[1, 0].axis("off")
    for column, (label, latents) in enumerate(panels, start=1):
        if "logvar" in latents:
            density = _aggregate_density(latents["mean"], latents["logvar"], grid).reshape(80, 80)
            axes[0, column].contourf(axis_values, axis_values, density, levels=20, cmap="magma")
        axes[0, column].set_title(f"{label}: q(z)", fontsize=9)
        axes[1, column].scatter(*latents["mean"].T, c=latents["component"], cmap="tab10", s=3)
        axes[1, column].set_title(f"{label}: posterior means", fontsize=9)
    for axis in axes.flat:
        axis.set_xlim(-GRID_LIMIT, GRID_LIMIT)
        axis.set_ylim(-GRID_LIMIT, GRID_LIMIT)
        axis.set_aspect("equal")
    return figure


# -- DG-VAE Fig. 4 ----------------------------------------------------------------------------
DG_FIGURE_METHODS = ("vae", "bn_vae", "fb", "beta_vae", "du_vae", "dg_vae")


def dgvae_aggregated_posterior(
    runs: pd.DataFrame, histories: pd.DataFrame, artifact: ArtifactFetcher
) -> Figure | str:
    """Per dimension: the aggregated posterior, the distribution of posterior centres, the prior."""
    dg = runs[runs["method"] == "dg_vae"]
    if dg.empty:
        return "needs dg_vae runs (with latents.npz), beside the baselines to compare"
    shown = runs[runs["method"].isin(DG_FIGURE_METHODS) & runs["dataset"].isin(set(dg["dataset"]))]
    panels = [(label, dict(np.load(path))) for label, path in _first_with(shown, artifact, schema.LATENTS)]
    panels = [(label, latents) for label, latents in panels if "logvar" in latents]
    if not panels:
        return "needs dg_vae runs with latents.npz"
    dims = min(2, panels[0][1]["mean"].shape[1])
    z = np.linspace(-4, 4, 400)
    prior = np.exp(-0.5 * z**2) / np.sqrt(2 * np.pi)
    figure, axes = plt.subplots(dims, len(panels), figsize=(3 * len(panels), 2.6 * dims), squeeze=False)
    for column, (label, latents) in enumerate(panels):
        for d in range(dims):
            mu, var = latents["mean"][:, d], np.exp(latents["logvar"][:, d])
            aggregate = np.mean(
                np.exp(-0.5 * (z[:, None] - mu) ** 2 / var) / np.sqrt(2 * np.pi * var), axis=1
            )
            axis = axes[d, column]
            axis.hist(mu, bins=40, range=(-4, 4), density=True, color="tab:blue", alpha=0.4, label="centres")
            axis.plot(z, aggregate, color="tab:red", label="aggregated q(z_d)")
            axis.plot(z, prior, color="black", linestyle="--", label="prior")
            axis.set_title(f"{label}, z_{d}", fontsize=9)
    axes[0, 0].legend(fontsize=6)
    return figure


# -- per-epoch curves -------------------------------------------------------------------------


def _curves(
    runs: pd.DataFrame, histories: pd.DataFrame, panels: tuple[tuple[str, ...], ...], log: bool
) -> Figure | str:
    """Mean over seeds per arm and epoch; one row of panels per data set. A panel takes the
    first of its metric names that was logged (sigma_x^2 falls back to the implied one)."""
    merged = histories.merge(runs[[schema.RUN_ID, "dataset"]].assign(arm=_arm(runs)), on=schema.RUN_ID)
    datasets = list(dict.fromkeys(merged["dataset"]))
    chosen = [next((m for m in names if (merged["metric"] == m).any()), None) for names in panels]
    if merged.empty or not any(chosen):
        return "needs per-epoch metrics " + ", ".join("/".join(names) for names in panels)
    figure, axes = plt.subplots(
        len(datasets), len(panels), figsize=(4 * len(panels), 3 * len(datasets)), squeeze=False
    )
    for row, dataset in enumerate(datasets):
        for column, metric in enumerate(chosen):
            axis = axes[row, column]
            data = merged[(merged["dataset"] == dataset) & (merged["metric"] == metric)]
            for arm, lines in data.groupby("arm", sort=False):
                mean = lines.groupby("step")["value"].mean()
                axis.plot(mean.index, mean.to_numpy(), label=arm)
            axis.set_title(f"{dataset}: {metric or 'not logged'}", fontsize=9)
            axis.set_xlabel("epoch")
            if log and not data.empty and (data["value"] > 0).all():
                axis.set_yscale("log")
        axes[row, 0].legend(fontsize=6)
    return figure


# Per-epoch panels: each takes the first of its names that was logged.
TRAINING_PANELS = (("valid_rec",), ("valid_kl",), ("valid_au",))
VARIANCE_PANELS = (("valid_sigma_x2", "valid_implied_sigma_x2"), ("valid_sigma_z2",))
EPOCH_PANELS = tuple(name for panel in TRAINING_PANELS + VARIANCE_PANELS for name in panel)


def training_curves(runs: pd.DataFrame, histories: pd.DataFrame, artifact: ArtifactFetcher) -> Figure | str:
    """Validation reconstruction, KL and active units per epoch, by arm."""
    return _curves(runs, histories, TRAINING_PANELS, log=False)


def arelbo_variances(runs: pd.DataFrame, histories: pd.DataFrame, artifact: ArtifactFetcher) -> Figure | str:
    """AR-ELBO: decoder variance sigma_x^2 and posterior variance sigma_z^2 per epoch."""
    gaussian = runs[runs["likelihood.kind"] == "gaussian"]
    if gaussian.empty:
        return "needs Gaussian-decoder runs (ar_elbo, fixed_sigma, trainable_sigma)"
    return _curves(gaussian, histories, VARIANCE_PANELS, log=True)


FIGURES: tuple[tuple[str, str, Callable[..., Figure | str]], ...] = (
    ("igp_fig1_dimensions", "IGP Fig. 1: posterior means and variances per dimension", igp_dimensions),
    ("duvae_fig1_latent_space", "DU-VAE Fig. 1: latent space on the 2-D synthetic data", duvae_latent_space),
    ("duvae_fig2_parameters", "DU-VAE Fig. 2: NLL, MI and AU over gamma and p", duvae_parameters),
    (
        "dgvae_fig4_aggregated_posterior",
        "DG-VAE Fig. 4: aggregated posterior against the prior",
        dgvae_aggregated_posterior,
    ),
    ("training_curves", "Training curves: rec, KL and AU per epoch", training_curves),
    ("arelbo_variances", "AR-ELBO: sigma_x^2 and sigma_z^2 per epoch", arelbo_variances),
)


def make_figures(
    runs: pd.DataFrame, histories: pd.DataFrame, artifact: ArtifactFetcher, directory: Path
) -> list[Plot]:
    """Draw every figure the runs allow into ``directory`` (PNG); note the ones skipped."""
    directory.mkdir(parents=True, exist_ok=True)
    finished = runs[runs[schema.STATUS] == schema.FINISHED]
    plots = []
    for name, title, draw in FIGURES:
        drawn = draw(finished, histories, artifact) if len(finished) else "no finished runs"
        if isinstance(drawn, str):
            plots.append(Plot(name, title, None, f"skipped: {drawn}"))
            continue
        path = directory / f"{name}.png"
        drawn.suptitle(title, fontsize=10)
        drawn.tight_layout()
        drawn.savefig(path, dpi=90)
        plt.close(drawn)
        plots.append(Plot(name, title, path, (draw.__doc__ or "").strip().splitlines()[0]))
    return plots
