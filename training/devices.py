"""Device choice for training: ``cpu``, ``gpu`` or ``hpu`` (Habana Gaudi).

The hpu path follows Habana's TensorFlow guide: import ``habana_frameworks.tensorflow`` and
call ``load_habana_module()`` before any model is built, train in bf16 mixed precision, and
use Horovod (habana-horovod) for data parallelism when more than one card takes part.
Asking for a device that is not there fails at once with a message naming what is missing.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field

DEVICES = ("cpu", "gpu", "hpu")
HABANA_HINT = (
    "run training on Gaudi inside Habana's TensorFlow container (Python 3.10, TF 2.15) built from "
    "training/Dockerfile.gaudi, which installs training/requirements-gaudi.txt (habana-tensorflow==1.14.0.493)"
)


class DeviceUnavailable(RuntimeError):
    """The requested training device cannot be used here; the message says what is missing."""


@dataclass
class DeviceSetup:
    """What the trainer needs to know about the chosen device."""

    name: str
    mixed_precision: str | None = None
    workers: int = 1
    rank: int = 0
    horovod: object | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def is_chief(self) -> bool:
        """True in the process that writes checkpoints, exports and logs."""
        return self.rank == 0


def _import(name: str):  # noqa: ANN202 - returns a module
    return importlib.import_module(name)


def habana_card_count() -> int:
    """Cards this process group uses: the MPI/Horovod world size, else 1."""
    for var in ("OMPI_COMM_WORLD_SIZE", "HOROVOD_SIZE", "WORLD_SIZE"):
        if os.environ.get(var, "").isdigit():
            return int(os.environ[var])
    return 1


def setup_device(name: str) -> DeviceSetup:
    """Prepare TensorFlow for ``name`` before any model is built; raise DeviceUnavailable if impossible."""
    if name not in DEVICES:
        raise DeviceUnavailable(f"unknown device {name!r}; choose one of {', '.join(DEVICES)}")
    if name == "hpu":
        return _setup_hpu()
    tf = _import("tensorflow")
    if name == "gpu":
        gpus = tf.config.list_physical_devices("GPU")
        if not gpus:
            raise DeviceUnavailable("--device gpu: TensorFlow sees no GPU (no CUDA device or no CUDA build of TF)")
        for gpu in gpus:
            tf.config.experimental.set_memory_growth(gpu, True)
        _import("keras").mixed_precision.set_global_policy("mixed_float16")
        return DeviceSetup(name="gpu", mixed_precision="mixed_float16")
    tf.config.set_visible_devices([], "GPU")
    return DeviceSetup(name="cpu")


def _setup_hpu() -> DeviceSetup:
    try:
        habana = _import("habana_frameworks.tensorflow")
    except ImportError as exc:
        raise DeviceUnavailable(
            f"--device hpu needs the Habana TensorFlow stack, but the Python module "
            f"'habana_frameworks.tensorflow' cannot be imported ({exc}); {HABANA_HINT}"
        ) from exc
    habana.load_habana_module()
    _import("keras").mixed_precision.set_global_policy("mixed_bfloat16")
    setup = DeviceSetup(name="hpu", mixed_precision="mixed_bfloat16")
    cards = habana_card_count()
    if cards > 1:
        try:
            hvd = _import("horovod.tensorflow.keras")
        except ImportError as exc:
            raise DeviceUnavailable(
                f"--device hpu on {cards} cards needs habana-horovod ('horovod.tensorflow.keras' is missing: {exc}); "
                f"{HABANA_HINT}"
            ) from exc
        hvd.init()
        setup.horovod, setup.workers, setup.rank = hvd, hvd.size(), hvd.rank()
    return setup
