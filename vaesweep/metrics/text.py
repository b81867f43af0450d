"""Reconstruction quality of text VAEs: corpus BLEU and ROUGE-N (IGP Fig. 2, Tables 9-10).

Sentences are token lists; ``references[i]`` is the single reference (the input sentence) of
``hypotheses[i]`` (its reconstruction). Scores are percentages in [0, 100].
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Literal


def _ngrams(tokens: list[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def _clipped_matches(reference: list[str], hypothesis: list[str], n: int) -> tuple[int, int, int]:
    """(clipped n-gram matches, hypothesis n-grams, reference n-grams) of one sentence pair."""
    ref, hyp = _ngrams(reference, n), _ngrams(hypothesis, n)
    matches = sum(min(count, ref[gram]) for gram, count in hyp.items())
    return matches, sum(hyp.values()), sum(ref.values())


def _check_pairs(references: list[list[str]], hypotheses: list[list[str]]) -> None:
    if len(references) != len(hypotheses) or not hypotheses:
        raise ValueError(
            f"need equally many references and hypotheses, at least one: got "
            f"{len(references)} and {len(hypotheses)}"
        )


def corpus_bleu(references: list[list[str]], hypotheses: list[list[str]], max_n: int = 4) -> float:
    """Corpus BLEU-``max_n`` in percent (Papineni et al. 2002), without smoothing.

    Clipped n-gram counts are pooled over the corpus, the precisions p_1..p_max_n are combined
    by a geometric mean with uniform weights, and the brevity penalty exp(1 - r/c) applies when
    the total hypothesis length c is below the total reference length r. Any zero precision
    gives 0 (IGP reports BLEU-2 and BLEU-4 of greedy reconstructions).
    """
    _check_pairs(references, hypotheses)
    log_precision = 0.0
    for n in range(1, max_n + 1):
        matches = total = 0
        for reference, hypothesis in zip(references, hypotheses, strict=True):
            m, h, _ = _clipped_matches(reference, hypothesis, n)
            matches, total = matches + m, total + h
        if matches == 0:
            return 0.0
        log_precision += math.log(matches / total) / max_n
    hyp_len = sum(len(h) for h in hypotheses)
    ref_len = sum(len(r) for r in references)
    brevity = 0.0 if hyp_len > ref_len else 1.0 - ref_len / hyp_len
    return 100.0 * math.exp(log_precision + brevity)


def _f1(matches: int, hyp_total: int, ref_total: int) -> float:
    if matches == 0:
        return 0.0
    precision, recall = matches / hyp_total, matches / ref_total
    return 2.0 * precision * recall / (precision + recall)


def rouge_n(
    references: list[list[str]],
    hypotheses: list[list[str]],
    n: int,
    average: Literal["corpus", "sentence"] = "corpus",
) -> float:
    """ROUGE-N F1 in percent (Lin 2004), as IGP Table 9 reports ROUGE-2/4.

    The overlap is the clipped count of shared n-grams; precision divides it by the
    hypothesis n-grams and recall by the reference n-grams. ``average="corpus"`` pools the
    counts over all pairs before taking F1; ``"sentence"`` averages the per-pair F1 (what
    sentence-level ROUGE packages report).
    """
    _check_pairs(references, hypotheses)
    counts = [_clipped_matches(r, h, n) for r, h in zip(references, hypotheses, strict=True)]
    if average == "sentence":
        return 100.0 * sum(_f1(*c) for c in counts) / len(counts)
    if average == "corpus":
        return 100.0 * _f1(*(sum(column) for column in zip(*counts, strict=True)))
    raise ValueError(f"average={average!r}: allowed 'corpus' or 'sentence'")
