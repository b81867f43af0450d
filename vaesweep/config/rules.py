"""Validation: every field in its range, then the combinations the axes forbid.

Three kinds of rule, in this order: each field's own range (its ``Param``); the rules of the
data set (a likelihood, architecture or text-only option the data cannot feed); the units'
own rules (``Unit.check``) and the rule derived from their declarations — a unit's field set
away from its default while the axis uses a unit that does not read it is an error, since the
value would be silently ignored. "Default" there is the data set's profile value.
"""

from __future__ import annotations

import json
from functools import cache

from vaesweep.config.keys import all_params, apply_overrides
from vaesweep.config.registry import Registry, schema_generation
from vaesweep.config.sections import SECTIONS, RunConfig
from vaesweep.errors import ConfigError
from vaesweep.plugins import load_plugins

# The axes in the order their units' rules run (what a combination error names first).
AXIS_ORDER = ("likelihood", "posterior", "regulariser", "prior", "annealing")


def registries() -> list[Registry]:
    """Every axis registry, in rule order."""
    order = {name: i for i, name in enumerate(AXIS_ORDER)}
    found = [
        (order.get(name, len(order)), registry)
        for name in SECTIONS
        for registry in SECTIONS[name].registries()
    ]
    return [registry for _, registry in sorted(found, key=lambda item: item[0])]


def baseline(dataset: str) -> RunConfig:
    """The defaults after the data set's profile: what "left at its default" means."""
    from vaesweep.data.registry import dataset_info

    profile = json.dumps(dataset_info(dataset).profile, sort_keys=True)  # an added set's may change
    return apply_overrides(_baseline(dataset, profile, schema_generation()), {})


@cache
def _baseline(dataset: str, profile: str, generation: int) -> RunConfig:
    config = RunConfig()
    config.data.name = dataset
    return apply_overrides(config, json.loads(profile))


def check_ranges(config: RunConfig) -> None:
    params = all_params()
    for key, value in config.flatten().items():
        if key != "method":
            params[key].check(key, value)


def check_unit_fields(config: RunConfig) -> None:
    """A field that only some units read keeps its default unless the axis uses one of them."""
    values, defaults = config.flatten(), baseline(config.data.name).flatten()
    for registry in registries():
        selected = registry.selected(config)
        section = registry.key.split(".")[0]
        for field in registry.params():
            key = f"{section}.{field}"
            owners = registry.owners(field)
            if values[key] != defaults[key] and selected.name not in owners:
                reads = ", ".join(selected.fields) or "none of these fields"
                raise ConfigError(
                    key,
                    values[key],
                    f"{defaults[key]} unless {registry.key} is {' or '.join(owners)} "
                    f"({registry.key}={selected.name} reads {reads})",
                )


def _check_device(device: str) -> None:
    if device in ("auto", "cpu", "cuda") or (device.startswith("cuda:") and device[5:].isdigit()):
        return
    raise ConfigError("train.device", device, "auto, cpu, cuda or cuda:N")


def check_data(config: RunConfig, info) -> None:
    """What the data set can feed: architecture, text-only options, binarisation, the FID network."""
    model, name = config.model, config.data.name
    arch = model.architecture if model.architecture != "auto" else info.architecture
    if info.kind == "text" and arch != "lstm":
        raise ConfigError("model.architecture", arch, f"lstm for text data ({name})")
    if info.kind == "image" and arch == "lstm":
        raise ConfigError("model.architecture", arch, f"an image architecture for {name}")
    if arch in ("conv", "resnet_pixelcnn") and info.image_shape not in (None, (1, 28, 28)):
        raise ConfigError("model.architecture", arch, f"28x28 images; {name} is {info.image_shape}")
    if arch == "conv_celeba" and info.image_shape not in (None, (3, 64, 64)):
        raise ConfigError("model.architecture", arch, f"64x64 RGB images; {name} is {info.image_shape}")
    if config.regulariser.bow_weight > 0 and info.kind != "text":
        raise ConfigError(
            "regulariser.bow_weight",
            config.regulariser.bow_weight,
            f"0 for image data ({name}); the bag-of-words loss predicts a sentence's tokens",
        )
    if model.decoder_skip and arch != "lstm":
        raise ConfigError(
            "model.decoder_skip",
            model.decoder_skip,
            "false unless model.architecture is lstm (the skip feeds z to its output layer); "
            f"{name} uses {arch}",
        )
    if config.data.binarisation == "dynamic" and config.likelihood_kind != "bernoulli":
        raise ConfigError("data.binarisation", "dynamic", "none unless the likelihood is bernoulli")
    if info.kind == "text" and config.data.binarisation != "none":
        raise ConfigError("data.binarisation", config.data.binarisation, "none for text")
    if config.eval.fid and info.kind == "image" and not config.eval.fid_network:
        raise ConfigError(
            "eval.fid_network",
            "",
            "the path of a TorchScript FID feature network (see vaesweep.protocols.fid), or eval.fid=false",
        )


def validate(config: RunConfig) -> RunConfig:
    """Raise ConfigError for the first problem found; return the config unchanged otherwise.

    Checks value ranges, then what the data set can feed, then each axis unit's rules and the
    fields set for units the configuration does not use.
    """
    from vaesweep.data.registry import dataset_info
    from vaesweep.methods import METHODS

    load_plugins()
    if config.method not in METHODS:
        raise ConfigError("method", config.method, "one of " + ", ".join(METHODS))
    dataset_info(config.data.name)  # built-in or added to the cache, else ConfigError
    check_ranges(config)
    _check_device(config.train.device)
    if any(tau <= 0 for tau in config.eval.cu_thresholds):
        raise ConfigError("eval.cu_thresholds", config.eval.cu_thresholds, "positive values")
    info = dataset_info(config.data.name)
    check_data(config, info)
    for registry in registries():
        registry.selected(config).check(config, info)
    check_unit_fields(config)
    model = config.model
    if len(model.hidden_sizes) == 0 or any(h < 1 for h in model.hidden_sizes):
        raise ConfigError("model.hidden_sizes", model.hidden_sizes, "one or more positive widths")
    if config.optim.max_decays > 0 and config.optim.decay_patience == 0:
        raise ConfigError("optim.max_decays", config.optim.max_decays, "0 unless optim.decay_patience > 0")
    return config
