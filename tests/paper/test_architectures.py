"""The paper architectures: shapes, the PixelCNN's autoregressive property, one training step."""

import math

import pytest
import torch

from vaesweep.config import resolve_config
from vaesweep.data.base import Dataset, Split
from vaesweep.errors import ConfigError
from vaesweep.evaluation import full_metrics
from vaesweep.models.build import build_model
from vaesweep.models.paper_architectures import (
    KERNELS_13,
    CelebADecoder,
    CelebAEncoder,
    GatedPixelCNNDecoder,
    ResNetEncoder,
    pixelcnn_kernels,
)
from vaesweep.objectives.objective import Objective
from vaesweep.objectives.regularisers import REGULARISERS


def omniglot_like(n: int, seed: int = 0) -> Dataset:
    """Binary 28x28 images with alphabet labels and character extras, like load_omniglot's."""
    generator = torch.Generator().manual_seed(seed)

    def split() -> Split:
        x = torch.bernoulli(torch.full((n, 1, 28, 28), 0.3), generator=generator)
        return Split(x, labels=torch.arange(n) % 2, extras={"character": torch.arange(n) % 3})

    return Dataset("omniglot", "image", split(), split(), split(), image_shape=(1, 28, 28), num_classes=2)


def _gradient_of_pixel(decoder: GatedPixelCNNDecoder, row: int, col: int) -> torch.Tensor:
    x = torch.rand(1, 1, 28, 28, requires_grad=True)
    out = decoder(torch.randn(1, 32), x)
    out[0, 0, 0, row, col].backward()
    return x.grad[0, 0].flatten()


@pytest.mark.parametrize(("row", "col"), [(0, 0), (0, 27), (13, 0), (14, 14), (27, 27)])
def test_pixelcnn_output_depends_on_every_earlier_pixel_and_no_later_one(row, col):
    torch.manual_seed(0)
    decoder = GatedPixelCNNDecoder(32, 13, 1)
    gradient = _gradient_of_pixel(decoder, row, col)
    position = row * 28 + col
    assert float(gradient[position:].abs().max()) == 0.0  # pixel i ignores x_i and all after it
    assert bool((gradient[:position] != 0).all())  # no blind spot: every earlier pixel counts


def test_a_one_layer_pixelcnn_sees_exactly_its_mask_a_neighbourhood():
    torch.manual_seed(0)
    decoder = GatedPixelCNNDecoder(32, 1, 1)
    gradient = _gradient_of_pixel(decoder, 10, 10).view(28, 28)
    # one 7-wide layer: its 4x7 vertical kernel shifted down a row covers rows r-4..r-1 over
    # columns c-3..c+3; the 1x4 horizontal kernel on the input shifted right (mask A) covers
    # c-4..c-1 of row r
    expected = torch.zeros(28, 28, dtype=torch.bool)
    expected[6:10, 7:14] = True
    expected[10, 6:10] = True
    assert torch.equal(gradient != 0, expected)


def test_kernel_schedule():
    assert pixelcnn_kernels(13) == KERNELS_13
    assert pixelcnn_kernels(1) == (7,)
    assert len(pixelcnn_kernels(26)) == 26 and pixelcnn_kernels(26).count(7) == 10


def test_network_shapes():
    assert ResNetEncoder()(torch.rand(2, 1, 28, 28)).shape == (2, 512)
    assert GatedPixelCNNDecoder(5, 2, 1)(torch.randn(2, 5), torch.rand(2, 1, 28, 28)).shape == (
        2,
        1,
        1,
        28,
        28,
    )
    assert CelebAEncoder(5, True)(torch.rand(2, 3, 64, 64)).shape == (2, 1024 * 4 * 4)
    assert CelebADecoder(7, 5, True, 2)(torch.randn(2, 7)).shape == (2, 2, 3, 64, 64)


def test_pixelcnn_sample_draws_each_pixel_from_its_conditional():
    torch.manual_seed(0)
    decoder = GatedPixelCNNDecoder(4, 1, 1)
    with torch.no_grad():  # logits: -30 everywhere (pixel off), then +30 in the left half (on)
        decoder.head[-1].weight.zero_()
        decoder.head[-1].bias.fill_(-30.0)
    original = decoder.logits

    def left_half_on(condition, x):
        logits = original(condition, x)
        logits[..., :14] = 30.0
        return logits

    decoder.logits = left_half_on
    images = decoder.sample(torch.randn(2, 4))
    assert images.shape == (2, 1, 28, 28)
    assert bool((images[..., :14] == 1).all()) and bool((images[..., 14:] == 0).all())


