"""Checkpoints: what is saved next to each ONNX file, in one format for every model.

A checkpoint is {"class": the model's class name, "config": its config dataclass as a dict,
"state_dict": the weights}. One registry names every model class and where it lives; the
classes are imported only when a checkpoint of theirs is loaded. Checkpoints written by the
training studio before this format ({"family": "sparse", ...}) still load.
"""
from __future__ import annotations

import importlib
from dataclasses import asdict

from torch import nn

# class name -> the module that defines it (and its config, named in the model's __init__)
REGISTRY = {
    "CharAutoencoder": "engine.nn.layers",
    "PhotoDenoiser": "engine.tasks.denoise.model",
    "PhotoAutoencoder": "engine.tasks.search.model",
    "PhotoEmbedder": "engine.tasks.search.model",
    "VAE": "engine.tasks.generate.model",
    "AAE": "engine.tasks.generate.model",
    "DigitClassifier": "engine.tasks.generate.model",
    "Colorizer": "engine.tasks.colorize.model",
    "SequenceAutoencoder": "engine.tasks.sequence.model",
    "SequenceForecaster": "engine.tasks.sequence.model",
    "CodeClassifier": "engine.tasks.semisupervised.model",
    "MaskedCharAutoencoder": "engine.tasks.impute.model",
    "MaskedTableAutoencoder": "engine.tasks.impute.model",
    # the autoencoder family of the training studio
    **{name: "engine.tasks.studio.model" for name in (
        "Undercomplete", "Sparse", "Stacked", "Convolutional", "Denoising", "Variational")},
}
# The config class of each model, where it is not the class name + "Config"
_CONFIGS = {"PhotoEmbedder": "PhotoEncoderConfig", "PhotoAutoencoder": "PhotoEncoderConfig"}


def model_class(name: str) -> tuple[type[nn.Module], type]:
    """The model class registered as `name` and its config dataclass."""
    try:
        module = importlib.import_module(REGISTRY[name])
    except KeyError:
        raise ValueError(f"no model class {name!r}; known: {', '.join(sorted(REGISTRY))}") from None
    return getattr(module, name), getattr(module, _CONFIGS.get(name, f"{name}Config"))


def checkpoint(model: nn.Module) -> dict:
    """What is saved next to the ONNX file: the class, its config and the weights."""
    return {"class": type(model).__name__, "config": asdict(model.config), "state_dict": model.state_dict()}


def from_checkpoint(data: dict) -> nn.Module:
    """The model a checkpoint describes, with its weights, in eval mode."""
    if "class" in data:
        name = data["class"]
    else:  # the studio's earlier format named the family instead of the class
        from engine.tasks.studio.model import FAMILIES

        name = FAMILIES[data["family"]][0].__name__
    cls, config_cls = model_class(name)
    config = {k: tuple(v) if isinstance(v, list) else v for k, v in data["config"].items()}
    model = cls(config_cls(**config))
    model.load_state_dict(data["state_dict"])
    return model.eval()
