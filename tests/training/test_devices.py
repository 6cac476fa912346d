"""Device choice: cpu works here, hpu without the Habana stack fails at once and says what is missing."""

from __future__ import annotations

import subprocess
import sys
import types

import pytest

from tests.training.conftest import REPO_ROOT
from training import devices


def test_hpu_without_habana_names_the_missing_module(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "habana_frameworks", None)  # import fails like a missing package
    with pytest.raises(devices.DeviceUnavailable) as info:
        devices.setup_device("hpu")
    message = str(info.value)
    assert "habana_frameworks.tensorflow" in message
    assert "habana-tensorflow==1.14.0.493" in message


def test_hpu_cli_fails_fast_with_exit_code_2() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "training.train", "--device", "hpu", "--data", "does-not-matter", "--out", "nowhere"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "habana_frameworks.tensorflow" in result.stderr


def test_hpu_path_loads_habana_before_anything_and_uses_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    fake_habana = types.SimpleNamespace(load_habana_module=lambda: calls.append("load_habana_module"))
    policies: list[str] = []
    fake_keras = types.SimpleNamespace(
        mixed_precision=types.SimpleNamespace(set_global_policy=lambda p: policies.append(p))
    )
    modules = {"habana_frameworks.tensorflow": fake_habana, "keras": fake_keras}
    monkeypatch.setattr(devices, "_import", lambda name: modules[name])
    monkeypatch.delenv("OMPI_COMM_WORLD_SIZE", raising=False)
    monkeypatch.delenv("HOROVOD_SIZE", raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    setup = devices.setup_device("hpu")
    assert calls == ["load_habana_module"]
    assert policies == ["mixed_bfloat16"]
    assert (setup.name, setup.workers, setup.horovod) == ("hpu", 1, None)


def test_hpu_on_several_cards_uses_horovod(monkeypatch: pytest.MonkeyPatch) -> None:
    hvd = types.SimpleNamespace(init=lambda: None, size=lambda: 8, rank=lambda: 3)
    modules = {
        "habana_frameworks.tensorflow": types.SimpleNamespace(load_habana_module=lambda: None),
        "keras": types.SimpleNamespace(mixed_precision=types.SimpleNamespace(set_global_policy=lambda p: None)),
        "horovod.tensorflow.keras": hvd,
    }
    monkeypatch.setattr(devices, "_import", lambda name: modules[name])
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "8")
    setup = devices.setup_device("hpu")
    assert (setup.workers, setup.rank, setup.horovod, setup.is_chief) == (8, 3, hvd, False)


def test_hpu_on_several_cards_without_horovod_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    modules = {
        "habana_frameworks.tensorflow": types.SimpleNamespace(load_habana_module=lambda: None),
        "keras": types.SimpleNamespace(mixed_precision=types.SimpleNamespace(set_global_policy=lambda p: None)),
    }

    def fake_import(name: str):
        if name not in modules:
            raise ImportError(f"No module named {name!r}", name=name)
        return modules[name]

    monkeypatch.setattr(devices, "_import", fake_import)
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "2")
    with pytest.raises(devices.DeviceUnavailable, match="habana-horovod"):
        devices.setup_device("hpu")


def test_gpu_without_a_gpu_fails_clearly() -> None:
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("this machine has a GPU")
    with pytest.raises(devices.DeviceUnavailable, match="no GPU"):
        devices.setup_device("gpu")


def test_cpu_and_unknown_device() -> None:
    assert devices.setup_device("cpu").name == "cpu"
    with pytest.raises(devices.DeviceUnavailable, match="unknown device"):
        devices.setup_device("tpu")
