"""Text corpora: the authors' two file formats, a Hugging Face corpus built in memory, errors."""

import sys
from dataclasses import replace

import datasets
import pytest
import torch

from vaesweep.cli import main
from vaesweep.config import DataConfig
from vaesweep.data import acquire, load_dataset
from vaesweep.data.corpora import RECIPES, convert_hub_corpus, tokenise
from vaesweep.data.text import read_vocab
from vaesweep.errors import DataError


def write(directory, files: dict[str, str]):
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text)
    return directory


def documents(n: int, offset: int = 0) -> dict[str, list]:
    """Rows like yahoo_answers_topics: "doc <digits of i> title" identifies a row with words
    every split shares, 'common' is everywhere, 'rare<i>' occurs once."""
    ids = range(offset, offset + n)
    return {
        "question_title": [f"Doc {' '.join(str(i))} Title" for i in ids],
        "question_content": ["It's common\\nand COMMON. 0 1 2 3 4 5 6 7 8 9" for _ in ids],
        "best_answer": [f"rare{i}" for i in ids],
        "topic": [i % 3 for i in ids],
    }


def yahoo_like(n_train: int = 40, n_test: int = 12) -> datasets.DatasetDict:
    return datasets.DatasetDict(
        train=datasets.Dataset.from_dict(documents(n_train)),
        test=datasets.Dataset.from_dict(documents(n_test, offset=1000)),
    )


SMALL_YAHOO = replace(RECIPES["yahoo"], sizes=(20, 5, 6), vocab_size=4 + 16, max_tokens=30)


def test_tokenise_lowercases_and_splits_punctuation():
    assert tokenise("It's COMMON,\\nsee <unk>: 3.5!") == [
        "it's",
        "common",
        ",",
        "see",
        "<unk>",
        ":",
        "3",
        ".",
        "5",
        "!",
    ]


def test_hub_corpus_is_sampled_cut_and_labelled_as_the_recipe_says(tmp_path):
    summary = convert_hub_corpus(yahoo_like(), "yahoo", tmp_path / "a", SMALL_YAHOO, seed=3)
    assert summary["sizes"] == {"train": 20, "valid": 5, "test": 6}
    assert summary["vocab_size"] == 20 and summary["num_classes"] == 3
    vocab = read_vocab(tmp_path / "a" / "vocab.txt")
    # the words of every document survive the cut, the once-only ones become <unk>
    assert set(vocab.itos[4:]) == {"common", ".", "and", "doc", "it's", "title", *"0123456789"}
    label, sentence = (tmp_path / "a" / "yahoo.train.txt").read_text().splitlines()[0].split("\t")
    assert int(label) in (0, 1, 2) and sentence.endswith("<unk>")
    data = load_dataset(DataConfig(name="yahoo", path=str(tmp_path / "a")))
    assert len(data.vocab) == 20 and data.train.labels is not None
    # the same seed gives the same corpus, another seed another sample
    convert_hub_corpus(yahoo_like(), "yahoo", tmp_path / "b", SMALL_YAHOO, seed=3)
    convert_hub_corpus(yahoo_like(), "yahoo", tmp_path / "c", SMALL_YAHOO, seed=4)
    same = (tmp_path / "b" / "yahoo.train.txt").read_text()
    assert same == (tmp_path / "a" / "yahoo.train.txt").read_text()
    assert same != (tmp_path / "c" / "yahoo.train.txt").read_text()


def test_train_and_valid_are_disjoint_draws_and_test_comes_from_the_test_split(tmp_path):
    convert_hub_corpus(yahoo_like(), "yahoo", tmp_path, replace(SMALL_YAHOO, vocab_size=0))
    docs = {
        split: {
            line.split("doc ")[1].split(" title")[0]
            for line in (tmp_path / f"yahoo.{split}.txt").read_text().splitlines()
        }
        for split in ("train", "valid", "test")
    }
    assert (len(docs["train"]), len(docs["valid"]), len(docs["test"])) == (20, 5, 6)
    assert not docs["train"] & docs["valid"]
    assert all(int(doc.replace(" ", "")) < 1000 for doc in docs["train"] | docs["valid"])
    assert all(int(doc.replace(" ", "")) >= 1000 for doc in docs["test"])


def test_hub_corpus_skips_long_empty_and_unlabelled_rows(tmp_path):
    rows = documents(30)
    rows["best_answer"][:10] = ["word " * 50] * 10  # too long for max_tokens=30
    rows["question_title"][10:15] = [""] * 5
    rows["question_content"][10:15] = [""] * 5
    rows["best_answer"][10:15] = ["  "] * 5  # empty after tokenisation
    rows["topic"][15:20] = [-1] * 5  # no gold label
    source = datasets.DatasetDict(
        train=datasets.Dataset.from_dict(rows), test=datasets.Dataset.from_dict(documents(8))
    )
    summary = convert_hub_corpus(
        source, "yahoo", tmp_path, replace(SMALL_YAHOO, sizes=(8, 2, 8), vocab_size=0)
    )
    assert summary["sizes"] == {"train": 8, "valid": 2, "test": 8}
    lines = (tmp_path / "yahoo.train.txt").read_text().splitlines()
    kept = {int(line.split("doc ")[1].split(" title")[0].replace(" ", "")) for line in lines}
    assert kept <= set(range(20, 30))


