"""Video jobs under the faults photo jobs survive, and a clip's chunks of frames spread over detector processes.

A 3 s clip of two people sampled at 2 frames per second is 6 frames: three ``detect_frames`` chunks
of two (tests/reliability/conftest.py). Each fault test kills a worker holding the job's task (every
worker program of a video job), or stops S3 or Redis between two chunks, and expects the job to end
with both tracks seen in every frame and each classify chunk counted once.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest

from services.contract.jobs import CHUNKS_DONE_KEY, FRAME_CHUNKS_DONE_KEY, SCORES_KEY
from services.contract.pipeline import DETECT_FRAMES, STAGE_NAMES
from services.contract.pipeline import stage as declared
from services.contract.storage import annotated_video_key, frame_chunk_key
from services.runtime.testhooks import set_stage_delay
from tests.reliability.conftest import VIDEO_CHUNK_FRAMES, VISIBILITY_TIMEOUT_S
from tests.reliability.stackops import Stack, extra_worker, submit, wait_final
from tests.support.videos import two_person_clip

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

CHUNK_HOOK = "detect-chunk"  # services/detector/clip.py: held after a chunk is stored and counted
SECONDS = 3.0
FRAMES = 6  # 3 s at 2 frames per second
CHUNKS = FRAMES // VIDEO_CHUNK_FRAMES
HOLDS = (*STAGE_NAMES, DETECT_FRAMES.task, CHUNK_HOOK)


@pytest.fixture(scope="module")
def clip(shared_data) -> bytes:
    return two_person_clip(shared_data, seconds=SECONDS, fps=5)


@pytest.fixture(autouse=True)
def released(stack: Stack) -> Iterator[None]:
    """No hold outlives its test, and every program is running again."""
    yield
    for hold in HOLDS:
        set_stage_delay(stack.redis, hold, 0)
    status = stack.stack.ctl("status")
    for program in ("redis", "s3", "provenance", "detector", DETECT_FRAMES.service, "classifier", "annotator"):
        if not any(line.split()[:2] == [program, "RUNNING"] for line in status.splitlines()):
            stack.stack.ctl("start", program)
    stack.wait_ready(180)


def _stored_at(stack: Stack, key: str) -> object:
    return stack.store.client.stat_object(stack.settings.s3_bucket, key).last_modified


def _searched_by(stack: Stack, job_id: str, chunk: int) -> int:
    """The pid of the process that searched a stored chunk (``service@host:pid``)."""
    return int(stack.store.get_json(frame_chunk_key(job_id, chunk))["detected_by"].rsplit(":", 1)[1])


def _stored_chunks(stack: Stack, job_id: str) -> list[int]:
    return [chunk for chunk in range(CHUNKS) if stack.store.exists(frame_chunk_key(job_id, chunk))]


def _wait_for(condition, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def _check_video_job(stack: Stack, job_id: str, document: dict) -> None:
    """Both people tracked in every frame, every frame counted once, every classify chunk scored once."""
    assert document["status"] == "completed", document
    assert document["video"]["frames_analysed"] == FRAMES
    assert [track["frames_seen"] for track in document["tracks"]] == [FRAMES, FRAMES]
    assert [track["frames_scored"] for track in document["tracks"]] == [FRAMES, FRAMES]
    record = stack.record(job_id)
    assert record["frames_detected"] == str(FRAMES), record
    assert stack.redis.scard(FRAME_CHUNKS_DONE_KEY.format(job_id=job_id)) == CHUNKS
    assert int(record["faces_judgeable"]) == 2 * FRAMES
    assert stack.redis.hlen(SCORES_KEY.format(job_id=job_id)) == 2 * FRAMES
    assert stack.redis.scard(CHUNKS_DONE_KEY.format(job_id=job_id)) == int(record["chunks_total"])
    assert stack.store.exists(annotated_video_key(job_id))


def test_a_clips_chunks_spread_over_detector_processes_and_a_killed_one_leaves_the_others_stored(stack, clip):
    supervised = stack.pid(DETECT_FRAMES.service)
    with extra_worker(stack, DETECT_FRAMES.service, "second") as second, stack.client() as client:
        set_stage_delay(stack.redis, CHUNK_HOOK, 60)  # each process holds its chunk once stored
        job_id = submit(client, clip, name="clip.mp4")
        # Two chunks stored while each process holds the one it stored: two processes searched them.
        _wait_for(lambda: len(_stored_chunks(stack, job_id)) == 2)
        before = {chunk: _stored_at(stack, frame_chunk_key(job_id, chunk)) for chunk in _stored_chunks(stack, job_id)}
        assert {_searched_by(stack, job_id, chunk) for chunk in before} == {supervised, second.pid}
        os.kill(second.pid, signal.SIGKILL)
        set_stage_delay(stack.redis, CHUNK_HOOK, 0)
        document = wait_final(client, job_id, timeout_s=VISIBILITY_TIMEOUT_S + 150)
    _check_video_job(stack, job_id, document)
    # Nothing stored was searched again: the killed process's chunk was only counted by its redelivery.
    assert {chunk: _stored_at(stack, frame_chunk_key(job_id, chunk)) for chunk in before} == before
    assert {_searched_by(stack, job_id, chunk) for chunk in before} == {supervised, second.pid}


def test_a_detector_killed_mid_clip_redoes_only_the_chunk_it_held(stack, clip):
    set_stage_delay(stack.redis, CHUNK_HOOK, 60)
    with stack.client() as client:
        job_id = submit(client, clip, name="clip.mp4", threshold="0.45")
        _wait_for(lambda: stack.store.exists(frame_chunk_key(job_id, 0)))
        first_chunk_at = _stored_at(stack, frame_chunk_key(job_id, 0))
        assert stack.record(job_id).get("frames_detected") == str(VIDEO_CHUNK_FRAMES)
        killed = stack.pid(DETECT_FRAMES.service)  # chunks 1 and 2 wait in the queue behind the held chunk 0
        os.kill(killed, signal.SIGKILL)
        set_stage_delay(stack.redis, CHUNK_HOOK, 0)
        restarted = stack.wait_running(DETECT_FRAMES.service, not_pid=killed)
        document = wait_final(client, job_id, timeout_s=VISIBILITY_TIMEOUT_S + 150)
    _check_video_job(stack, job_id, document)
    # The redelivered chunk 0 was read back, not searched again; the others were searched once, after the kill.
    assert _stored_at(stack, frame_chunk_key(job_id, 0)) == first_chunk_at
    assert [_searched_by(stack, job_id, chunk) for chunk in range(CHUNKS)] == [killed, restarted, restarted]


@pytest.mark.parametrize(
    ("program", "hold", "task"),
    [
        ("provenance", "provenance", declared("provenance").task),
        ("detector", "detect", declared("detect").task),
        (DETECT_FRAMES.service, DETECT_FRAMES.task, DETECT_FRAMES.task),
        ("classifier", "classify", declared("classify").task),
        ("annotator", "annotate", declared("annotate").task),
    ],
)
def test_each_worker_killed_while_holding_a_video_job_gets_it_redelivered(stack, clip, program, hold, task):
    set_stage_delay(stack.redis, hold, 30)
    with stack.client() as client:
        job_id = submit(client, clip, name="clip.mp4")
        stack.wait_held(job_id, task, timeout_s=120)
        killed = stack.pid(program)
        os.kill(killed, signal.SIGKILL)
        set_stage_delay(stack.redis, hold, 0)
        stack.wait_running(program, not_pid=killed)
        document = wait_final(client, job_id, timeout_s=VISIBILITY_TIMEOUT_S + 150)
    _check_video_job(stack, job_id, document)


@pytest.mark.parametrize("program", ["s3", "redis"])
def test_storage_or_redis_down_between_chunks_is_retried_and_keeps_the_stored_chunk(stack, clip, program):
    set_stage_delay(stack.redis, CHUNK_HOOK, 60)
    with stack.client() as client:
        job_id = submit(client, clip, name="clip.mp4", threshold="0.55" if program == "s3" else "0.6")
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
    _check_video_job(stack, job_id, document)
    assert _stored_at(stack, frame_chunk_key(job_id, 0)) == first_chunk_at
