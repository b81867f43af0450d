"""The profile of a data set a user adds: architecture, sizes and protocol from its kind and size.

A built-in data set has the profile its paper used (``vaesweep.data.registry``); an added one
gets the nearest of those, by a rule simple enough to state in one sentence and to override
with ``--set`` (README, "Your own data"):

- text: an LSTM whose embedding/hidden/latent sizes grow with the vocabulary and the number of
  training sentences, taking the smaller of the two tiers (a 1,024-unit LSTM on a few thousand
  sentences only memorises them): 64/128/16 (the synthetic-text scale), 256/256/32 (PTB:
  vocabulary 10k, 42k sentences), 512/1024/32 (Yahoo/Yelp: 20k, 100k). Protocol: He et al.'s
  SGD (batch 32, up to 120 epochs, lr halved on plateaus) below 50,000 training sentences,
  where its many small steps are affordable; IGP's Adam (batch 128, 20 epochs) from there on.
- images: the AR-ELBO conv net for 1x28x28, the CelebA conv net for 3x64x64, else an MLP
  sized by the pixel count; Adam 1e-3 as every image paper. Decoder likelihood by the
  images' *greyness* g = mean x(1-x) / (m(1-m)) over the training pixels (m their mean): 0 when
  every pixel is 0 or 1, 1 when every pixel is the mean grey. Binary-ish images (g <= 0.25;
  MNIST's published mean and std give 0.17) get the Bernoulli decoder, others (the 8x8 digits:
  0.33, photographs) a Gaussian with a trained variance, since a fixed sigma_x^2 = 1 on [0, 1]
  pixels is the collapse AR-ELBO describes.

The profile is chosen once, at ``vaesweep data add``, and stored in the cache manifest, so a
later change of this rule never moves an existing data set's results.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from vaesweep.data.registry import IGP_TEXT_PROTOCOL, TEXT_SGD_PROTOCOL

# (embed, hidden, latent) by tier, and the papers' data set each tier follows
TEXT_TIERS = ((64, 128, 16, "synthetic text"), (256, 256, 32, "PTB"), (512, 1024, 32, "Yahoo/Yelp"))
TEXT_VOCAB_LIMITS = (2_000, 12_000)  # vocabulary (special tokens included) up to which tier 0, 1
TEXT_SENTENCE_LIMITS = (10_000, 50_000)  # training sentences below which tier 0, 1
IGP_FROM_SENTENCES = 50_000
TEXT_PROTOCOLS = {"he_sgd": TEXT_SGD_PROTOCOL, "igp_adam": IGP_TEXT_PROTOCOL}
PROTOCOL_NAMES = {"he_sgd": "He et al. SGD protocol", "igp_adam": "IGP Adam protocol"}

BINARY_GREYNESS = 0.25
MLP_TIERS = ((256, (128, 128), 16), (4_096, (200, 200), 32), (math.inf, (512, 512), 64))  # pixels
CONV_SHAPES = {(1, 28, 28): ("conv", 32), (3, 64, 64): ("conv_celeba", 64)}
SMALL_IMAGE_SET = 10_000  # fewer training images: batch 64 and 100 epochs (digits), else 128 and 50
MAX_RAMP_STEPS = 5_000


@dataclass(frozen=True)
class ProfileChoice:
    """What ``vaesweep data add`` chose, and why, in words."""

    architecture: str
    profile: dict[str, Any]
    rule: str


def _tier(value: int, limits: tuple[int, int], below: bool) -> int:
    """0, 1 or 2: the first limit ``value`` stays under (``below``: strictly)."""
    for tier, limit in enumerate(limits):
        if value < limit or (not below and value == limit):
            return tier
    return len(limits)


def text_profile(vocab_size: int, train_sentences: int, protocol: str = "auto") -> ProfileChoice:
    """The LSTM sizes and protocol for a corpus (``protocol``: auto, he_sgd or igp_adam)."""
    by_vocab = _tier(vocab_size, TEXT_VOCAB_LIMITS, below=False)
    by_size = _tier(train_sentences, TEXT_SENTENCE_LIMITS, below=True)
    embed, hidden, latent, like = TEXT_TIERS[min(by_vocab, by_size)]
    if protocol == "auto":
        protocol = "he_sgd" if train_sentences < IGP_FROM_SENTENCES else "igp_adam"
    settings = TEXT_PROTOCOLS[protocol]
    profile = {
        **settings,
        "model.embed_dim": embed,
        "model.lstm_hidden": hidden,
        "model.latent_dim": latent,
        "model.flow_hidden": hidden,
    }
    limiting = "vocabulary" if by_vocab <= by_size else "corpus size"
    rule = (
        f"vocabulary {vocab_size:,}, {train_sentences:,} training sentences: LSTM {embed}/{hidden}, "
        f"z {latent} ({like} scale, set by the {limiting}); {PROTOCOL_NAMES[protocol]}"
    )
    return ProfileChoice("lstm", profile, rule)


def greyness(x: torch.Tensor) -> float:
    """mean x(1-x) / (m(1-m)) of intensities in [0, 1]: 0 for black and white, up to 1."""
    x = x.double()
    mean = float(x.mean())
    if mean <= 0.0 or mean >= 1.0:
        return 0.0
    return float((x * (1.0 - x)).mean()) / (mean * (1.0 - mean))


def image_profile(image_shape: tuple[int, int, int], train_images: int, grey: float) -> ProfileChoice:
    """The network, decoder likelihood and Adam protocol for an image set."""
    pixels = math.prod(image_shape)
    shape = "x".join(map(str, image_shape))
    profile: dict[str, Any] = {}
    if image_shape in CONV_SHAPES:
        architecture, latent = CONV_SHAPES[image_shape]
        network = f"{architecture} network for {shape}"
    else:
        architecture = "mlp"
        _, hidden, latent = next(tier for tier in MLP_TIERS if pixels <= tier[0])
        profile["model.hidden_sizes"] = hidden
        network = f"MLP {'x'.join(map(str, hidden))} for {pixels:,} pixels"
    small = train_images < SMALL_IMAGE_SET
    batch, epochs = (64, 100) if small else (128, 50)
    profile |= {
        "model.latent_dim": latent,
        "model.flow_hidden": max(latent * 4, 128),
        "optim.name": "adam",
        "optim.lr": 1e-3,
        "train.batch_size": batch,
        "train.epochs": epochs,
    }
    if grey <= BINARY_GREYNESS:
        decoder = f"Bernoulli decoder (binary-ish: greyness {grey:.2f} <= {BINARY_GREYNESS})"
    else:
        profile |= {"likelihood.kind": "gaussian", "likelihood.variance": "trainable"}
        decoder = f"Gaussian decoder with trained variance (greyness {grey:.2f} > {BINARY_GREYNESS})"
    rule = f"{network}, z {latent}; {decoder}; Adam 1e-3, batch {batch}, {epochs} epochs"
    return ProfileChoice(architecture, profile, rule + f" ({train_images:,} training images)")


def describe_profile(architecture: str, profile: dict[str, Any]) -> str:
    """One line: network, latent size, optimiser and schedule, decoder."""
    get = profile.get
    if architecture == "lstm":
        network = f"lstm {get('model.embed_dim')}/{get('model.lstm_hidden')}"
    elif architecture == "mlp":
        network = "mlp " + "x".join(map(str, get("model.hidden_sizes", ())))
    else:
        network = architecture
    decoder = get("likelihood.kind", "categorical" if architecture == "lstm" else "bernoulli")
    if decoder == "gaussian":
        decoder += f" ({get('likelihood.variance', 'fixed')} variance)"
    return (
        f"{network}, z {get('model.latent_dim')}, {decoder} decoder; {get('optim.name')} lr "
        f"{get('optim.lr'):g}, batch {get('train.batch_size')}, {get('train.epochs')} epochs"
    )