def test_a_lone_dataset_gives_three_disjoint_splits(tmp_path):
    digits = " ".join("0123456789")  # so every split's words are in the training vocabulary
    source = datasets.Dataset.from_dict(
        {"hypothesis": [f"a man {' '.join(str(i))} sleeps . {digits}" for i in range(30)]}
    )
    recipe = replace(RECIPES["snli"], sizes=(10, 5, 5), vocab_size=0)
    assert convert_hub_corpus(source, "snli", tmp_path, recipe)["sizes"] == {
        "train": 10,
        "valid": 5,
        "test": 5,
    }
    seen = [
        line.split(" sleeps")[0]  # "a man <digits of i>"
        for split in ("train", "valid", "test")
        for line in (tmp_path / f"snli.{split}.txt").read_text().splitlines()
    ]
    assert len(seen) == len(set(seen)) == 20
    assert "\t" not in (tmp_path / "snli.train.txt").read_text()  # unlabelled recipe


def test_books_are_split_into_lines_and_source_splits_kept(tmp_path):
    book = "_BOOK_TITLE_ : a.txt\nThe cat sat .\n\nThe dog <unk> ran .\n"
    source = datasets.DatasetDict(
        train=datasets.Dataset.from_dict({"title": ["a"], "content": [book]}),
        validation=datasets.Dataset.from_dict({"title": ["b"], "content": ["A cat .\n"]}),
        test=datasets.Dataset.from_dict({"title": ["c"], "content": ["A dog .\n"]}),
    )
    recipe = replace(RECIPES["cbt"], sizes=None, vocab_size=0)
    summary = convert_hub_corpus(source, "cbt", tmp_path, recipe)
    assert summary["sizes"] == {"train": 2, "valid": 1, "test": 1}
    assert (tmp_path / "cbt.train.txt").read_text() == "the cat sat .\nthe dog <unk> ran .\n"
    data = load_dataset(DataConfig(name="cbt", path=str(tmp_path)))
    assert int(data.train.x[1, 2]) == data.vocab.unk_id  # <unk> kept as the unknown word


def test_missing_columns_are_named(tmp_path):
    source = datasets.Dataset.from_dict({"text": ["x"]})
    with pytest.raises(DataError, match=r"lacks columns \['hypothesis'\]"):
        convert_hub_corpus(source, "snli", tmp_path, RECIPES["snli"])


# -- the authors' files ---------------------------------------------------------------------

HE_ET_AL = {
    "yahoo.train.txt": "0\ta b c\n1\tb c d\n0\ta a\n",
    "yahoo.valid.txt": "1\tc d\n",
    "yahoo.test.txt": "0\ta d\n1\tzz\n",
}
IGP = {
    "vocab.txt": "a\nb\nc\n",
    "train.txt": "a b\nb c\n",
    "dev.txt": "c a\n",
    "test.txt": "a\nb c\n",
    "test_class_label.txt": "3\n7\n",
}


def test_prepare_he_et_al_files_into_the_cache(tmp_path, capsys):
    assert main(["data", "prepare", "yahoo", "--from", str(write(tmp_path / "src", HE_ET_AL))]) == 0
    assert "yahoo: ready" in capsys.readouterr().out
    data = load_dataset(DataConfig(name="yahoo"))  # data.path empty: the cache
    assert (len(data.train), len(data.valid), len(data.test)) == (3, 1, 2)
    assert data.num_classes == 2 and int(data.test.x[1, 0]) == data.vocab.unk_id


def test_prepare_igp_files_with_dev_split_and_test_labels(tmp_path):
    directory, summary = acquire.prepare("dbpedia", write(tmp_path / "src", IGP))
    assert sorted(p.name for p in directory.iterdir()) == [
        "MANIFEST.json",
        "dbpedia.test.txt",
        "dbpedia.train.txt",
        "dbpedia.valid.txt",
        "test_class_label.txt",
        "vocab.txt",
    ]
    data = load_dataset(DataConfig(name="dbpedia"))
    assert torch.equal(data.test.labels, torch.tensor([0, 1])) and data.train.labels is None
    assert summary["vocab_size"] == 7


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            {**HE_ET_AL, "yahoo.test.txt": "0\ta d\nx\tzz\n"},
            r"src/yahoo\.test\.txt, line 2: label 'x' is not an integer",
        ),
        ({**IGP, "train.txt": "a b\nb q\n"}, r"src/train\.txt, line 2: token 'q' is not in .*src/vocab\.txt"),
        (
            {**IGP, "test_class_label.txt": "3\n"},
            r"src/test_class_label\.txt: 1 labels for the 2 sentences of .*src/test\.txt",
        ),
        ({k: v for k, v in IGP.items() if k != "dev.txt"}, r"src: no valid file"),
    ],
)
def test_malformed_text_files_name_the_source_file_and_line(tmp_path, isolated_cache, files, message):
    with pytest.raises(DataError, match=message):
        acquire.prepare("yahoo", write(tmp_path / "src", files))
    assert not isolated_cache.exists() or list(isolated_cache.iterdir()) == []


# -- fetch ----------------------------------------------------------------------------------


def test_text_fetch_offline_says_where_to_put_the_files(monkeypatch, isolated_cache):
    monkeypatch.setattr(acquire, "network_error", lambda url, timeout: "simulated outage")
    expected = r"no network \(https://huggingface\.co/: simulated outage\): put the files at "
    with pytest.raises(DataError, match=expected + r".*cache/yahoo; expected layout: <name>\.train\.txt"):
        acquire.fetch("yahoo")
    with pytest.raises(DataError, match=r"short_yelp cannot be fetched.*prepare short_yelp --from"):
        acquire.fetch("short_yelp")


def test_text_fetch_without_datasets_package_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)
    with pytest.raises(DataError, match=r"pip install 'vaesweep\[paper\]'"):
        acquire.fetch("snli")