def test_resnet_pixelcnn_vae_trains_one_step_and_evaluates():
    torch.manual_seed(0)
    dataset = omniglot_like(12)
    config = resolve_config(
        "vae",
        "omniglot",
        {
            "model.pixelcnn_layers": 2,
            "eval.nll_samples": 2,
            "eval.cu_rounds": 2,
            "eval.cu_samples_per_round": 8,
            "eval.ll_samples": 1,
            "eval.probes": False,
            "eval.per_character_probes": True,
            "eval.per_character_labels": (5,),
            "eval.probe_restarts": 1,
            "eval.probe_epochs": 1,
        },
    )
    model = build_model(config, dataset)
    assert model.decoder.autoregressive
    objective = Objective(config, steps_per_epoch=1, total_steps=1)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = dataset.train.x
    before = [p.detach().clone() for p in model.parameters()]
    terms = objective(model(x), model, x, None, objective.values(0))
    optimiser.zero_grad()
    terms.loss.backward()
    optimiser.step()
    assert torch.isfinite(terms.loss)
    assert all(p.grad is not None for p in model.parameters())  # no dead parameters
    assert all(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    metrics, _ = full_metrics(model, dataset, "test", config)
    assert metrics["nll"] > 0 and "mse" not in metrics  # autoregressive: no residual metrics
    assert 0.0 <= metrics["accuracy_per_char_5"] <= 100.0


def test_paper_networks_reject_the_wrong_data():
    digits = Dataset(
        "digits", "image", *(Split(torch.rand(2, 1, 8, 8)) for _ in range(3)), image_shape=(1, 8, 8)
    )
    config = resolve_config("vae", "omniglot")
    with pytest.raises(ConfigError, match="28x28"):
        build_model(config, digits)
    gaussian = resolve_config("vae", "omniglot", {"likelihood.kind": "gaussian", "data.binarisation": "none"})
    with pytest.raises(ConfigError, match="bernoulli"):
        build_model(gaussian, omniglot_like(2))


def fixture_shaped(config, n: int = 4) -> Dataset:
    """Random data shaped like ``config``'s paper data set (the real files are not here)."""
    from vaesweep.data.base import Vocabulary
    from vaesweep.data.registry import dataset_info

    info = dataset_info(config.data.name)
    generator = torch.Generator().manual_seed(0)
    if info.kind == "text":
        vocab = Vocabulary.from_tokens([f"w{i}" for i in range(60)])

        def split() -> Split:
            lengths = torch.randint(2, 12, (n,), generator=generator)
            x = torch.randint(4, len(vocab), (n, 12), generator=generator)
            x[torch.arange(12) >= lengths.unsqueeze(1)] = vocab.pad_id
            x[torch.arange(n), lengths - 1] = vocab.eos_id
            return Split(x, lengths=lengths, labels=torch.arange(n) % 2)

        return Dataset(info.name, "text", split(), split(), split(), vocab=vocab, num_classes=2)

    def images() -> Split:
        x = torch.rand(n, *info.image_shape, generator=generator)
        return Split(x.bernoulli(generator=generator) if config.likelihood_kind == "bernoulli" else x)

    return Dataset(info.name, "image", images(), images(), images(), image_shape=info.image_shape)


PAPER_TRIALS = [
    ("duvae_table1", "yahoo", "DU-VAE (0.5, 0.9)", (512, 1024)),
    ("duvae_table1", "yelp", "DU-IAF", (512, 1024)),
    ("duvae_table2", "short_yelp", "BN-VAE (0.6)", (128, 512)),
    ("igp_table9", "snli", "IGP (target_kl=5)", (50, 128)),
    ("igp_table9", "dbpedia", "DGP (target_kl=15)", (200, 512)),
    ("dgvae_yahoo", "yahoo", "DG-VAE (aggregation_size=32)", (512, 1024)),
    ("dgvae_yahoo", "yahoo", "bow-VAE", (512, 1024)),
    ("dgvae_yahoo", "yahoo", "skip-VAE", (512, 1024)),
    ("igp_table12", "mnist", "IGP IWAE (iwae_samples=5)", None),
    ("arelbo_table1", "mnist", "stochastic (sigma_x2=1)", None),
    ("arelbo_table3", "mnist", "AR-ELBO (variance_parameterisation=diag_d)", None),
    ("arelbo_table3", "celeba", "trainable Sigma_x (variance_parameterisation=iso_d)", None),
    ("duvae_table1", "omniglot", "DU-IAF", None),
]


@pytest.mark.parametrize(("preset", "dataset", "arm", "text_sizes"), PAPER_TRIALS)
def test_each_table_presets_paper_network_trains_one_step(preset, dataset, arm, text_sizes):
    from vaesweep.search_spaces.definitions import expand
    from vaesweep.search_spaces.presets import experiment

    overrides = {"eval.fid_network": "unused.pt"} if preset == "arelbo_table3" else {}
    (trial,) = [
        t
        for t in expand(experiment(preset), overrides=overrides, seeds=(0,))
        if t.dataset == dataset and t.arm == arm
    ]
    config = trial.config()
    if text_sizes is not None:
        assert (config.model.embed_dim, config.model.lstm_hidden) == text_sizes
    torch.manual_seed(0)
    data = fixture_shaped(config)
    model = build_model(config, data)
    objective = Objective(config, steps_per_epoch=1, total_steps=1)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-4)
    x, lengths = data.train.x, data.train.lengths
    multiple = REGULARISERS[config.regulariser.kind].batch_multiple(config)  # DG-VAE's |b|
    if len(x) % multiple:
        repeats = math.ceil(multiple / len(x))
        x = x.repeat(repeats, *([1] * (x.dim() - 1)))[:multiple]
        lengths = None if lengths is None else lengths.repeat(repeats)[:multiple]
    out = model(x, lengths, k=objective.samples)
    terms = objective(out, model, x, lengths, objective.values(0))
    optimiser.zero_grad()
    terms.loss.backward()
    optimiser.step()
    assert torch.isfinite(terms.loss)
    assert sum(p.grad is not None for p in model.parameters()) > 0
