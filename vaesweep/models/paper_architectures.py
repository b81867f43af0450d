"""The papers' large image networks: OMNIGLOT ResNet + gated PixelCNN, and the CelebA conv net.

resnet_pixelcnn (DU-VAE section 4 / appendix E: "the 3-layer ResNet and 13-layer PixelCNN ...
the same as these in He et al. 2018"; binary likelihood, dim(z) = 32):
- Encoder: three residual blocks of 64 channels, each with stride 2 (28 -> 14 -> 7 -> 4; block
  = 3x3 conv, BN, ELU, 3x3 conv, BN, plus a 1x1-conv shortcut, ELU), then a 4x4 conv to 512
  features, BN, ELU; the posterior head adds the linear layer to the Gaussian parameters.
  These sizes are the He et al. code's (the papers give only "3-layer ResNet").
- Decoder: a gated PixelCNN (van den Oord et al. 2016, "Conditional image generation with
  PixelCNN decoders") of ``model.pixelcnn_layers`` layers (13 in DU-VAE) with 64 channels.
  Each layer has a vertical stack (rows above) and a horizontal stack (pixels to the left in
  the current row), so the receptive field has no blind spot; the first layer's horizontal
  convolution excludes the current pixel (mask A) and later ones include it (mask B). Kernel
  sizes 7, 7, 7, 7, 7, 5, 5, 5, 5, 3, 3, 3, 3 for 13 layers (the He et al. code's "large"
  PixelCNN; other depths keep the same proportions). z enters every layer through a 28x28 map
  of 4 channels (a linear map of z, He et al.'s "latent feature map"), added by 1x1
  convolutions to both stacks' gates (van den Oord et al.'s location-dependent conditioning).
  No batch norm in the decoder: batch statistics mix pixels, which would break the
  autoregressive property in training. Output: Bernoulli logits [N, param_channels, 1, 28, 28].
conv_celeba (AR-ELBO appendix J.2, from Chen et al. 2016's discriminator/generator, doubled):
  encoder Conv128-ReLU, Conv256-BN-ReLU, Conv512-BN-ReLU, Conv1024-BN-ReLU (64 -> 4), flatten;
  decoder FC 8x8x1024, ConvT512-ReLU, ConvT256-BN-ReLU, ConvT128-BN-ReLU (8 -> 64), ConvT to
  ``param_channels`` x 3 channels. 5x5 kernels, stride 2, except the last ConvT, stride 1. The
  appendix prints "(1024, 4, 4)" after the FC, whose size and the three doublings to 64 make
  (1024, 8, 8); it prints no activation between the FC and the first ConvT, and none is added.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vaesweep.config import RunConfig
from vaesweep.data.base import Dataset
from vaesweep.errors import ConfigError
from vaesweep.models.conv import _norm, _padding

OMNIGLOT_SHAPE = (1, 28, 28)
CELEBA_SHAPE = (3, 64, 64)
RESNET_CHANNELS = 64
RESNET_FEATURES = 512
PIXELCNN_CHANNELS = 64
LATENT_MAPS = 4
KERNELS_13 = (7, 7, 7, 7, 7, 5, 5, 5, 5, 3, 3, 3, 3)


class ResidualBlock(nn.Module):
    """3x3 conv (stride s), BN, ELU, 3x3 conv, BN, plus the (1x1-conv) shortcut, then ELU."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ELU(),
            nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False),
            nn.BatchNorm2d(out_channels),
        )
        self.shortcut = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 1, stride, bias=False), nn.BatchNorm2d(out_channels)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.elu(self.body(x) + self.shortcut(x))


class ResNetEncoder(nn.Module):
    """He et al. 2019's OMNIGLOT encoder: 28x28 -> 512 features."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            ResidualBlock(1, RESNET_CHANNELS, 2),
            ResidualBlock(RESNET_CHANNELS, RESNET_CHANNELS, 2),
            ResidualBlock(RESNET_CHANNELS, RESNET_CHANNELS, 2),
            nn.Conv2d(RESNET_CHANNELS, RESNET_FEATURES, 4, bias=False),
            nn.BatchNorm2d(RESNET_FEATURES),
            nn.ELU(),
            nn.Flatten(),
        )
        self.out_features = RESNET_FEATURES

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        return self.body(x)


def pixelcnn_kernels(layers: int) -> tuple[int, ...]:
    """Kernel sizes: He et al.'s 13-layer schedule, stretched to ``layers`` (5/13 of 7, 4/13 of 5)."""
    if layers == len(KERNELS_13):
        return KERNELS_13
    sevens, fives = round(layers * 5 / 13), round(layers * 9 / 13)
    return tuple(7 if i < max(sevens, 1) else 5 if i < fives else 3 for i in range(layers))


