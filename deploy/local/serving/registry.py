"""Which model versions are loaded, their labels, and how requests are resolved to one of them.

Reconciling follows TF Serving's availability-preserving policy: versions the config wants
are loaded (and warmed up) first, then the served set and labels are swapped in one step,
and only then are versions that are no longer wanted unloaded. A request already running
on an unloaded version finishes on it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from tensorflow_serving.apis import get_model_status_pb2, model_pb2
from tensorflow_serving.config import model_server_config_pb2

from deploy.local.serving.config import ConfigError, wanted_versions
from deploy.local.serving.servable import Servable, ServingError
from fakeweb_cli.repository_layout import version_dirs

log = logging.getLogger(__name__)

State = get_model_status_pb2.ModelVersionStatus.State
MAX_LOAD_ATTEMPTS = 3
UNKNOWN_ERROR_CODE = 2  # tensorflow.error.Code.UNKNOWN


class LabelError(ConfigError):
    """A version label points at a version that is not available (TF Serving: FAILED_PRECONDITION)."""


@dataclass
class VersionStatus:
    """Life-cycle state of one version, as GetModelStatus reports it."""

    state: int
    error_code: int = 0
    error_message: str = ""


@dataclass
class ModelState:
    """Everything the registry knows about one model name."""

    config: model_server_config_pb2.ModelConfig
    servables: dict[int, Servable] = field(default_factory=dict)
    labels: dict[str, int] = field(default_factory=dict)
    statuses: dict[int, VersionStatus] = field(default_factory=dict)
    failed_attempts: dict[int, int] = field(default_factory=dict)


Loader = Callable[[str, int, Path], Servable]


def load_servable(name: str, version: int, path: Path) -> Servable:
    """Load a SavedModel version and replay its warmup requests."""
    servable = Servable(name, version, path)
    replayed = servable.warm_up()
    if replayed:
        log.info("model %s version %d: replayed %d warmup requests", name, version, replayed)
    return servable


class ModelRegistry:
    """The loaded versions of every configured model; thread-safe."""

    def __init__(self, loader: Loader = load_servable) -> None:
        self._loader = loader
        self._lock = threading.RLock()  # guards _models; held only briefly
        self._reload_lock = threading.Lock()  # one reconcile at a time; loads happen under it
        self._models: dict[str, ModelState] = {}
        self._config = model_server_config_pb2.ModelServerConfig()

    @property
    def config(self) -> model_server_config_pb2.ModelServerConfig:
        """The config in effect."""
        return self._config

    def apply_config(self, config: model_server_config_pb2.ModelServerConfig) -> None:
        """Adopt ``config`` and reconcile; on error the previous config stays in effect (raise ConfigError)."""
        _check_config(config)
        with self._reload_lock:
            self._reconcile(config)
            self._config = config

    def reconcile(self) -> None:
        """Pick up new or removed version folders under the config in effect."""
        with self._reload_lock:
            try:
                self._reconcile(self._config)
            except ConfigError as exc:
                log.error("labels of the current config cannot be applied: %s", exc)

    def _reconcile(self, config: model_server_config_pb2.ModelServerConfig) -> None:
        entries = {model.name: model for model in config.model_config_list.config}
        with self._lock:
            states = {name: self._models.get(name) or ModelState(config=entries[name]) for name in entries}
        plans: dict[str, set[int]] = {}
        for name, entry in entries.items():
            state = states[name]
            on_disk = version_dirs(Path(entry.base_path))
            wanted = wanted_versions(entry, set(on_disk))
            plans[name] = wanted
            for version in sorted(wanted - set(state.servables), reverse=True):
                self._load(state, name, version, on_disk[version])
        new_labels = {name: self._labels_for(entries[name], states[name]) for name in entries}
        unloaded: list[tuple[str, int]] = []
        with self._lock:
            for name, state in states.items():
                state.config = entries[name]
                state.labels = new_labels[name]
                if plans[name] - set(state.servables):
                    continue  # a wanted version is not loaded (yet): keep serving the old ones
                for version in sorted(set(state.servables) - plans[name]):
                    state.servables.pop(version)
                    state.statuses[version] = VersionStatus(State.END)
                    unloaded.append((name, version))
            for name in set(self._models) - set(entries):
                for version in self._models[name].servables:
                    unloaded.append((name, version))
            self._models = states
        for name, version in unloaded:
            log.info("unloaded model %s version %d", name, version)

    def _load(self, state: ModelState, name: str, version: int, path: Path) -> None:
        if state.failed_attempts.get(version, 0) >= MAX_LOAD_ATTEMPTS:
            return
        with self._lock:
            state.statuses[version] = VersionStatus(State.LOADING)
        log.info("loading model %s version %d from %s", name, version, path)
        try:
            servable = self._loader(name, version, path)
        except Exception as exc:  # noqa: BLE001 - a broken version must not take the server down
            attempts = state.failed_attempts.get(version, 0) + 1
            state.failed_attempts[version] = attempts
            final = attempts >= MAX_LOAD_ATTEMPTS
            with self._lock:
                state.statuses[version] = VersionStatus(
                    State.END if final else State.LOADING, UNKNOWN_ERROR_CODE, f"{type(exc).__name__}: {exc}"
                )
            log.error("loading model %s version %d failed (attempt %d): %s", name, version, attempts, exc)
            return
        with self._lock:
            state.servables[version] = servable
            state.statuses[version] = VersionStatus(State.AVAILABLE)
        log.info("model %s version %d is AVAILABLE", name, version)

    @staticmethod
    def _labels_for(entry: model_server_config_pb2.ModelConfig, state: ModelState) -> dict[str, int]:
        labels = dict(entry.version_labels)
        for version in labels.values():
            if version not in state.servables:
                raise LabelError(
                    f"Request to assign label to version {version} of model {entry.name}, "
                    f"which is not currently available for inference"
                )
        return labels

    def resolve(self, spec: model_pb2.ModelSpec) -> Servable:
        """The servable a request's model_spec names; raise ServingError with TF Serving's code."""
        with self._lock:
            state = self._models.get(spec.name)
            choice = spec.WhichOneof("version_choice")
            if state is None:
                raise ServingError(grpc.StatusCode.NOT_FOUND, f"Servable not found for request: Latest({spec.name})")
            if choice == "version":
                version = spec.version.value
                servable = state.servables.get(version)
                if servable is None:
                    raise ServingError(
                        grpc.StatusCode.NOT_FOUND, f"Servable not found for request: Specific({spec.name}, {version})"
                    )
                return servable
            if choice == "version_label":
                version = state.labels.get(spec.version_label)
                if version is None:
                    raise ServingError(
                        grpc.StatusCode.INVALID_ARGUMENT, f"Unrecognized servable version label: {spec.version_label}"
                    )
                servable = state.servables.get(version)
                if servable is None:
                    raise ServingError(
                        grpc.StatusCode.NOT_FOUND, f"Servable not found for request: Specific({spec.name}, {version})"
                    )
                return servable
            if not state.servables:
                raise ServingError(
                    grpc.StatusCode.FAILED_PRECONDITION, f"Model {spec.name} has no version loaded yet (Latest)"
                )
            return state.servables[max(state.servables)]

    def statuses(self, name: str, version: int | None = None) -> list[tuple[int, VersionStatus]]:
        """``(version, status)`` pairs, newest first; raise ServingError NOT_FOUND like GetModelStatus."""
        with self._lock:
            state = self._models.get(name)
            if state is None or not state.statuses:
                raise ServingError(grpc.StatusCode.NOT_FOUND, f"Could not find any versions of model {name}")
            if version is not None:
                if version not in state.statuses:
                    raise ServingError(grpc.StatusCode.NOT_FOUND, f"Could not find version {version} of model {name}")
                return [(version, state.statuses[version])]
            return sorted(state.statuses.items(), reverse=True)


def _check_config(config: model_server_config_pb2.ModelServerConfig) -> None:
    if config.WhichOneof("config") == "custom_model_config":
        raise ConfigError("custom_model_config is not supported")
    names = [model.name for model in config.model_config_list.config]
    if len(names) != len(set(names)):
        raise ConfigError("model names in model_config_list must be unique")
    for model in config.model_config_list.config:
        if not model.name:
            raise ConfigError("every model config needs a name")
        if model.model_platform not in ("", "tensorflow"):
            raise ConfigError(f"model {model.name}: only model_platform 'tensorflow' is supported")
        if not Path(model.base_path).is_absolute():
            raise ConfigError(f"model {model.name}: base_path must be absolute, got {model.base_path!r}")
        if not Path(model.base_path).is_dir():
            raise ConfigError(f"model {model.name}: base_path {model.base_path} does not exist")
