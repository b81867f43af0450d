"""Every metric vaesweep logs, declared once: name, label, unit, direction, when it is logged,
the paper that defines it, and the function that produces it.

The readers derive what they need from here: the MLflow schema of the analysis (which names
are per-epoch, which final), the tables (label, which direction is best), the sweep (which
``--metric`` exists and which can be compared every epoch for ASHA) and the trainable (the
per-epoch stand-in of a final metric, e.g. nll -> the validation -ELBO bound). The producers
build the names of metric families (``cu_<tau>``, ``accuracy_labels_<N>``, ...) with
``MetricSpec.named``. A test trains on digits and on synthetic text with every evaluation
option on and checks that every metric that comes back is declared here.

Producers are named by dotted path ("module:function"), so this module imports no torch.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from vaesweep.errors import ConfigError

EPOCH, FINAL = "epoch", "final"
DIRECTIONS = ("min", "max", "none")
# When a final metric is also measured on the validation split, logged every epoch as
# "valid_<name>": always (the cheap standard metrics), only with train.valid_metrics=all, or never
# (the paper protocols: training a language model or a classifier every epoch would dominate).
ALWAYS, WITH_ALL, NEVER = "every_epoch", "valid_metrics_all", "never"
VALIDATION_PREFIX = "valid_"


@dataclass(frozen=True)
class MetricSpec:
    """One logged metric, or a family of them (``name`` with one ``{placeholder}``).

    ``validation`` (final metrics): when ``valid_<name>`` is logged per epoch (ALWAYS, WITH_ALL,
    NEVER). ``epoch_estimate``: for a final metric without a per-epoch value, the function
    ("module:function") of the epoch's validation metrics that stands in for it mid-run.
    A family's values are those of the config field ``values_field`` or the fixed ``values``;
    ``value_format`` formats one into the name.
    """

    name: str
    label: str  # as tables print it (a family's may use the placeholder)
    unit: str
    direction: str  # "min" | "max" | "none": which value is best
    scope: str  # EPOCH: logged every epoch (step = epoch); FINAL: once, after training
    paper: str
    description: str
    producer: str  # "module:function" that computes it
    validation: str = NEVER
    epoch_estimate: str = ""
    epoch_estimate_label: str = ""  # what the estimate is, as progress lines name it
    values_field: str = ""
    values: tuple[Any, ...] = ()
    value_format: str = ""

    @property
    def parameter(self) -> str | None:
        """The family's placeholder ("tau" for cu_{tau}); None for a single metric."""
        found = re.search(r"\{(\w+)\}", self.name)
        return found.group(1) if found else None

    def named(self, value: Any) -> str:
        """The logged name of one member of a family: ``CU_AT.named(0.03)`` -> "cu_0.03"."""
        return self.name.format(**{self.parameter: format(value, self.value_format)})

    def match(self, name: str) -> str | None:
        """The family parameter's text in ``name`` if ``name`` is this metric, else None."""
        if self.parameter is None:
            return "" if name == self.name else None
        head, tail = self.name.split("{" + self.parameter + "}")
        found = re.fullmatch(re.escape(head) + r"([0-9][0-9.e+-]*)" + re.escape(tail), name)
        return found.group(1) if found else None

    def default_names(self) -> tuple[str, ...]:
        """The names a run with the default configuration logs (a family's default members)."""
        if self.parameter is None:
            return (self.name,)
        values = self.values
        if self.values_field:
            from vaesweep.config import RunConfig

            section, leaf = self.values_field.split(".")
            values = getattr(getattr(RunConfig(), section), leaf)
        return tuple(self.named(value) for value in values)


NATS, DIMS, PERCENT = "nats", "dimensions", "%"
SECONDS = "s"  # wall-clock times: they differ between two runs of the same configuration
_TRAINER = "vaesweep.train:Trainer"
_AGGRESSIVE = "vaesweep.encoder_updates.aggressive:AggressivePhase"
_EVAL = "vaesweep.evaluation"
_STANDARD = f"{_EVAL}:standard_metrics"
_LATENT = "vaesweep.metrics.latent"
_PROTOCOLS = "vaesweep.protocols"

