"""Text corpora in the He et al. and IGP layouts, and the errors that name file and line."""

import pytest
import torch

from vaesweep.config import DataConfig
from vaesweep.data import load_dataset
from vaesweep.data.base import SPECIAL_TOKENS
from vaesweep.data.text import (
    build_vocab,
    encode_split,
    load_text_dataset,
    read_sentences,
    read_vocab,
)
from vaesweep.errors import ConfigError, DataError


def _write(directory, files: dict[str, str]):
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")
    return directory


HE_ET_AL = {
    "yelp.train.txt": ("3\tthe food was good\n1\tthe service was bad\n3\tgood good food\n5\tthe end\n"),
    "yelp.valid.txt": "2\tthe food was great\n",
    "yelp.test.txt": "5\tbad food\n",
}

IGP = {
    "vocab.txt": "<unk>\nthe\ncat\nsat\ndog\n",
    "train.txt": "the cat sat\nthe dog sat\n",
    "valid.txt": "the cat\n",
    "test.txt": "the dog\n<unk> sat\n",
    "test_class_label.txt": "7\n3\n",
}


def _config(directory, name="yelp", **kwargs) -> DataConfig:
    return DataConfig(name=name, path=str(directory), **kwargs)


def test_he_et_al_layout_builds_the_vocabulary_from_train(tmp_path):
    data = load_dataset(_config(_write(tmp_path, HE_ET_AL)))
    assert data.kind == "text" and data.name == "yelp"
    # most frequent first, ties alphabetical
    words = ["good", "the", "food", "was", "bad", "end", "service"]
    assert data.vocab.itos == [*SPECIAL_TOKENS, *words]
    assert torch.equal(
        data.train.x,
        torch.tensor([[5, 6, 7, 4, 2], [5, 10, 7, 8, 2], [4, 4, 6, 2, 0], [5, 9, 2, 0, 0]]),
    )
    assert torch.equal(data.train.lengths, torch.tensor([5, 5, 4, 3]))
    assert torch.equal(data.valid.x, torch.tensor([[5, 6, 7, 3, 2]]))  # great -> <unk>
    # labels 1, 2, 3, 5 (over all splits) become class indices 0..3
    assert data.num_classes == 4
    assert torch.equal(data.train.labels, torch.tensor([2, 0, 2, 3]))
    assert torch.equal(data.valid.labels, torch.tensor([1]))
    assert torch.equal(data.test.labels, torch.tensor([3]))


def test_igp_layout_uses_vocab_txt_and_the_test_label_file(tmp_path):
    data = load_text_dataset(_config(_write(tmp_path, IGP), name="snli"))
    assert data.vocab.itos == [*SPECIAL_TOKENS, "the", "cat", "sat", "dog"]
    assert torch.equal(data.train.x, torch.tensor([[4, 5, 6, 2], [4, 7, 6, 2]]))
    assert torch.equal(data.test.x, torch.tensor([[4, 7, 2], [3, 6, 2]]))
    assert torch.equal(data.test.lengths, torch.tensor([3, 3]))
    assert data.train.labels is None and data.valid.labels is None
    assert torch.equal(data.test.labels, torch.tensor([1, 0]))
    assert data.num_classes == 2


def test_max_train_and_unlabelled_corpora(tmp_path):
    files = {
        name: "\n".join(line.split("\t")[1] for line in text.splitlines()) + "\n"
        for name, text in HE_ET_AL.items()
    }
    data = load_text_dataset(_config(_write(tmp_path, files), max_train=2))
    assert len(data.train) == 2 and data.num_classes is None
    assert data.train.labels is None and data.test.labels is None


def test_text_cannot_be_binarised(tmp_path):
    with pytest.raises(ConfigError, match=r"data\.binarisation"):
        load_text_dataset(_config(_write(tmp_path, HE_ET_AL), binarisation="dynamic"))


def test_non_integer_label_names_file_and_line(tmp_path):
    files = {**HE_ET_AL, "yelp.train.txt": "3\ta b\n1\tc d\nfive\te f\n"}
    message = r"yelp\.train\.txt, line 3: label 'five' is not an integer"
    with pytest.raises(DataError, match=message):
        load_text_dataset(_config(_write(tmp_path, files)))


def test_label_file_with_a_different_line_count(tmp_path):
    files = {**IGP, "test_class_label.txt": "7\n3\n1\n"}
    message = r"test_class_label\.txt: 3 labels .* 2 sentences of .*test\.txt"
    with pytest.raises(DataError, match=message):
        load_text_dataset(_config(_write(tmp_path, files), name="snli"))


