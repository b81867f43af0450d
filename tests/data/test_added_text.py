"""``vaesweep data add --kind text``: a corpus of one's own, checked, split and registered."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from vaesweep.cli import main
from vaesweep.config import DataConfig, resolve_config
from vaesweep.data import load_dataset
from vaesweep.data.registry import dataset_info
from vaesweep.data.splits import stratified_split
from vaesweep.data.user import AddOptions, add_dataset
from vaesweep.errors import ConfigError, DataError
from vaesweep.train import fit

WORDS = [f"w{i}" for i in range(40)]
CLASS_COUNTS = {4: 100, 7: 60, 9: 40}  # label value -> sentences: 200 in all


def corpus_lines(counts: dict[int, int] = CLASS_COUNTS, seed: int = 0) -> list[str]:
    """'label<TAB>sentence' lines whose first word names the class, in shuffled order."""
    rng = np.random.default_rng(seed)
    lines = [
        f"{label}\tc{label} " + " ".join(rng.choice(WORDS, int(rng.integers(2, 8))))
        for label, count in counts.items()
        for _ in range(count)
    ]
    return [lines[i] for i in rng.permutation(len(lines))]


def write(path, lines: list[str]):
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


def split_lines(root, name: str) -> dict[str, list[str]]:
    return {
        split: (root / name / f"{name}.{split}.txt").read_text().splitlines()
        for split in ("train", "valid", "test")
    }


def test_one_file_is_split_with_its_seed_and_stratified_by_label(tmp_path, data_cache):
    lines = corpus_lines()
    source = write(tmp_path / "corpus.txt", lines)
    add_dataset("mine", "text", source)
    written = split_lines(data_cache, "mine")
    assert {split: len(rows) for split, rows in written.items()} == {"train": 160, "valid": 20, "test": 20}
    assert Counter(row for rows in written.values() for row in rows) == Counter(lines)  # each once
    for split, share in (("valid", 0.1), ("test", 0.1)):  # class proportions kept
        counts = Counter(int(row.split("\t")[0]) for row in written[split])
        assert counts == {label: round(count * share) for label, count in CLASS_COUNTS.items()}

    add_dataset("same_seed", "text", source)
    add_dataset("other_seed", "text", source, options=AddOptions(seed=1))
    assert split_lines(data_cache, "same_seed")["test"] == written["test"]
    assert split_lines(data_cache, "other_seed")["test"] != written["test"]

    data = load_dataset(DataConfig(name="mine"))  # through the registry and the cache
    assert data.kind == "text" and len(data.train) == 160 and data.num_classes == 3
    assert sorted(set(data.test.labels.tolist())) == [0, 1, 2]  # 4, 7, 9 re-indexed
    first_words = {data.vocab.itos[int(row[0])] for row in data.train.x[data.train.labels == 1]}
    assert first_words == {"c7"}


def test_the_profile_comes_from_the_manifest_and_set_overrides_it(tmp_path, data_cache):
    add_dataset("mine", "text", write(tmp_path / "corpus.txt", corpus_lines()))
    info = dataset_info("mine")
    assert (info.kind, info.architecture, info.num_classes) == ("text", "lstm", 3)
    config = resolve_config("vae", "mine")
    assert (config.model.embed_dim, config.model.lstm_hidden, config.model.latent_dim) == (64, 128, 16)
    assert (config.optim.name, config.optim.lr, config.train.batch_size) == ("sgd", 1.0, 32)
    assert config.likelihood_kind == "categorical"
    assert resolve_config("vae", "mine", {"model.latent_dim": 8}).model.latent_dim == 8

    # validation reads only the manifest: a missing data file is noticed by the loader alone
    (data_cache / "mine" / "mine.train.txt").unlink()
    assert resolve_config("igp", "mine", {"C": 5}).data.name == "mine"
    with pytest.raises(DataError, match=r"mine\.train\.txt: missing"):
        load_dataset(DataConfig(name="mine"))


def test_a_short_run_trains_on_the_added_corpus(tmp_path, data_cache):
    add_dataset("mine", "text", write(tmp_path / "corpus.txt", corpus_lines()))
    config = resolve_config(
        "vae", "mine", {"train.epochs": 1, "eval.nll_samples": 4, "eval.probes": False, "eval.cu_rounds": 2}
    )
    metrics = fit(config)
    assert np.isfinite(metrics["nll"]) and metrics["nll"] > 0


def test_a_label_file_pairs_with_the_lines(tmp_path, data_cache):
    lines = [row.split("\t")[1] for row in corpus_lines()]
    labels = [row.split("\t")[0] for row in corpus_lines()]
    source = write(tmp_path / "plain.txt", lines)
    add_dataset("mine", "text", source, options=AddOptions(labels=write(tmp_path / "labels.txt", labels)))
    assert load_dataset(DataConfig(name="mine")).num_classes == 3
    short = write(tmp_path / "short.txt", labels[:-1])
    with pytest.raises(DataError, match=r"short.txt: 199 labels for the 200 sentences of .*plain.txt"):
        add_dataset("other", "text", source, options=AddOptions(labels=short))
    labelled = write(tmp_path / "labelled.txt", corpus_lines())
    with pytest.raises(DataError, match=r"labelled\.txt already labels its lines inline"):
        add_dataset("other", "text", labelled, options=AddOptions(labels=write(tmp_path / "l.txt", labels)))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda lines: [*lines[:6], "4\t", *lines[7:]], r"corpus.txt, line 7: empty sentence"),
        (
            lambda lines: [*lines[:4], "x\tc4 w1", *lines[5:]],
            r"corpus.txt, line 5: label 'x' is not an integer",
        ),
        (
            lambda lines: [*lines[:9], "c4 w1 w2", *lines[10:]],
            r"corpus.txt, line 10: expected 'label<TAB>sentence'",
        ),
    ],
)
def test_a_bad_line_is_named_and_nothing_is_left_in_the_cache(tmp_path, data_cache, edit, message):
    source = write(tmp_path / "corpus.txt", edit(corpus_lines()))
    with pytest.raises(DataError, match=message):
        add_dataset("mine", "text", source)
    assert list(data_cache.iterdir()) == []  # the staging directory is gone too


def test_a_vocabulary_file_must_cover_every_token(tmp_path, data_cache):
    lines = [row.split("\t")[1] for row in corpus_lines()]
    tokens = sorted({token for line in lines for token in line.split()})
    source = write(tmp_path / "plain.txt", lines)
    add_dataset("mine", "text", source, options=AddOptions(vocab=write(tmp_path / "vocab.txt", tokens)))
    assert len(load_dataset(DataConfig(name="mine")).vocab) == 4 + len(tokens)
    short = write(tmp_path / "short_vocab.txt", [t for t in tokens if t != "w3"])
    first = next(number for number, line in enumerate(lines, 1) if "w3" in line.split())
    with pytest.raises(DataError, match=rf"plain.txt, line {first}: token 'w3' is not in .*short_vocab.txt"):
        add_dataset("other", "text", source, options=AddOptions(vocab=short))


def test_a_directory_of_split_files_keeps_its_splits_and_names_its_own_files(tmp_path, data_cache):
    source = tmp_path / "igp"
    source.mkdir()
    write(source / "vocab.txt", ["the", "cat", "sat", "dog"])
    write(source / "train.txt", ["the cat sat", "the dog sat", "the cat"])
    write(source / "dev.txt", ["the cat"])
    write(source / "test.txt", ["the dog", "cat sat"])
    write(source / "test_class_label.txt", ["7", "3"])
    _, summary = add_dataset("mine", "text", source)
    assert summary["added"]["sizes"] == {"train": 3, "valid": 1, "test": 2}
    data = load_dataset(DataConfig(name="mine"))
    assert len(data.vocab) == 8 and data.test.labels.tolist() == [1, 0]
    write(source / "test_class_label.txt", ["7"])
    with pytest.raises(DataError, match=rf"{source / 'test_class_label.txt'}: 1 labels for the 2 sentences"):
        add_dataset("other", "text", source)


def test_names_and_replacing(tmp_path, data_cache):
    source = write(tmp_path / "corpus.txt", corpus_lines())
    with pytest.raises(ConfigError, match="NAME='digits' is invalid: allowed a name that is not a built-in"):
        add_dataset("digits", "text", source)
    with pytest.raises(ConfigError, match=r"NAME='\.\./up' is invalid"):
        add_dataset("../up", "text", source)
    add_dataset("mine", "text", source)
    with pytest.raises(DataError, match="already in the cache; pass --replace"):
        add_dataset("mine", "text", source)
    add_dataset("mine", "text", source, options=AddOptions(seed=3, replace=True))
    assert json.loads((data_cache / "mine" / "MANIFEST.json").read_text())["added"]["seed"] == 3


def test_an_unknown_data_set_says_how_to_add_one(data_cache):
    with pytest.raises(ConfigError, match=r"data.name='mine' is invalid: .*vaesweep data add mine"):
        resolve_config("vae", "mine")


def test_too_few_sentences_to_split(tmp_path, data_cache):
    with pytest.raises(DataError, match=r"5 examples are too few to split by 0.8, 0.1, 0.1"):
        add_dataset("mine", "text", write(tmp_path / "five.txt", corpus_lines()[:5]))


def test_the_commands_show_the_size_and_the_profile(tmp_path, data_cache, capsys):
    source = write(tmp_path / "corpus.txt", corpus_lines())
    assert (
        main(["data", "add", "mine", "--kind", "text", "--from", str(source), "--split", "0.7,0.2,0.1"]) == 0
    )
    printed = capsys.readouterr().out
    assert "text: 140/40/20 sentences" in printed and "profile: lstm 64/128, z 16" in printed
    assert "He et al. SGD protocol" in printed
    assert main(["data", "list", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["mine"]["status"] == "added" and rows["mine"]["sizes"] == {
        "train": 140,
        "valid": 40,
        "test": 20,
    }
    assert rows["mine"]["profile"]["model.embed_dim"] == 64 and rows["yahoo"]["status"] == "missing"
    assert main(["data", "add", "x", "--kind", "text", "--from", str(source), "--split", "0.5,0.5"]) == 2
    assert "--split='0.5,0.5' is invalid" in capsys.readouterr().err


def test_rare_labels_still_give_exact_split_sizes():
    labels = np.array([*range(10), *[10] * 90])  # ten classes of one sentence, one of ninety
    parts = stratified_split(labels, (80, 10, 10), np.random.default_rng(0))
    assert [len(part) for part in parts] == [80, 10, 10]
    assert sorted(np.concatenate(parts).tolist()) == list(range(100))
    assert [int((labels[part] == 10).sum()) for part in parts] == [72, 9, 9]
