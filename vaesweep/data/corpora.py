"""Text corpora as the papers prepared them, from the authors' files or from Hugging Face.

Both routes end in the layout ``load_text_dataset`` reads (He et al.): ``<name>.train.txt``,
``<name>.valid.txt``, ``<name>.test.txt``, one tokenised sentence per line, ``label<TAB>`` first
when labelled, plus ``vocab.txt`` when the vocabulary was cut here.

- ``prepare_text_files``: the authors' distributed files (He et al.: ``yahoo.train.txt`` ...;
  IGP: ``vocab.txt`` + ``train.txt``/``valid.txt``/``test.txt`` + ``test_class_label.txt``),
  copied under the canonical names and checked by the loader itself (file and line on error).
- ``convert_hub_corpus``: a Hugging Face ``datasets`` corpus, built as the papers describe:
  a seeded sample of 100k/10k/10k (He et al. / DU-VAE appendix E; IGP Table 1 for CBT and
  DBpedia), lower-casing and tokenisation, the vocabulary cut to the size the papers report
  with every other word written as <unk> (DG-VAE Table 1: Yahoo 20,001, Yelp 19,997,
  short-Yelp 8,411, SNLI 9,990; IGP Table 1: CBT, DBpedia, Yahoo 12K, SNLI 7K), labels kept.

Where the papers are silent we chose, and say so here: the tokeniser (lower-case words,
apostrophe contractions kept whole, each punctuation mark a token; the papers publish none);
documents longer than ``max_tokens`` are skipped before sampling (Yahoo/Yelp: 200, the longest
document in the He et al. files); train and valid are drawn disjointly from the source's
training split when it has no validation split, test from its test split; unlabelled rows
(label < 0, e.g. SNLI pairs without a gold label) are skipped when a recipe keeps labels.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from vaesweep.config import DataConfig
from vaesweep.data.base import SPECIAL_TOKENS, UNK
from vaesweep.data.text import SPLITS, VOCAB_FILE, build_vocab, load_text_dataset
from vaesweep.errors import DataError

TOKEN = re.compile(r"<unk>|\w+(?:'\w+)*|[^\w\s]")
SPLIT_ALIASES = {"train": ("train",), "valid": ("valid", "validation", "dev", "val"), "test": ("test",)}
TEXT_LAYOUT = (
    "<name>.train.txt, <name>.valid.txt, <name>.test.txt (or train.txt, valid.txt, test.txt): one "
    "tokenised sentence per line, optionally 'label<TAB>sentence'; optional vocab.txt (one token per "
    "line) and <split>_class_label.txt (one integer per line)"
)


@dataclass(frozen=True)
class CorpusRecipe:
    """How a paper built a corpus from its public source."""

    hub_id: str | None  # Hugging Face dataset id; None = only `prepare --from`
    hub_config: str | None
    text_fields: tuple[str, ...]  # joined with a space
    label_field: str | None
    sizes: tuple[int, int, int] | None  # seeded sample sizes; None = the source splits whole
    vocab_size: int  # total, the four special tokens included; 0 = every training word
    max_tokens: int = 0  # skip longer documents (0 = keep all)
    split_lines: bool = False  # a row is a book: its lines are the sentences (CBT)
    source: str = ""


HE_SIZES = (100_000, 10_000, 10_000)
RECIPES: dict[str, CorpusRecipe] = {
    "yahoo": CorpusRecipe(
        "community-datasets/yahoo_answers_topics",
        None,
        ("question_title", "question_content", "best_answer"),
        "topic",
        HE_SIZES,
        20_001,
        max_tokens=200,
        source="He et al. 2019 / DU-VAE appendix E (100k/10k/10k); vocabulary of DG-VAE Table 1 (20,001)",
    ),
    "yelp": CorpusRecipe(
        "Yelp/yelp_review_full",
        None,
        ("text",),
        "label",
        HE_SIZES,
        19_997,
        max_tokens=200,
        source="He et al. 2019 / DU-VAE appendix E (100k/10k/10k); vocabulary of DG-VAE Table 1 (19,997)",
    ),
    "short_yelp": CorpusRecipe(
        None,
        None,
        ("text",),
        "label",
        HE_SIZES,
        8_411,
        source="Shen et al. 2017 down-sampled Yelp (DU-VAE Table 2); vocabulary of DG-VAE Table 1 "
        "(8,411); only the authors' files exist: use `vaesweep data prepare short_yelp --from DIR`",
    ),
    "snli": CorpusRecipe(
        "stanfordnlp/snli",
        None,
        ("hypothesis",),
        None,
        HE_SIZES,
        7_000,
        source="IGP section 4 and Table 1: hypotheses, 100k/10k/10k, vocabulary 7K "
        "(DG-VAE Table 1 reports 9,990: use --vocab-size 9990 for its setting)",
    ),
    "ptb": CorpusRecipe(
        "ptb-text-only/ptb_text_only",
        None,
        ("sentence",),
        None,
        None,
        0,
        source="Penn Treebank, Mikolov et al. split as distributed (already lower-cased, <unk>, 10k words)",
    ),
    "cbt": CorpusRecipe(
        "cam-cst/cbt",
        "raw",
        ("content",),
        None,
        (192_000, 10_000, 12_000),
        12_000,
        split_lines=True,
        source="IGP Table 1: CBT sentences 192K/10K/12K, vocabulary 12K",
    ),
    "dbpedia": CorpusRecipe(
        "fancyzhx/dbpedia_14",
        None,
        ("content",),
        "label",
        (140_000, 14_000, 14_000),
        12_000,
        source="IGP Table 1: DBpedia 140K/14K/14K, 14 classes, vocabulary 12K",
    ),
}


def tokenise(text: str) -> list[str]:
    """Lower-cased words and punctuation marks; Zhang et al.'s CSVs write line breaks as '\\n'."""
    return TOKEN.findall(text.replace("\\n", " ").lower())


