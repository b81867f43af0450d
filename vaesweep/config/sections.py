"""The run configuration: sections of declared fields, grouped by concern.

Fields that belong to one unit of an axis (a regulariser's C, the DU head's p) are declared by
that unit (vaesweep.config.registry); the axis sections gather them from their registries, so
the schema grows when a unit is registered and never lists a field twice. The sections below
declare only what belongs to no unit: the networks, optimisation, training, evaluation and data.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Mapping
from functools import cache
from typing import Any, ClassVar

from vaesweep.config.fields import PER_TRIAL, Param
from vaesweep.config.registry import Registry, declared_fields, schema_generation
from vaesweep.errors import ConfigError


class Section:
    """A group of fields: each class attribute that is a ``Param`` declares one, and an axis
    section adds the fields of its registries' units (``registry_paths``, imported on first use
    so that unit modules may import this package)."""

    section: ClassVar[str]
    registry_paths: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **values: Any) -> None:
        params = self.params()
        for key in values:
            if key not in params:
                raise ConfigError(
                    f"{self.section}.{key}", values[key], "a known field (see `vaesweep methods --fields`)"
                )
        for key, param in params.items():
            object.__setattr__(self, key, values.get(key, param.default))

    def __setattr__(self, key: str, value: Any) -> None:
        if key not in self.params():  # a typo must not create a field nobody reads
            raise ConfigError(
                f"{self.section}.{key}", value, "a known field (see `vaesweep methods --fields`)"
            )
        object.__setattr__(self, key, value)

    @classmethod
    def registries(cls) -> tuple[Registry, ...]:
        return tuple(_load(path) for path in cls.registry_paths)

    @classmethod
    def params(cls) -> dict[str, Param]:
        """Every field of the section: its units' (by registry) and its own."""
        return _section_params(cls, schema_generation())

    def __getattr__(self, key: str) -> Any:
        # a field whose unit was registered after this section was made holds its default
        params = type(self).params()
        if key in params:
            return params[key].default
        raise AttributeError(f"{self.section} has no field {key!r}")

    def to_dict(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in self.params()}

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items())
        return f"{type(self).__name__}({shown})"


@cache
def _section_params(section: type[Section], generation: int) -> dict[str, Param]:
    own = {
        k: v for klass in reversed(section.__mro__) for k, v in vars(klass).items() if isinstance(v, Param)
    }
    return {**declared_fields(section.registries()), **own}


@cache
def _load(path: str) -> Registry:
    module, attribute = path.split(":")
    return getattr(importlib.import_module(module), attribute)


class PosteriorConfig(Section):
    """q(z|x): the posterior family, an optional flow on its samples, and an optional
    refinement of its parameters per example (SA-VAE)."""

    section = "posterior"
    registry_paths = (
        "vaesweep.models.posteriors:FAMILIES",
        "vaesweep.models.posteriors:FLOWS",
        "vaesweep.models.posteriors:REFINEMENTS",
    )


class RegulariserConfig(Section):
    """What the loss adds to the reconstruction term: the regulariser (KL or its replacement),
    a decoder penalty, and bow-VAE's bag-of-words term."""

    section = "regulariser"
    registry_paths = (
        "vaesweep.objectives.regularisers:REGULARISERS",
        "vaesweep.objectives.decoder_penalties:DECODER_PENALTIES",
    )
    bow_weight = Param(
        0.0,
        "bag-of-words loss weight (Zhao et al. 2017, bow-VAE): an MLP head predicts the "
        "sentence's tokens from z without order, -sum_t log softmax(f(z))[x_t], added to the "
        "loss with this weight on top of any kind, not annealed; a training term only (rec/NLL "
        "stay the decoder's); text only (0 = off)",
        ge=0.0,
        role=PER_TRIAL,
        structure=lambda weight: weight > 0,
    )


class AnnealingConfig(Section):
    """The weight on the regulariser over training steps."""

    section = "annealing"
    registry_paths = ("vaesweep.objectives.schedules:SCHEDULES",)


class LikelihoodConfig(Section):
    """p(x|z): the decoder likelihood and, for a Gaussian, its variance."""

    section = "likelihood"
    registry_paths = ("vaesweep.objectives.likelihoods:LIKELIHOODS",)


class PriorConfig(Section):
    """p(z)."""

    section = "prior"
    registry_paths = ("vaesweep.models.priors:PRIORS",)