# -- metric families whose names the producers build ------------------------------------------
CU_AT = MetricSpec(
    "cu_{tau}", "CU({tau})", DIMS, "max", FINAL, "DG-VAE",
    "dimensions whose aggregated posterior covers the prior: KL(p(z_d) || qbar(z_d)) < tau",
    f"{_LATENT}:collapsed_units", validation=WITH_ALL, values_field="eval.cu_thresholds", value_format="g",
)  # fmt: skip
EXPECTED_GAP_AT = MetricSpec(
    "expected_gap_{scale}", "gap({scale})", "squared error", "none", FINAL, "AR-ELBO",
    "expected gap Delta^2(s2) between decodings of two perturbed codes (eq. 5), s2 = scale",
    "vaesweep.metrics.smoothness:expected_gap", validation=WITH_ALL, values=("1e-2", "1e-3"),
)  # fmt: skip
FID_GMM = MetricSpec(
    "fid_gmm{components}", "fid_gmm{components}", "FID", "min", FINAL, "AR-ELBO",
    "FID of images decoded from a GMM with this many components fitted to the training codes",
    f"{_PROTOCOLS}.fid:fid_metrics", values_field="eval.fid_gmm_components", value_format="d",
)  # fmt: skip
ACCURACY_LABELS = MetricSpec(
    "accuracy_labels_{labels}", "Acc ({labels} labels)", PERCENT, "max", FINAL, "DU-VAE",
    "test accuracy of a linear probe trained on this many balanced labelled examples (Table 2)",
    f"{_PROTOCOLS}.label_probes:label_budget_accuracies", values_field="eval.label_budgets", value_format="d",
)  # fmt: skip
ACCURACY_PERCENT = MetricSpec(
    "accuracy_percent_{percent}", "Acc ({percent}% labels)", PERCENT, "max", FINAL, "IGP",
    "test accuracy of an MLP probe trained on this percentage of the training labels (Fig. 3)",
    f"{_PROTOCOLS}.label_probes:few_shot_accuracies", values_field="eval.few_shot_percents", value_format="g",
)  # fmt: skip
ACCURACY_PER_CHAR = MetricSpec(
    "accuracy_per_char_{labels}", "Acc ({labels} per character)", PERCENT, "max", FINAL, "DU-VAE",
    "mean over alphabets of a linear probe over its characters, this many images each (Table 3)",
    f"{_PROTOCOLS}.label_probes:per_character_accuracies", values_field="eval.per_character_labels",
    value_format="d",
)  # fmt: skip