def recipe_for(name: str, vocab_size: int | None = None, hub_id: str | None = None) -> CorpusRecipe:
    if name not in RECIPES:
        raise DataError(f"no text recipe for {name!r}: known {', '.join(sorted(RECIPES))}")
    recipe = RECIPES[name]
    if vocab_size is not None:
        recipe = replace(recipe, vocab_size=vocab_size)
    if hub_id is not None:
        recipe = replace(recipe, hub_id=hub_id)
    return recipe


# -- Hugging Face ---------------------------------------------------------------------------


class _Units(Sequence):
    """Random access to (text, label) units of one source split: rows, or a book's lines."""

    def __init__(self, dataset: Any, recipe: CorpusRecipe, split: str) -> None:
        columns = set(dataset.column_names)
        wanted = set(recipe.text_fields) | ({recipe.label_field} if recipe.label_field else set())
        missing = sorted(wanted - columns)
        if missing:
            raise DataError(f"source split {split!r} lacks columns {missing} (it has {sorted(columns)})")
        self.dataset, self.recipe = dataset, recipe
        self.lines: list[str] | None = None
        if recipe.split_lines:
            self.lines = [
                line
                for row in dataset
                for line in self._text(row).splitlines()
                if line.strip() and not line.startswith("_BOOK_TITLE_")
            ]

    def _text(self, row: Mapping[str, Any]) -> str:
        return " ".join(str(row[field] or "") for field in self.recipe.text_fields)

    def __len__(self) -> int:
        return len(self.lines) if self.lines is not None else len(self.dataset)

    def __getitem__(self, index: int) -> tuple[str, int | None]:  # type: ignore[override]
        if self.lines is not None:
            return self.lines[index], None
        row = self.dataset[int(index)]
        label = None if self.recipe.label_field is None else int(row[self.recipe.label_field])
        return self._text(row), label


def _walk(units: _Units, order: Iterator[int], count: int | None, max_tokens: int) -> list[tuple]:
    """Take units in ``order`` until ``count`` usable ones (None: all): tokenised, non-empty,
    not longer than ``max_tokens``, labelled when labels are kept."""
    taken: list[tuple[list[str], int | None]] = []
    for index in order:
        if count is not None and len(taken) == count:
            break
        text, label = units[index]
        tokens = tokenise(text)
        if not tokens or (max_tokens and len(tokens) > max_tokens) or (label is not None and label < 0):
            continue
        taken.append((tokens, label))
    return taken


def _source_splits(source: Any) -> dict[str, Any]:
    """A DatasetDict (or any mapping of split names) by our split names; a lone Dataset is 'train'."""
    if not isinstance(source, Mapping):
        return {"train": source}
    found = {}
    for split, aliases in SPLIT_ALIASES.items():
        for alias in aliases:
            if alias in source:
                found[split] = source[alias]
                break
    if "train" not in found:
        raise DataError(f"the source has no training split (it has {sorted(source)})")
    return found


def _draw(source: Any, recipe: CorpusRecipe, seed: int) -> dict[str, list[tuple]]:
    """The three splits' (tokens, label) lists, sampled with ``seed`` as the recipe says."""
    pools = {split: _Units(data, recipe, split) for split, data in _source_splits(source).items()}
    if recipe.sizes is None:
        missing = [split for split in SPLITS if split not in pools]
        if missing:
            raise DataError(f"the recipe keeps the source splits, but the source lacks {missing}")
        return {split: _walk(pools[split], iter(range(len(pools[split]))), None, 0) for split in SPLITS}
    sizes = dict(zip(SPLITS, recipe.sizes, strict=True))
    rng = np.random.default_rng(seed)
    drawn: dict[str, list[tuple]] = {}
    # splits that share the training pool come from one permutation, so they are disjoint
    shared = [split for split in SPLITS if split not in pools or split == "train"]
    order = iter(rng.permutation(len(pools["train"])).tolist())
    for split in shared:
        drawn[split] = _walk(pools["train"], order, sizes[split], recipe.max_tokens)
    for split in SPLITS:
        if split not in drawn:
            pool = pools[split]
            drawn[split] = _walk(
                pool, iter(rng.permutation(len(pool)).tolist()), sizes[split], recipe.max_tokens
            )
    return drawn


