"""BLEU and ROUGE-N on hand-computed cases."""

from __future__ import annotations

import math

import pytest

from vaesweep.metrics import corpus_bleu, rouge_n


def tok(sentence: str) -> list[str]:
    return sentence.split()


REF = tok("the cat sat on the mat")
HYP = tok("the cat on the mat")


def test_bleu_of_identical_corpora_is_100():
    corpus = [REF, tok("a quick brown fox jumps")]
    assert corpus_bleu(corpus, corpus) == pytest.approx(100.0)
    assert corpus_bleu(corpus, corpus, max_n=2) == pytest.approx(100.0)


def test_bleu_is_zero_without_bigram_matches():
    refs, hyps = [tok("c b a")], [tok("a b c")]
    assert corpus_bleu(refs, hyps, max_n=1) == pytest.approx(100.0)
    assert corpus_bleu(refs, hyps, max_n=2) == 0.0


def test_bleu_hand_computed_with_brevity_penalty():
    # p1 = 5/5, p2 = 3/4 (the cat, on the, the mat), c = 5 < r = 6.
    expected = 100.0 * math.exp(1 - 6 / 5) * math.sqrt(1.0 * 0.75)
    assert corpus_bleu([REF], [HYP], max_n=2) == pytest.approx(expected)
    # No 4-gram of HYP occurs in REF.
    assert corpus_bleu([REF], [HYP]) == 0.0


def test_bleu_clips_counts_and_pools_over_the_corpus():
    assert corpus_bleu([["the", "cat"]], [["the"] * 4], max_n=1) == pytest.approx(25.0)
    # Pooled p1 = (4 + 1) / (4 + 2), c = r = 6; the mean of sentence scores would be 75.
    refs = [tok("a b c d"), tok("x z")]
    hyps = [tok("a b c d"), tok("x y")]
    assert corpus_bleu(refs, hyps, max_n=1) == pytest.approx(100.0 * 5 / 6)


def test_rouge_2_hand_computed():
    # Bigram overlap 3, hypothesis 4, reference 5: P = 3/4, R = 3/5.
    assert rouge_n([REF], [HYP], 2) == pytest.approx(100.0 * 2 * 0.75 * 0.6 / 1.35)
    assert rouge_n([REF], [REF], 2) == pytest.approx(100.0)
    assert rouge_n([REF], [HYP], 4) == 0.0


def test_rouge_corpus_and_sentence_averages():
    refs = [tok("a b c"), tok("x y q r")]
    hyps = [tok("a b c"), tok("x y z w")]
    # Pair F1s: 1 and 1/3. Pooled: overlap 3, hypothesis 5, reference 5.
    assert rouge_n(refs, hyps, 2, average="sentence") == pytest.approx(100.0 * 2 / 3)
    assert rouge_n(refs, hyps, 2) == pytest.approx(60.0)


def test_mismatched_corpora_are_rejected():
    with pytest.raises(ValueError):
        corpus_bleu([REF], [HYP, HYP])
    with pytest.raises(ValueError):
        rouge_n([], [], 2)
