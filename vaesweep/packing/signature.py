"""Which trials can train as one packed model: the architecture signature.

Two trials share a pack when they agree on every structural field (shapes and the sequence of
operations) and on the structural switch of every per-trial field (the bag-of-words head exists
only when its weight is above 0). The signature is read off the fields' declarations
(``Param.role``, ``Param.structure``), so a new unit's fields take part without a list kept
here.
"""

from __future__ import annotations

from typing import Any

from vaesweep.config import RunConfig, all_params

# Options whose implementation cannot run vectorised over members, and why: a configuration with
# every value of an entry's settings runs alone.
_UNPACKABLE: tuple[tuple[dict[str, Any], str], ...] = (
    (
        {"posterior.rescale": "before_forward"},
        "DU-VAE's rescale before each forward pass updates weights inside forward",
    ),
    ({"posterior.noise_start": "after_warmup"}, "the DU noise switch follows each member's own KL schedule"),
    (
        {"regulariser.decoder_penalty": "gradient_penalty"},
        "the gradient penalty needs a double backward under vmap",
    ),
    (
        {"train.encoder_updates": "aggressive"},
        "Agg-VAE's inner loop takes as many encoder steps as each trial's own loss asks for",
    ),
    (
        {"posterior.refinement": "svi"},
        "SA-VAE's refinement steps differentiate through the decoder twice (vmap's double backward)",
    ),
    (
        {"train.compile": True, "model.architecture": "lstm"},
        "a packed step compiles for static shapes (vmap's batched tensors take no symbolic ones), "
        "so each new sentence length compiles again (minutes for a text pack) until torch's "
        "recompile limit leaves it eager",
    ),
)


def signature(config: RunConfig) -> tuple[tuple[str, Any], ...]:
    """What trials must share to train in one pack (see the module docstring)."""
    params = all_params()
    parts = []
    for key, value in config.flatten().items():
        if key == "method":
            continue
        part = params[key].signature_part(value)
        if part is not None:
            parts.append((key, _hashable(part)))
    return tuple(parts)


def unpackable_reason(config: RunConfig) -> str | None:
    """Why ``config`` cannot run in a pack, or None when it can."""
    flat = config.flatten()
    for settings, reason in _UNPACKABLE:
        if all(flat[key] == value for key, value in settings.items()):
            return f"{', '.join(f'{key}={value}' for key, value in settings.items())}: {reason}"
    return None


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value
