"""Text corpora, one tokenised sentence per line, in the two layouts the papers ship.

- He et al. (vae-lagging-encoder; DU-VAE and DG-VAE reuse its Yahoo and Yelp files):
  ``<name>.train.txt``, ``<name>.valid.txt``, ``<name>.test.txt``; each line is either
  ``sentence`` or ``label<TAB>sentence``; the vocabulary is built from the training split.
- IGP (lanzhang128/IGPVAE): ``vocab.txt`` (one token per line), ``train.txt``, ``valid.txt``,
  ``test.txt`` and ``test_class_label.txt`` (one integer label per test line). IGP's own
  loader looks every corpus token up in ``vocab.txt`` and fails on a missing one, so here too a
  token absent from ``vocab.txt`` is an error naming file and line, never a silent <unk>.

Either split naming may come with or without ``vocab.txt``; a ``<split>_class_label.txt`` may
label any split (not one already labelled inline). Tokens are separated by whitespace. Labels
are re-indexed to 0..K-1 in increasing order of their integer values over all splits (Yelp's
1..5 become 0..4) so that probes can use them as class indices; ``num_classes`` is K.
Sentences are stored tokens, </s>, then <pad> (``Split``); nothing is truncated.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from itertools import chain
from pathlib import Path

import numpy as np
import torch

from vaesweep.config import DataConfig
from vaesweep.data.base import SPECIAL_TOKENS, Dataset, Split, Vocabulary
from vaesweep.data.cache import data_directory
from vaesweep.data.splits import check_binarisation, take_first
from vaesweep.errors import DataError

SPLITS = ("train", "valid", "test")
VOCAB_FILE = "vocab.txt"


def _read_lines(path: Path) -> list[str]:
    """The lines of a UTF-8 file without their line ends (a final newline adds no line)."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise DataError(f"{path}: cannot read ({error.strerror})") from error
    raw_lines = data.split(b"\n")
    if raw_lines[-1] == b"":
        raw_lines.pop()
    lines = []
    for number, raw in enumerate(raw_lines, 1):
        try:
            lines.append(raw.rstrip(b"\r").decode("utf-8"))
        except UnicodeDecodeError as error:
            raise DataError(f"{path}, line {number}: not UTF-8 ({error.reason})") from error
    return lines


def read_vocab(path: str | Path) -> Vocabulary:
    """A ``vocab.txt``: one token per line, in id order after the four special tokens."""
    path = Path(path)
    first_line: dict[str, int] = {}
    for number, line in enumerate(_read_lines(path), 1):
        token = line.strip()
        if not token:
            raise DataError(f"{path}, line {number}: empty token")
        if len(token.split()) != 1:
            raise DataError(f"{path}, line {number}: token {token!r} contains whitespace")
        if token in first_line:
            raise DataError(
                f"{path}, line {number}: duplicate token {token!r} (already on line {first_line[token]})"
            )
        first_line[token] = number
    return Vocabulary.from_tokens(list(first_line))


def build_vocab(
    sentences: Sequence[Sequence[str]], max_size: int | None = None, min_count: int = 1
) -> Vocabulary:
    """Vocabulary of the words seen at least ``min_count`` times, most frequent first.

    Ties are broken alphabetically so the ids do not depend on line order; ``max_size`` caps
    the number of words (the four special tokens come on top).
    """
    counts = Counter(chain.from_iterable(sentences))
    words = sorted(
        (w for w, c in counts.items() if c >= min_count and w not in SPECIAL_TOKENS),
        key=lambda w: (-counts[w], w),
    )
    return Vocabulary.from_tokens(words if max_size is None else words[:max_size])


def read_sentences(
    path: str | Path, has_labels: bool | None = None
) -> tuple[list[list[str]], list[int] | None]:
    """Sentences (token lists) and, when present, their integer labels.

    ``has_labels=None`` detects the ``label<TAB>sentence`` format from the first line; then
    every line must agree with it.
    """
    path = Path(path)
    lines = _read_lines(path)
    detected = has_labels is None
    if has_labels is None:
        has_labels = bool(lines) and "\t" in lines[0]
    sentences: list[list[str]] = []
    labels: list[int] | None = [] if has_labels else None
    for number, line in enumerate(lines, 1):
        where = f"{path}, line {number}"
        text = line
        if labels is not None:
            label, tab, text = line.partition("\t")
            if not tab:
                raise DataError(f"{where}: expected 'label<TAB>sentence'")
            try:
                labels.append(int(label))
            except ValueError:
                raise DataError(f"{where}: label {label!r} is not an integer") from None
        elif detected and "\t" in line:
            raise DataError(f"{where}: has a 'label<TAB>' prefix but line 1 has none")
        tokens = text.split()
        if not tokens:
            raise DataError(f"{where}: empty sentence")
        sentences.append(tokens)
    return sentences, labels


