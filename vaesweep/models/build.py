"""Build the composed VAE for a run configuration and a loaded data set."""

from __future__ import annotations

from torch import nn

from vaesweep.config import RunConfig
from vaesweep.data.base import Dataset
from vaesweep.models.conv import ConvDecoder, ConvEncoder
from vaesweep.models.mlp import MLPDecoder, MLPEncoder
from vaesweep.models.posteriors import REFINEMENTS, build_posterior_head
from vaesweep.models.priors import PRIORS
from vaesweep.models.text import BagOfWordsHead, LSTMDecoder, LSTMEncoder
from vaesweep.models.vae import VAE
from vaesweep.objectives.likelihoods import build_likelihood


def _networks(config: RunConfig, dataset: Dataset, param_channels: int) -> tuple[nn.Module, nn.Module]:
    model, dim = config.model, config.model.latent_dim
    arch = model.architecture
    if arch == "mlp":
        return (
            MLPEncoder(dataset.image_shape, model.hidden_sizes, model.activation),
            MLPDecoder(dim, dataset.image_shape, model.hidden_sizes, model.activation, param_channels),
        )
    if arch == "conv":
        return (
            ConvEncoder(model.conv_kernel, model.conv_batch_norm),
            ConvDecoder(dim, model.conv_kernel, model.conv_batch_norm, param_channels),
        )
    if arch == "lstm":
        vocab = dataset.vocab
        return (
            LSTMEncoder(len(vocab), model),
            LSTMDecoder(len(vocab), dim, model, vocab.bos_id, vocab.eos_id),
        )
    from vaesweep.models.paper_architectures import build_paper_networks

    return build_paper_networks(config, dataset, param_channels)


def build_model(config: RunConfig, dataset: Dataset) -> VAE:
    likelihood = build_likelihood(config, dataset.image_shape)
    encoder, decoder = _networks(config, dataset, likelihood.param_channels)
    head = build_posterior_head(config, encoder.out_features, config.model.latent_dim)
    bow_head = None
    if config.regulariser.bow_weight > 0:  # bow-VAE; validation allows it on text only
        bow_head = BagOfWordsHead(config.model.latent_dim, len(dataset.vocab))
    prior = PRIORS[config.prior.kind].build(config)
    refinement = REFINEMENTS[config.posterior.refinement].build(config)
    return VAE(encoder, head, decoder, likelihood, prior, bow_head, refinement)
