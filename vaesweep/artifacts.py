"""Files a finished run leaves for people and for the analysis: metrics, per-dimension summaries,
latent codes, and a picture of what the model does (image grids, decoded sentences, and a
scatter of the posterior means when z is 2-D)."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch

from vaesweep.config import RunConfig
from vaesweep.data.base import Dataset
from vaesweep.data.batching import trim
from vaesweep.models.vae import VAE, model_device

GRID_EXAMPLES = 16


def write_run_artifacts(
    model: VAE, dataset: Dataset, config: RunConfig, metrics: dict[str, float], details: dict, directory: Path
) -> list[Path]:
    """Write every artifact of a run into ``directory`` and return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    written = [
        _write_json(directory / "metrics.json", metrics),
        _write_json(directory / "config.json", config.to_dict()),
    ]
    if details:
        written.append(_write_json(directory / "dimension_summary.json", details))
    split = dataset.split(config.eval.split)
    model.eval()
    device = model_device(model)
    with torch.no_grad():
        x, lengths = split.x.to(device), None if split.lengths is None else split.lengths.to(device)
        if lengths is not None:
            x = trim(x, lengths)
        limit = min(len(split), 2000)
        posterior = model.encode(x[:limit], None if lengths is None else lengths[:limit])
        latents = {"mean": posterior.mean.cpu().numpy()}
        if posterior.logvar is not None:
            latents["logvar"] = posterior.logvar.cpu().numpy()
        if split.labels is not None:
            latents["labels"] = split.labels[:limit].cpu().numpy()
        for name, values in split.extras.items():
            latents[name] = values[:limit].cpu().numpy()
        path = directory / "latents.npz"
        np.savez_compressed(path, **latents)
        written.append(path)
        if dataset.kind == "image":
            written += _image_grids(model, x, directory)
        else:
            written.append(_sentences(model, dataset, x, lengths, directory))
    if model.latent_dim == 2:
        written.append(_latent_scatter(latents, directory / "latent_scatter.png"))
    return written


def _write_json(path: Path, payload: dict) -> Path:
    path.write_text(json.dumps(payload, indent=2, sort_keys=True, default=str))
    return path


def _image_grids(model: VAE, x: torch.Tensor, directory: Path) -> list[Path]:
    """Originals above reconstructions from the posterior mean; and decoded prior samples."""
    if model.decoder.autoregressive:
        return []
    originals = x[:GRID_EXAMPLES]
    codes = model.encode(originals).mean
    reconstructions = model.likelihood.mean(model.decoder(codes, None).unsqueeze(0))[0]
    samples = model.likelihood.mean(
        model.decoder(model.prior.sample(GRID_EXAMPLES, x.device), None).unsqueeze(0)
    )[0]
    paths = [directory / "reconstructions.png", directory / "samples.png"]
    _grid([originals, reconstructions], paths[0], "top: data, bottom: reconstructions")
    _grid([samples], paths[1], "decoded samples from the prior")
    return paths


def _grid(rows: list[torch.Tensor], path: Path, title: str) -> None:
    """The images tiled into one picture, a row of ``GRID_EXAMPLES`` per tensor, with a 2-pixel
    white gap between them: one ``imshow`` (a subplot per image costs a second per run)."""
    gap = 2
    images = [r.detach().cpu().clamp(0, 1)[:GRID_EXAMPLES] for r in rows]
    channels, height, width = images[0].shape[1:]
    tiled = torch.ones(channels, len(rows) * (height + gap) - gap, GRID_EXAMPLES * (width + gap) - gap)
    for r, row in enumerate(images):
        for c, image in enumerate(row):
            top, left = r * (height + gap), c * (width + gap)
            tiled[:, top : top + height, left : left + width] = image
    picture = tiled.permute(1, 2, 0).numpy()
    figure, axis = plt.subplots(figsize=(GRID_EXAMPLES * 0.6, len(rows) * 0.7))
    axis.axis("off")
    axis.imshow(picture.squeeze(-1) if channels == 1 else picture, cmap="gray", vmin=0, vmax=1)
    figure.suptitle(title, fontsize=8)
    figure.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(figure)


def _sentences(model: VAE, dataset: Dataset, x: torch.Tensor, lengths: torch.Tensor, directory: Path) -> Path:
    vocab = dataset.vocab
    max_length = int(lengths.max()) + 5
    codes = model.encode(x[:GRID_EXAMPLES], lengths[:GRID_EXAMPLES]).mean
    reconstructions = model.decoder.greedy_decode(codes, max_length)
    samples = model.decoder.greedy_decode(model.prior.sample(GRID_EXAMPLES, x.device), max_length)
    lines = ["# reconstructions (greedy, from the posterior mean)"]
    for original, decoded in zip(x[:GRID_EXAMPLES], reconstructions, strict=True):
        lines += [
            f"data: {' '.join(vocab.decode(original.tolist()))}",
            f"rec:  {' '.join(vocab.decode(decoded.tolist()))}",
            "",
        ]
    lines.append("# samples from the prior (greedy)")
    lines += [" ".join(vocab.decode(row.tolist())) for row in samples]
    path = directory / "sentences.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def _latent_scatter(latents: dict[str, np.ndarray], path: Path) -> Path:
    figure, axis = plt.subplots(figsize=(4, 4))
    colour = latents.get("component", latents.get("labels"))
    axis.scatter(latents["mean"][:, 0], latents["mean"][:, 1], c=colour, s=3, cmap="tab10")
    axis.set_xlim(-3, 3)
    axis.set_ylim(-3, 3)
    axis.set_title("posterior means")
    figure.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(figure)
    return path
