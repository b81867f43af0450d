"""Evaluate a model on a split: one encoding pass keeps the posterior parameters, then every
metric of DESIGN.md section 3 is computed from them (and, for the bounds, from fresh samples),
batched over examples and importance samples and chunked to a memory budget."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from vaesweep.config import RunConfig
from vaesweep.data.base import Dataset, Split
from vaesweep.metric_registry import CU_AT, EXPECTED_GAP_AT
from vaesweep.metrics import (
    active_units,
    aggregate_posterior_stats,
    collapsed_units,
    conditional_entropy,
    conditional_entropy_dropout,
    corpus_bleu,
    dimension_summary,
    expected_gap,
    expected_local_smoothness,
    importance_weighted_log_likelihood,
    mutual_information,
    mutual_information_per_batch,
    mutual_posterior_diversity,
    mutual_posterior_diversity_dropout,
    prior_posterior_log_likelihood,
    probe_accuracies,
    rouge_n,
    runs_per_batch,
)
from vaesweep.models.posteriors.heads import batchnorm_heads
from vaesweep.models.vae import VAE, model_device
from vaesweep.protocols import paper_protocol_metrics

MEMORY_BUDGET_BYTES = 256 * 2**20  # per chunk of decoder outputs during evaluation


@dataclass
class EncodedSplit:
    """What one pass over a split leaves behind: per-example terms and posterior parameters."""

    mean: torch.Tensor  # [N, D]: the base Gaussian (z0) means; an AE's codes
    logvar: torch.Tensor | None  # [N, D]; None for an AE
    rec: torch.Tensor  # [N]: -log p(x|z), one z ~ q(z|x)
    kl: torch.Tensor  # [N]
    residual_sq: torch.Tensor | None  # [N]: ||x - E[x|z]||^2 for image decoders
    sigma_x2: float | None  # Gaussian decoders: the decoder variance, mean over pixels/examples
    data_variance: float | None  # image decoders: the split's per-pixel variance, mean over pixels


@torch.no_grad()
def encode_split(model: VAE, split: Split, batch_size: int, limit: int = 0) -> EncodedSplit:
    model.eval()
    means, logvars, recs, kls, residuals, variances = [], [], [], [], [], []
    gaussian = hasattr(model.likelihood, "sigma_x2")
    pixel_sum = pixel_sq_sum = 0.0
    for x, lengths in split.batches(batch_size, model_device(model), limit):
        out = model(x, lengths, k=1)
        means.append(out.posterior.mean)
        if out.posterior.logvar is not None:
            logvars.append(out.posterior.logvar)
        recs.append(-out.log_px[0])
        kls.append(out.kl)
        if not model.decoder.autoregressive:
            x_hat = model.likelihood.mean(out.params)[0]
            residuals.append((x - x_hat).pow(2).flatten(1).sum(-1))
            pixels = x.flatten(1).to(torch.float64)
            pixel_sum, pixel_sq_sum = pixel_sum + pixels.sum(0), pixel_sq_sum + pixels.square().sum(0)
        if gaussian:
            variances.append(model.likelihood.sigma_x2(out.params))
    count = sum(m.shape[0] for m in means)
    return EncodedSplit(
        mean=torch.cat(means),
        logvar=torch.cat(logvars) if logvars else None,
        rec=torch.cat(recs),
        kl=torch.cat(kls),
        residual_sq=torch.cat(residuals) if residuals else None,
        sigma_x2=float(torch.stack(variances).mean()) if variances else None,
        data_variance=_mean_pixel_variance(pixel_sum, pixel_sq_sum, count) if residuals else None,
    )


def _mean_pixel_variance(pixel_sum: torch.Tensor, pixel_sq_sum: torch.Tensor, count: int) -> float:
    """Mean over pixels of each pixel's variance over the examples (denominator N): the MSE/d of
    a decoder that outputs the split's mean image, so the sigma_x^2 a collapsed decoder earns."""
    mean = pixel_sum / count
    return float((pixel_sq_sum / count - mean.square()).clamp_min(0.0).mean())