def read_labels(path: str | Path, sentences_path: str | Path, count: int) -> list[int]:
    """A label file (one integer per line) that must pair line by line with a sentence file."""
    path = Path(path)
    labels = []
    for number, line in enumerate(_read_lines(path), 1):
        try:
            labels.append(int(line))
        except ValueError:
            raise DataError(f"{path}, line {number}: label {line!r} is not an integer") from None
    if len(labels) != count:
        raise DataError(
            f"{path}: {len(labels)} labels for the {count} sentences of {sentences_path} "
            f"(line {min(len(labels), count) + 1} has no partner)"
        )
    return labels


def encode_split(
    sentences: Sequence[Sequence[str]], vocab: Vocabulary, labels: Sequence[int] | None = None
) -> Split:
    """Pack sentences as long [N, T_max]: tokens, </s>, then <pad>; unknown words -> <unk>."""
    if labels is not None and len(labels) != len(sentences):
        raise ValueError(f"{len(labels)} labels for {len(sentences)} sentences")
    ids = [[*vocab.encode(list(sentence)), vocab.eos_id] for sentence in sentences]
    lengths = np.array([len(row) for row in ids], dtype=np.int64)
    x = np.full((len(ids), int(lengths.max(initial=0))), vocab.pad_id, dtype=np.int64)
    for i, row in enumerate(ids):
        x[i, : len(row)] = row
    return Split(
        x=torch.from_numpy(x),
        lengths=torch.from_numpy(lengths),
        labels=None if labels is None else torch.tensor(list(labels), dtype=torch.long),
    )


def _find_split(directory: Path, name: str, split: str) -> Path:
    candidates = (directory / f"{name}.{split}.txt", directory / f"{split}.txt")
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise DataError(
        f"{directory}: missing the {split} split; expected {candidates[0].name} (He et al.) "
        f"or {candidates[1].name} (IGP) there"
    )


def check_covered(sentences: list[list[str]], path: Path, vocab: Vocabulary, vocab_path: Path) -> None:
    for number, sentence in enumerate(sentences, 1):
        for token in sentence:
            if token not in vocab.stoi:
                raise DataError(
                    f"{path}, line {number}: token {token!r} is not in {vocab_path} (with a "
                    "vocab.txt every corpus token must be listed, as in the IGP format)"
                )


def load_text_dataset(config: DataConfig) -> Dataset:
    """Load ``data.path`` in either layout; see the module docstring for the rules."""
    check_binarisation(config.binarisation, "text")
    directory = data_directory(config, f"the {config.name} text files")

    paths = {split: _find_split(directory, config.name, split) for split in SPLITS}
    sentences: dict[str, list[list[str]]] = {}
    labels: dict[str, list[int] | None] = {}
    for split, path in paths.items():
        sentences[split], labels[split] = read_sentences(path)
        if not sentences[split]:
            raise DataError(f"{path}: no sentences")
        label_path = directory / f"{split}_class_label.txt"
        if label_path.is_file():
            if labels[split] is not None:
                raise DataError(f"{label_path}: {path} already labels its lines inline")
            labels[split] = read_labels(label_path, path, len(sentences[split]))

    vocab_path = directory / VOCAB_FILE
    if vocab_path.is_file():
        vocab = read_vocab(vocab_path)
        for split, path in paths.items():
            check_covered(sentences[split], path, vocab, vocab_path)
        vocab_source = VOCAB_FILE
    else:
        vocab = build_vocab(sentences["train"])
        vocab_source = f"built from {paths['train'].name}"

    classes = sorted(set(chain.from_iterable(v for v in labels.values() if v is not None)))
    index = {label: i for i, label in enumerate(classes)}
    train, valid, test = (
        encode_split(
            sentences[split],
            vocab,
            None if labels[split] is None else [index[v] for v in labels[split]],
        )
        for split in SPLITS
    )
    return Dataset(
        name=config.name,
        kind="text",
        train=take_first(train, config.max_train),
        valid=valid,
        test=test,
        vocab=vocab,
        num_classes=len(classes) or None,
        description=(
            f"{config.name} from {directory}: {len(train)}/{len(valid)}/{len(test)} sentences, "
            f"vocabulary {len(vocab)} ({vocab_source})"
            + (f", labels {classes} -> 0..{len(classes) - 1}" if classes else "")
        ),
    )