def test_bad_label_in_label_file_names_the_line(tmp_path):
    files = {**IGP, "test_class_label.txt": "7\n3.5\n"}
    with pytest.raises(DataError, match=r"test_class_label\.txt, line 2"):
        load_text_dataset(_config(_write(tmp_path, files), name="snli"))


def test_duplicate_vocab_token_names_both_lines(tmp_path):
    files = {**IGP, "vocab.txt": "<unk>\nthe\ncat\nthe\nsat\ndog\n"}
    message = r"vocab\.txt, line 4: duplicate token 'the' \(already on line 2\)"
    with pytest.raises(DataError, match=message):
        load_text_dataset(_config(_write(tmp_path, files), name="snli"))


def test_token_missing_from_vocab_txt_is_a_mismatch(tmp_path):
    files = {**IGP, "train.txt": "the cat sat\nthe bird sat\n"}
    with pytest.raises(DataError, match=r"train\.txt, line 2: token 'bird' is not in .*vocab\.txt"):
        load_text_dataset(_config(_write(tmp_path, files), name="snli"))


def test_empty_sentence_names_the_line(tmp_path):
    files = {**IGP, "valid.txt": "the cat\n   \nthe dog\n"}
    with pytest.raises(DataError, match=r"valid\.txt, line 2: empty sentence"):
        load_text_dataset(_config(_write(tmp_path, files), name="snli"))


def test_labels_on_some_lines_only(tmp_path):
    files = {**HE_ET_AL, "yelp.test.txt": "bad food\n5\tgood food\n"}
    with pytest.raises(DataError, match=r"yelp\.test\.txt, line 2: .*label"):
        load_text_dataset(_config(_write(tmp_path, files)))


def test_labels_given_twice(tmp_path):
    files = {**HE_ET_AL, "test_class_label.txt": "1\n"}
    with pytest.raises(DataError, match=r"test_class_label\.txt.*yelp\.test\.txt"):
        load_text_dataset(_config(_write(tmp_path, files)))


def test_missing_split_lists_the_expected_names(tmp_path):
    files = {k: v for k, v in HE_ET_AL.items() if k != "yelp.valid.txt"}
    with pytest.raises(DataError, match=r"yelp\.valid\.txt .*or valid\.txt"):
        load_text_dataset(_config(_write(tmp_path, files)))
    with pytest.raises(DataError, match=r"data\.path is empty"):
        load_text_dataset(DataConfig(name="yelp"))


def test_read_sentences_detects_labels_and_handles_crlf(tmp_path):
    path = tmp_path / "s.txt"
    path.write_bytes(b"0\thello world\r\n1\tbye\r\n")
    assert read_sentences(path) == ([["hello", "world"], ["bye"]], [0, 1])
    path.write_text("hello world\nbye\n")
    assert read_sentences(path) == ([["hello", "world"], ["bye"]], None)
    with pytest.raises(DataError, match="line 1"):
        read_sentences(path, has_labels=True)


def test_build_vocab_caps_and_filters():
    sentences = [["b", "a", "c"], ["a", "b", "d"], ["a"]]
    assert build_vocab(sentences).itos[4:] == ["a", "b", "c", "d"]
    assert build_vocab(sentences, max_size=2).itos[4:] == ["a", "b"]
    assert build_vocab(sentences, min_count=2).itos[4:] == ["a", "b"]
    assert build_vocab([["<unk>", "x"]]).itos[4:] == ["x"]


def test_encode_split_pads_after_eos():
    vocab = build_vocab([["x", "y"]])
    split = encode_split([["x"], ["y", "x", "z"]], vocab, [4, 2])
    assert torch.equal(split.x, torch.tensor([[4, 2, 0, 0], [5, 4, 3, 2]]))
    assert torch.equal(split.lengths, torch.tensor([2, 4]))
    assert torch.equal(split.labels, torch.tensor([4, 2]))


def test_read_vocab_rejects_blank_tokens(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("a\n\nb\n")
    with pytest.raises(DataError, match=r"vocab\.txt, line 2: empty token"):
        read_vocab(path)


def test_split_batches_stop_at_the_limit_and_trim_each_batch():
    import torch

    from vaesweep.data.base import Split

    x = torch.tensor([[5, 2, 0, 0], [5, 6, 2, 0], [5, 6, 7, 2], [5, 2, 0, 0], [5, 6, 2, 0]])
    split = Split(x, lengths=torch.tensor([2, 3, 4, 2, 3]))
    batches = list(split.batches(2, limit=3))
    assert [tuple(b.shape) for b, _ in batches] == [(2, 3), (1, 4)]  # 3 examples, not 4
    assert torch.equal(torch.cat([lengths for _, lengths in batches]), torch.tensor([2, 3, 4]))
    assert sum(len(b) for b, _ in split.batches(2)) == 5