DECLARED: tuple[MetricSpec, ...] = (
    # -- per epoch, from the training pass --------------------------------------------------
    MetricSpec("train_loss", "train loss", NATS, "min", EPOCH, "",
          "the optimised loss per example, mean over the epoch's batches", f"{_TRAINER}.train_epoch"),
    MetricSpec("train_rec", "train Rec", NATS, "min", EPOCH, "",
          "-log p(x|z) per example on the training batches", f"{_TRAINER}.train_epoch"),
    MetricSpec("train_kl", "train KL", NATS, "none", EPOCH, "",
          "KL(q(z|x) || p(z)) per example on the training batches", f"{_TRAINER}.train_epoch"),
    MetricSpec("train_bow", "train bow", NATS, "none", EPOCH, "",
          "bow-VAE's bag-of-words loss per sentence (unweighted), when regulariser.bow_weight > 0",
          "vaesweep.objectives.objective:Objective"),
    MetricSpec("kl_weight", "KL weight", "", "none", EPOCH, "",
          "the annealing schedule's KL weight at the end of the epoch", f"{_TRAINER}.train_epoch"),
    MetricSpec("lr", "lr", "", "none", EPOCH, "",
          "the learning rate (halved on plateaus under the text protocol)", f"{_TRAINER}.train_epoch"),
    MetricSpec("target_kl", "target C", NATS, "none", EPOCH, "IGP",
          "the ramped target KL C_t of the target-KL regulariser (eq. 2)", f"{_TRAINER}.train_epoch"),
    MetricSpec("epoch", "epoch", "epochs", "none", EPOCH, "", "the epoch just finished", f"{_TRAINER}.run"),
    MetricSpec("epoch_seconds", "s/epoch", SECONDS, "min", EPOCH, "",
          "wall-clock seconds of the epoch's training steps (validation not included)",
          f"{_TRAINER}.train_epoch"),
    MetricSpec("aggressive", "aggressive phase", "", "none", EPOCH, "He et al. 2019",
          "1 while Agg-VAE's aggressive phase was on during the epoch, else 0 (train.encoder_updates)",
          f"{_AGGRESSIVE}.epoch_metrics"),
    MetricSpec("encoder_steps", "encoder steps", "steps", "none", EPOCH, "He et al. 2019",
          "encoder updates in the epoch: the inner loops' steps while the aggressive phase is on",
          f"{_AGGRESSIVE}.epoch_metrics"),
    MetricSpec("decoder_steps", "decoder steps", "steps", "none", EPOCH, "He et al. 2019",
          "decoder updates in the epoch (one per batch)", f"{_AGGRESSIVE}.epoch_metrics"),
    # -- final; the standard ones are also measured on validation every epoch ---------------
    MetricSpec("rec", "Rec", NATS, "min", FINAL, "",
          "reconstruction loss -log p(x|z), one z ~ q(z|x), mean over examples", _STANDARD,
          validation=ALWAYS),
    MetricSpec("kl", "KL", NATS, "none", FINAL, "",
          "KL(q(z|x) || p(z)) mean over examples", _STANDARD, validation=ALWAYS),
    MetricSpec("elbo", "ELBO", NATS, "max", FINAL, "",
          "-(rec + kl): the evidence lower bound", _STANDARD, validation=ALWAYS),
    MetricSpec("nll", "NLL", NATS, "min", FINAL, "DU-VAE",
          "-log p(x) by importance sampling with eval.nll_samples samples (IWAE estimator)",
          f"{_EVAL}:importance_weighted_nll", validation=WITH_ALL, epoch_estimate=f"{_EVAL}:elbo_loss",
          epoch_estimate_label="-ELBO (an upper bound of NLL)"),
    MetricSpec("mi", "MI", NATS, "max", FINAL, "DU-VAE",
          "mutual information I(x, z) under q(x, z) = p_data(x) q(z|x) of the evaluation set; a "
          "one-sample Monte Carlo estimate (log q(z) over all N posteriors), at most log N and "
          "slightly negative when I is near 0",
          _STANDARD, validation=ALWAYS),
    MetricSpec("au", "AU", DIMS, "max", FINAL, "DU-VAE",
          "active units: dimensions with Var_x(E_q[z_d]) > 0.01 (>= with eval.au_strict=false)", _STANDARD,
          validation=ALWAYS),
    MetricSpec("cu", "CU", DIMS, "max", FINAL, "DG-VAE",
          "CU at tau = 0.03, the paper's threshold (cu_<tau> for the others; eval.cu_direction)",
          f"{_LATENT}:collapsed_units", validation=WITH_ALL),
    CU_AT,
    MetricSpec("mpd", "MPD", NATS, "none", FINAL, "DU-VAE",
          "mutual posterior diversity: mean symmetric KL between posteriors (eq. 3)",
          f"{_LATENT}:mutual_posterior_diversity", validation=WITH_ALL),
    MetricSpec("ce", "CE", NATS, "none", FINAL, "DU-VAE",
          "conditional entropy of the posterior H(z|x) (eq. 5)", f"{_LATENT}:conditional_entropy",
          validation=WITH_ALL),
    MetricSpec("mpd_dropout", "MPD (dropout)", NATS, "none", FINAL, "DU-VAE",
          "MPD of a DU encoder with its training-time variance dropout, in expectation over the masks "
          "(Proposition 1; mpd is the same encoder without dropout)", f"{_EVAL}:variance_dropout_metrics",
          validation=WITH_ALL),
    MetricSpec("ce_dropout", "CE (dropout)", NATS, "none", FINAL, "DU-VAE",
          "CE of a DU encoder with its training-time variance dropout, in expectation over the masks "
          "(Proposition 1; ce is the same encoder without dropout)", f"{_EVAL}:variance_dropout_metrics",
          validation=WITH_ALL),
    MetricSpec("sigma_z2", "sigma_z^2", "variance", "none", FINAL, "AR-ELBO",
          "posterior variance, mean over dimensions and examples", _STANDARD, validation=ALWAYS),
    MetricSpec("mu_sqnorm", "||mu||^2", "", "none", FINAL, "IGP",
          "squared norm of the aggregated posterior's mean (Table 8)",
          f"{_LATENT}:aggregate_posterior_stats", validation=WITH_ALL),
    MetricSpec("logdet_cov", "log det Cov", "", "none", FINAL, "IGP",
          "log-determinant of the aggregated posterior's covariance (Table 8)",
          f"{_LATENT}:aggregate_posterior_stats", validation=WITH_ALL),
    MetricSpec("prior_ll", "priorLL", NATS, "max", FINAL, "DG-VAE",
          "log p(x) with proposal (p(z) + q(z|x))/2, weighted by the prior",
          f"{_EVAL}:prior_posterior_ll", validation=WITH_ALL),
    MetricSpec("post_ll", "postLL", NATS, "max", FINAL, "DG-VAE",
          "as priorLL with log q(z|x) in place of log p(z)", f"{_EVAL}:prior_posterior_ll",
          validation=WITH_ALL),
    MetricSpec("mse", "MSE", "squared error", "min", FINAL, "AR-ELBO",
          "||x - E[x|z]||^2 per example (image decoders)", _STANDARD, validation=ALWAYS),
    MetricSpec("implied_sigma_x2", "implied_sigma_x2", "variance", "none", FINAL, "AR-ELBO",
          "mse / data dimension: the decoder variance that maximises the likelihood", _STANDARD,
          validation=ALWAYS),
    MetricSpec("data_variance", "data variance", "variance", "none", FINAL, "AR-ELBO",
          "per-pixel variance of the evaluation split, mean over pixels: the sigma_x^2 of a decoder "
          "that outputs the mean image", f"{_EVAL}:encode_split", validation=WITH_ALL),
    MetricSpec("sigma_x2", "sigma_x^2", "variance", "none", FINAL, "AR-ELBO",
          "the Gaussian decoder's variance, mean over pixels and examples", _STANDARD, validation=ALWAYS),
    MetricSpec("els", "ELS", "", "none", FINAL, "AR-ELBO",
          "expected local smoothness E_x ||J_mu(mu_phi(x))||_F^2 of the decoder (eq. 6)",
          "vaesweep.metrics.smoothness:expected_local_smoothness", validation=WITH_ALL),
    EXPECTED_GAP_AT,
    *(
        MetricSpec(f"bleu{n}", f"BLEU-{n}", PERCENT, "max", FINAL, "IGP",
              f"corpus BLEU-{n} of greedy reconstructions from the posterior mean",
              f"{_EVAL}:text_reconstruction_scores", validation=WITH_ALL)
        for n in (2, 4)
    ),
    *(
        MetricSpec(f"rouge{n}", f"ROUGE-{n}", PERCENT, "max", FINAL, "IGP",
              f"ROUGE-{n} F1 of greedy reconstructions from the posterior mean",
              f"{_EVAL}:text_reconstruction_scores", validation=WITH_ALL)
        for n in (2, 4)
    ),
    MetricSpec("probe_linear", "probe_linear", PERCENT, "max", FINAL, "DU-VAE",
          "test accuracy of a linear probe on the posterior means", f"{_EVAL}:probe_metrics",
          validation=WITH_ALL),
    MetricSpec("probe_mlp", "probe_mlp", PERCENT, "max", FINAL, "IGP",
          "test accuracy of a 2x128 ReLU probe on the posterior means", f"{_EVAL}:probe_metrics",
          validation=WITH_ALL),
    MetricSpec("latent_dim", "latent_dim", DIMS, "none", FINAL, "",
          "dimension of z", f"{_EVAL}:full_metrics", validation=WITH_ALL),
    MetricSpec("epochs_run", "epochs_run", "epochs", "none", FINAL, "",
          "epochs trained (fewer than train.epochs after an early stop)", f"{_TRAINER}.final_metrics"),
    MetricSpec("train_seconds", "train_seconds", SECONDS, "none", FINAL, "",
          "wall-clock time of fit, evaluation included", "vaesweep.train:fit"),
    MetricSpec("seconds_per_epoch", "s/epoch", SECONDS, "min", FINAL, "DU-VAE",
          "training time per epoch: epoch_seconds averaged over the epochs run (DU-VAE section 4.2 "
          "on the cost of Agg-VAE and SA-VAE)", f"{_TRAINER}.final_metrics"),
    # -- final, from the paper protocols (vaesweep.protocols) -------------------------------
    MetricSpec("fid_prior", "fid_prior", "FID", "min", FINAL, "AR-ELBO",
          "FID of images decoded from prior samples", f"{_PROTOCOLS}.fid:fid_metrics"),
    FID_GMM,
    MetricSpec("fid_2ndvae", "fid_2ndvae", "FID", "min", FINAL, "AR-ELBO",
          "FID of images decoded from a second-stage VAE's samples", f"{_PROTOCOLS}.fid:fid_metrics"),
    MetricSpec("fid_interp_mid", "fid_interp_mid", "FID", "min", FINAL, "AR-ELBO",
          "FID of images decoded at the mid-point of two test codes (Table 4)",
          f"{_PROTOCOLS}.fid:fid_metrics"),
    MetricSpec("fid_interp_random", "fid_interp_random", "FID", "min", FINAL, "AR-ELBO",
          "FID of images decoded at a random point between two test codes (Table 4)",
          f"{_PROTOCOLS}.fid:fid_metrics"),
    MetricSpec("forward_ppl", "forward PPL", "perplexity", "min", FINAL, "IGP",
          "perplexity of prior samples under a language model trained on real text (Table 4)",
          f"{_PROTOCOLS}.language_model:language_model_metrics"),
    MetricSpec("reverse_ppl", "reverse PPL", "perplexity", "min", FINAL, "IGP",
          "perplexity of real text under a language model trained on prior samples (Table 4)",
          f"{_PROTOCOLS}.language_model:language_model_metrics"),
    MetricSpec("agreement", "agreement", PERCENT, "max", FINAL, "IGP",
          "F1 of a classifier on reconstructions relative to its F1 on the originals (Table 3)",
          f"{_PROTOCOLS}.agreement:agreement_metrics"),
    MetricSpec("f1", "f1", PERCENT, "max", FINAL, "IGP",
          "macro F1 of a classifier trained on real text, on reconstructions (Table 11)",
          f"{_PROTOCOLS}.agreement:agreement_metrics"),
    MetricSpec("robust_accuracy", "robust Acc", PERCENT, "max", FINAL, "IGP",
          "MLP probe accuracy on the codes of sentences with eval.word_deletion of words deleted",
          f"{_PROTOCOLS}.agreement:agreement_metrics"),
    ACCURACY_LABELS,
    ACCURACY_PERCENT,
    ACCURACY_PER_CHAR,
)  # fmt: skip

