"""skip-VAE (Dieng, Kim, Rush & Blei 2019): z reaches the LSTM decoder's output layer directly,
logits_t = W_h h_t + W_z z + b, so the logits depend on z at every step even when the LSTM
itself is blind to z; without the skip they then do not depend on it at all."""

import pytest
import torch

from vaesweep.config import ModelConfig
from vaesweep.models.text import LSTMDecoder

V, D, EMBED, T = 9, 3, 5, 6


def _decoder(conditioning: str, skip: bool, z_blind: bool = True) -> LSTMDecoder:
    torch.manual_seed(0)
    config = ModelConfig(
        embed_dim=EMBED, lstm_hidden=7, dropout_in=0.0, dropout_out=0.0,
        text_decoder=conditioning, decoder_skip=skip,
    )  # fmt: skip
    decoder = LSTMDecoder(V, D, config, bos_id=1, eos_id=2)
    if z_blind:  # cut z out of the LSTM: its input columns and the initial state
        with torch.no_grad():
            decoder.lstm.weight_ih_l0[:, EMBED:] = 0.0
            if decoder.init_state is not None:
                decoder.init_state.weight.zero_()
    return decoder.eval()


def _jacobian(decoder: LSTMDecoder, x: torch.Tensor) -> torch.Tensor:
    """d logits[0, t, v] / d z[0, d] for every step t: [T, V, D]."""
    z = torch.randn(1, D)
    return torch.autograd.functional.jacobian(lambda z: decoder(z, x)[0], z)[:, :, 0, :]


@pytest.mark.parametrize("conditioning", ["he", "igp"])
def test_with_the_skip_every_steps_logits_have_gradient_w_z_through_it(conditioning):
    x = torch.randint(3, V, (1, T))
    skip = _decoder(conditioning, skip=True)
    jacobian = _jacobian(skip, x)
    for t in range(T):  # the skip path alone: exactly W_z, and not zero, at every step
        assert torch.allclose(jacobian[t], skip.skip.weight, atol=1e-6)
        assert jacobian[t].abs().sum() > 0
    no_skip = _decoder(conditioning, skip=False)
    assert torch.count_nonzero(_jacobian(no_skip, x)) == 0


@pytest.mark.parametrize("conditioning", ["he", "igp"])
def test_the_skip_adds_w_z_z_to_the_logits_of_the_same_decoder(conditioning):
    skip = _decoder(conditioning, skip=True, z_blind=False)
    plain = _decoder(conditioning, skip=False, z_blind=False)
    missing, unexpected = plain.load_state_dict(skip.state_dict(), strict=False)
    assert (missing, unexpected) == ([], ["skip.weight"])
    z, x = torch.randn(4, D), torch.randint(3, V, (4, T))
    difference = skip(z, x) - plain(z, x)
    assert torch.allclose(difference, (z @ skip.skip.weight.T).unsqueeze(1).expand(-1, T, -1), atol=1e-6)


def test_greedy_decoding_reads_z_through_the_skip():
    decoder = _decoder("he", skip=True)
    with torch.no_grad():
        decoder.skip.weight.zero_()
        decoder.skip.weight[5, 0], decoder.skip.weight[6, 0] = 100.0, -100.0
    z = torch.tensor([[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0]])
    first = decoder.greedy_decode(z, max_length=3)[:, 0]
    assert first.tolist() == [5, 6]