def standard_metrics(
    encoded: EncodedSplit, config: RunConfig, data_dim: int, is_flow: bool
) -> dict[str, float]:
    """rec, kl, elbo, mi, au and the variances: cheap enough for every epoch."""
    metrics = {
        "rec": float(encoded.rec.mean()),
        "au": float(active_units(encoded.mean, strict=config.eval.au_strict)),
    }
    if encoded.residual_sq is not None:
        metrics["mse"] = float(encoded.residual_sq.mean())
        metrics["implied_sigma_x2"] = metrics["mse"] / data_dim
    if encoded.sigma_x2 is not None:
        metrics["sigma_x2"] = encoded.sigma_x2
    if encoded.logvar is None:  # an AE has neither KL nor a bound
        return metrics
    metrics["sigma_z2"] = float(torch.exp(encoded.logvar).mean())
    metrics["kl"] = float(encoded.kl.mean())
    metrics["elbo"] = -(metrics["rec"] + metrics["kl"])
    if not is_flow:  # MI of a flow posterior is intractable (DU-VAE Table 1 reports none)
        if config.eval.mi_estimator == "all":
            metrics["mi"] = mutual_information(encoded.mean, encoded.logvar)
        else:
            metrics["mi"] = mutual_information_per_batch(encoded.mean, encoded.logvar, config.eval.batch_size)
    return metrics


