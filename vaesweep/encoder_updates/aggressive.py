"""Agg-VAE's aggressive phase (He et al. 2019, Alg. 1), driven by the trainer.

While the phase is on, each training batch first gets an inner loop of encoder-only steps (the
first on that batch, the rest on random batches of the epoch), which stops once the mean loss
over ``aggressive_window`` steps is higher than over the window before (per token for text,
as He et al.'s code measures it) or after ``aggressive_max_steps`` steps; then one
decoder-only step on the batch. After each epoch the phase ends if the validation MI fell
below the previous epoch's (the first epoch is compared with 0, as in their code). Once off,
the trainer takes joint steps, the plain method's.

One optimiser serves both networks: a step whose backward reaches only one network's
parameters leaves the other's gradients unset, and torch's optimisers skip those, keeping
per-parameter state as two optimisers would. Gradient clipping applies to the parameters a step
updates (He et al.'s code clips the norm of both networks' gradients). The inner loop reads
its loss once per window (a host synchronisation every ``aggressive_window`` steps).
"""

from __future__ import annotations

import math
from typing import Any

import torch


class AggressivePhase:
    """The aggressive phase's state and inner loop for one ``Trainer``."""

    def __init__(self, trainer) -> None:
        self.trainer = trainer
        train = trainer.config.train
        self.max_steps = train.aggressive_max_steps
        self.window = train.aggressive_window
        model = trainer.model
        encoder = [*model.encoder.parameters(), *model.head.parameters()]
        ids = {id(p) for p in encoder}
        self.encoder_params = [p for p in encoder if p.requires_grad]
        self.decoder_params = [p for p in model.parameters() if p.requires_grad and id(p) not in ids]
        self.active = True
        self.previous_mi = 0.0
        # which random batch each inner step takes: its own generator, so the epochs' batch order
        # (the trainer's shuffle) is the plain method's
        self.generator = torch.Generator().manual_seed(train.seed)
        self.encoder_steps = 0
        self.decoder_steps = 0

    def update_encoder(
        self, x: torch.Tensor, lengths: torch.Tensor | None, values: Any, batches: list
    ) -> int:
        """The inner loop before one decoder step; returns the encoder steps it took."""
        trainer = self.trainer
        previous = math.inf
        window_loss = window_units = None
        steps = 0
        while steps < self.max_steps:
            terms = trainer.update(x, lengths, values, self.encoder_params)
            units = lengths.sum() if lengths is not None else x.shape[0]
            loss = terms.loss.detach() * x.shape[0]
            window_loss = loss if window_loss is None else window_loss + loss
            window_units = units if window_units is None else window_units + units
            steps += 1
            if steps % self.window == 0:
                current = float(window_loss) / float(window_units)
                if current > previous:
                    break
                previous, window_loss, window_units = current, None, None
            pick = int(torch.randint(len(batches), (1,), generator=self.generator))
            x, lengths = trainer.batch(batches[pick])
        self.encoder_steps += steps
        return steps

    def update_decoder(self, x: torch.Tensor, lengths: torch.Tensor | None, values: Any):
        """The decoder-only step on the batch the inner loop started from."""
        self.decoder_steps += 1
        return self.trainer.update(x, lengths, values, self.decoder_params)

    def epoch_metrics(self, steps: int, active: bool) -> dict[str, float]:
        """This epoch's ``aggressive`` (1 while the phase was on), ``encoder_steps`` and
        ``decoder_steps`` (a joint epoch's ``steps`` update both); the counters restart."""
        encoder, decoder = (self.encoder_steps, self.decoder_steps) if active else (steps, steps)
        self.encoder_steps = self.decoder_steps = 0
        return {"aggressive": float(active), "encoder_steps": float(encoder), "decoder_steps": float(decoder)}

    def end_epoch(self, metrics: dict[str, float]) -> None:
        """He et al.'s stopping rule: the phase ends when the validation MI falls."""
        if not self.active:
            return
        mi = metrics["valid_mi"]
        if mi < self.previous_mi:
            self.active = False
        self.previous_mi = mi

    def state_dict(self) -> dict[str, Any]:
        return {
            "active": self.active,
            "previous_mi": self.previous_mi,
            "generator": self.generator.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.active = state["active"]
        self.previous_mi = state["previous_mi"]
        self.generator.set_state(state["generator"])