class ModelConfig(Section):
    """The encoder and decoder networks and their sizes."""

    section = "model"
    architecture = Param(
        "auto",
        "encoder/decoder: auto (the data set profile's), mlp (IWAE-style), conv (AR-ELBO "
        "appendix J), lstm (He et al. text VAE), resnet_pixelcnn (OMNIGLOT, He et al.), "
        "conv_celeba (AR-ELBO appendix J.2)",
        choices=("auto", "mlp", "conv", "lstm", "resnet_pixelcnn", "conv_celeba"),
    )
    latent_dim = Param(32, "dim(z)", ge=1)
    hidden_sizes = Param((200, 200), "mlp hidden layer widths")
    activation = Param("tanh", "mlp activation", choices=("tanh", "relu"))
    conv_batch_norm = Param(True, "conv: batch norm as in AR-ELBO appendix J (off: D.1)")
    conv_kernel = Param(5, "conv: kernel size (5 in appendix J, 4 in D.1)", ge=2)
    embed_dim = Param(512, "lstm: word embedding size", ge=1)
    lstm_hidden = Param(1024, "lstm: hidden units of encoder and decoder", ge=1)
    dropout_in = Param(0.5, "lstm decoder: dropout on input embeddings", ge=0.0, le=0.99)
    dropout_out = Param(0.5, "lstm decoder: dropout before the output layer", ge=0.0, le=0.99)
    text_decoder = Param(
        "he",
        "lstm decoder conditioning: he = z sets the initial state and is concatenated to "
        "every input (He et al.); igp = zero initial state, z concatenated (IGP)",
        choices=("he", "igp"),
    )
    decoder_skip = Param(
        False,
        "lstm decoder: skip connection from z to the output layer, logits = W_h h_t + W_z z + b "
        "(skip-VAE, Dieng et al. 2019), on top of the he/igp conditioning",
    )
    init_uniform_lstm = Param(0.01, "lstm: U[-a, a] initialisation of LSTM weights", ge=0.0, role=PER_TRIAL)
    init_uniform_embed = Param(0.1, "lstm: U[-a, a] initialisation of embeddings", ge=0.0, role=PER_TRIAL)
    flow_hidden = Param(1920, "IAF: hidden units of each 2-layer MADE", ge=1)
    flow_blocks = Param(2, "IAF: number of blocks, ordering reversed between blocks", ge=1)
    pixelcnn_layers = Param(13, "resnet_pixelcnn: gated PixelCNN decoder layers", ge=1)


class OptimConfig(Section):
    """The optimiser and the learning-rate schedule (each packed member keeps its own)."""

    section = "optim"
    name = Param("adam", "optimiser", choices=("adam", "sgd"))
    lr = Param(1e-3, "learning rate", gt=0.0, role=PER_TRIAL)
    momentum = Param(0.0, "sgd momentum", ge=0.0, le=1.0)
    grad_clip = Param(
        0.0,
        "clip the gradient norm to this value (0 = off)",
        ge=0.0,
        role=PER_TRIAL,
    )
    decay_patience = Param(
        0,
        "multiply lr by decay_factor after this many epochs without validation improvement (0 = never)",
        ge=0,
        role=PER_TRIAL,
    )
    decay_factor = Param(0.5, "lr decay factor", gt=0.0, le=1.0, role=PER_TRIAL)
    decay_start_epoch = Param(0, "epochs before lr decay may happen", ge=0, role=PER_TRIAL)
    max_decays = Param(0, "stop after this many lr decays (0 = never stop early)", ge=0, role=PER_TRIAL)
    reload_best_on_decay = Param(False, "reload the best checkpoint when lr decays", role=PER_TRIAL)


class TrainConfig(Section):
    """The training loop, and how encoder updates are scheduled against decoder updates."""

    section = "train"
    registry_paths = ("vaesweep.encoder_updates:ENCODER_UPDATES",)
    epochs = Param(50, "maximum training epochs", ge=1)
    batch_size = Param(64, "training batch size", ge=1, symbol="batch_size")
    seed = Param(
        0,
        "seeds python, numpy and torch (the data split has its own fixed seed)",
        ge=0,
        role=PER_TRIAL,
    )
    device = Param("auto", "auto (cuda when present), cpu, cuda or cuda:N")
    device_data_budget_mb = Param(
        2048, "keep the whole data set on the device when it is smaller than this", ge=0
    )
    valid_metrics = Param(
        "standard",
        "per-epoch validation metrics: standard (rec, kl, elbo, mi, au) or all",
        choices=("standard", "all"),
    )
    precision = Param(
        "tf32",
        "CUDA matmul precision in training: fp32, tf32 (TF32 tensor cores for fp32 matmuls), or "
        "bf16 (autocast); evaluation always runs in fp32",
        choices=("fp32", "tf32", "bf16"),
    )
    compile = Param(False, "torch.compile the encoder and decoder (dynamic shapes)")


