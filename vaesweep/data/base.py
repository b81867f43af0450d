"""The in-memory data set every loader returns and the training loop consumes.

A data set is small enough to sit in (device) memory whole: batches are slices of tensors,
never DataLoader workers (DESIGN.md section 7).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

import torch

PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "<unk>"
SPECIAL_TOKENS = (PAD, BOS, EOS, UNK)


@dataclass
class Vocabulary:
    """Token <-> id mapping; ids 0..3 are always <pad>, <s>, </s>, <unk>."""

    itos: list[str]

    def __post_init__(self) -> None:
        if tuple(self.itos[:4]) != SPECIAL_TOKENS:
            raise ValueError(f"vocabulary must start with {SPECIAL_TOKENS}")
        self.stoi = {token: index for index, token in enumerate(self.itos)}

    @classmethod
    def from_tokens(cls, tokens: list[str]) -> Vocabulary:
        """Build from an ordered token list; special tokens are put first and not repeated."""
        rest = [t for t in dict.fromkeys(tokens) if t not in SPECIAL_TOKENS]
        return cls(list(SPECIAL_TOKENS) + rest)

    def __len__(self) -> int:
        return len(self.itos)

    @property
    def pad_id(self) -> int:
        return 0

    @property
    def bos_id(self) -> int:
        return 1

    @property
    def eos_id(self) -> int:
        return 2

    @property
    def unk_id(self) -> int:
        return 3

    def encode(self, words: list[str]) -> list[int]:
        return [self.stoi.get(w, self.unk_id) for w in words]

    def decode(self, ids: list[int]) -> list[str]:
        """Ids to words, stopping at </s> and skipping <pad>/<s>."""
        words = []
        for i in ids:
            if i == self.eos_id:
                break
            if i in (self.pad_id, self.bos_id):
                continue
            words.append(self.itos[i])
        return words


@dataclass
class Split:
    """One split of a data set.

    images: ``x`` is float in [0, 1] with shape [N, C, H, W].
    text: ``x`` is long [N, T] holding the sentence tokens followed by </s> and then <pad>
    (no <s>; the decoder adds it), ``lengths`` counts tokens including </s>.
    ``labels`` (long [N]) is kept for probes when the data set has them; ``extras`` holds
    anything else a data set knows about its examples (e.g. the true latent of synthetic text).
    """

    x: torch.Tensor
    lengths: torch.Tensor | None = None
    labels: torch.Tensor | None = None
    extras: dict[str, torch.Tensor] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def to(self, device: torch.device | str) -> Split:
        return Split(
            x=self.x.to(device),
            lengths=None if self.lengths is None else self.lengths.to(device),
            labels=None if self.labels is None else self.labels.to(device),
            extras={k: v.to(device) for k, v in self.extras.items()},
        )

    def subset(self, index: torch.Tensor) -> Split:
        return Split(
            x=self.x[index],
            lengths=None if self.lengths is None else self.lengths[index],
            labels=None if self.labels is None else self.labels[index],
            extras={k: v[index] for k, v in self.extras.items()},
        )

    def batches(
        self, batch_size: int, device: torch.device | str | None = None, limit: int = 0
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
        """(x, lengths) of consecutive batches of the first ``limit`` examples (0 = all), on
        ``device`` (default: the split's), text trimmed to each batch's longest sentence. Only
        the batches move, so a split too large for the accelerator stays on the host."""
        from vaesweep.data.batching import trim

        n = len(self) if limit <= 0 else min(limit, len(self))
        for start in range(0, n, batch_size):
            end = min(start + batch_size, n)
            x = self.x[start:end]
            lengths = None if self.lengths is None else self.lengths[start:end]
            if lengths is not None:
                x = trim(x, lengths)
            if device is not None:
                x = x.to(device, non_blocking=True)
                lengths = None if lengths is None else lengths.to(device, non_blocking=True)
            yield x, lengths

    def nbytes(self) -> int:
        tensors = [self.x, self.lengths, self.labels, *self.extras.values()]
        return sum(t.element_size() * t.nelement() for t in tensors if t is not None)


@dataclass
class Dataset:
    """A data set with its three splits and what a model needs to know about it.

    ``binarisation`` tells how images become binary for a Bernoulli likelihood:
    "none" keeps intensities in [0, 1]; "dynamic" samples each training pixel afresh every
    time it is seen (IWAE protocol) while valid/test are binarised once, with a fixed seed,
    when the data set is built.
    """

    name: str
    kind: Literal["image", "text"]
    train: Split
    valid: Split
    test: Split
    image_shape: tuple[int, int, int] | None = None
    vocab: Vocabulary | None = None
    num_classes: int | None = None
    binarisation: Literal["none", "dynamic"] = "none"
    description: str = ""

    def split(self, name: str) -> Split:
        if name not in ("train", "valid", "test"):
            raise ValueError(f"unknown split {name!r}: allowed train, valid, test")
        return getattr(self, name)

    @property
    def data_dim(self) -> int:
        """Number of observed scalars per example (pixels; for text, the vocabulary size)."""
        if self.kind == "image":
            c, h, w = self.image_shape  # type: ignore[misc]
            return c * h * w
        return len(self.vocab)  # type: ignore[arg-type]

    def to(self, device: torch.device | str) -> Dataset:
        return Dataset(
            name=self.name,
            kind=self.kind,
            train=self.train.to(device),
            valid=self.valid.to(device),
            test=self.test.to(device),
            image_shape=self.image_shape,
            vocab=self.vocab,
            num_classes=self.num_classes,
            binarisation=self.binarisation,
            description=self.description,
        )
