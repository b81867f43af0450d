"""The validated configuration of one training run.

A run is a method preset (vaesweep.methods) on a data set (its profile sets architecture,
optimisation and schedule: vaesweep.data.registry), with any field overridden by dotted key
(``regulariser.target_kl=15``) or by the papers' symbol (``C=15``). Every field carries its
allowed values next to its default, so validation, ``vaesweep methods`` and the sweep search
spaces read one source. ``resolve_config`` validates everything before any data is loaded.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from vaesweep.errors import ConfigError

ALPHA_FLOOR = 1.0 / (2.0 * math.pi * math.e)  # DU-VAE: variance floor giving zero-entropy noise


def spec(
    default: Any,
    doc: str,
    *,
    choices: tuple[Any, ...] | None = None,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
) -> Any:
    """A dataclass field with its documentation and allowed values in the metadata."""
    metadata = {"doc": doc, "choices": choices, "ge": ge, "gt": gt, "le": le}
    if isinstance(default, (list, tuple)):
        return field(default_factory=lambda: tuple(default), metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass
class PosteriorConfig:
    family: str = spec(
        "diagonal",
        "q(z|x): diagonal Gaussian (DGP); isotropic N(mu, s^2 I) with one log-variance per "
        "example (IGP); du = BatchNorm on means + variance floor + variance dropout (DU-VAE "
        "Alg. 1); bn = BatchNorm on means with fixed gamma (BN-VAE); deterministic = AE",
        choices=("diagonal", "isotropic", "du", "bn", "deterministic"),
    )
    flow: str = spec(
        "none",
        "IAF chain on z0 (DU-VAE appendix D): 2 MADE blocks, order reversed",
        choices=("none", "iaf"),
    )
    gamma: float = spec(0.5, "BN scale gamma on the posterior means (du, bn)", gt=0.0)
    keep_prob: float = spec(
        1.0,
        "DU-VAE p: KEEP probability of the variance dropout, g ~ Bernoulli(p)/p "
        "(1 = no dropout). The authors' code flag --p_drop is 1 - p.",
        gt=0.0,
        le=1.0,
    )
    variance_floor: bool = spec(True, "DU-VAE: add alpha = 1/(2*pi*e) to every variance (du)")
    rescale: str = spec(
        "after_step",
        "DU-VAE gamma rescale gamma_d <- gamma*gamma_d/sqrt(mean gamma_d^2): after each "
        "optimiser step (paper, Alg. 1) or before each forward pass (authors' code)",
        choices=("after_step", "before_forward"),
    )
    noise_start: str = spec(
        "always",
        "DU-VAE floor and dropout: always on (paper) or only once KL annealing has reached "
        "weight 1 (authors' code)",
        choices=("always", "after_warmup"),
    )
    bn_shift: float = spec(
        0.0,
        "bn: fix the BN shift at this non-zero value and learn the scale instead (DU-VAE "
        "appendix F, Tables S1/S2); 0 = BN-VAE's learned shift and fixed scale",
    )
    fixed_variance: float = spec(
        0.0,
        "diagonal/isotropic: fix every posterior variance at this value instead of learning it "
        "(AR-ELBO appendix E, Table 5); 0 = learned",
        ge=0.0,
    )
    committed_rate: float = spec(
        0.0,
        "delta-VAE committed rate delta per dimension: posterior variances are constrained to "
        "(0, s_u^2] with KL(N(mu, s_u^2)||N(0,1)) >= delta for every mu, so KL >= dim(z)*delta",
        ge=0.0,
    )


@dataclass
class RegulariserConfig:
    kind: str = spec(
        "kl",
        "kl: beta*KL; target_kl: beta*|KL_i - C_t| per example (IGP eq. 2); free_bits: "
        "sum_d max(lambda, E_batch KL_d); latent_l2: beta*||mu||^2/2 for a deterministic encoder "
        "(AR-ELBO Table 1, the KL's mean term when sigma_z = 0); "
        "density_gap: beta*DG with aggregation size |b| "
        "(DG-VAE); iwae: importance-weighted bound with k samples; mae: KL with MAE's "
        "diversity (gamma) and smoothness (eta) terms; mmd: mmd_weight * MMD(q(z), p(z)) of the "
        "batch's codes against prior samples (WAE-MMD, Tolstikhin et al. 2018); none: no "
        "regulariser (AE)",
        choices=("kl", "target_kl", "free_bits", "density_gap", "iwae", "mae", "latent_l2", "mmd", "none"),
    )
    beta: float = spec(1.0, "weight on the regulariser (beta-VAE beta; IGP eq. 2 beta)", gt=0.0)
    target_kl: float = spec(0.0, "C, the target KL of IGP eq. 2 (0 = plain ELBO)", ge=0.0)
    target_kl_ramp_steps: int = spec(
        5000,
        "steps over which C_t ramps linearly from 0 to C (authors' code; 0 = no ramp)",
        ge=0,
    )
    free_bits: float = spec(0.0, "free-bits lambda in nats per dimension", ge=0.0)
    aggregation_size: int = spec(
        0,
        "DG-VAE |b|, posteriors aggregated per subset; must divide the batch size "
        "(0 = the whole batch, the paper's default)",
        ge=0,
    )
    density_gap_samples: int = spec(32, "DG-VAE samples M drawn per posterior", ge=1)
    density_gap_mode: str = spec(
        "marginal",
        "DG-VAE per-dimension (marginal) or whole-z (joint) aggregated density",
        choices=("marginal", "joint"),
    )
    iwae_samples: int = spec(1, "IWAE k importance samples per example", ge=1)
    mae_gamma: float = spec(1.0, "MAE gamma: weight of the diversity term -log MPD", ge=0.0)
    mae_eta: float = spec(0.2, "MAE eta: weight of the smoothness term Std[D_SKL]", ge=0.0)
    mmd_weight: float = spec(
        10.0,
        "WAE lambda on the MMD (mmd): 10 is WAE's MNIST value, 100 its CelebA one (Tolstikhin et "
        "al. 2018, section 4), with the paper's cost ||x - y||^2 (its code scales the cost by 0.05); "
        "AR-ELBO section 5 does not state its value",
        ge=0.0,
    )
    mmd_scales: tuple[float, ...] = spec(
        (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0),
        "mmd: inverse multiquadratic kernels C/(C + ||z - z'||^2) summed over C = 2 * dim(z) * s, "
        "sigma_z^2 = 1 (WAE's seven scales s; AR-ELBO section 5: 'seven scales')",
    )
    decoder_penalty: str = spec(
        "none",
        "RAE decoder regulariser added to any objective (Ghosh et al. 2020, eq. 11): l2 = "
        "||theta_decoder||^2 over every decoder parameter (RAE-L2); gradient_penalty = "
        "E_x ||d mu(z)/dz||_F^2 at the encoder's z (RAE-GP; AR-ELBO eq. 4's gradient penalty)",
        choices=("none", "l2", "gradient_penalty"),
    )
    decoder_penalty_weight: float = spec(
        0.0,
        "RAE lambda on the decoder regulariser (> 0 exactly when decoder_penalty is not none); the "
        "RAE presets take the authors' MNIST configuration (1e-7 for l2, 5e-8 for the gradient "
        "penalty; their code's squared error is a mean over pixels where ours sums them, so these "
        "act more weakly here: sweep them); AR-ELBO does not state its values",
        ge=0.0,
    )
    decoder_penalty_probes: int = spec(
        1,
        "gradient_penalty: random-sign probes v of the Hutchinson estimate E_v ||J^T v||^2 = ||J||_F^2 "
        "(one vector-Jacobian product each); 0 = exact, one product per output unit (small decoders)",
        ge=0,
    )
    bow_weight: float = spec(
        0.0,
        "bag-of-words loss weight (Zhao et al. 2017, bow-VAE): an MLP head predicts the "
        "sentence's tokens from z without order, -sum_t log softmax(f(z))[x_t], added to the "
        "loss with this weight on top of any kind, not annealed; a training term only (rec/NLL "
        "stay the decoder's); text only (0 = off)",
        ge=0.0,
    )


@dataclass
class AnnealingConfig:
    schedule: str = spec(
        "none",
        "KL weight schedule: linear warm-up (Bowman et al.) or cyclical (Fu et al.)",
        choices=("none", "linear", "cyclic"),
    )
    warmup_epochs: float = spec(10.0, "linear: epochs to go from start_weight to 1", gt=0.0)
    start_weight: float = spec(0.0, "linear: KL weight at step 0", ge=0.0, le=1.0)
    cycles: int = spec(4, "cyclic: number of cycles over the whole run", ge=1)
    cycle_ratio: float = spec(0.5, "cyclic: fraction of each cycle spent increasing", gt=0.0, le=1.0)


VARIANCE_PARAMETERISATIONS = ("iso_i", "iso_d", "diag_i", "diag_d")


@dataclass
class LikelihoodConfig:
    kind: str = spec(
        "auto",
        "p(x|z): auto (bernoulli for images, categorical for text), bernoulli, categorical "
        "(per token), gaussian",
        choices=("auto", "bernoulli", "categorical", "gaussian"),
    )
    variance: str = spec(
        "fixed",
        "gaussian sigma_x^2: fixed at sigma_x2, trainable parameter (Dai & Wipf), or adaptive "
        "by maximum likelihood (AR-ELBO eq. 9 / Table 2)",
        choices=("fixed", "trainable", "adaptive"),
    )
    variance_parameterisation: str = spec(
        "iso_i",
        "AR-ELBO Table 2: Iso-I sigma^2 I, Iso-D sigma^2(z) I, Diag-I diag(sigma^2), Diag-D diag(sigma^2(z))",
        choices=VARIANCE_PARAMETERISATIONS,
    )
    sigma_x2: float = spec(1.0, "fixed decoder variance (variance=fixed)", gt=0.0)
    mean_activation: str = spec(
        "sigmoid",
        "gaussian mean mu(z): sigmoid of the decoder output (AR-ELBO MNIST decoder) "
        "or the output itself (CelebA decoder)",
        choices=("sigmoid", "identity"),
    )


@dataclass
class PriorConfig:
    kind: str = spec(
        "standard",
        "p(z): standard N(0, I), mixture of diagonal Gaussians (mog) or of isotropic Gaussians "
        "(moig) with learnable components (IGP appendix C)",
        choices=("standard", "mog", "moig"),
    )
    components: int = spec(5, "mixture components (mog, moig)", ge=1)


@dataclass
class ModelConfig:
    architecture: str = spec(
        "auto",
        "encoder/decoder: auto (the data set profile's), mlp (IWAE-style), conv (AR-ELBO "
        "appendix J), lstm (He et al. text VAE), resnet_pixelcnn (OMNIGLOT, He et al.), "
        "conv_celeba (AR-ELBO appendix J.2)",
        choices=("auto", "mlp", "conv", "lstm", "resnet_pixelcnn", "conv_celeba"),
    )
    latent_dim: int = spec(32, "dim(z)", ge=1)
    hidden_sizes: tuple[int, ...] = spec((200, 200), "mlp hidden layer widths")
    activation: str = spec("tanh", "mlp activation", choices=("tanh", "relu"))
    conv_batch_norm: bool = spec(True, "conv: batch norm as in AR-ELBO appendix J (off: D.1)")
    conv_kernel: int = spec(5, "conv: kernel size (5 in appendix J, 4 in D.1)", ge=2)
    embed_dim: int = spec(512, "lstm: word embedding size", ge=1)
    lstm_hidden: int = spec(1024, "lstm: hidden units of encoder and decoder", ge=1)
    dropout_in: float = spec(0.5, "lstm decoder: dropout on input embeddings", ge=0.0, le=0.99)
    dropout_out: float = spec(0.5, "lstm decoder: dropout before the output layer", ge=0.0, le=0.99)
    text_decoder: str = spec(
        "he",
        "lstm decoder conditioning: he = z sets the initial state and is concatenated to "
        "every input (He et al.); igp = zero initial state, z concatenated (IGP)",
        choices=("he", "igp"),
    )
    decoder_skip: bool = spec(
        False,
        "lstm decoder: skip connection from z to the output layer, logits = W_h h_t + W_z z + b "
        "(skip-VAE, Dieng et al. 2019), on top of the he/igp conditioning",
    )
    init_uniform_lstm: float = spec(0.01, "lstm: U[-a, a] initialisation of LSTM weights", ge=0.0)
    init_uniform_embed: float = spec(0.1, "lstm: U[-a, a] initialisation of embeddings", ge=0.0)
    flow_hidden: int = spec(1920, "IAF: hidden units of each 2-layer MADE", ge=1)
    flow_blocks: int = spec(2, "IAF: number of blocks, ordering reversed between blocks", ge=1)
    pixelcnn_layers: int = spec(13, "resnet_pixelcnn: gated PixelCNN decoder layers", ge=1)


@dataclass
class OptimConfig:
    name: str = spec("adam", "optimiser", choices=("adam", "sgd"))
    lr: float = spec(1e-3, "learning rate", gt=0.0)
    momentum: float = spec(0.0, "sgd momentum", ge=0.0, le=1.0)
    grad_clip: float = spec(0.0, "clip the gradient norm to this value (0 = off)", ge=0.0)
    decay_patience: int = spec(
        0,
        "multiply lr by decay_factor after this many epochs without validation improvement (0 = never)",
        ge=0,
    )
    decay_factor: float = spec(0.5, "lr decay factor", gt=0.0, le=1.0)
    decay_start_epoch: int = spec(0, "epochs before lr decay may happen", ge=0)
    max_decays: int = spec(0, "stop after this many lr decays (0 = never stop early)", ge=0)
    reload_best_on_decay: bool = spec(False, "reload the best checkpoint when lr decays")


@dataclass
class TrainConfig:
    epochs: int = spec(50, "maximum training epochs", ge=1)
    batch_size: int = spec(64, "training batch size", ge=1)
    seed: int = spec(0, "seeds python, numpy and torch (the data split has its own fixed seed)", ge=0)
    device: str = spec("auto", "auto (cuda when present), cpu, cuda or cuda:N")
    device_data_budget_mb: int = spec(
        2048,
        "keep the whole data set on the device when it is smaller than this",
        ge=0,
    )
    valid_metrics: str = spec(
        "standard",
        "per-epoch validation metrics: standard (rec, kl, elbo, mi, au) or all",
        choices=("standard", "all"),
    )
    precision: str = spec(
        "tf32",
        "CUDA matmul precision in training: fp32, tf32 (TF32 tensor cores for fp32 matmuls), or "
        "bf16 (autocast); evaluation always runs in fp32",
        choices=("fp32", "tf32", "bf16"),
    )
    compile: bool = spec(False, "torch.compile the encoder and decoder (dynamic shapes)")


@dataclass
class EvalConfig:
    split: str = spec(
        "test",
        "split for the final evaluation (train: AR-ELBO appendix D.1 evaluates MSE and KL there)",
        choices=("train", "valid", "test"),
    )
    nll_samples: int = spec(500, "K importance samples for the final NLL (0 = skip NLL)", ge=0)
    nll_chunk: int = spec(100, "importance samples evaluated at once", ge=1)
    batch_size: int = spec(256, "examples evaluated at once", ge=1)
    mi_estimator: str = spec(
        "all",
        "MI: all-data aggregate posterior (DU-VAE/DG-VAE code) or per-batch (He et al.)",
        choices=("all", "batch"),
    )
    cu_thresholds: tuple[float, ...] = spec((0.01, 0.03, 0.05, 0.1), "CU tau values")
    cu_rounds: int = spec(1000, "CU: rounds of prior samples (DG-VAE code: 1000)", ge=1)
    cu_samples_per_round: int = spec(128, "CU: prior samples per round (DG-VAE code: 128)", ge=1)
    ll_samples: int = spec(8, "priorLL/postLL: samples from p(z) and from q(z|x) each", ge=1)
    probes: bool = spec(True, "train linear and MLP probes on posterior means (needs labels)")
    probe_restarts: int = spec(10, "probe restarts averaged (IGP: 10)", ge=1)
    probe_epochs: int = spec(20, "probe training epochs (IGP: 20)", ge=1)
    text_metrics: bool = spec(True, "BLEU-2/4 and ROUGE-2/4 of greedy reconstructions (text)")
    smoothness: bool = spec(True, "expected local smoothness and gaps (Gaussian decoders)")
    max_examples: int = spec(0, "evaluate on the first N examples of the split (0 = all)", ge=0)
    # Paper protocols (vaesweep.protocols), all off by default; run at the final evaluation.
    fid: bool = spec(
        False,
        "FID of images from the prior, GMMs and a second-stage VAE on the training posterior means, "
        "and of interpolations (AR-ELBO Tables 3 and 4)",
    )
    fid_network: str = spec(
        "", "TorchScript file of the FID feature network (InceptionV3 pool3; see vaesweep.protocols.fid)"
    )
    fid_samples: int = spec(10000, "generated images per FID (AR-ELBO appendix J: 10,000)", ge=2)
    fid_gmm_components: tuple[int, ...] = spec(
        (10, 100), "GMM sizes fitted to the training posterior means (Ghosh et al. 2020): fid_gmm<K>"
    )
    fid_second_stage_hidden: tuple[int, ...] = spec(
        (1024, 1024, 1024), "second-stage VAE MLP widths (Dai & Wipf 2019: 3 layers of 1024)"
    )
    fid_second_stage_epochs: int = spec(100, "second-stage VAE training epochs (Adam 1e-3)", ge=1)
    language_model: bool = spec(False, "forward and reverse perplexity of prior samples (IGP Table 4)")
    lm_generated: int = spec(100000, "sentences generated from the prior (IGP: 100K)", ge=1)
    lm_epochs: int = spec(10, "language-model training epochs (IGP: 10)", ge=1)
    lm_embed_dim: int = spec(200, "language-model word embedding size (IGP: 200)", ge=1)
    lm_hidden: int = spec(512, "language-model LSTM size (IGP: 512)", ge=1)
    agreement: bool = spec(
        False,
        "label agreement of reconstructions (macro-F1 ratio) and robust probe accuracy under word "
        "deletion (IGP Tables 3 and 11; needs labels)",
    )
    classifier_embed_dim: int = spec(200, "agreement classifier word embeddings (IGP: not stated)", ge=1)
    classifier_hidden: int = spec(512, "agreement classifier LSTM size (IGP: 512)", ge=1)
    classifier_epochs: int = spec(5, "agreement classifier training epochs (IGP: not stated)", ge=1)
    word_deletion: float = spec(
        0.3, "fraction of each test sentence's words deleted (IGP: 30%)", ge=0.0, le=0.9
    )
    label_budget_probes: bool = spec(False, "linear probes on few labelled training means (DU-VAE Table 2)")
    label_budgets: tuple[int, ...] = spec(
        (100, 500, 1000, 2000, 10000), "labelled examples per probe: accuracy_labels_<N>"
    )
    few_shot_probes: bool = spec(False, "MLP probes on a percentage of the training labels (IGP Fig. 3)")
    few_shot_percents: tuple[float, ...] = spec((0.1, 1.0, 10.0), "percentages: accuracy_percent_<P>")
    per_character_probes: bool = spec(
        False, "OMNIGLOT: per-alphabet linear probes over its characters (DU-VAE Table 3)"
    )
    per_character_labels: tuple[int, ...] = spec(
        (5, 10, 15), "labelled training images per character: accuracy_per_char_<N>"
    )


@dataclass
class DataConfig:
    name: str = spec("digits", "data set (see vaesweep.data.registry)")
    path: str = spec("", "directory with the data set's files (real data sets)")
    binarisation: str = spec(
        "none",
        "images for a Bernoulli decoder: keep [0,1] intensities, or dynamic "
        "binarisation in training with a fixed binarisation of valid/test (IWAE protocol)",
        choices=("none", "dynamic"),
    )
    max_train: int = spec(0, "use only the first N training examples (0 = all)", ge=0)


@dataclass
class RunConfig:
    method: str = spec("vae", "method preset (vaesweep.methods)")
    posterior: PosteriorConfig = field(default_factory=PosteriorConfig)
    regulariser: RegulariserConfig = field(default_factory=RegulariserConfig)
    annealing: AnnealingConfig = field(default_factory=AnnealingConfig)
    likelihood: LikelihoodConfig = field(default_factory=LikelihoodConfig)
    prior: PriorConfig = field(default_factory=PriorConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    data: DataConfig = field(default_factory=DataConfig)

    # -- round trips ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def flatten(self) -> dict[str, Any]:
        """Dotted keys to leaf values, e.g. {'regulariser.beta': 1.0, 'method': 'vae'}."""
        flat: dict[str, Any] = {}
        for key, value in self.to_dict().items():
            if isinstance(value, dict):
                for leaf, leaf_value in value.items():
                    flat[f"{key}.{leaf}"] = leaf_value
            else:
                flat[key] = value
        return flat

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunConfig:
        """Inverse of to_dict (and of flatten); unknown keys are a ConfigError."""
        config = cls()
        nested = unflatten(data) if any("." in k for k in data) else dict(data)
        for key, value in nested.items():
            if key not in FIELDS_BY_SECTION:
                raise ConfigError(key, value, f"one of {sorted(FIELDS_BY_SECTION)}")
            if isinstance(value, Mapping):
                section = getattr(config, key)
                for leaf, leaf_value in value.items():
                    _set_leaf(section, f"{key}.{leaf}", leaf_value)
            else:
                _set_leaf(config, key, value)
        return config

    @classmethod
    def from_json(cls, text: str) -> RunConfig:
        return cls.from_dict(json.loads(text))

    @property
    def likelihood_kind(self) -> str:
        """The likelihood after resolving 'auto' from the data set's kind."""
        if self.likelihood.kind != "auto":
            return self.likelihood.kind
        from vaesweep.data.registry import dataset_info

        return "categorical" if dataset_info(self.data.name).kind == "text" else "bernoulli"