def write_split(path: Path, units: list[tuple], known: set[str] | None = None) -> None:
    """(tokens, label) units as He et al. lines; words outside ``known`` (when given) as <unk>."""
    with path.open("w", encoding="utf-8") as stream:
        for tokens, label in units:
            sentence = " ".join(token if known is None or token in known else UNK for token in tokens)
            stream.write(sentence + "\n" if label is None else f"{label}\t{sentence}\n")


def convert_hub_corpus(
    source: Any, name: str, out_dir: str | Path, recipe: CorpusRecipe, seed: int = 0
) -> dict:
    """Write a Hugging Face corpus (``DatasetDict``, a mapping of split names, or one ``Dataset``)
    into ``out_dir`` in the He et al. layout, prepared as ``recipe`` says; returns a summary.

    The vocabulary is built from the training split (most frequent first, ties alphabetical)
    and cut to ``recipe.vocab_size`` entries including <pad>, <s>, </s>, <unk>; ``vocab.txt``
    lists its words, and every other word is written as <unk>. The result is loaded once with
    ``load_text_dataset`` before returning, so what is written is what a run will read.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    drawn = _draw(source, recipe, seed)
    for split, units in drawn.items():
        if not units:
            raise DataError(f"{name}: the source gave no usable {split} sentences")
    words = recipe.vocab_size - len(SPECIAL_TOKENS) if recipe.vocab_size else None
    vocab = build_vocab([tokens for tokens, _ in drawn["train"]], max_size=words)
    known = set(vocab.itos)
    for split, units in drawn.items():
        write_split(out / f"{name}.{split}.txt", units, known)
    (out / VOCAB_FILE).write_text("".join(f"{word}\n" for word in vocab.itos[len(SPECIAL_TOKENS) :]))
    dataset = load_text_dataset(DataConfig(name=name, path=str(out)))
    return {
        "source": f"huggingface:{recipe.hub_id}" + (f"/{recipe.hub_config}" if recipe.hub_config else ""),
        "recipe": recipe.source,
        "seed": seed,
        "sizes": {split: len(units) for split, units in drawn.items()},
        "vocab_size": len(vocab),
        "num_classes": dataset.num_classes,
    }


# -- the authors' files ---------------------------------------------------------------------


def _find_source_file(directory: Path, name: str, split: str, suffix: str) -> Path | None:
    """``<name>.<split><suffix>``, ``<split><suffix>``, or a unique ``*.<split><suffix>``, for
    every spelling of the split (valid, validation, dev, val)."""
    for alias in SPLIT_ALIASES[split]:
        for candidate in (directory / f"{name}.{alias}{suffix}", directory / f"{alias}{suffix}"):
            if candidate.is_file():
                return candidate
        matches = sorted(directory.glob(f"*.{alias}{suffix}"))
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise DataError(f"{directory}: several {split} files {[m.name for m in matches]}; keep one")
    return None


def prepare_text_files(name: str, source: str | Path, out_dir: str | Path) -> dict:
    """Copy the authors' corpus files from ``source`` into ``out_dir`` under the canonical names
    and load them once with ``load_text_dataset``; an error names the source file and line."""
    directory = Path(source)
    if not directory.is_dir():
        raise DataError(f"{directory}: not a directory (expected {TEXT_LAYOUT})")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    copies: dict[Path, Path] = {}  # copy -> original, to name the original in errors
    for split in SPLITS:
        path = _find_source_file(directory, name, split, ".txt")
        if path is None:
            raise DataError(f"{directory}: no {split} file; expected {TEXT_LAYOUT}")
        copies[out / f"{name}.{split}.txt"] = path
        for alias in SPLIT_ALIASES[split]:
            if (directory / f"{alias}_class_label.txt").is_file():
                copies[out / f"{split}_class_label.txt"] = directory / f"{alias}_class_label.txt"
                break
    if (directory / VOCAB_FILE).is_file():
        copies[out / VOCAB_FILE] = directory / VOCAB_FILE
    for copy, original in copies.items():
        shutil.copyfile(original, copy)
    try:
        dataset = load_text_dataset(DataConfig(name=name, path=str(out)))
    except DataError as error:
        message = str(error)
        for copy, original in copies.items():
            message = message.replace(str(copy), str(original))
        raise DataError(message) from None
    return {
        "source": str(directory.resolve()),
        "sizes": {split: len(dataset.split(split)) for split in SPLITS},
        "vocab_size": len(dataset.vocab),
        "num_classes": dataset.num_classes,
    }