LOSS_TERM_REGISTRIES = (
    "vaesweep.objectives.regularisers:REGULARISERS",
    "vaesweep.objectives.decoder_penalties:DECODER_PENALTIES",
)


def loss_terms() -> tuple[MetricSpec, ...]:
    """``train_<part>`` of every loss part a registered unit declares (its ``parts``): derived
    from the units, so a new regulariser's terms are declared with it."""
    from vaesweep.config.registry import schema_generation

    return _loss_terms(schema_generation())


@functools.cache
def _loss_terms(generation: int) -> tuple[MetricSpec, ...]:
    found: dict[str, MetricSpec] = {}
    for path in LOSS_TERM_REGISTRIES:
        for unit in resolve(path).units.values():
            for part, description in unit.parts.items():
                name = f"train_{part}"
                found.setdefault(
                    name,
                    MetricSpec(name, f"train {part}", NATS, "none", EPOCH, "", description,
                               f"{unit.__module__}:{unit.__qualname__}"),
                )  # fmt: skip
    return tuple(found.values())


def declared() -> tuple[MetricSpec, ...]:
    """Every declared metric: the table above and the units' loss terms."""
    return DECLARED + loss_terms()


# Column names the papers print for a metric logged under other names: each table preset's
# metric_map says which (probe_mlp, accuracy_labels_<N>, accuracy_per_char_<N>).
PAPER_COLUMNS: dict[str, tuple[str, str]] = {"accuracy": ("Acc", "max")}


