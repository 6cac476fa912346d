"""The job record's atomic operations against a real Redis."""

from __future__ import annotations

import os
import uuid

import pytest

from services.contract.jobs import JobStatus, JobStore
from tests.support.records import create_job, stored


@pytest.fixture
def jobs(backends) -> JobStore:
    store = JobStore.from_url(backends.settings.redis_url.rsplit("/", 1)[0] + "/2")
    store.redis.flushdb()
    return store


def new_job(jobs: JobStore, **fields) -> str:
    job_id = uuid.uuid4().hex
    create_job(jobs, job_id, **fields)
    return job_id


def test_chunk_fan_in_counts_each_chunk_once_even_when_redelivered(jobs):
    job_id = new_job(jobs, chunks_total=2)

    first = jobs.record_chunk_scores(job_id, 0, {0: {"p": 0.1}, 1: {"p": 0.2}})
    again = jobs.record_chunk_scores(job_id, 0, {0: {"p": 0.1}, 1: {"p": 0.2}})
    last = jobs.record_chunk_scores(job_id, 1, {2: {"p": 0.9}})

    assert first == (True, 1)
    assert again == (False, 1), "a redelivered chunk is not counted twice"
    assert last == (True, 2)
    assert sorted(jobs.scores(job_id)) == [0, 1, 2]
    record = stored(jobs, job_id)
    assert (record["chunks_done"], record["faces_scored"]) == ("2", "3")


def test_frame_chunk_fan_in_counts_each_chunk_and_its_frames_once(jobs):
    job_id = new_job(jobs, media="video", frames_total=12)

    first = jobs.record_frame_chunk(job_id, 0, 8)
    again = jobs.record_frame_chunk(job_id, 0, 8)
    last = jobs.record_frame_chunk(job_id, 1, 3)

    assert (first, again, last) == ((True, 1), (False, 1), (True, 2))
    record = stored(jobs, job_id)
    assert record["frames_detected"] == "11", "a redelivered chunk's frames are not counted twice"
    assert record["updated_by"] == jobs.writer
    jobs.delete(job_id)
    assert jobs.record_frame_chunk(job_id, 2, 1) == (False, -1)
    assert not jobs.exists(job_id), "a late chunk never brings back a deleted job"
    assert not jobs.redis.exists(f"fakeweb:job:{job_id}:frame_chunks")


def test_complete_ends_an_open_job(jobs):
    job_id = new_job(jobs)
    jobs.start_stage(job_id, "annotate")

    assert jobs.complete(job_id, JobStatus.COMPLETED, faces_annotated=3) is True

    record = stored(jobs, job_id)
    assert (record["status"], record["stage"], record["faces_annotated"]) == ("completed", "", "3")


def test_complete_never_overwrites_a_job_the_sweeper_failed(jobs):
    job_id = new_job(jobs)
    jobs.start_stage(job_id, "annotate")
    jobs.fail(job_id, "timeout", "The annotate stage did not move for 1800 s.")

    assert jobs.complete(job_id, JobStatus.COMPLETED) is False

    record = stored(jobs, job_id)
    assert (record["status"], record["reason"]) == ("failed", "timeout")


def test_complete_does_not_bring_back_a_deleted_job(jobs):
    job_id = new_job(jobs)
    jobs.delete(job_id)

    assert jobs.complete(job_id, JobStatus.COMPLETED) is False
    assert not jobs.exists(job_id)


def test_fail_keeps_the_first_final_state(jobs):
    job_id = new_job(jobs)
    jobs.complete(job_id, JobStatus.NO_FACE)

    jobs.fail(job_id, "internal_error", "late failure")

    assert stored(jobs, job_id)["status"] == "no_face"


def test_start_stage_keeps_the_first_start_time_on_redelivery(jobs):
    job_id = new_job(jobs)
    jobs.start_stage(job_id, "detect")
    first = stored(jobs, job_id)["detect_started"]

    jobs.start_stage(job_id, "detect")

    record = stored(jobs, job_id)
    assert record["detect_started"] == first
    assert (record["status"], record["stage"]) == ("running", "detect")


def test_reads_are_typed_records_and_writes_stamp_who_and_when(jobs):
    job_id = new_job(jobs, include_landmarks=True)
    stage_store = JobStore(jobs.redis, service="detector")

    created = jobs.get(job_id)
    assert (created.status, created.threshold, created.include_landmarks) == (JobStatus.QUEUED, 0.5, True)
    assert created.tenant == "test" and created.updated_by
    assert stage_store.update(job_id, faces_total=4) is True

    record = jobs.get(job_id)
    assert record.faces_total == 4
    assert record.updated_by.startswith("detector@") and record.updated_by.endswith(f":{os.getpid()}")
    assert record.updated_at >= created.updated_at


def test_bookkeeping_writes_leave_the_progress_stamp_alone(jobs):
    job_id = new_job(jobs)
    before = stored(jobs, job_id)
    assert JobStore(jobs.redis, service="webhook").update_if_exists(job_id, webhook_attempts=1) is True
    after = stored(jobs, job_id)
    assert after["webhook_attempts"] == "1"
    assert (after["updated_at"], after["updated_by"]) == (before["updated_at"], before["updated_by"])


def test_a_late_write_never_brings_back_a_deleted_job(jobs):
    job_id = new_job(jobs)
    jobs.delete(job_id)
    assert jobs.update(job_id, faces_total=1) is False
    assert jobs.finish_stage(job_id, "detect") is False
    assert jobs.start_stage(job_id, "detect") is None
    assert not jobs.exists(job_id)


def test_start_stage_answers_the_record_and_leaves_an_ended_job_alone(jobs):
    job_id = new_job(jobs, callback_url="https://example.com/hook")
    record = jobs.start_stage(job_id, "classify")
    assert (record.status, record.stage, record.callback_url) == (
        JobStatus.RUNNING,
        "classify",
        "https://example.com/hook",
    )
    assert "classify" in record.started

    jobs.complete(job_id, JobStatus.COMPLETED)
    assert jobs.start_stage(job_id, "annotate") is None
    assert "annotate_started" not in stored(jobs, job_id)


def test_fail_if_idle_spares_a_job_that_moved_after_the_cutoff(jobs):
    job_id = new_job(jobs)
    updated_at = jobs.get(job_id).updated_at
    assert jobs.fail_if_idle(job_id, updated_at - 1, "timeout", "idle", now=updated_at + 100) is False
    assert jobs.fail_if_idle(job_id, updated_at, "timeout", "idle", now=updated_at + 100) is True
    record = jobs.get(job_id)
    assert (record.status, record.reason, record.updated_at) == (JobStatus.FAILED, "timeout", updated_at + 100)
