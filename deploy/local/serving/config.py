"""Reading TF Serving's ``models.config`` (a text-format ModelServerConfig) and the model repository."""

from __future__ import annotations

import logging
from pathlib import Path

from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

log = logging.getLogger(__name__)

ModelServerConfig = model_server_config_pb2.ModelServerConfig
ModelConfig = model_server_config_pb2.ModelConfig


class ConfigError(Exception):
    """The model server config cannot be used (unreadable, or asks for something impossible)."""


def parse_config_text(text: str) -> model_server_config_pb2.ModelServerConfig:
    """Parse a text-format ModelServerConfig; raise ConfigError."""
    try:
        return text_format.Parse(text, ModelServerConfig())
    except text_format.ParseError as exc:
        raise ConfigError(f"models.config is not a valid ModelServerConfig: {exc}") from exc


def read_config_file(path: Path) -> model_server_config_pb2.ModelServerConfig:
    """Read and parse ``path``; relative base paths are resolved against the file's folder.

    Resolving relative paths is a stand-in convenience: the real server needs absolute paths.
    """
    config = parse_config_text(path.read_text())
    return resolve_base_paths(config, path.parent)


def resolve_base_paths(
    config: model_server_config_pb2.ModelServerConfig, folder: Path
) -> model_server_config_pb2.ModelServerConfig:
    """Return a copy of ``config`` whose relative ``base_path`` values are made absolute under ``folder``."""
    resolved = ModelServerConfig()
    resolved.CopyFrom(config)
    for model in resolved.model_config_list.config:
        if model.base_path and not Path(model.base_path).is_absolute():
            model.base_path = str((folder / model.base_path).resolve())
    return resolved


def config_from_base_path(base: Path) -> model_server_config_pb2.ModelServerConfig:
    """One model per sub-folder of ``base`` (name = folder name), like ``--model_base_path``."""
    config = ModelServerConfig()
    if base.is_dir():
        for child in sorted(base.iterdir()):
            if child.is_dir() and not child.name.startswith("."):
                entry = config.model_config_list.config.add()
                entry.name = child.name
                entry.base_path = str(child.resolve())
                entry.model_platform = "tensorflow"
    return config


def wanted_versions(model: model_server_config_pb2.ModelConfig, on_disk: set[int]) -> set[int]:
    """The versions ``model_version_policy`` asks to serve out of those on disk."""
    policy = model.model_version_policy
    which = policy.WhichOneof("policy_choice")
    if which == "all":
        return set(on_disk)
    if which == "specific":
        return set(policy.specific.versions) & on_disk
    count = policy.latest.num_versions if which == "latest" and policy.latest.num_versions > 0 else 1
    return set(sorted(on_disk)[-count:])
