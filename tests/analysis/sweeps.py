"""A demo-like sweep with planted numbers, as a run frame and as MLflow runs.

The arms mirror the demo preset (fixed here, so the tests do not move when the preset is
tuned); configurations come from resolve_config as for real trials. The metrics are chosen so
that every table cell and claim verdict is known in advance, one claim failing on purpose:
DU-VAE gets fewer active units than BN-VAE (duvae_au_over_bn).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from tests.analysis.paper_runs import run_row
from vaesweep.analysis import schema
from vaesweep.analysis.runs import typed
from vaesweep.config import resolve_config

SEEDS = (0, 1)
FAILURE = "diverged: NaN loss at epoch 2"
DIGITS, TEXT = "digits", "synthetic_text"
# (method, data set, overrides, arm label as the platform tags it)
ARMS = (
    *(
        (m, DIGITS, {"C": c}, f"{tag} (target_kl={c})")
        for m, tag in (("c_vae", "DGP"), ("igp", "IGP"))
        for c in (5.0, 15.0, 50.0)
    ),
    ("vae", DIGITS, {}, "VAE"),
    *(("dg_vae", DIGITS, {"b": b}, f"DG-VAE (aggregation_size={b})") for b in (1, 8, 64)),
    ("ar_elbo", DIGITS, {}, "AR-ELBO"),
    ("fixed_sigma", DIGITS, {"sigma_x2": 1.0}, "sigma_x^2 = 1"),
    ("vae", TEXT, {}, "VAE"),
    ("bn_vae", TEXT, {"gamma": 1.0}, "BN-VAE"),
    ("du_vae", TEXT, {"gamma": 1.0, "p": 0.5}, "DU-VAE"),
)


def planted_metrics(method: str, dataset: str, settings: dict, seed: int) -> dict[str, float]:
    """Final metrics of one trial; seeds differ by 1 in rec (mean +0.5, population std 0.5)."""
    c = float(settings.get("C", 0.0))
    if method == "c_vae":
        au = {5.0: 4, 15.0: 6, 50.0: 10}[c] + seed
        return {"rec": 30 - c / 5 + seed, "kl": c, "au": au, "mi": 2.0, "nll": 33.0, "probe_mlp": 75.0}
    if method == "igp":
        return {"rec": 29 - c / 5 + seed, "kl": c + 0.2, "au": 16, "mi": 3.0, "nll": 32.0, "probe_mlp": 80.0}
    if method == "ar_elbo":
        mse = 1.0 + 0.1 * seed
        fit = {"mse": mse, "sigma_x2": 0.02, "implied_sigma_x2": mse / 64, "data_variance": 0.07}
        return fit | {"sigma_z2": 0.05, "kl": 10.0, "au": 12}
    if method == "fixed_sigma":
        fit = {"mse": 3.0, "sigma_x2": 1.0, "implied_sigma_x2": 3.0 / 64, "data_variance": 0.07}
        return fit | {"sigma_z2": 0.98, "kl": 0.1, "au": 0}
    if dataset == DIGITS:  # VAE and DG-VAE at |b| = 1, 8, 64
        kl, mi, au = {0: (0.3, 0.2, 2), 1: (0.4, 0.25, 2), 8: (5.0, 3.0, 10), 64: (12.0, 4.0, 16)}[
            int(settings.get("b", 0))
        ]
        return {
            "rec": 34.0 + seed,
            "kl": kl,
            "mi": mi,
            "au": au,
            "cu": 16,
            "nll": 35.0,
            "prior_ll": -40.0 - kl / 10,
        }
    text = {
        "vae": {"nll": 30.0, "kl": 0.05, "mi": 0.02, "au": 0, "cu": 2},
        "bn_vae": {"nll": 29.0, "kl": 1.2, "mi": 0.9, "au": 2, "cu": 1, "mpd": 0.8, "ce": -0.5},
        "du_vae": {"nll": 28.5, "kl": 1.5, "mi": 1.1, "au": 1, "cu": 2, "mpd": 0.9, "ce": -1.0}
        | {"mpd_dropout": 1.4 + 0.1 * seed, "ce_dropout": -1.6},
    }[method]
    return {**text, "rec": 27.0 + seed, "prior_ll": -text["nll"] - 0.5, "post_ll": -text["nll"] + 0.5}


def planted_sweep(seeds: tuple[int, ...] = SEEDS) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, dict]]:
    """(runs, histories, artifacts by run id) of the demo-like sweep, plus one failed DGP trial."""
    rows, history, artifacts = [], [], {}
    trials = [(arm, seed) for arm in ARMS for seed in seeds] + [(ARMS[0], seeds[0])]
    for (method, dataset, overrides, label), seed in trials:
        config = resolve_config(method, dataset, {**overrides, "train.seed": seed}).flatten()
        is_failure = len(rows) == len(trials) - 1
        metrics = {} if is_failure else planted_metrics(method, dataset, overrides, seed)
        row = run_row(config, metrics, dataset=dataset, seed=seed, preset="demo", arm=label)
        row |= {"method": method, "git_commit": "abc1234", "trial_id": f"t{len(rows)}"}
        if is_failure:
            row |= {schema.STATUS: "FAILED", "trial_status": "diverged", "failure_reason": FAILURE}
        rows.append(row)
        run_id = row[schema.RUN_ID]
        for epoch in range(1, 4):
            for name in ("rec", "kl", "au", "sigma_x2", "sigma_z2"):
                if name in metrics:
                    value = metrics[name] * (1 + 0.5 * (3 - epoch)) if name != "au" else metrics[name]
                    history.append((run_id, epoch, f"valid_{name}", float(value)))
        artifacts[run_id] = _artifacts(method, config["model.latent_dim"], seed)
    histories = pd.DataFrame(history, columns=list(schema.HISTORY_COLUMNS))
    return typed(pd.DataFrame(rows)), histories, artifacts


def _artifacts(method: str, dim: int, seed: int) -> dict[str, object]:
    rng = np.random.default_rng(seed)
    if method in ("c_vae", "igp"):
        active = [d < (16 if method == "igp" else 5) for d in range(dim)]
        spread = np.array([1.0 if a else 0.05 for a in active])
        levels = np.array(schema.QUANTILE_LEVELS)[:, None]
        summary = {
            "activity": (spread**2).tolist(),
            "active": active,
            "mean_quantiles": ((levels - 0.5) * 4 * spread).tolist(),
            "variance_quantiles": (np.where(active, 0.05, 0.95) * (0.8 + 0.4 * levels)).tolist(),
        }
        return {schema.DIMENSION_SUMMARY: {"dimension_summary": summary, "kl_per_dim_aggregate": [0.1] * dim}}
    if method in ("vae", "dg_vae") and dim != 2:  # digits: DG-VAE Fig. 4 reads these
        mean = rng.standard_normal((200, dim)) * (0.1 if method == "vae" else 0.9)
        return {
            schema.LATENTS: {"mean": mean, "logvar": np.full((200, dim), -1.0), "labels": np.arange(200) % 10}
        }
    if dim == 2:  # synthetic_text: five components around the origin, as in DU-VAE appendix E
        component = rng.integers(0, 5, 300)
        centres = np.array([[0, 0], [2, 2], [-2, 2], [2, -2], [-2, -2]], dtype=float)
        true_z = centres[component] + 0.3 * rng.standard_normal((300, 2))
        mean = 0.8 * true_z if method != "vae" else 0.01 * true_z
        logvar = np.full((300, 2), -2.0 if method != "vae" else 0.0)
        latents = {
            "mean": mean,
            "logvar": logvar,
            "labels": component,
            "true_z": true_z,
            "component": component,
        }
        return {schema.LATENTS: latents}
    return {}


def write_artifacts(directory: Path, artifacts: dict[str, object]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in artifacts.items():
        if name.endswith(".json"):
            (directory / name).write_text(json.dumps(content))
        else:
            np.savez_compressed(directory / name, **content)


def log_sweep(
    tracking_uri: str, runs: pd.DataFrame, histories: pd.DataFrame, artifacts: dict, tmp: Path, name="demo"
) -> str:
    """Log the sweep as the platform does: experiment = preset, a parent run, child runs with
    params (flattened config as text), final and per-epoch metrics, tags and artifacts."""
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri)
    experiment_id = client.create_experiment(name)
    parent = client.create_run(experiment_id, run_name="demo-sweep", tags={"preset": "demo"}).info.run_id
    config_keys = [c for c in runs.columns if "." in c]
    metric_columns = [c for c in runs.columns if c not in schema.IDENTITY_COLUMNS and c not in config_keys]
    column_tags = {column: tag for tag, column in schema.TAGS.items()}
    for row in runs.to_dict("records"):
        tags = {schema.PARENT_RUN_TAG: parent}
        tags |= {
            column_tags[c]: str(row[c]) for c in column_tags if isinstance(row[c], str) or pd.notna(row[c])
        }
        child = client.create_run(experiment_id, run_name=row["arm"], tags=tags).info.run_id
        params = [Param(k, "" if pd.isna(row[k]) else str(row[k])) for k in config_keys]
        params.append(Param("method", row["method"]))
        metrics = [Metric(k, float(row[k]), 0, 0) for k in metric_columns if pd.notna(row[k])]
        steps = histories[histories["run_id"] == row[schema.RUN_ID]]
        metrics += [
            Metric(m, v, 0, s) for m, v, s in zip(steps["metric"], steps["value"], steps["step"], strict=True)
        ]
        for start in range(0, len(params), 100):
            client.log_batch(child, params=params[start : start + 100])
        client.log_batch(child, metrics=metrics)
        local = tmp / row[schema.RUN_ID]
        write_artifacts(local, artifacts[row[schema.RUN_ID]])
        if any(local.iterdir()):
            client.log_artifacts(child, str(local), "trial")
        client.set_terminated(child, status=row[schema.STATUS])
    client.set_terminated(parent)
    return parent