class EvalConfig(Section):
    """The final evaluation (and the paper protocols, all off by default)."""

    section = "eval"
    split = Param(
        "test",
        "split for the final evaluation (train: AR-ELBO appendix D.1 evaluates MSE and KL there)",
        choices=("train", "valid", "test"),
    )
    nll_samples = Param(500, "K importance samples for the final NLL (0 = skip NLL)", ge=0)
    nll_chunk = Param(100, "importance samples evaluated at once", ge=1)
    batch_size = Param(256, "examples evaluated at once", ge=1)
    mi_estimator = Param(
        "all",
        "MI: all-data aggregate posterior (DU-VAE/DG-VAE code) or per-batch (He et al.)",
        choices=("all", "batch"),
    )
    au_strict = Param(
        True,
        "AU: a unit is active when Var_x(E_q[z_d]) > 0.01, as the IGP, DU-VAE and DG-VAE papers "
        "and the IGP code define it; false: >= 0.01 (the evaluation code of He et al. 2019, "
        "which the DU-VAE and DG-VAE code reuse)",
    )
    cu_direction = Param(
        "qbar_p",
        "CU's per-dimension KL: qbar_p = KL(qbar(z_d) || p(z_d)), the DG-VAE poster's "
        "definition (samples from the aggregate posterior); p_qbar = KL(p(z_d) || qbar(z_d)), "
        "what the authors' code computes (samples from the prior)",
        choices=("qbar_p", "p_qbar"),
    )
    cu_thresholds = Param((0.01, 0.03, 0.05, 0.1), "CU tau values")
    cu_estimator = Param(
        "quadrature",
        "CU's per-dimension KL: quadrature = the one-dimensional integral by the trapezoid rule "
        "(deterministic, the value the samples estimate, hundreds of times cheaper); sampled = "
        "the DG-VAE code's Monte Carlo mean over cu_rounds x cu_samples_per_round samples",
        choices=("quadrature", "sampled"),
    )
    cu_rounds = Param(1000, "CU, sampled: rounds of samples (DG-VAE code: 1000)", ge=1)
    cu_samples_per_round = Param(128, "CU, sampled: samples per round (DG-VAE code: 128)", ge=1)
    ll_samples = Param(8, "priorLL/postLL: samples from p(z) and from q(z|x) each", ge=1)
    probes = Param(True, "train linear and MLP probes on posterior means (needs labels)")
    probe_restarts = Param(10, "probe restarts averaged (IGP: 10)", ge=1)
    probe_epochs = Param(20, "probe training epochs (IGP: 20)", ge=1)
    text_metrics = Param(True, "BLEU-2/4 and ROUGE-2/4 of greedy reconstructions (text)")
    smoothness = Param(True, "expected local smoothness and gaps (Gaussian decoders)")
    max_examples = Param(0, "evaluate on the first N examples of the split (0 = all)", ge=0)
    fid = Param(
        False,
        "FID of images from the prior, GMMs and a second-stage VAE on the training posterior means, "
        "and of interpolations (AR-ELBO Tables 3 and 4)",
    )
    fid_network = Param(
        "", "TorchScript file of the FID feature network (InceptionV3 pool3; see vaesweep.protocols.fid)"
    )
    fid_samples = Param(10000, "generated images per FID (AR-ELBO appendix J: 10,000)", ge=2)
    fid_gmm_components = Param(
        (10, 100), "GMM sizes fitted to the training posterior means (Ghosh et al. 2020): fid_gmm<K>"
    )
    fid_second_stage_hidden = Param(
        (1024, 1024, 1024), "second-stage VAE MLP widths (Dai & Wipf 2019: 3 layers of 1024)"
    )
    fid_second_stage_epochs = Param(100, "second-stage VAE training epochs (Adam 1e-3)", ge=1)
    language_model = Param(False, "forward and reverse perplexity of prior samples (IGP Table 4)")
    lm_generated = Param(100000, "sentences generated from the prior (IGP: 100K)", ge=1)
    lm_epochs = Param(10, "language-model training epochs (IGP: 10)", ge=1)
    lm_embed_dim = Param(200, "language-model word embedding size (IGP: 200)", ge=1)
    lm_hidden = Param(512, "language-model LSTM size (IGP: 512)", ge=1)
    agreement = Param(
        False,
        "label agreement of reconstructions (macro-F1 ratio) and robust probe accuracy under word "
        "deletion (IGP Tables 3 and 11; needs labels)",
    )
    classifier_embed_dim = Param(200, "agreement classifier word embeddings (IGP: not stated)", ge=1)
    classifier_hidden = Param(512, "agreement classifier LSTM size (IGP: 512)", ge=1)
    classifier_epochs = Param(5, "agreement classifier training epochs (IGP: not stated)", ge=1)
    word_deletion = Param(0.3, "fraction of each test sentence's words deleted (IGP: 30%)", ge=0.0, le=0.9)
    label_budget_probes = Param(False, "linear probes on few labelled training means (DU-VAE Table 2)")
    label_budgets = Param((100, 500, 1000, 2000, 10000), "labelled examples per probe: accuracy_labels_<N>")
    few_shot_probes = Param(False, "MLP probes on a percentage of the training labels (IGP Fig. 3)")
    few_shot_percents = Param((0.1, 1.0, 10.0), "percentages: accuracy_percent_<P>")
    per_character_probes = Param(
        False, "OMNIGLOT: per-alphabet linear probes over its characters (DU-VAE Table 3)"
    )
    per_character_labels = Param((5, 10, 15), "labelled training images per character: accuracy_per_char_<N>")