def _shift_down(x: torch.Tensor) -> torch.Tensor:
    """Move every row one down (zeros enter at the top): row i then holds row i - 1."""
    return F.pad(x, (0, 0, 1, 0))[:, :, :-1, :]


def _shift_right(x: torch.Tensor) -> torch.Tensor:
    """Move every column one right (zeros enter at the left)."""
    return F.pad(x, (1, 0))[:, :, :, :-1]


class GatedLayer(nn.Module):
    """One gated PixelCNN layer (van den Oord et al. 2016, Fig. 2) with conditioning maps.

    Vertical stack: a (k//2 + 1) x k convolution over the rows at and above each position
    (padded at the top only), so its output at row i sees input rows <= i; it reaches the
    horizontal stack shifted one row down, i.e. rows < i. Horizontal stack: a 1 x (k//2 + 1)
    convolution over the pixel and those to its left; in the first layer the input is shifted
    one column right first, so the pixel itself is excluded (mask A). Later layers add a
    residual connection on the horizontal stack. The last layer returns no vertical output.
    """

    def __init__(
        self, in_channels: int, channels: int, kernel: int, first: bool, last: bool, maps: int
    ) -> None:
        super().__init__()
        self.first, self.half = first, kernel // 2
        self.vertical = nn.Conv2d(in_channels, 2 * channels, (self.half + 1, kernel))
        self.horizontal = nn.Conv2d(in_channels, 2 * channels, (1, self.half + 1))
        self.vertical_to_horizontal = nn.Conv2d(2 * channels, 2 * channels, 1)
        # the last layer's vertical output would feed nothing, so it has no vertical gate
        self.condition_vertical = None if last else nn.Conv2d(maps, 2 * channels, 1, bias=False)
        self.condition_horizontal = nn.Conv2d(maps, 2 * channels, 1, bias=False)
        self.out = nn.Conv2d(channels, channels, 1)

    @staticmethod
    def _gate(x: torch.Tensor) -> torch.Tensor:
        value, gate = x.chunk(2, dim=1)
        return torch.tanh(value) * torch.sigmoid(gate)

    def forward(
        self, v: torch.Tensor, h: torch.Tensor, condition: torch.Tensor
    ) -> tuple[torch.Tensor | None, torch.Tensor]:
        v_pre = self.vertical(F.pad(v, (self.half, self.half, self.half, 0)))
        h_in = _shift_right(h) if self.first else h
        h_pre = (
            self.horizontal(F.pad(h_in, (self.half, 0, 0, 0)))
            + self.vertical_to_horizontal(_shift_down(v_pre))
            + self.condition_horizontal(condition)
        )
        v_out = (
            None
            if self.condition_vertical is None
            else self._gate(v_pre + self.condition_vertical(condition))
        )
        h_out = self.out(self._gate(h_pre))
        return v_out, h_out if self.first else h + h_out