def _sample_chunk(model: VAE, batch: int, x: torch.Tensor, requested: int) -> int:
    """Importance samples per chunk so one chunk of decoder outputs fits the memory budget."""
    with torch.no_grad():
        z = torch.zeros(1, 1, model.latent_dim, device=x.device)
        per_sample = model.decode(z, x[:1]).numel() * 4 * 3  # outputs, log-softmax, gather
    return max(1, min(requested, MEMORY_BUDGET_BYTES // max(1, per_sample * batch)))


@torch.no_grad()
def importance_weighted_nll(model: VAE, split: Split, config: RunConfig) -> torch.Tensor:
    """-log p(x) per example from ``eval.nll_samples`` importance samples (IWAE estimator)."""
    model.eval()
    values = []
    for x, lengths in split.batches(config.eval.batch_size, model_device(model), config.eval.max_examples):
        posterior = model.encode(x, lengths)

        def log_weights(k: int, x=x, lengths=lengths, posterior=posterior) -> torch.Tensor:
            z, log_q = posterior.rsample(k)
            return model.log_px_given_z(z, x, lengths) + model.prior.log_prob(z) - log_q

        chunk = min(config.eval.nll_chunk, _sample_chunk(model, x.shape[0], x, config.eval.nll_chunk))
        values.append(
            -importance_weighted_log_likelihood(log_weights, x.shape[0], config.eval.nll_samples, chunk)
        )
    return torch.cat(values)


@torch.no_grad()
def prior_posterior_ll(model: VAE, split: Split, config: RunConfig) -> tuple[float, float]:
    """DG-VAE priorLL and postLL (proposal (p + q)/2, ``eval.ll_samples`` from each)."""
    model.eval()
    prior_lls, post_lls = [], []
    for x, lengths in split.batches(config.eval.batch_size, model_device(model), config.eval.max_examples):
        posterior = model.encode(x, lengths)
        n, device = x.shape[0], x.device
        prior_ll, post_ll = prior_posterior_log_likelihood(
            log_px_given_z=lambda z, x=x, lengths=lengths: model.log_px_given_z(z, x, lengths),
            sample_prior=lambda s, n=n, device=device: model.prior.sample(s * n, device).view(s, n, -1),
            sample_posterior=lambda s, posterior=posterior: posterior.rsample(s)[0],
            log_prior=model.prior.log_prob,
            log_posterior=posterior.log_prob,
            num_samples=config.eval.ll_samples,
        )
        prior_lls.append(prior_ll)
        post_lls.append(post_ll)
    return float(torch.cat(prior_lls).mean()), float(torch.cat(post_lls).mean())


@torch.no_grad()
def text_reconstruction_scores(
    model: VAE, split: Split, dataset: Dataset, config: RunConfig
) -> dict[str, float]:
    """BLEU-2/4 and ROUGE-2/4 of greedy reconstructions from the posterior mean (IGP)."""
    model.eval()
    vocab = dataset.vocab
    references, hypotheses = [], []
    for x, lengths in split.batches(config.eval.batch_size, model_device(model), config.eval.max_examples):
        codes = model.encode(x, lengths).mean
        decoded = model.decoder.greedy_decode(codes, max_length=int(lengths.max()) + 5)
        references += [vocab.decode(row.tolist()) for row in x]
        hypotheses += [vocab.decode(row.tolist()) for row in decoded]
    return {
        "bleu2": corpus_bleu(references, hypotheses, max_n=2),
        "bleu4": corpus_bleu(references, hypotheses, max_n=4),
        "rouge2": rouge_n(references, hypotheses, 2),
        "rouge4": rouge_n(references, hypotheses, 4),
    }


def _decode_mean(model: VAE):
    def decode(z: torch.Tensor) -> torch.Tensor:
        return model.likelihood.mean(model.decoder(z, None).unsqueeze(0))[0]

    return decode


def full_metrics(
    model: VAE,
    dataset: Dataset,
    split_name: str,
    config: RunConfig,
    *,
    probes_later: list[ProbeFeatures] | None = None,
) -> tuple[dict[str, float], dict]:
    """Every final metric the configuration asks for, and the per-dimension summary (IGP Fig. 1).

    ``probes_later``: append the probes' features there instead of training the probes (a pack
    trains its members' probes together: ``probe_metrics``). Nothing else draws differently.
    """
    split = dataset.split(split_name)
    is_flow = config.posterior.flow != "none"
    encoded = encode_split(model, split, config.eval.batch_size, config.eval.max_examples)
    metrics = standard_metrics(encoded, config, dataset.data_dim, is_flow)
    metrics["latent_dim"] = float(model.latent_dim)
    if encoded.data_variance is not None:
        metrics["data_variance"] = encoded.data_variance
    details: dict = {}
    stochastic = encoded.logvar is not None
    if stochastic and config.eval.nll_samples > 0:
        metrics["nll"] = float(importance_weighted_nll(model, split, config).mean())
    if stochastic and not is_flow:
        mean, logvar = encoded.mean, encoded.logvar
        cu = collapsed_units(
            mean,
            logvar,
            thresholds=config.eval.cu_thresholds,
            rounds=config.eval.cu_rounds,
            samples_per_round=config.eval.cu_samples_per_round,
            direction=config.eval.cu_direction,
            estimator=config.eval.cu_estimator,
        )
        for tau, count in cu["cu"].items():
            metrics[CU_AT.named(tau)] = float(count)
        metrics["cu"] = float(cu["cu"].get(0.03, next(iter(cu["cu"].values()))))
        metrics["mpd"] = mutual_posterior_diversity(mean, logvar)
        metrics["ce"] = conditional_entropy(logvar)
        metrics.update(variance_dropout_metrics(model, mean, logvar))
        metrics.update({k: float(v) for k, v in aggregate_posterior_stats(mean, logvar).items()})
        metrics["prior_ll"], metrics["post_ll"] = prior_posterior_ll(model, split, config)
        summary = dimension_summary(mean, logvar, strict=config.eval.au_strict)
        details["dimension_summary"] = {k: v.tolist() for k, v in summary.items()}
        details["kl_per_dim_aggregate"] = cu["kl_per_dim"].tolist()
        details["cu_sampled_dims"] = cu["sampled_dims"]  # quadrature fell back to samples there
    if encoded.residual_sq is not None and config.eval.smoothness:
        decode = _decode_mean(model)
        subset = encoded.mean[: min(1000, encoded.mean.shape[0])]
        metrics["els"] = expected_local_smoothness(decode, subset)
        for scale in EXPECTED_GAP_AT.values:
            metrics[EXPECTED_GAP_AT.named(scale)] = expected_gap(decode, subset, float(scale))
    if dataset.kind == "text" and config.eval.text_metrics:
        metrics.update(text_reconstruction_scores(model, split, dataset, config))
    if config.eval.probes and split.labels is not None and dataset.train.labels is not None:
        features = probe_features(model, dataset.train, split, encoded, config)
        if probes_later is None:
            metrics.update(probe_metrics([features])[0])
        else:
            probes_later.append(features)
    metrics.update(paper_protocol_metrics(model, dataset, split_name, config))
    return metrics, details


def variance_dropout_metrics(model: VAE, mean: torch.Tensor, logvar: torch.Tensor) -> dict[str, float]:
    """MPD and CE of a DU head's encoder with its training-time variance dropout, in expectation
    over the masks (DU-VAE Proposition 1): ``mpd_dropout`` and ``ce_dropout`` beside ``mpd`` and
    ``ce``, which are the same encoder without dropout (evaluation mode, the floor alpha kept).

    Only for a DU head whose floor and dropout are on (a head without a floor has zero
    variances under dropout, and Proposition 1 assumes the floor); empty otherwise.
    """
    heads = [h for h in batchnorm_heads(model) if h.trainable_scale and h.noise_active and h.floor > 0]
    if not heads:
        return {}
    floor, keep_prob = heads[0].floor, float(heads[0].keep_prob)
    return {
        "mpd_dropout": mutual_posterior_diversity_dropout(mean, logvar, floor, keep_prob),
        "ce_dropout": conditional_entropy_dropout(logvar, floor, keep_prob),
    }


@dataclass
class ProbeFeatures:
    """What a run's probes train and are scored on: the posterior means of the training split
    and of the evaluated split, their labels, and the run's probe settings."""

    train_codes: torch.Tensor  # [N, D]
    train_labels: torch.Tensor  # [N]
    codes: torch.Tensor  # [n, D]
    labels: torch.Tensor  # [n]
    restarts: int
    epochs: int
    seed: int

    def batch_key(self) -> tuple:
        """Runs whose probes can train as one batch: the same shapes, labels and settings."""
        return (
            tuple(self.train_codes.shape),
            tuple(self.codes.shape),
            self.train_codes.device,
            self.train_labels.data_ptr(),
            self.labels.data_ptr(),
            self.restarts,
            self.epochs,
        )


def probe_features(
    model: VAE, train: Split, split: Split, encoded: EncodedSplit, config: RunConfig
) -> ProbeFeatures:
    """The probes' inputs for a model: the training split's posterior means (one more encoding
    pass) and ``encoded``'s, the codes of ``split``, whose labels they are paired with."""
    train_codes = encode_split(model, train, config.eval.batch_size)
    return ProbeFeatures(
        train_codes=train_codes.mean,
        train_labels=train.labels,
        codes=encoded.mean,
        labels=split.labels[: encoded.mean.shape[0]],
        restarts=config.eval.probe_restarts,
        epochs=config.eval.probe_epochs,
        seed=config.train.seed,
    )


def probe_metrics(runs: Sequence[ProbeFeatures]) -> list[dict[str, float]]:
    """``probe_linear`` and ``probe_mlp`` of each run: linear and 2x128 MLP probes trained on its
    training codes and scored on its codes. Runs that share a ``batch_key`` train their probes
    together (``probe_accuracies``, as many at once as ``runs_per_batch`` says is faster);
    each run's scores are bitwise those of its probes trained alone."""
    results: list[dict[str, float]] = [{} for _ in runs]
    groups: dict[tuple, list[int]] = {}
    for i, run in enumerate(runs):
        groups.setdefault(run.batch_key(), []).append(i)
    for members in groups.values():
        first = runs[members[0]]
        train_codes = torch.stack([runs[i].train_codes for i in members])  # once a group: sliced below
        codes = torch.stack([runs[i].codes for i in members])
        classes = int(torch.cat([first.train_labels, first.labels]).max()) + 1
        for kind in ("linear", "mlp"):
            size = runs_per_batch(kind, first.restarts, codes.shape[2], classes, codes.device)
            for start in range(0, len(members), size):
                batch = members[start : start + size]
                scores = probe_accuracies(
                    train_codes[start : start + size],
                    first.train_labels,
                    codes[start : start + size],
                    first.labels,
                    kind=kind,
                    restarts=first.restarts,
                    epochs=first.epochs,
                    seeds=[runs[i].seed for i in batch],
                )
                for i, score in zip(batch, scores, strict=True):
                    results[i][f"probe_{kind}"] = float(score["mean"])
    return results


def elbo_loss(metrics: dict[str, float]) -> float:
    """The model-selection criterion: -ELBO (rec for an AE), lower is better."""
    value = -metrics["elbo"] if "elbo" in metrics else metrics["rec"]
    return value if math.isfinite(value) else math.inf
