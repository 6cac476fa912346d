"""Fixtures: tiny model exports and a TF Serving (stand-in subprocess or real) per test module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.serving.harness import ServingHarness, export_tiny_models, serving_harness


@pytest.fixture(scope="session")
def tiny_exports(tmp_path_factory: pytest.TempPathFactory) -> dict[float, Path]:
    """Tiny SavedModels with bias 0 and 3 (so two versions give different scores)."""
    return export_tiny_models(tmp_path_factory.mktemp("exports"))


@pytest.fixture(scope="module")
def serving(tmp_path_factory: pytest.TempPathFactory, tiny_exports: dict[float, Path]) -> Iterator[ServingHarness]:
    """One TF Serving for the module; each test adds its own model name."""
    with serving_harness(tmp_path_factory.mktemp("serving"), tiny_exports) as harness:
        yield harness
