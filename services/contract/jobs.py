"""The job record: one Redis hash per job, written by the gateway and every stage.

Fields are flat strings: ``status``, ``stage``, ``reason`` (error code), ``message``,
``created_at``/``updated_at`` (epoch seconds), per-stage ``<stage>_started``/``<stage>_finished``,
progress counters and a few JSON-encoded values. The classify fan-in is counted here,
atomically and idempotently, instead of with a Celery chord.
"""

from __future__ import annotations

import json
import time
from enum import StrEnum
from typing import Any

import redis

JOB_KEY = "fakeweb:job:{job_id}"
SCORES_KEY = "fakeweb:job:{job_id}:scores"
CHUNKS_DONE_KEY = "fakeweb:job:{job_id}:chunks"
JOBS_INDEX_KEY = "fakeweb:jobs"
TENANT_JOBS_KEY = "fakeweb:tenant:{tenant}:jobs"


class JobStatus(StrEnum):
    """Life cycle of a job as the API reports it."""

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    NO_FACE = "no_face"


FINAL_STATUSES = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.NO_FACE})


class Stage(StrEnum):
    """Pipeline stages, in order."""

    DETECT = "detect"
    CLASSIFY = "classify"
    ANNOTATE = "annotate"


# Stores one chunk's scores and marks the chunk done in one step, then reports progress.
# KEYS: scores hash, chunks set, job hash. ARGV: chunk index, now, then field/value pairs.
_RECORD_CHUNK_LUA = """
for i = 3, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
local added = redis.call('SADD', KEYS[2], ARGV[1])
local done = redis.call('SCARD', KEYS[2])
local scored = redis.call('HLEN', KEYS[1])
redis.call('HSET', KEYS[3], 'chunks_done', done, 'faces_scored', scored, 'updated_at', ARGV[2])
return {added, done}
"""


# Sets fields only on a record that still exists, so a late writer never resurrects a deleted job.
# KEYS: job hash. ARGV: field/value pairs.
_UPDATE_IF_EXISTS_LUA = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
"""


# Ends a job atomically unless it is gone or already final. KEYS: job hash. ARGV: field/value pairs.
_COMPLETE_IF_OPEN_LUA = """
local status = redis.call('HGET', KEYS[1], 'status')
if (not status) or status == 'completed' or status == 'failed' or status == 'no_face' then
  return 0
