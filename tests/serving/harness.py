"""A TF Serving to test against: the local stand-in as a real subprocess, or a real tensorflow/serving.

By default ``serving_harness`` starts ``python -m deploy.local.serving`` on a free port over a
temporary model repository. To run the same tests against the real image, start it with the
repository and config mounted and polled, for example::

    docker run --rm -p 8500:8500 -v /tmp/fw-models:/models tensorflow/serving:2.19.1 \
        --model_config_file=/models/models.config --model_config_file_poll_wait_seconds=1 \
        --file_system_poll_wait_seconds=1 --allow_version_labels_for_unavailable_models=true

and export ``FAKEWEB_TEST_SERVING_ADDRESS=127.0.0.1:8500``,
``FAKEWEB_TEST_MODEL_BASE_PATH=/tmp/fw-models`` (the host folder) and
``FAKEWEB_TEST_SERVING_MODEL_ROOT=/models`` (the same folder as the server sees it).
Every test uses its own model name, so one server serves a whole module.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from deploy.local.servers import serving_stand_in
from services.classifier.serving_client import ServingCallError, ServingClient

ROOT = Path(__file__).resolve().parents[2]
REAL_SERVER = bool(os.environ.get("FAKEWEB_TEST_SERVING_ADDRESS"))


@dataclass
class ServingHarness:
    """A running TF Serving (stand-in or real), its model repository and its polled config file."""

    address: str
    base: Path
    server_root: str
    exports: dict[float, Path]
    log_path: Path | None = None
    models: dict[str, model_server_config_pb2.ModelConfig] = field(default_factory=dict)
    _counter: int = 0

    @property
    def config_file(self) -> Path:
        return self.base / "models.config"

    @property
    def real(self) -> bool:
        return self.log_path is None

    def client(self, timeout_s: float = 10.0) -> ServingClient:
        return ServingClient(self.address, timeout_s)

    def new_model_name(self, prefix: str = "m") -> str:
        self._counter += 1
        return f"{prefix}{os.getpid()}x{self._counter}"

    def add_version(self, name: str, version: int, bias: float = 0.0) -> Path:
        """Copy a tiny model export in as ``<base>/<name>/<version>`` (temp dir + rename)."""
        model_dir = self.base / name
        model_dir.mkdir(parents=True, exist_ok=True)
        temp = model_dir / f".tmp-{version}"
        shutil.copytree(self.exports[bias], temp)
        temp.rename(model_dir / str(version))
        return model_dir / str(version)

    def set_model(
        self, name: str, specific: list[int] | None = None, labels: dict[str, int] | None = None, latest: int = 0
    ) -> None:
        """Add or change one model entry and rewrite models.config atomically."""
        entry = model_server_config_pb2.ModelConfig(
            name=name, base_path=f"{self.server_root}/{name}", model_platform="tensorflow"
        )
        if specific:
            entry.model_version_policy.specific.versions.extend(specific)
        elif latest:
            entry.model_version_policy.latest.num_versions = latest
        for label, version in (labels or {}).items():
            entry.version_labels[label] = version
        self.models[name] = entry
        self.write_config()

    def write_config(self) -> None:
        """Write the harness's models, keeping entries others (``fakeweb model``) wrote into the file."""
        config = model_server_config_pb2.ModelServerConfig()
        if self.config_file.exists():
            text_format.Parse(self.config_file.read_text(), config)
        others = [m for m in config.model_config_list.config if m.name not in self.models]
        config.model_config_list.ClearField("config")
        config.model_config_list.config.extend([*others, *self.models.values()])
        temp = self.config_file.with_suffix(".tmp")
        temp.write_text(text_format.MessageToString(config))
        temp.replace(self.config_file)

    def statuses(self, name: str) -> dict[int, str]:
        try:
            return {version: state for version, state, _ in self.client().model_status(name)}
        except ServingCallError as exc:
            if exc.code == grpc.StatusCode.NOT_FOUND:
                return {}
            raise

    def wait_until(self, what: str, check: Callable[[], bool], timeout_s: float = 90.0) -> None:
        """Poll ``check`` until it is true; fail with ``what`` after ``timeout_s`` (a wait limit, not an assertion)."""
        deadline = time.monotonic() + timeout_s
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; server log:\n{self.log_tail()}")
            time.sleep(0.2)

    def wait_available(self, name: str, versions: set[int], timeout_s: float = 90.0) -> None:
        """Until exactly ``versions`` of ``name`` are AVAILABLE."""

        def check() -> bool:
            available = {v for v, state in self.statuses(name).items() if state == "AVAILABLE"}
            return available == versions

        self.wait_until(f"{name} versions {sorted(versions)} AVAILABLE", check, timeout_s)

    def log_tail(self, lines: int = 40) -> str:
        if self.log_path is None or not self.log_path.exists():
            return "(no log: real server)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def export_tiny_models(folder: Path, biases: tuple[float, ...] = (0.0, 3.0)) -> dict[float, Path]:
    """One tiny SavedModel export per bias, made once and copied in as versions."""
    from tests.support.tiny_model import export_tiny_model

    return {bias: export_tiny_model(folder / f"bias{bias}", bias=bias) for bias in biases}


@contextmanager
def serving_harness(tmp: Path, exports: dict[float, Path]) -> Iterator[ServingHarness]:
    """The stand-in over a fresh repository, or the real server named by FAKEWEB_TEST_SERVING_ADDRESS."""
    if REAL_SERVER:
        base = Path(os.environ["FAKEWEB_TEST_MODEL_BASE_PATH"])
        root = os.environ.get("FAKEWEB_TEST_SERVING_MODEL_ROOT", str(base))
        harness = ServingHarness(os.environ["FAKEWEB_TEST_SERVING_ADDRESS"], base, root, exports)
        harness.write_config()
        yield harness
        return
    base = tmp / "models"
    base.mkdir(parents=True, exist_ok=True)
    harness = ServingHarness("", base, str(base), exports)
    harness.write_config()
    with serving_stand_in(base) as (address, log_path):
        harness.address = address
        harness.log_path = log_path
        yield harness
