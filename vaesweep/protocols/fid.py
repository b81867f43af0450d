"""Fréchet Inception Distance of generated images (AR-ELBO section 5, Tables 3 and 4).

FID (Heusel et al. 2017) is the Fréchet distance between Gaussians fitted to features of real
and of generated images: ||mu_r - mu_g||^2 + Tr(S_r + S_g - 2 (S_r S_g)^{1/2}). The trace of
the matrix square root is taken as the sum of the square roots of the eigenvalues of the
symmetric PSD matrix S_r^{1/2} S_g S_r^{1/2} (same eigenvalues as S_r S_g), which needs only
symmetric eigendecompositions: no complex parts, no ill-conditioned sqrtm.

The feature network is a TorchScript file (``eval.fid_network``) mapping images [N, 3, H, W]
with values in [0, 1] to features [N, F] (a tuple/list output uses its first element; [N, F,
1, 1] is flattened). AR-ELBO used pytorch-fid's InceptionV3 (2048-d pool3 features). This
machine cannot build it (no torchvision), so export it on one that can::

    pip install torch torchvision pytorch-fid
    python - <<'EOF'
    import torch
    from pytorch_fid.inception import InceptionV3

    class Pool3(torch.nn.Module):
        def __init__(self):
            super().__init__()
            # resizes to 299x299 and rescales [0, 1] -> [-1, 1] itself
            self.net = InceptionV3([InceptionV3.BLOCK_INDEX_BY_DIM[2048]])

        def forward(self, x):
            return self.net(x)[0].flatten(1)

    torch.jit.trace(Pool3().eval(), torch.rand(2, 3, 64, 64)).save("inception_pool3.pt")
    EOF

and set ``eval.fid_network=/path/to/inception_pool3.pt``. Grey images are repeated to three
channels and every image is clamped to [0, 1] first (a Gaussian decoder's mean may overshoot).

Generated sets (``eval.fid_samples`` images each, AR-ELBO appendix J: 10,000), each compared
with the first ``fid_samples`` images of the evaluation split:
- fid_prior: z ~ p(z);
- fid_gmm<K>: z from a K-component full-covariance GMM fitted to the training posterior means
  (Ghosh et al. 2020; K = 10 and 100);
- fid_2ndvae: z from a second-stage VAE fitted to the training posterior means (Dai & Wipf
  2019: an MLP VAE with a Gaussian decoder whose variance is trained, latent size = dim(z));
- fid_interp_mid / fid_interp_random: spherical interpolation (AR-ELBO appendix L, after Ghosh
  et al.) between the posterior means of random pairs of evaluation images, at ratio 0.5 or at
  a ratio drawn uniformly in [0, 1] per pair.
Everything is streamed in ``eval.batch_size`` chunks into running feature statistics.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import torch

from vaesweep.config import LikelihoodConfig, RunConfig
from vaesweep.data.base import Split
from vaesweep.errors import ConfigError
from vaesweep.metric_registry import FID_GMM
from vaesweep.models.mlp import MLPDecoder, MLPEncoder
from vaesweep.models.posteriors.heads import GaussianHead
from vaesweep.models.priors.modules import StandardNormalPrior
from vaesweep.models.vae import VAE
from vaesweep.objectives.likelihoods.modules import Gaussian
from vaesweep.protocols.common import decode_images

SECOND_STAGE_LR = 1e-3  # our choice; Dai & Wipf do not tie the second stage to a fixed rate


class FeatureStatistics:
    """Running mean and scatter of feature vectors, merged batch by batch (Chan et al.'s
    pairwise update) in float64, so the covariance of 10,000 x 2048 features never needs the
    features themselves in memory and loses no precision to cancellation."""

    def __init__(self) -> None:
        self.count = 0
        self.mean: np.ndarray | None = None
        self.scatter: np.ndarray | None = None

    def update(self, features: torch.Tensor) -> None:
        batch = features.detach().to("cpu", torch.float64).flatten(1).numpy()
        if len(batch) == 0:
            return
        batch_mean = batch.mean(axis=0)
        centred = batch - batch_mean
        batch_scatter = centred.T @ centred
        if self.mean is None:
            self.count, self.mean, self.scatter = len(batch), batch_mean, batch_scatter
            return
        total = self.count + len(batch)
        delta = batch_mean - self.mean
        self.scatter = (
            self.scatter + batch_scatter + np.outer(delta, delta) * (self.count * len(batch) / total)
        )
        self.mean = self.mean + delta * (len(batch) / total)
        self.count = total

    @property
    def covariance(self) -> np.ndarray:
        """Unbiased covariance (denominator N - 1), as pytorch-fid's numpy.cov."""
        if self.scatter is None or self.count < 2:
            raise ValueError("the covariance needs at least two feature vectors")
        return self.scatter / (self.count - 1)


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance(mean_a: np.ndarray, cov_a: np.ndarray, mean_b: np.ndarray, cov_b: np.ndarray) -> float:
    """||m_a - m_b||^2 + Tr(C_a + C_b - 2 (C_a C_b)^{1/2}) for PSD covariances (>= 0)."""
    root_a = _psd_sqrt(cov_a)
    middle = root_a @ cov_b @ root_a
    trace_root = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0.0, None)).sum()
    value = float(np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2.0 * trace_root)
    return max(value, 0.0)