SECTION_TYPES: dict[str, type] = {
    f.name: f.default_factory  # type: ignore[misc]
    for f in dataclasses.fields(RunConfig)
    if f.default_factory is not dataclasses.MISSING
}
FIELDS_BY_SECTION: dict[str, Any] = {
    name: {f.name: f for f in dataclasses.fields(section)} for name, section in SECTION_TYPES.items()
}
FIELDS_BY_SECTION["method"] = None

# The papers' symbols, accepted wherever a dotted key is (``--set C=15``).
ALIASES: dict[str, str] = {
    "C": "regulariser.target_kl",
    "beta": "regulariser.beta",
    "gamma": "posterior.gamma",
    "p": "posterior.keep_prob",
    "b": "regulariser.aggregation_size",
    "k": "regulariser.iwae_samples",
    "lambda": "regulariser.free_bits",
    "delta": "posterior.committed_rate",
    "eta": "regulariser.mae_eta",
    "sigma_x2": "likelihood.sigma_x2",
    "variance": "likelihood.variance_parameterisation",
    "epochs": "train.epochs",
    "seed": "train.seed",
    "batch_size": "train.batch_size",
    "latent_dim": "model.latent_dim",
    "lr": "optim.lr",
    "dataset": "data.name",
}


def all_keys() -> list[str]:
    """Every dotted key a configuration accepts."""
    keys = ["method"]
    for section, fields in FIELDS_BY_SECTION.items():
        if fields:
            keys += [f"{section}.{name}" for name in fields]
    return keys


