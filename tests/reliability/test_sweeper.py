"""The stuck-job sweeper's rules on a real Redis: who is failed, who is left alone, and the watermark."""

from __future__ import annotations

import secrets

import pytest
import redis

from services.contract.jobs import JOBS_INDEX_KEY, JobStore
from services.sweeper.sweep import WATERMARK_KEY, sweep_interval, sweep_once
from tests.support.records import create_job, stored

TIMEOUT_S = 60.0
NOW = 2_000_000_000.0


@pytest.fixture
def jobs(backends):
    """A job store on a database of the session's Redis that no other test uses."""
    client = redis.Redis.from_url(backends.settings.redis_url.rsplit("/", 1)[0] + "/7", decode_responses=True)
    client.flushdb()
    yield JobStore(client)
    client.flushdb()


def make_job(jobs: JobStore, created: float, updated: float, status: str, stage: str = "") -> str:
    job_id = secrets.token_hex(8)
    create_job(jobs, job_id, status=status, stage=stage or None)
    jobs.redis.hset(f"fakeweb:job:{job_id}", mapping={"created_at": created, "updated_at": updated})
    jobs.redis.zadd(JOBS_INDEX_KEY, {job_id: created})
    return job_id


def test_open_jobs_idle_past_the_deadline_fail_with_timeout_and_others_are_left_alone(jobs):
    stuck_running = make_job(jobs, NOW - 500, NOW - 100, "running", "classify")
    stuck_queued = make_job(jobs, NOW - 400, NOW - 400, "queued")
    moving = make_job(jobs, NOW - 300, NOW - 10, "running", "detect")
    young = make_job(jobs, NOW - 5, NOW - 5, "queued")
    done = make_job(jobs, NOW - 600, NOW - 590, "completed")

    report = sweep_once(jobs, TIMEOUT_S, now=NOW)

    assert sorted(report.failed) == sorted([stuck_running, stuck_queued])
    running = stored(jobs, stuck_running)
    assert (running["status"], running["reason"]) == ("failed", "timeout")
    assert "classify stage" in running["message"] and "60 s" in running["message"]
    assert "queue" in stored(jobs, stuck_queued)["message"]
    assert stored(jobs, moving)["status"] == "running"
    assert stored(jobs, young)["status"] == "queued"
    assert stored(jobs, done)["status"] == "completed" and "reason" not in stored(jobs, done)


def test_a_second_pass_changes_nothing_and_the_watermark_skips_settled_history(jobs):
    settled = [make_job(jobs, NOW - 900 + i, NOW - 890 + i, "completed") for i in range(5)]
    moving = make_job(jobs, NOW - 200, NOW - 1, "running", "annotate")
    later_done = make_job(jobs, NOW - 100, NOW - 90, "no_face")

    first = sweep_once(jobs, TIMEOUT_S, now=NOW)
    assert first.failed == [] and first.visited == 7
    # The watermark stops at the first job still open: the finished one after it is visited again.
    assert float(jobs.redis.get(WATERMARK_KEY)) == NOW - 900 + 4
    second = sweep_once(jobs, TIMEOUT_S, now=NOW + 1)
    assert second.failed == [] and second.visited == 3  # the last settled job (equal score), moving, later_done
    assert stored(jobs, moving)["status"] == "running"
    assert settled and later_done


def test_a_job_that_moved_after_it_was_read_is_not_failed(jobs, monkeypatch):
    job_id = make_job(jobs, NOW - 500, NOW - 100, "running", "detect")
    real_pipeline = jobs.redis.pipeline

    def pipeline_then_progress(*args, **kwargs):
        pipe = real_pipeline(*args, **kwargs)
        real_execute = pipe.execute

        def execute():
            answers = real_execute()
            jobs.redis.hset(f"fakeweb:job:{job_id}", "updated_at", NOW)  # the stage moves meanwhile
            return answers

        pipe.execute = execute
        return pipe

    monkeypatch.setattr(jobs.redis, "pipeline", pipeline_then_progress)
    assert sweep_once(jobs, TIMEOUT_S, now=NOW).failed == []
    assert stored(jobs, job_id)["status"] == "running"


def test_interval_is_a_tenth_of_the_deadline_within_bounds():
    assert sweep_interval(3) == 1.0
    assert sweep_interval(100) == 10.0
    assert sweep_interval(1800) == 60.0
