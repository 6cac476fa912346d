"""Job records in tests: make one as a stage finds it, and read back the Redis hash as stored.

Tests assert on the hash itself (``"3"``, ``"1"``, field present or not) to prove the wire layout
stays what earlier versions wrote; services read the typed ``JobRecord``.
"""

from __future__ import annotations

from typing import Any

from services.contract.jobs import JOB_KEY, JobStore
from services.contract.record import JobRecord

TEST_TENANT = "test"


def create_job(jobs: JobStore, job_id: str, **fields: Any) -> None:
    """Write a new record (status ``queued`` unless ``fields`` say otherwise) owned by the test tenant."""
    jobs.create_for_tenant(job_id, TEST_TENANT, JobRecord(**{"threshold": 0.5, **fields}))


def stored(jobs: JobStore, job_id: str) -> dict[str, str]:
    """The record's hash exactly as Redis holds it."""
    return jobs.redis.hgetall(JOB_KEY.format(job_id=job_id))