def canonical_key(key: str) -> str:
    """Resolve an alias or a unique leaf name (``keep_prob``) to its dotted key."""
    if key in ALIASES:
        return ALIASES[key]
    keys = all_keys()
    if key in keys:
        return key
    matches = [k for k in keys if k.split(".")[-1] == key]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise ConfigError(key, "", f"a full dotted key, one of {matches}")
    raise ConfigError(key, "", "a known field (see `vaesweep methods --fields`)")


def unflatten(flat: Mapping[str, Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        key = canonical_key(key)
        if "." in key:
            section, leaf = key.split(".", 1)
            nested.setdefault(section, {})[leaf] = value
        else:
            nested[key] = value
    return nested


def field_spec(key: str) -> dataclasses.Field:
    section, leaf = key.split(".", 1)
    return FIELDS_BY_SECTION[section][leaf]


def _coerce(key: str, value: Any, current: Any) -> Any:
    """Cast a value (often a string from the CLI or MLflow) to the type of the field."""
    try:
        if isinstance(current, bool):
            if isinstance(value, str):
                lowered = value.strip().lower()
                if lowered in ("true", "1", "yes", "on"):
                    return True
                if lowered in ("false", "0", "no", "off"):
                    return False
                raise ValueError(value)
            if isinstance(value, (int, float)) and value in (0, 1):
                return bool(value)
            if isinstance(value, bool):
                return value
            raise ValueError(value)
        if isinstance(current, int):
            number = float(value)
            if not number.is_integer():
                raise ValueError(value)
            return int(number)
        if isinstance(current, float):
            return float(value)
        if isinstance(current, tuple):
            if isinstance(value, str):
                items = [v for v in value.strip("()[] ").split(",") if v.strip()]
            else:
                items = list(value)
            kind = type(current[0]) if current else float
            return tuple(kind(v) for v in items)
        if isinstance(current, str):
            if not isinstance(value, str):
                raise ValueError(value)
            return value
    except (TypeError, ValueError):
        expected = type(current).__name__
        raise ConfigError(key, value, f"a value of type {expected}") from None
    return value


def _set_leaf(target: Any, key: str, value: Any) -> None:
    leaf = key.split(".")[-1]
    if not hasattr(target, leaf):
        raise ConfigError(key, value, "a known field (see `vaesweep methods --fields`)")
    if leaf == "variance_parameterisation" and isinstance(value, str):
        value = normalise_parameterisation(value)
    setattr(target, leaf, _coerce(key, value, getattr(target, leaf)))


def apply_overrides(config: RunConfig, overrides: Mapping[str, Any]) -> RunConfig:
    """Return a copy of config with dotted/aliased keys set (values coerced, not validated)."""
    updated = RunConfig.from_dict(config.to_dict())
    for key, value in overrides.items():
        dotted = canonical_key(key)
        if dotted == "method":
            updated.method = str(value)
            continue
        section, _ = dotted.split(".", 1)
        _set_leaf(getattr(updated, section), dotted, value)
    return updated


def normalise_parameterisation(value: str) -> str:
    """Accept the paper's spelling (Iso-I, Diag-D) for the variance parameterisation."""
    return value.strip().lower().replace("-", "_")


def parse_assignments(assignments: list[str]) -> dict[str, str]:
    """``['C=15', 'posterior.keep_prob=0.8']`` -> dict, for ``--set``."""
    parsed: dict[str, str] = {}
    for item in assignments:
        if "=" not in item:
            raise ConfigError(item, item, "key=value")
        key, value = item.split("=", 1)
        parsed[key.strip()] = value.strip()
    return parsed


# -- validation -----------------------------------------------------------------------------


def _check_ranges(config: RunConfig) -> None:
    for key, value in config.flatten().items():
        if key == "method":
            continue
        meta = field_spec(key).metadata
        allowed: list[str] = []
        if meta["choices"] is not None:
            if value not in meta["choices"]:
                raise ConfigError(key, value, "one of " + ", ".join(map(str, meta["choices"])))
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if not math.isfinite(value):
            raise ConfigError(key, value, "a finite number")
        ok = True
        if meta["gt"] is not None:
            allowed.append(f"> {meta['gt']}")
            ok &= value > meta["gt"]
        if meta["ge"] is not None:
            allowed.append(f">= {meta['ge']}")
            ok &= value >= meta["ge"]
        if meta["le"] is not None:
            allowed.append(f"<= {meta['le']}")
            ok &= value <= meta["le"]
        if not ok:
            raise ConfigError(key, value, " and ".join(allowed))


def _check_device(device: str) -> None:
    if device in ("auto", "cpu", "cuda"):
        return
    if device.startswith("cuda:") and device[5:].isdigit():
        return
    raise ConfigError("train.device", device, "auto, cpu, cuda or cuda:N")


# Fields that belong to some choices of an axis: with any other choice they keep their default
# (a value set there would be silently ignored).
_CHOICE_FIELDS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("posterior.keep_prob", "posterior.family", ("du",)),
    ("posterior.gamma", "posterior.family", ("du", "bn")),
    ("posterior.committed_rate", "posterior.family", ("diagonal", "isotropic")),
    ("posterior.bn_shift", "posterior.family", ("bn",)),
    ("regulariser.aggregation_size", "regulariser.kind", ("density_gap",)),
    ("regulariser.iwae_samples", "regulariser.kind", ("iwae",)),
    ("regulariser.target_kl", "regulariser.kind", ("target_kl",)),
    ("regulariser.free_bits", "regulariser.kind", ("free_bits",)),
    ("regulariser.mmd_weight", "regulariser.kind", ("mmd",)),
    ("regulariser.mmd_scales", "regulariser.kind", ("mmd",)),
    ("regulariser.decoder_penalty_weight", "regulariser.decoder_penalty", ("l2", "gradient_penalty")),
    ("regulariser.decoder_penalty_probes", "regulariser.decoder_penalty", ("gradient_penalty",)),
)


def _check_choice_fields(config: RunConfig) -> None:
    values, defaults = config.flatten(), RunConfig().flatten()
    for key, axis, choices in _CHOICE_FIELDS:
        if values[key] != defaults[key] and values[axis] not in choices:
            raise ConfigError(key, values[key], f"{defaults[key]} unless {axis} is {' or '.join(choices)}")


def _check_mmd_and_decoder_penalty(config: RunConfig, data_kind: str) -> None:
    """WAE-MMD's latent regulariser and RAE's decoder regularisers (ranges are checked already)."""
    reg, defaults = config.regulariser, RegulariserConfig()
    if reg.kind == "mmd":
        if reg.beta != defaults.beta:
            raise ConfigError(
                "regulariser.beta", reg.beta, "1.0 with regulariser.kind=mmd (its weight is mmd_weight)"
            )
        if config.prior.kind != "standard":
            raise ConfigError("prior.kind", config.prior.kind, "standard with the MMD (samples of N(0, I))")
        if not reg.mmd_scales or any(s <= 0 or not math.isfinite(s) for s in reg.mmd_scales):
            raise ConfigError("regulariser.mmd_scales", reg.mmd_scales, "one or more positive scales")
    if reg.decoder_penalty != "none" and reg.decoder_penalty_weight <= 0:
        raise ConfigError(
            "regulariser.decoder_penalty_weight",
            reg.decoder_penalty_weight,
            f"> 0 with regulariser.decoder_penalty={reg.decoder_penalty}",
        )
    if reg.decoder_penalty == "gradient_penalty" and config.train.compile:
        raise ConfigError(
            "train.compile", True, "false with the gradient penalty (compiled graphs have no double backward)"
        )
    if reg.decoder_penalty == "gradient_penalty" and data_kind == "text":
        raise ConfigError(
            "regulariser.decoder_penalty",
            reg.decoder_penalty,
            "none or l2 on text (the LSTM decoder has no double backward on CUDA)",
        )


def validate(config: RunConfig) -> RunConfig:
    """Raise ConfigError for the first problem found; return the config unchanged otherwise.

    Checks value ranges, then the combinations the axes forbid (a likelihood the data type
    cannot use, a regulariser the posterior cannot feed, hyper-parameters set on an axis
    choice that ignores them).
    """
    from vaesweep.data.registry import dataset_info
    from vaesweep.methods import METHODS

    if config.method not in METHODS:
        raise ConfigError("method", config.method, "one of " + ", ".join(METHODS))
    dataset_info(config.data.name)  # built-in or added to the cache, else ConfigError
    _check_ranges(config)
    _check_device(config.train.device)
    for tau in config.eval.cu_thresholds:
        if tau <= 0:
            raise ConfigError("eval.cu_thresholds", config.eval.cu_thresholds, "positive values")

    info = dataset_info(config.data.name)
    post, reg, lik, model = config.posterior, config.regulariser, config.likelihood, config.model
    likelihood = config.likelihood_kind

    # data type <-> likelihood and architecture
    if info.kind == "text" and likelihood != "categorical":
        raise ConfigError(
            "likelihood.kind",
            likelihood,
            f"categorical for text data ({config.data.name}); {config.method} models "
            f"{likelihood} data, so it cannot run on text",
        )
    if info.kind == "image" and likelihood == "categorical":
        raise ConfigError(
            "likelihood.kind", likelihood, f"bernoulli or gaussian for images ({config.data.name})"
        )
    arch = model.architecture if model.architecture != "auto" else info.architecture
    if info.kind == "text" and arch != "lstm":
        raise ConfigError("model.architecture", arch, f"lstm for text data ({config.data.name})")
    if info.kind == "image" and arch == "lstm":
        raise ConfigError("model.architecture", arch, f"an image architecture for {config.data.name}")
    if arch in ("conv", "resnet_pixelcnn") and info.image_shape not in (None, (1, 28, 28)):
        raise ConfigError(
            "model.architecture", arch, f"28x28 images; {config.data.name} is {info.image_shape}"
        )
    if arch == "conv_celeba" and info.image_shape not in (None, (3, 64, 64)):
        raise ConfigError(
            "model.architecture", arch, f"64x64 RGB images; {config.data.name} is {info.image_shape}"
        )
    # text-only options: a bag of words and a skip into an LSTM's output layer need tokens
    if reg.bow_weight > 0 and info.kind != "text":
        raise ConfigError(
            "regulariser.bow_weight",
            reg.bow_weight,
            f"0 for image data ({config.data.name}); the bag-of-words loss predicts a sentence's tokens",
        )
    if model.decoder_skip and arch != "lstm":
        raise ConfigError(
            "model.decoder_skip",
            model.decoder_skip,
            f"false unless model.architecture is lstm (the skip feeds z to its output layer); "
            f"{config.data.name} uses {arch}",
        )
    if config.data.binarisation == "dynamic" and likelihood != "bernoulli":
        raise ConfigError("data.binarisation", "dynamic", "none unless the likelihood is bernoulli")
    if info.kind == "text" and config.data.binarisation != "none":
        raise ConfigError("data.binarisation", config.data.binarisation, "none for text")
    if config.eval.fid and info.kind == "image" and not config.eval.fid_network:
        raise ConfigError(
            "eval.fid_network",
            "",
            "the path of a TorchScript FID feature network (see vaesweep.protocols.fid), or eval.fid=false",
        )

    # likelihood variance
    if likelihood == "gaussian":
        if lik.variance == "fixed" and lik.variance_parameterisation not in ("iso_i", "diag_i"):
            raise ConfigError(
                "likelihood.variance_parameterisation",
                lik.variance_parameterisation,
                "iso_i or diag_i with a fixed variance (a z-dependent variance is learned)",
            )
    elif (lik.variance, lik.variance_parameterisation, lik.sigma_x2, lik.mean_activation) != (
        "fixed",
        "iso_i",
        1.0,
        "sigmoid",
    ):
        raise ConfigError(
            "likelihood.variance",
            lik.variance,
            "the defaults unless likelihood.kind is gaussian (decoder variance is a Gaussian axis)",
        )

    # posterior
    deterministic = post.family == "deterministic"
    _check_choice_fields(config)
    if post.flow == "iaf" and deterministic:
        raise ConfigError("posterior.flow", post.flow, "none for a deterministic posterior")

    # regulariser
    if deterministic and reg.kind not in ("none", "latent_l2", "mmd"):
        raise ConfigError(
            "regulariser.kind",
            reg.kind,
            "none, latent_l2 or mmd when posterior.family is deterministic (an AE has no KL)",
        )
    if not deterministic and reg.kind in ("none", "latent_l2"):
        raise ConfigError(
            "regulariser.kind", reg.kind, "a KL-based regulariser or mmd for a stochastic posterior"
        )
    if post.fixed_variance > 0 and (post.family not in ("diagonal", "isotropic") or post.committed_rate > 0):
        raise ConfigError(
            "posterior.fixed_variance",
            post.fixed_variance,
            "0 unless posterior.family is diagonal or isotropic (and no committed rate)",
        )
    if post.keep_prob < 1 and not post.variance_floor:
        raise ConfigError(
            "posterior.variance_floor",
            False,
            "true when keep_prob < 1 (a dropped variance falls to the floor)",
        )
    if reg.kind == "density_gap":
        if post.flow != "none":
            raise ConfigError(
                "posterior.flow", post.flow, "none with the density gap (it needs Gaussian posteriors)"
            )
        if config.prior.kind != "standard":
            raise ConfigError(
                "prior.kind", config.prior.kind, "standard with the density gap (factorised N(0, I))"
            )
        size = reg.aggregation_size or config.train.batch_size
        if config.train.batch_size % size:
            raise ConfigError(
                "regulariser.aggregation_size",
                reg.aggregation_size,
                f"a divisor of train.batch_size={config.train.batch_size} (0 = the whole batch)",
            )
    _check_mmd_and_decoder_penalty(config, info.kind)
    if config.prior.kind == "moig" and config.prior.components < 1:
        raise ConfigError("prior.components", config.prior.components, ">= 1")
    if model.latent_dim < 2 and post.flow == "iaf":
        raise ConfigError("model.latent_dim", model.latent_dim, ">= 2 with an IAF flow (autoregressive)")
    if len(model.hidden_sizes) == 0 or any(h < 1 for h in model.hidden_sizes):
        raise ConfigError("model.hidden_sizes", model.hidden_sizes, "one or more positive widths")
    if config.optim.max_decays > 0 and config.optim.decay_patience == 0:
        raise ConfigError("optim.max_decays", config.optim.max_decays, "0 unless optim.decay_patience > 0")
    return config


def resolve_config(
    method: str,
    dataset: str = "digits",
    overrides: Mapping[str, Any] | None = None,
) -> RunConfig:
    """Defaults, then the data set's profile, then the method preset, then ``overrides``.

    Validated before anything is loaded; raises ConfigError naming the first bad field.
    """
    from vaesweep.data.registry import dataset_info
    from vaesweep.methods import METHODS

    if method not in METHODS:
        raise ConfigError("method", method, "one of " + ", ".join(METHODS))
    overrides = dict(overrides or {})
    for key in list(overrides):
        if canonical_key(key) == "data.name":
            dataset = str(overrides.pop(key))
    dataset_info(dataset)  # built-in or added to the cache, else ConfigError
    config = RunConfig(method=method)
    config.data.name = dataset
    config = apply_overrides(config, dataset_info(dataset).profile)
    config = apply_overrides(config, METHODS[method].settings)
    config = apply_overrides(config, overrides)
    if config.model.architecture == "auto":
        config.model.architecture = dataset_info(dataset).architecture
    return validate(config)