def statistics_distance(a: FeatureStatistics, b: FeatureStatistics) -> float:
    return frechet_distance(a.mean, a.covariance, b.mean, b.covariance)


def load_feature_network(path: str, device: torch.device | str = "cpu") -> torch.jit.ScriptModule:
    """The TorchScript feature network named by ``eval.fid_network``."""
    if not path or not Path(path).is_file():
        raise ConfigError(
            "eval.fid_network",
            path,
            "an existing TorchScript file of the FID feature network (export pytorch-fid's "
            "InceptionV3 as the vaesweep.protocols.fid docstring shows)",
        )
    with warnings.catch_warnings():  # torch 2.13 deprecates TorchScript; pytorch-fid exports to it
        warnings.simplefilter("ignore", DeprecationWarning)
        network = torch.jit.load(path, map_location=device)
    network.eval()
    return network


@torch.no_grad()
def image_features(network: torch.jit.ScriptModule, images: torch.Tensor) -> torch.Tensor:
    """Features [N, F] of images [N, C, H, W]: clamped to [0, 1], grey repeated to RGB."""
    images = images.clamp(0.0, 1.0)
    if images.shape[1] == 1:
        images = images.expand(-1, 3, -1, -1)
    output = network(images)
    if isinstance(output, (tuple, list)):
        output = output[0]
    return output.flatten(1)


def statistics_of(network: torch.jit.ScriptModule, batches: Iterable[torch.Tensor]) -> FeatureStatistics:
    stats = FeatureStatistics()
    for images in batches:
        stats.update(image_features(network, images))
    return stats


