"""Fixtures for annotator tests: the worker pointed at the session's real Redis and SeaweedFS."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.contract.settings import get_settings
from tests.support.stages import StageContext, point_stage_at


@pytest.fixture
def annotator_stage(backends, monkeypatch: pytest.MonkeyPatch) -> Iterator[StageContext]:
    """The annotator worker module pointed at the session's Redis and S3, with an empty database and bucket."""
    from services.annotator import worker

    yield point_stage_at(backends, monkeypatch, worker)
    get_settings.cache_clear()
