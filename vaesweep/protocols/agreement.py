"""Label information kept by reconstructions, and robustness to word deletion (IGP section
4.2, Tables 3 and 11; the agreement experiment of Bosc & Vincent 2020).

- f1: macro-averaged F1 (percent) of a text classifier on the greedy reconstructions of the
  evaluation split; agreement = f1 / (its macro-F1 on the original sentences) * 100. The
  classifier is "a 512D LSTM and two hidden MLP layers with 128 neurons and ReLU" on top,
  trained on the real training set; its embedding size and epochs are not stated
  (``eval.classifier_embed_dim`` = 200, ``eval.classifier_epochs`` = 5; Adam 1e-3).
- robust_accuracy: accuracy (percent) of the IGP probe (2 x 128 ReLU MLP, trained on the
  clean training posterior means, ``eval.probe_restarts`` restarts) on the posterior means of
  the evaluation sentences with ``eval.word_deletion`` (IGP: 30%) of their words deleted:
  round(fraction * length) words per sentence, chosen uniformly, at least one word kept.
"""

from __future__ import annotations

import torch
from torch import nn

from vaesweep.config import ModelConfig, RunConfig
from vaesweep.data.base import Split, Vocabulary
from vaesweep.metrics import probe_accuracy
from vaesweep.metrics.probes import MLP_HIDDEN
from vaesweep.models.text import LSTMEncoder
from vaesweep.models.vae import VAE, model_device
from vaesweep.protocols.common import (
    fit_on_text,
    greedy_reconstructions,
    posterior_means,
)

CLASSIFIER_LR = 1e-3


class TextClassifier(nn.Module):
    """Embeddings -> LSTM (final state at each sentence's length) -> 2 x 128 ReLU -> classes."""

    def __init__(self, vocab_size: int, num_classes: int, embed_dim: int, hidden: int) -> None:
        super().__init__()
        self.encoder = LSTMEncoder(vocab_size, ModelConfig(embed_dim=embed_dim, lstm_hidden=hidden))
        self.head = nn.Sequential(
            nn.Linear(hidden, MLP_HIDDEN),
            nn.ReLU(),
            nn.Linear(MLP_HIDDEN, MLP_HIDDEN),
            nn.ReLU(),
            nn.Linear(MLP_HIDDEN, num_classes),
        )

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x, lengths))


def train_text_classifier(
    split: Split,
    vocab_size: int,
    num_classes: int,
    embed_dim: int,
    hidden: int,
    epochs: int,
    batch_size: int,
    seed: int = 0,
    lr: float = CLASSIFIER_LR,
) -> TextClassifier:
    """Cross-entropy training on a labelled text split, length-bucketed batches."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        classifier = TextClassifier(vocab_size, num_classes, embed_dim, hidden).to(split.x.device)

    def loss(x: torch.Tensor, lengths: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        return nn.functional.cross_entropy(classifier(x, lengths), split.labels[index])

    return fit_on_text(classifier, split, loss, epochs=epochs, batch_size=batch_size, seed=seed, lr=lr)


@torch.no_grad()
def predict(classifier: TextClassifier, split: Split, batch_size: int) -> torch.Tensor:
    classifier.eval()
    batches = split.batches(batch_size, model_device(classifier))
    return torch.cat([classifier(x, lengths).argmax(1).cpu() for x, lengths in batches])


def macro_f1(truth: torch.Tensor, predicted: torch.Tensor) -> float:
    """Macro-averaged F1 in percent over the classes present in ``truth`` or ``predicted``
    (scikit-learn's definition; a class predicted but never true scores 0)."""
    from sklearn.metrics import f1_score

    return 100.0 * float(f1_score(truth.cpu(), predicted.cpu(), average="macro", zero_division=0))


def delete_words(split: Split, fraction: float, vocab: Vocabulary, seed: int = 0) -> Split:
    """Each sentence with round(fraction * n) of its n words removed (uniformly at random, at
    least one word kept); </s> is never removed. Labels and extras are kept."""
    generator = torch.Generator().manual_seed(seed)
    x, lengths = split.x.cpu(), split.lengths.cpu()
    words = lengths - 1
    drop = torch.minimum(torch.round(words * fraction), (words - 1).clamp_min(0)).long()
    width = x.shape[1]
    positions = torch.arange(width)
    # a random rank per word; the `drop` lowest-ranked words of each sentence go
    scores = torch.rand(x.shape, generator=generator)
    scores[positions >= words.unsqueeze(1)] = float("inf")
    ranks = scores.argsort(1).argsort(1)
    keep = (ranks >= drop.unsqueeze(1)) & (positions < words.unsqueeze(1))
    order = torch.argsort((~keep).int(), dim=1, stable=True)  # kept words first, in their order
    kept = keep.sum(1)
    out = torch.gather(x, 1, order)
    out[positions >= kept.unsqueeze(1)] = vocab.pad_id
    out[torch.arange(len(out)), kept] = vocab.eos_id
    return Split(
        x=out.to(split.x.device),
        lengths=(kept + 1).to(split.x.device),
        labels=split.labels,
        extras=split.extras,
    )


def agreement_metrics(
    model: VAE,
    train: Split,
    evaluation: Split,
    vocab: Vocabulary,
    num_classes: int,
    train_means: torch.Tensor,
    config: RunConfig,
) -> dict[str, float]:
    """agreement, f1 and robust_accuracy (see module doc); the splits must be labelled."""
    ev, seed = config.eval, config.train.seed
    classifier = train_text_classifier(
        train,
        len(vocab),
        num_classes,
        ev.classifier_embed_dim,
        ev.classifier_hidden,
        ev.classifier_epochs,
        ev.batch_size,
        seed,
    )
    original = macro_f1(evaluation.labels, predict(classifier, evaluation, ev.batch_size))
    reconstructed = greedy_reconstructions(model, evaluation, vocab, ev.batch_size)
    f1 = macro_f1(evaluation.labels, predict(classifier, reconstructed, ev.batch_size))
    polluted = posterior_means(model, delete_words(evaluation, ev.word_deletion, vocab, seed), ev.batch_size)
    robust = probe_accuracy(
        train_means,
        train.labels,
        polluted,
        evaluation.labels,
        kind="mlp",
        restarts=ev.probe_restarts,
        epochs=ev.probe_epochs,
        seed=seed,
    )
    return {
        "f1": f1,
        "agreement": 100.0 * f1 / original if original > 0 else float("nan"),
        "robust_accuracy": float(robust["mean"]),
    }
