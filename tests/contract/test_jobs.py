"""The job record's atomic operations against a real Redis."""

from __future__ import annotations

import uuid

import pytest

from services.contract.jobs import JobStatus, JobStore, Stage


@pytest.fixture
def jobs(backends) -> JobStore:
    store = JobStore.from_url(backends.settings.redis_url.rsplit("/", 1)[0] + "/2")
    store.redis.flushdb()
    return store


def new_job(jobs: JobStore, **fields) -> str:
    job_id = uuid.uuid4().hex
    jobs.create(job_id, {"threshold": 0.5, **fields})
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
    record = jobs.get(job_id)
    assert (record["chunks_done"], record["faces_scored"]) == ("2", "3")


def test_complete_ends_an_open_job(jobs):
    job_id = new_job(jobs)
    jobs.start_stage(job_id, Stage.ANNOTATE)

    assert jobs.complete(job_id, JobStatus.COMPLETED, faces_annotated=3) is True

    record = jobs.get(job_id)
    assert (record["status"], record["stage"], record["faces_annotated"]) == ("completed", "", "3")


def test_complete_never_overwrites_a_job_the_sweeper_failed(jobs):
    job_id = new_job(jobs)
    jobs.start_stage(job_id, Stage.ANNOTATE)
    jobs.fail(job_id, "timeout", "The annotate stage did not move for 1800 s.")

    assert jobs.complete(job_id, JobStatus.COMPLETED) is False

    record = jobs.get(job_id)
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

    assert jobs.get(job_id)["status"] == "no_face"


def test_start_stage_keeps_the_first_start_time_on_redelivery(jobs):
    job_id = new_job(jobs)
    jobs.start_stage(job_id, Stage.DETECT)
    first = jobs.get(job_id)["detect_started"]

    jobs.start_stage(job_id, Stage.DETECT)

    record = jobs.get(job_id)
    assert record["detect_started"] == first
    assert (record["status"], record["stage"]) == ("running", "detect")