class DataConfig(Section):
    """Which data set, from where, and how its images are binarised."""

    section = "data"
    name = Param("digits", "data set (see vaesweep.data.registry)", symbol="dataset")
    path = Param("", "directory with the data set's files (real data sets)")
    binarisation = Param(
        "none",
        "images for a Bernoulli decoder: keep [0,1] intensities, or dynamic "
        "binarisation in training with a fixed binarisation of valid/test (IWAE protocol)",
        choices=("none", "dynamic"),
    )
    max_train = Param(0, "use only the first N training examples (0 = all)", ge=0)


SECTIONS: dict[str, type[Section]] = {
    section.section: section
    for section in (
        PosteriorConfig,
        RegulariserConfig,
        AnnealingConfig,
        LikelihoodConfig,
        PriorConfig,
        ModelConfig,
        OptimConfig,
        TrainConfig,
        EvalConfig,
        DataConfig,
    )
}
METHOD_PARAM = Param("vae", "method preset (vaesweep.methods)")


class RunConfig:
    """One run: the method preset's name and every section's values.

    Round-trips through ``to_dict``/``from_dict`` (nested or dotted keys) and JSON; ``flatten``
    gives the dotted keys logged as MLflow parameters.
    """

    posterior: PosteriorConfig
    regulariser: RegulariserConfig
    annealing: AnnealingConfig
    likelihood: LikelihoodConfig
    prior: PriorConfig
    model: ModelConfig
    optim: OptimConfig
    train: TrainConfig
    eval: EvalConfig
    data: DataConfig

    def __init__(self, method: str = METHOD_PARAM.default, **sections: Section) -> None:
        self.method = method
        for name, kind in SECTIONS.items():
            setattr(self, name, sections.pop(name, None) or kind())
        if sections:
            key = next(iter(sections))
            raise ConfigError(key, sections[key], "one of " + ", ".join(SECTIONS))

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, **{name: getattr(self, name).to_dict() for name in SECTIONS}}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def flatten(self) -> dict[str, Any]:
        """Dotted keys to leaf values, e.g. {'regulariser.beta': 1.0, 'method': 'vae'}."""
        flat: dict[str, Any] = {"method": self.method}
        for name in SECTIONS:
            flat.update({f"{name}.{leaf}": value for leaf, value in getattr(self, name).to_dict().items()})
        return flat

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunConfig:
        """Inverse of to_dict (and of flatten); unknown keys are a ConfigError."""
        from vaesweep.config.keys import apply_overrides

        return apply_overrides(cls(), data)

    @classmethod
    def from_json(cls, text: str) -> RunConfig:
        return cls.from_dict(json.loads(text))

    def copy(self) -> RunConfig:
        return RunConfig.from_dict(self.to_dict())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RunConfig) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"RunConfig({self.to_json()})"

    @property
    def likelihood_kind(self) -> str:
        """The likelihood after resolving 'auto' from the data set's kind."""
        if self.likelihood.kind != "auto":
            return self.likelihood.kind
        from vaesweep.data.registry import dataset_info

        return "categorical" if dataset_info(self.data.name).kind == "text" else "bernoulli"