def slerp(a: torch.Tensor, b: torch.Tensor, ratio: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between rows of a and b [N, D] at ``ratio`` [N] (0 gives a);
    linear where the two are (anti)parallel and the sphere's arc is undefined."""
    cos = torch.nn.functional.cosine_similarity(a, b, dim=1).clamp(-1.0, 1.0)
    omega = torch.arccos(cos)
    sin = torch.sin(omega)
    t = ratio.unsqueeze(1)
    safe = sin.abs() > 1e-6
    sin_safe = torch.where(safe, sin, torch.ones_like(sin)).unsqueeze(1)
    spherical = (
        torch.sin((1 - t) * omega.unsqueeze(1)) * a + torch.sin(t * omega.unsqueeze(1)) * b
    ) / sin_safe
    return torch.where(safe.unsqueeze(1), spherical, (1 - t) * a + t * b)


def train_second_stage(
    codes: torch.Tensor, hidden: tuple[int, ...], epochs: int, batch_size: int, seed: int
) -> VAE:
    """Dai & Wipf 2019's second-stage VAE on codes [N, D]: MLP encoder/decoder (ReLU), diagonal
    Gaussian posterior, N(0, I) prior, Gaussian decoder with a trained scalar variance (their
    gamma), latent size D; trained on the ELBO with Adam."""
    dim = codes.shape[1]
    shape = (1, 1, dim)
    encoder = MLPEncoder(shape, hidden, "relu")
    likelihood = Gaussian(
        LikelihoodConfig(kind="gaussian", variance="trainable", mean_activation="identity"), shape
    )
    vae = VAE(
        encoder,
        GaussianHead(encoder.out_features, dim, isotropic=False, committed_rate=0.0),
        MLPDecoder(dim, shape, hidden, "relu", likelihood.param_channels),
        likelihood,
        StandardNormalPrior(dim),
    ).to(codes.device)
    optimiser = torch.optim.Adam(vae.parameters(), lr=SECOND_STAGE_LR)
    generator = torch.Generator().manual_seed(seed)
    data = codes.reshape(-1, *shape)
    vae.train()
    for _ in range(epochs):
        for index in torch.randperm(len(data), generator=generator).split(batch_size):
            out = vae(data[index.to(data.device)])
            loss = (out.kl - out.log_px[0]).mean()
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
    return vae.eval()


def _chunks(total: int, batch_size: int) -> Iterator[int]:
    for start in range(0, total, batch_size):
        yield min(batch_size, total - start)


def fid_metrics(
    model: VAE, split: Split, config: RunConfig, train_means: torch.Tensor, eval_means: torch.Tensor
) -> dict[str, float]:
    """fid_prior, fid_gmm<K>, fid_2ndvae, fid_interp_mid and fid_interp_random (see module doc)."""
    from sklearn.mixture import GaussianMixture

    ev, seed = config.eval, config.train.seed
    device = eval_means.device
    network = load_feature_network(ev.fid_network, device)
    total, batch = ev.fid_samples, ev.batch_size
    real = statistics_of(
        network, (split.x[i : i + batch].to(device) for i in range(0, min(total, len(split)), batch))
    )

    def fid_of(latents: Iterable[torch.Tensor]) -> float:
        return statistics_distance(real, statistics_of(network, (decode_images(model, z) for z in latents)))

    metrics = {"fid_prior": fid_of(model.prior.sample(n, device) for n in _chunks(total, batch))}
    codes = train_means.detach().to("cpu", torch.float64).numpy()
    for components in ev.fid_gmm_components:
        if len(codes) < components:
            continue  # a GMM needs at least one example per component
        gmm = GaussianMixture(components, covariance_type="full", random_state=seed).fit(codes)
        drawn = torch.from_numpy(gmm.sample(total)[0]).float().to(device)
        metrics[FID_GMM.named(components)] = fid_of(drawn.split(batch))
    stage = train_second_stage(
        train_means.detach().float(), ev.fid_second_stage_hidden, ev.fid_second_stage_epochs, batch, seed
    )
    stage_codes = (
        decode_images(stage, torch.randn(n, stage.latent_dim, device=device)) for n in _chunks(total, batch)
    )
    metrics["fid_2ndvae"] = fid_of(code.reshape(len(code), -1) for code in stage_codes)
    count = len(eval_means)
    if count >= 2:
        start = torch.randint(count, (total,), device=device)
        end = (start + torch.randint(1, count, (total,), device=device)) % count  # never the same image
        ratios = {"mid": torch.full((total,), 0.5, device=device), "random": torch.rand(total, device=device)}
        for name, ratio in ratios.items():
            z = slerp(eval_means[start], eval_means[end], ratio)
            metrics[f"fid_interp_{name}"] = fid_of(z.split(batch))
    return metrics
