"""LSTM text encoder/decoder (He et al. 2019 / DU-VAE; Bowman et al. 2016 for IGP).

Encoder: embeddings -> LSTM; the features are the final hidden state at each sentence's
length. Decoder conditioning, ``text_decoder``:
  he:  z sets the initial state (c0 = W z, h0 = tanh(c0)) and is concatenated to every input;
  igp: zero initial state, z concatenated to every input embedding (IGP section 4).
Dropout on the input embeddings and before the output layer; LSTM and embedding weights
start uniform in [-a, a] (DU-VAE appendix E: 0.01 and 0.1).

``decoder_skip`` (skip-VAE, Dieng et al. 2019, "generative skip models"): z is also wired into
the output layer, logits_t = W_h h_t + W_z z + b, so every layer of this one-layer decoder sees
z directly, whatever the LSTM carries. ``BagOfWordsHead`` is bow-VAE's f(z) (Zhao et al. 2017).
"""

from __future__ import annotations

import torch
from torch import nn

from vaesweep import noise
from vaesweep.config import ModelConfig


class WordDropout(nn.Module):
    """nn.Dropout whose mask comes from the current noise source (vaesweep.noise).

    ``time_major``: its input is nn.LSTM's batch-first output, laid out time-major in memory,
    the order the mask is drawn in (a packed trainer draws it the same way).
    """

    def __init__(self, p: float, time_major: bool = False) -> None:
        super().__init__()
        self.p = p
        self.time_major = time_major

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return noise.source().dropout(x, self.p, self.time_major) if self.training and self.p > 0 else x


def _uniform_(module: nn.Module, bound: float) -> None:
    for parameter in module.parameters():
        nn.init.uniform_(parameter, -bound, bound)


class LSTMEncoder(nn.Module):
    def __init__(self, vocab_size: int, config: ModelConfig) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, config.embed_dim)
        self.lstm = nn.LSTM(config.embed_dim, config.lstm_hidden, batch_first=True)
        _uniform_(self.embed, config.init_uniform_embed)
        _uniform_(self.lstm, config.init_uniform_lstm)
        self.out_features = config.lstm_hidden

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        outputs, _ = self.lstm(self.embed(x))
        if lengths is None:
            return outputs[:, -1]
        last = (lengths - 1).clamp_min(0).view(-1, 1, 1).expand(-1, 1, outputs.shape[-1])
        return outputs.gather(1, last).squeeze(1)


class LSTMDecoder(nn.Module):
    """Teacher-forced next-token logits [N, T, V] for targets x [N, T] (x ends with </s>)."""

    autoregressive = True

    def __init__(
        self, vocab_size: int, latent_dim: int, config: ModelConfig, bos_id: int, eos_id: int
    ) -> None:
        super().__init__()
        self.bos_id, self.eos_id = bos_id, eos_id
        self.conditioning = config.text_decoder
        self.embed = nn.Embedding(vocab_size, config.embed_dim)
        self.lstm = nn.LSTM(config.embed_dim + latent_dim, config.lstm_hidden, batch_first=True)
        self.init_state = nn.Linear(latent_dim, config.lstm_hidden) if self.conditioning == "he" else None
        self.dropout_in = WordDropout(config.dropout_in)
        self.dropout_out = WordDropout(config.dropout_out, time_major=True)
        self.out = nn.Linear(config.lstm_hidden, vocab_size)
        # skip-VAE: W_z z added to the logits (the bias b is the output layer's)
        self.skip = nn.Linear(latent_dim, vocab_size, bias=False) if config.decoder_skip else None
        _uniform_(self.embed, config.init_uniform_embed)
        _uniform_(self.lstm, config.init_uniform_lstm)

    def _initial_state(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
        if self.init_state is None:
            return None
        cell = self.init_state(z).unsqueeze(0)
        return torch.tanh(cell), cell

    def _step_inputs(self, tokens: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        embedded = self.dropout_in(self.embed(tokens))
        return torch.cat([embedded, z.unsqueeze(1).expand(-1, tokens.shape[1], -1)], dim=-1)

    def _logits(self, outputs: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Output layer on LSTM outputs [N, T, H]; with the skip, + W_z z at every step."""
        logits = self.out(self.dropout_out(outputs))
        if self.skip is not None:
            logits = logits + self.skip(z).unsqueeze(1)
        return logits

    def forward(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        bos = torch.full_like(x[:, :1], self.bos_id)
        inputs = torch.cat([bos, x[:, :-1]], dim=1)
        outputs, _ = self.lstm(self._step_inputs(inputs, z), self._initial_state(z))
        return self._logits(outputs, z)

    @torch.no_grad()
    def greedy_decode(self, z: torch.Tensor, max_length: int) -> torch.Tensor:
        """Argmax decoding from z [N, D]; returns ids [N, <=max_length], stopping at </s>."""
        tokens = torch.full((z.shape[0], 1), self.bos_id, dtype=torch.long, device=z.device)
        state = self._initial_state(z)
        finished = torch.zeros(z.shape[0], dtype=torch.bool, device=z.device)
        generated = []
        for _ in range(max_length):
            output, state = self.lstm(self._step_inputs(tokens, z), state)
            tokens = self._logits(output[:, -1:], z).argmax(-1)
            generated.append(tokens)
            finished |= tokens.squeeze(1) == self.eos_id
            if bool(finished.all()):
                break
        return torch.cat(generated, dim=1)


BOW_HIDDEN = 400  # Zhao et al.'s code (NeuralDialog-CVAE): bow_fc1, 400 tanh units


class BagOfWordsHead(nn.Module):
    """bow-VAE's f(z): logits over the vocabulary for the sentence's words, without order.

    Zhao, Zhao & Eskenazi 2017 (bag-of-words loss): an MLP, 400 tanh units then a projection to
    the vocabulary, as in the authors' code. Trained only through the auxiliary loss
    (vaesweep.objectives.bag_of_words); it is not part of p(x|z).
    """

    def __init__(self, latent_dim: int, vocab_size: int, hidden: int = BOW_HIDDEN) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(latent_dim, hidden), nn.Tanh(), nn.Linear(hidden, vocab_size))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)