def _find(name: str) -> MetricSpec | None:
    specs = declared()
    for spec in specs:
        if spec.name == name:
            return spec
    for spec in specs:
        if spec.parameter is not None and spec.match(name) is not None:
            return spec
    if name.startswith(VALIDATION_PREFIX):
        measured = name.removeprefix(VALIDATION_PREFIX)
        base = _find(measured)
        if base is not None and base.scope == FINAL and base.validation != NEVER:
            shown = f"valid {label(measured)}"
            return dataclasses.replace(
                base, name=name, label=shown, scope=EPOCH, validation=NEVER, epoch_estimate=""
            )
    return None


def _allowed() -> str:
    names = [re.sub(r"\{(\w+)\}", r"<\1>", spec.name) for spec in declared()]
    return "a metric vaesweep logs: " + ", ".join(names) + f", or {VALIDATION_PREFIX}<metric>"


def metric_spec(name: str, field: str = "metric") -> MetricSpec:
    """The declaration of ``name`` (a family member or a ``valid_`` metric included);
    ConfigError naming ``field`` and the declared metrics if there is none."""
    spec = _find(name)
    if spec is None:
        raise ConfigError(field, name, _allowed())
    return spec


def is_declared(name: str) -> bool:
    return _find(name) is not None


def label(name: str) -> str:
    """How tables print ``name`` (itself if undeclared)."""
    if name in PAPER_COLUMNS:
        return PAPER_COLUMNS[name][0]
    spec = _find(name)
    if spec is None:
        return name
    text = spec.match(name) if spec.parameter is not None else None
    return spec.label.format(**{spec.parameter: text}) if text else spec.label


