"""Model-agnostic evaluation metrics on tensors (DESIGN.md section 3).

latent: AU, MI, CU, MPD, CE, aggregate-posterior statistics; likelihood: importance-weighted
NLL, priorLL / postLL; smoothness: ELS and expected gap; text: BLEU, ROUGE; probes: linear and
MLP classifiers on frozen features.
"""

from vaesweep.metrics.latent import (
    CU_DIRECTIONS,
    QUANTILE_LEVELS,
    active_units,
    aggregate_posterior_stats,
    collapsed_units,
    conditional_entropy,
    conditional_entropy_dropout,
    dimension_summary,
    is_active,
    mutual_information,
    mutual_information_per_batch,
    mutual_posterior_diversity,
    mutual_posterior_diversity_dropout,
    pairwise_symmetric_kl,
    unit_activity,
)
from vaesweep.metrics.likelihood import (
    importance_weighted_log_likelihood,
    log_mean_exp,
    prior_posterior_log_likelihood,
)
from vaesweep.metrics.probes import (
    label_budget_subset,
    probe_accuracies,
    probe_accuracy,
    runs_per_batch,
    split_features,
)
from vaesweep.metrics.smoothness import expected_gap, expected_local_smoothness
from vaesweep.metrics.text import corpus_bleu, rouge_n

__all__ = [
    "CU_DIRECTIONS",
    "QUANTILE_LEVELS",
    "active_units",
    "aggregate_posterior_stats",
    "collapsed_units",
    "conditional_entropy",
    "conditional_entropy_dropout",
    "corpus_bleu",
    "dimension_summary",
    "expected_gap",
    "expected_local_smoothness",
    "importance_weighted_log_likelihood",
    "is_active",
    "label_budget_subset",
    "log_mean_exp",
    "mutual_information",
    "mutual_information_per_batch",
    "mutual_posterior_diversity",
    "mutual_posterior_diversity_dropout",
    "pairwise_symmetric_kl",
    "prior_posterior_log_likelihood",
    "probe_accuracies",
    "probe_accuracy",
    "rouge_n",
    "runs_per_batch",
    "split_features",
    "unit_activity",
]
