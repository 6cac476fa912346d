"""Video jobs under the faults photo jobs survive: a detector killed mid-clip, an annotator killed holding its
task, S3 down and Redis restarted between two chunks of frames."""

from __future__ import annotations

import os
import signal
import time

import pytest

from services.contract.pipeline import stage as declared
from services.contract.storage import annotated_video_key, frame_chunk_key
from services.runtime.testhooks import set_stage_delay
from tests.reliability.conftest import VISIBILITY_TIMEOUT_S
from tests.reliability.stackops import Stack, submit, wait_final
from tests.support.videos import two_person_clip

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

CHUNK_HOOK = "detect-chunk"  # services/detector/clip.py
SECONDS = 10.0  # 20 sampled frames: chunks of 8, 8 and 4


@pytest.fixture(scope="module")
def clip(shared_data) -> bytes:
    return two_person_clip(shared_data, seconds=SECONDS, fps=5)


def _stored_at(stack: Stack, key: str) -> object:
    return stack.store.client.stat_object(stack.settings.s3_bucket, key).last_modified


def _wait_for(condition, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def _check_two_tracks(document: dict) -> None:
    assert document["status"] == "completed", document
    assert document["video"]["frames_analysed"] == 2 * SECONDS
    assert [track["frames_seen"] for track in document["tracks"]] == [20, 20]


def test_detector_killed_between_chunks_redoes_only_the_unfinished_chunk(stack, clip):
    set_stage_delay(stack.redis, CHUNK_HOOK, 60)
    try:
        with stack.client() as client:
            job_id = submit(client, clip, name="clip.mp4")
            _wait_for(lambda: stack.store.exists(frame_chunk_key(job_id, 0)))
            first_chunk_at = _stored_at(stack, frame_chunk_key(job_id, 0))
            assert stack.record(job_id).get("frames_detected") == "8"
            killed = stack.pid("detector")
            os.kill(killed, signal.SIGKILL)
            set_stage_delay(stack.redis, CHUNK_HOOK, 0)
            stack.wait_running("detector", not_pid=killed)
            document = wait_final(client, job_id, timeout_s=VISIBILITY_TIMEOUT_S + 150)
    finally:
        set_stage_delay(stack.redis, CHUNK_HOOK, 0)
    _check_two_tracks(document)
    # The redelivered task read chunk 0 back instead of detecting its frames again.
    assert _stored_at(stack, frame_chunk_key(job_id, 0)) == first_chunk_at
    assert stack.store.exists(frame_chunk_key(job_id, 2))


@pytest.mark.parametrize("program", ["s3", "redis"])
def test_storage_or_redis_down_between_chunks_is_retried_and_keeps_the_stored_chunk(stack, shared_data, program):
    clip = two_person_clip(shared_data, seconds=SECONDS, fps=4)  # other bytes than the clips above
    set_stage_delay(stack.redis, CHUNK_HOOK, 60)
    try:
        with stack.client() as client:
            job_id = submit(client, clip, name="clip.mp4")
            _wait_for(lambda: stack.store.exists(frame_chunk_key(job_id, 0)))
            first_chunk_at = _stored_at(stack, frame_chunk_key(job_id, 0))
            stack.stack.ctl("stop", program)
            if program == "s3":
                set_stage_delay(stack.redis, CHUNK_HOOK, 0)  # the next chunk meets S3 down
            time.sleep(3)
            stack.stack.ctl("start", program)
            stack.wait_ready(120)
            set_stage_delay(stack.redis, CHUNK_HOOK, 0)
            document = wait_final(client, job_id, timeout_s=VISIBILITY_TIMEOUT_S + 150)
    finally:
        set_stage_delay(stack.redis, CHUNK_HOOK, 0)
    _check_two_tracks(document)
    assert _stored_at(stack, frame_chunk_key(job_id, 0)) == first_chunk_at


def test_annotator_killed_while_holding_a_video_job_gets_it_redelivered(stack, clip):
    annotate = declared("annotate")
    set_stage_delay(stack.redis, annotate.name, 30)
    try:
        with stack.client() as client:
            job_id = submit(client, clip, name="clip.mp4", threshold="0.4")  # not the cached result above
            stack.wait_held(job_id, annotate.task, timeout_s=120)
            killed = stack.pid("annotator")
            os.kill(killed, signal.SIGKILL)
            set_stage_delay(stack.redis, annotate.name, 0)
            stack.wait_running("annotator", not_pid=killed)
            document = wait_final(client, job_id, timeout_s=VISIBILITY_TIMEOUT_S + 150)
    finally:
        set_stage_delay(stack.redis, annotate.name, 0)
    _check_two_tracks(document)
    assert stack.store.exists(annotated_video_key(job_id))
