"""Reliability fixtures: one local stack for the package, and the test photos.

One stack serves the fault, load and bad-input tests because starting one takes about a minute
on a 2-core machine and the suite must fit a CI budget. The fault tests break it on purpose and
put it back (every program running, ``/readyz`` 200) after each test; the load and bad-input
tests record the worker pids they start with and check that none changed.

It runs with a short visibility timeout (a task held by a killed worker comes back within
seconds, not 15 minutes), a small retry budget, one face per classify task (fan-in under
redelivery), two sampled frames per chunk of a video (a 3 s clip is three ``detect_frames``
tasks) and the test-only stage delay hook (services/runtime/testhooks.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from services.runtime.testhooks import TEST_HOOKS_ENV
from tests.reliability.stackops import Stack, start_stack
from tests.support.photos import group_photo, landscape_without_faces

VISIBILITY_TIMEOUT_S = 15
# Celery's full jitter makes the backoff random: 10 retries capped at 2 s sleep 9.5 s on average and
# less than 4 s in 0.7% of runs, longer than the short S3 outage test's outage.
MAX_RETRIES = 10
BACKOFF_MAX_S = 2
VIDEO_CHUNK_FRAMES = 2


@dataclass(frozen=True)
class Photos:
    """Photos with a known number of faces."""

    group: bytes  # three faces
    single: bytes  # one face
    empty: bytes  # none


@pytest.fixture(scope="package")
def photos(shared_data: Path) -> Photos:
    return Photos(
        group=group_photo(shared_data),
        single=group_photo(shared_data, members=("img20.jpg",)),
        empty=landscape_without_faces(),
    )


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The package's own local stack (never the shared session one: these tests break it)."""
    started = start_stack(
        tmp_path_factory.mktemp("reliability-stack"),
        extra_env={TEST_HOOKS_ENV: "1"},
        visibility_timeout_s=VISIBILITY_TIMEOUT_S,
        task_max_retries=MAX_RETRIES,
        task_retry_backoff_max_s=BACKOFF_MAX_S,
        classify_chunk_size=1,
        video_chunk_frames=VIDEO_CHUNK_FRAMES,
        serving_timeout_s=3.0,
        stuck_job_timeout_s=600,
    )
    try:
        yield started
    finally:
        started.stack.stop()