def direction(name: str) -> str:
    """Which value of ``name`` is best: "min", "max" or "none" (also for an undeclared name)."""
    if name in PAPER_COLUMNS:
        return PAPER_COLUMNS[name][1]
    spec = _find(name)
    return spec.direction if spec is not None else "none"


def is_wall_clock(name: str) -> bool:
    """Whether ``name`` is a wall-clock time (the one kind of metric a resumed or repeated run
    does not reproduce)."""
    spec = _find(name)
    return spec is not None and spec.unit == SECONDS


# What each final metric measures, as `vaesweep train` groups them (by declared name; a family
# by its pattern). A metric not listed here is shown under "other".
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("likelihood", ("nll", "elbo", "rec", "kl", "prior_ll", "post_ll")),
    ("latent usage", ("mi", "au", "cu", "cu_{tau}", "mpd", "ce", "mpd_dropout", "ce_dropout", "latent_dim")),
    (
        "posterior and decoder",
        ("sigma_z2", "mu_sqnorm", "logdet_cov", "sigma_x2", "implied_sigma_x2", "mse", "data_variance"),
    ),
    ("smoothness", ("els", "expected_gap_{scale}")),
    (
        "samples (FID)",
        ("fid_prior", "fid_gmm{components}", "fid_2ndvae", "fid_interp_mid", "fid_interp_random"),
    ),
    ("text", ("bleu2", "bleu4", "rouge2", "rouge4", "forward_ppl", "reverse_ppl", "agreement", "f1")),
    (
        "representation (probes)",
        (
            "probe_linear",
            "probe_mlp",
            "robust_accuracy",
            "accuracy_labels_{labels}",
            "accuracy_percent_{percent}",
            "accuracy_per_char_{labels}",
        ),
    ),
    ("run", ("epochs_run", "train_seconds")),
)
OTHER_GROUP = "other"


def group(name: str) -> str:
    """The GROUPS entry of a logged metric (``OTHER_GROUP`` when none lists it)."""
    declared = _find(name)
    key = declared.name if declared is not None else name
    return next((title for title, names in GROUPS if key in names), OTHER_GROUP)


def epoch_value_label(name: str, logged: Collection[str]) -> str:
    """What stands in for ``name`` mid-run, where ASHA and Optuna compare trials (see
    vaesweep.trainables.vae_trial.epoch_objective): its validation value when the epoch logged
    it (``logged``: the epoch's metric names), else its declared estimate on validation."""
    spec = metric_spec(name)
    if spec.scope == EPOCH:
        return spec.label
    if VALIDATION_PREFIX + name in logged or not spec.epoch_estimate:
        return f"valid {spec.label}"
    return f"valid {spec.epoch_estimate_label or spec.epoch_estimate}"


def measured_every_epoch(name: str) -> bool:
    """Whether a trial has a value of ``name`` (or its declared stand-in) after every epoch,
    so a scheduler such as ASHA can compare trials mid-run."""
    spec = metric_spec(name)
    return spec.scope == EPOCH or spec.validation == ALWAYS or bool(spec.epoch_estimate)


def epoch_metric_names() -> tuple[str, ...]:
    """Names logged every epoch with the default configuration (train.valid_metrics=standard)."""
    logged = [spec.name for spec in declared() if spec.scope == EPOCH]
    logged += [VALIDATION_PREFIX + spec.name for spec in DECLARED if spec.validation == ALWAYS]
    return tuple(logged)


def final_metric_names() -> tuple[str, ...]:
    """Names logged once at the end, a family's members at the default configuration."""
    return tuple(name for spec in DECLARED if spec.scope == FINAL for name in spec.default_names())


def epoch_estimated_names() -> tuple[str, ...]:
    """The final metrics with a value every epoch (their validation value or a stand-in)."""
    return tuple(spec.name for spec in DECLARED if spec.scope == FINAL and measured_every_epoch(spec.name))


def resolve(path: str) -> Callable[..., Any]:
    """The function a dotted path ("module:qualified.name") names; imports its module."""
    module, _, qualified = path.partition(":")
    target: Any = importlib.import_module(module)
    for part in qualified.split("."):
        target = getattr(target, part)
    return target