end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
"""


class JobNotFound(Exception):
    """No record exists for the job id."""


class JobStore:
    """Reads and writes job records in Redis."""

    def __init__(self, client: redis.Redis) -> None:
        self.redis = client
        self._record_chunk = client.register_script(_RECORD_CHUNK_LUA)
        self._complete_if_open = client.register_script(_COMPLETE_IF_OPEN_LUA)
        self._update_if_exists = client.register_script(_UPDATE_IF_EXISTS_LUA)

    @classmethod
    def from_url(cls, url: str) -> JobStore:
        """A store on a fresh connection pool with short socket timeouts."""
        return cls(redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=3, decode_responses=True))

    def create(self, job_id: str, fields: dict[str, Any]) -> None:
        """Write a new job record in status ``queued``."""
        now = time.time()
        record = {"status": JobStatus.QUEUED.value, "stage": "", "created_at": now, "updated_at": now, **fields}
        pipe = self.redis.pipeline()
        pipe.hset(JOB_KEY.format(job_id=job_id), mapping={k: _text(v) for k, v in record.items()})
        pipe.zadd(JOBS_INDEX_KEY, {job_id: now})
        pipe.execute()

    def create_for_tenant(self, job_id: str, tenant: str, fields: dict[str, Any]) -> None:
        """Write a new record owned by ``tenant`` (``fields`` may set another status) and index it for the tenant."""
        now = time.time()
        record = {"status": JobStatus.QUEUED.value, "stage": "", "created_at": now, "updated_at": now}
        record.update(fields)
        record["tenant"] = tenant
        pipe = self.redis.pipeline()
        pipe.hset(JOB_KEY.format(job_id=job_id), mapping={k: _text(v) for k, v in record.items()})
        pipe.zadd(JOBS_INDEX_KEY, {job_id: now})
        pipe.zadd(TENANT_JOBS_KEY.format(tenant=tenant), {job_id: now})
        pipe.execute()

    def list_for_tenant(self, tenant: str, limit: int, before: tuple[float, str] | None = None) -> list[str]:
        """Up to ``limit`` job ids of ``tenant``, newest first, strictly after the ``(created_at, id)`` cursor."""
        key = TENANT_JOBS_KEY.format(tenant=tenant)
        top: float | str = "+inf" if before is None else before[0]
        found: list[str] = []
        offset = 0
        while len(found) < limit:
            page = self.redis.zrevrangebyscore(key, top, "-inf", start=offset, num=limit + 1, withscores=True)
            if not page:
                break
            offset += len(page)
            for job_id, score in page:
                # Equal scores come in descending member order; skip up to and including the cursor.
                if before is not None and score == before[0] and job_id >= before[1]:
                    continue
                found.append(job_id)
                if len(found) == limit:
                    break
        return found

    def get_many(self, job_ids: list[str]) -> dict[str, dict[str, str]]:
        """Raw records of the given jobs that exist, by id."""
        pipe = self.redis.pipeline(transaction=False)
        for job_id in job_ids:
            pipe.hgetall(JOB_KEY.format(job_id=job_id))
        return {job_id: record for job_id, record in zip(job_ids, pipe.execute(), strict=True) if record}

    def get(self, job_id: str) -> dict[str, str]:
        """The raw record; raise JobNotFound."""
        record = self.redis.hgetall(JOB_KEY.format(job_id=job_id))
        if not record:
            raise JobNotFound(job_id)
        return record

    def exists(self, job_id: str) -> bool:
        """True if the job has a record."""
        return bool(self.redis.exists(JOB_KEY.format(job_id=job_id)))

    def update(self, job_id: str, **fields: Any) -> None:
        """Set fields (and ``updated_at``) on an existing record."""
        fields["updated_at"] = time.time()
        self.redis.hset(JOB_KEY.format(job_id=job_id), mapping={k: _text(v) for k, v in fields.items()})

    def update_if_exists(self, job_id: str, **fields: Any) -> bool:
        """Set fields (without touching ``updated_at``) unless the record is gone; return whether it existed."""
        argv: list[str] = []
        for name, value in fields.items():
            argv += [name, _text(value)]
        return bool(self._update_if_exists(keys=[JOB_KEY.format(job_id=job_id)], args=argv))

    def start_stage(self, job_id: str, stage: Stage) -> None:
        """Mark ``stage`` running; a redelivered task keeps the first start time."""
        key = JOB_KEY.format(job_id=job_id)
        now = time.time()
        self.redis.hsetnx(key, f"{stage.value}_started", _text(now))
        self.redis.hset(key, mapping={"status": JobStatus.RUNNING.value, "stage": stage.value, "updated_at": now})

    def finish_stage(self, job_id: str, stage: Stage, **fields: Any) -> None:
        """Record the end of ``stage`` together with any result fields."""
        self.update(job_id, **{f"{stage.value}_finished": time.time(), **fields})

    def complete(self, job_id: str, status: JobStatus, **fields: Any) -> bool:
        """Put the job in a final state unless it already has one (the sweeper may have failed it).

        Returns True if this call ended the job.
        """
        fields = {"status": status.value, "stage": "", "updated_at": time.time(), **fields}
        argv: list[str] = []
        for name, value in fields.items():
            argv += [name, _text(value)]
        return bool(self._complete_if_open(keys=[JOB_KEY.format(job_id=job_id)], args=argv))

    def fail(self, job_id: str, reason: str, message: str) -> None:
        """Mark the job failed with a stable reason code, unless it already ended."""
        record = self.redis.hgetall(JOB_KEY.format(job_id=job_id))
        if not record or record.get("status") in FINAL_STATUSES:
            return
        self.update(job_id, status=JobStatus.FAILED.value, reason=reason, message=message)

    def is_final(self, job_id: str) -> bool:
        """True if the job is gone or already in a final state (a stage should do nothing)."""
        status = self.redis.hget(JOB_KEY.format(job_id=job_id), "status")
        return status is None or status in FINAL_STATUSES

    def record_chunk_scores(self, job_id: str, chunk: int, scores: dict[int, dict[str, Any]]) -> tuple[bool, int]:
        """Store one classify chunk's face scores; return (newly recorded, chunks done so far)."""
        argv: list[Any] = [chunk, time.time()]
        for face_index, score in scores.items():
            argv += [face_index, json.dumps(score)]
        keys = [SCORES_KEY.format(job_id=job_id), CHUNKS_DONE_KEY.format(job_id=job_id), JOB_KEY.format(job_id=job_id)]
        added, done = self._record_chunk(keys=keys, args=argv)
        return bool(added), int(done)

    def scores(self, job_id: str) -> dict[int, dict[str, Any]]:
        """All face scores recorded for a job, by face index."""
        raw = self.redis.hgetall(SCORES_KEY.format(job_id=job_id))
        return {int(k): json.loads(v) for k, v in raw.items()}

    def delete(self, job_id: str) -> None:
        """Remove the record, its side keys and its entries in the job indexes."""
        tenant = self.redis.hget(JOB_KEY.format(job_id=job_id), "tenant")
        if tenant:
            self.redis.zrem(TENANT_JOBS_KEY.format(tenant=tenant), job_id)
        self.redis.delete(
            JOB_KEY.format(job_id=job_id), SCORES_KEY.format(job_id=job_id), CHUNKS_DONE_KEY.format(job_id=job_id)
        )
        self.redis.zrem(JOBS_INDEX_KEY, job_id)


def _text(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, bool):
        return "1" if value else "0"
    if value is None:
        return ""
    return str(value)
