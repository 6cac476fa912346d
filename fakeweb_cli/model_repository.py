"""The model repository (``<base>/<name>/<version>/``) and its ``models.config``, as deploys change them.

Every change follows TF Serving's rule that a label may only point at a loaded version, so it
is written in two steps: first the version policy grows to include the version the labels will
need (serving loads it while the old versions keep answering), then, once it is AVAILABLE, the
labels move and versions no longer labelled leave the policy (serving unloads them).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from fakeweb_cli.repository_layout import version_dirs

STABLE = "stable"
CANARY = "canary"


class DeployError(Exception):
    """The requested change cannot be made; the message says why and nothing was changed."""


@dataclass(frozen=True)
class ModelView:
    """What the repository and config say about one model."""

    on_disk: tuple[int, ...]
    policy: tuple[int, ...]  # versions the config asks serving to load
    labels: dict[str, int]

    @property
    def stable(self) -> int | None:
        """The stable version: its label, else the newest version serving loads."""
        return self.labels.get(STABLE) or (max(self.policy) if self.policy else None)


@dataclass(frozen=True)
class Change:
    """A two-step config change: load ``staging`` first, wait for ``wait_for``, then write the final state."""

    staging: tuple[int, ...]
    wait_for: tuple[int, ...]
    policy: tuple[int, ...]
    labels: dict[str, int]
    summary: str


class ModelRepository:
    """One model's folder in the repository and its entry in models.config."""

    def __init__(self, base: Path, config_file: Path, name: str, server_base_path: str | None = None) -> None:
        self.base = base
        self.config_file = config_file
        self.name = name
        self.server_base_path = server_base_path

    @property
    def model_dir(self) -> Path:
        return self.base / self.name

    def versions(self) -> dict[int, Path]:
        """Complete version folders on disk."""
        return version_dirs(self.model_dir)

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Serialise deploys on this repository (an advisory lock file)."""
        self.base.mkdir(parents=True, exist_ok=True)
        with (self.base / ".fakeweb-deploy.lock").open("w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def read_config(self) -> model_server_config_pb2.ModelServerConfig:
        """The config file as written (relative paths untouched), or an empty config."""
        config = model_server_config_pb2.ModelServerConfig()
        if self.config_file.is_file():
            try:
                text_format.Parse(self.config_file.read_text(), config)
            except text_format.ParseError as exc:
                raise DeployError(f"{self.config_file} is not a valid ModelServerConfig: {exc}") from exc
        return config

    def entry(self, config: model_server_config_pb2.ModelServerConfig) -> model_server_config_pb2.ModelConfig | None:
        """This model's entry in ``config``, if any."""
        return next((m for m in config.model_config_list.config if m.name == self.name), None)

    def view(self) -> ModelView:
        """Versions on disk, the versions the config loads, and the labels."""
        on_disk = tuple(sorted(self.versions()))
        entry = self.entry(self.read_config())
        if entry is None:
            return ModelView(on_disk, on_disk[-1:], {})
        policy = entry.model_version_policy
        which = policy.WhichOneof("policy_choice")
        if which == "specific":
            loaded = tuple(sorted(set(policy.specific.versions) & set(on_disk)))
        elif which == "all":
            loaded = on_disk
        else:
            count = policy.latest.num_versions if which == "latest" and policy.latest.num_versions > 0 else 1
            loaded = on_disk[-count:]
        return ModelView(on_disk, loaded, dict(entry.version_labels))

    def write(self, policy: tuple[int, ...], labels: dict[str, int]) -> None:
        """Set this model's version policy (specific) and labels; other models are kept; atomic replace."""
        config = self.read_config()
        entry = self.entry(config)
        if entry is None:
            entry = config.model_config_list.config.add(name=self.name, model_platform="tensorflow")
            entry.base_path = self._default_base_path()
        entry.model_version_policy.Clear()
        entry.model_version_policy.specific.versions.extend(sorted(policy))
        entry.ClearField("version_labels")
        for label, version in sorted(labels.items()):
            entry.version_labels[label] = version
        self.config_file.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=".models.config.", dir=self.config_file.parent)
        with os.fdopen(fd, "w") as handle:
            handle.write(text_format.MessageToString(config))
        os.replace(temp, self.config_file)

    def _default_base_path(self) -> str:
        if self.server_base_path:
            return self.server_base_path
        if self.config_file.parent.resolve() == self.base.resolve():
            return self.name  # relative to the config's folder: resolved by the local stand-in
        return str(self.model_dir.resolve())

    def install(self, export_dir: Path, version: int, prepare: Callable[[Path], None]) -> Path:
        """Copy an export in as ``version`` atomically: temp folder, ``prepare`` it, then rename."""
        target = self.model_dir / str(version)
        if target.exists():
            raise DeployError(f"version {version} already exists at {target}")
        self.model_dir.mkdir(parents=True, exist_ok=True)
        temp = Path(tempfile.mkdtemp(prefix=f".tmp-{version}-", dir=self.model_dir))
        try:
            shutil.copytree(export_dir, temp, dirs_exist_ok=True)
            prepare(temp)
            temp.rename(target)
        except BaseException:
            shutil.rmtree(temp, ignore_errors=True)
            raise
        return target


def plan_deploy(view: ModelView, version: int, label: str) -> Change:
    """Deploy ``version`` under ``label``: ``stable`` replaces the stable version, any other label adds one."""
    stable = view.stable
    labels = dict(view.labels)
    if label == STABLE:
        labels.pop(CANARY, None)
        keep = {stable} if stable is not None else set()
    else:
        if stable is None:
            raise DeployError(f"there is no stable version yet: deploy one without --label before a {label}")
        labels.setdefault(STABLE, stable)
        keep = set()
    labels[label] = version
    policy = tuple(sorted(set(labels.values()) | keep))
    staging = tuple(sorted(set(view.policy) | {version}))
    summary = f"version {version} deployed as {label}" + (
        f" (stable stays {labels[STABLE]})" if label != STABLE else ""
    )
    return Change(staging, (version,), policy, labels, summary)


def plan_promote(view: ModelView) -> Change:
    """Make the canary the stable version; the old stable stays loaded for a quick rollback."""
    canary = view.labels.get(CANARY)
    if canary is None:
        raise DeployError("there is no canary to promote")
    old = view.stable
    labels = {k: v for k, v in view.labels.items() if k != CANARY}
    labels[STABLE] = canary
    policy = tuple(sorted(set(labels.values()) | ({old} if old is not None else set())))
    return Change(
        tuple(sorted(set(view.policy) | {canary})), (canary,), policy, labels, f"version {canary} promoted to stable"
    )


def plan_rollback(view: ModelView) -> Change:
    """Withdraw the canary if there is one, else move stable back to the previous version and unload the bad one."""
    canary = view.labels.get(CANARY)
    if canary is not None:
        labels = {k: v for k, v in view.labels.items() if k != CANARY}
        policy = tuple(sorted(set(labels.values()))) or tuple(sorted(set(view.policy) - {canary}))
        return Change(view.policy, (), policy, labels, f"canary version {canary} withdrawn")
    stable = view.stable
    if stable is None:
        raise DeployError("nothing is deployed")
    older = [v for v in view.on_disk if v < stable]
    if not older:
        raise DeployError(f"there is no version older than {stable} to roll back to")
    previous = older[-1]
    labels = {k: v for k, v in view.labels.items() if v != stable}
    labels[STABLE] = previous
    policy = tuple(sorted(set(labels.values())))
    staging = tuple(sorted(set(view.policy) | {previous}))
    return Change(staging, (previous,), policy, labels, f"stable rolled back from version {stable} to {previous}")