class GatedPixelCNNDecoder(nn.Module):
    """Bernoulli logits [N, param_channels, 1, 28, 28] for x given z; pixel i sees x_<i only."""

    autoregressive = True

    def __init__(self, latent_dim: int, layers: int, param_channels: int) -> None:
        super().__init__()
        self.param_channels = param_channels
        self.latent_map = nn.Linear(latent_dim, LATENT_MAPS * OMNIGLOT_SHAPE[1] * OMNIGLOT_SHAPE[2])
        kernels = pixelcnn_kernels(layers)
        self.layers = nn.ModuleList(
            GatedLayer(
                OMNIGLOT_SHAPE[0] if i == 0 else PIXELCNN_CHANNELS,
                PIXELCNN_CHANNELS,
                k,
                first=i == 0,
                last=i == len(kernels) - 1,
                maps=LATENT_MAPS,
            )
            for i, k in enumerate(kernels)
        )
        self.head = nn.Sequential(
            nn.ELU(),
            nn.Conv2d(PIXELCNN_CHANNELS, PIXELCNN_CHANNELS, 1),
            nn.ELU(),
            nn.Conv2d(PIXELCNN_CHANNELS, param_channels, 1),
        )

    def condition(self, z: torch.Tensor) -> torch.Tensor:
        """z [N, D] -> conditioning maps [N, 4, 28, 28]."""
        return self.latent_map(z).view(-1, LATENT_MAPS, *OMNIGLOT_SHAPE[1:])

    def logits(self, condition: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Outputs [N, param_channels, rows, 28] for images [N, 1, rows, 28]; any number of top
        rows works, because no layer looks down."""
        v = h = x
        for layer in self.layers:
            v, h = layer(v, h, condition)
        return self.head(h)

    def forward(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.logits(self.condition(z), x).unsqueeze(2)

    @torch.no_grad()
    def sample(self, z: torch.Tensor) -> torch.Tensor:
        """Binary images [N, 1, 28, 28] drawn pixel by pixel in raster order from p(x|z).

        Pixel (r, c) needs only rows <= r, so each step runs the network on the top r + 1 rows.
        """
        if self.param_channels != 1:
            raise ValueError("sample() draws Bernoulli pixels: the decoder must output one logit per pixel")
        condition = self.condition(z)
        height, width = OMNIGLOT_SHAPE[1:]
        x = torch.zeros(z.shape[0], 1, height, width, device=z.device, dtype=z.dtype)
        for r in range(height):
            for c in range(width):
                logit = self.logits(condition[:, :, : r + 1], x[:, :, : r + 1])[:, 0, r, c]
                x[:, 0, r, c] = torch.bernoulli(torch.sigmoid(logit))
        return x


class CelebAEncoder(nn.Module):
    """AR-ELBO appendix J.2 encoder: 3x64x64 -> 1024x4x4 features (flattened)."""

    def __init__(self, kernel: int, batch_norm: bool) -> None:
        super().__init__()
        padding, _ = _padding(kernel)
        layers: list[nn.Module] = []
        for i, (fan_in, fan_out) in enumerate(((3, 128), (128, 256), (256, 512), (512, 1024))):
            layers += [
                nn.Conv2d(fan_in, fan_out, kernel, 2, padding),
                _norm(fan_out, batch_norm and i > 0, True),
            ]
            layers.append(nn.ReLU())
        self.body = nn.Sequential(*layers, nn.Flatten())
        self.out_features = 1024 * 4 * 4

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        return self.body(x)


class CelebADecoder(nn.Module):
    """AR-ELBO appendix J.2 decoder: z -> [N, param_channels, 3, 64, 64]."""

    autoregressive = False

    def __init__(self, latent_dim: int, kernel: int, batch_norm: bool, param_channels: int) -> None:
        super().__init__()
        padding, output_padding = _padding(kernel)
        self.param_channels = param_channels
        layers: list[nn.Module] = [nn.Linear(latent_dim, 1024 * 8 * 8), nn.Unflatten(1, (1024, 8, 8))]
        for i, (fan_in, fan_out) in enumerate(((1024, 512), (512, 256), (256, 128))):
            layers += [
                nn.ConvTranspose2d(fan_in, fan_out, kernel, 2, padding, output_padding),
                _norm(fan_out, batch_norm and i > 0, True),
                nn.ReLU(),
            ]
        layers.append(nn.ConvTranspose2d(128, param_channels * 3, kernel, 1, (kernel - 1) // 2))
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, x: torch.Tensor | None = None) -> torch.Tensor:
        return self.body(z).view(-1, self.param_channels, *CELEBA_SHAPE)


def build_paper_networks(
    config: RunConfig, dataset: Dataset, param_channels: int
) -> tuple[nn.Module, nn.Module]:
    """(encoder, decoder) for ``model.architecture`` resnet_pixelcnn or conv_celeba."""
    model, arch = config.model, config.model.architecture
    if arch == "resnet_pixelcnn":
        if dataset.image_shape != OMNIGLOT_SHAPE:
            raise ConfigError(
                "model.architecture", arch, f"28x28 binary images; {dataset.name} is {dataset.image_shape}"
            )
        if config.likelihood_kind != "bernoulli" or param_channels != 1:
            raise ConfigError(
                "likelihood.kind",
                config.likelihood_kind,
                "bernoulli with resnet_pixelcnn (a binary PixelCNN)",
            )
        return ResNetEncoder(), GatedPixelCNNDecoder(model.latent_dim, model.pixelcnn_layers, param_channels)
    if arch == "conv_celeba":
        if dataset.image_shape != CELEBA_SHAPE:
            raise ConfigError(
                "model.architecture", arch, f"64x64 RGB images; {dataset.name} is {dataset.image_shape}"
            )
        return (
            CelebAEncoder(model.conv_kernel, model.conv_batch_norm),
            CelebADecoder(model.latent_dim, model.conv_kernel, model.conv_batch_norm, param_channels),
        )
    raise ConfigError("model.architecture", arch, "resnet_pixelcnn or conv_celeba for build_paper_networks")
