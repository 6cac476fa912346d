"""The job store: one Redis hash per job (``services.contract.record.JobRecord``), its indexes and side keys.

Every read returns a typed ``JobRecord``; every write takes record fields and writes only those.
Writes that move a job stamp ``updated_at`` and ``updated_by`` (this store's ``writer``). A late
writer never resurrects a deleted job and never reopens one that has ended: those writes are
Lua scripts that check the record first. The classify fan-in and a video's frame-chunk fan-in
are counted here, atomically and idempotently, instead of with a Celery chord.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

import redis

from services.contract.pipeline import stage as pipeline_stage
from services.contract.record import FINAL_STATUSES, JobRecord, JobStatus

JOB_KEY = "fakeweb:job:{job_id}"
SCORES_KEY = "fakeweb:job:{job_id}:scores"
CHUNKS_DONE_KEY = "fakeweb:job:{job_id}:chunks"
# A video job's chunks of sampled frames searched for faces (``fakeweb.detect_frames``' fan-in).
FRAME_CHUNKS_DONE_KEY = "fakeweb:job:{job_id}:frame_chunks"
JOBS_INDEX_KEY = "fakeweb:jobs"
TENANT_JOBS_KEY = "fakeweb:tenant:{tenant}:jobs"
# The gateway's admission control: the tenant's jobs admitted and not yet seen ended (services/gateway/admission.py).
TENANT_ACTIVE_KEY = "fakeweb:tenant:{tenant}:active"
# Jobs that asked for a shorter retention (``delete_after_s``), scored by when they are due for deletion.
RETENTION_DUE_KEY = "fakeweb:retention:due"

# Lua: true when the job hash KEYS[1] is gone or ended (``status`` is read into ``status``).
_GONE_OR_ENDED = "(not status) or " + " or ".join(f"status == '{final.value}'" for final in sorted(FINAL_STATUSES))

# Stores one chunk's scores and marks the chunk done in one step, then reports progress.
# KEYS: scores hash, chunks set, job hash. ARGV: chunk index, now, writer, then field/value pairs.
_RECORD_CHUNK_LUA = """
for i = 4, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
local added = redis.call('SADD', KEYS[2], ARGV[1])
local done = redis.call('SCARD', KEYS[2])
local scored = redis.call('HLEN', KEYS[1])
redis.call('HSET', KEYS[3], 'chunks_done', done, 'faces_scored', scored, 'updated_at', ARGV[2], 'updated_by', ARGV[3])
return {added, done}
"""


# Marks one chunk of a video's frames searched and counts its frames once, unless the job is gone.
# KEYS: frame chunks set, job hash. ARGV: chunk index, frames in it, now, writer. Answers {added, done}
# ({0, -1} for a job that is gone).
_RECORD_FRAME_CHUNK_LUA = """
if redis.call('EXISTS', KEYS[2]) == 0 then return {0, -1} end
local added = redis.call('SADD', KEYS[1], ARGV[1])
if added == 1 then redis.call('HINCRBY', KEYS[2], 'frames_detected', ARGV[2]) end
redis.call('HSET', KEYS[2], 'updated_at', ARGV[3], 'updated_by', ARGV[4])
return {added, redis.call('SCARD', KEYS[1])}
"""


# Sets fields only on a record that still exists, so a late writer never resurrects a deleted job.
# KEYS: job hash. ARGV: field/value pairs.
_UPDATE_IF_EXISTS_LUA = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
"""


# Sets fields unless the job is gone or ended and, with a cutoff, unless it made progress after it.
# KEYS: job hash. ARGV: cutoff ('' for none), then field/value pairs.
_SET_IF_OPEN_LUA = f"""
local status = redis.call('HGET', KEYS[1], 'status')
if {_GONE_OR_ENDED} then return 0 end
if ARGV[1] ~= '' then
  local updated = tonumber(redis.call('HGET', KEYS[1], 'updated_at') or '0') or 0
  if updated > tonumber(ARGV[1]) then return 0 end
end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
return 1
"""


# Starts a stage unless the job is gone or ended; answers the whole record (nil otherwise).
# KEYS: job hash. ARGV: the stage's start field, now, then field/value pairs.
_START_STAGE_LUA = f"""
local status = redis.call('HGET', KEYS[1], 'status')
if {_GONE_OR_ENDED} then return false end
redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
return redis.call('HGETALL', KEYS[1])
"""


class JobNotFound(Exception):
    """No record exists for the job id."""


class JobStore:
    """Reads and writes job records in Redis; ``service`` (default: the program's name) goes into ``updated_by``."""

    def __init__(self, client: redis.Redis, service: str | None = None) -> None:
        self.redis = client
        self.service = service or Path(sys.argv[0]).stem or "python"
        self._record_chunk = client.register_script(_RECORD_CHUNK_LUA)
        self._record_frame_chunk = client.register_script(_RECORD_FRAME_CHUNK_LUA)
        self._set_if_open = client.register_script(_SET_IF_OPEN_LUA)
        self._update_if_exists = client.register_script(_UPDATE_IF_EXISTS_LUA)
        self._start_stage = client.register_script(_START_STAGE_LUA)

    @classmethod
    def from_url(cls, url: str, service: str | None = None) -> JobStore:
        """A store on a fresh connection pool with short socket timeouts."""
        client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=3, decode_responses=True)
        return cls(client, service)

    @property
    def writer(self) -> str:
        """``service@host:pid``: what this process stamps into ``updated_by``."""
        return f"{self.service}@{socket.gethostname()}:{os.getpid()}"

    def _moved(self, record: JobRecord, now: float | None = None) -> list[str]:
        """The record's changed fields plus the progress stamp, as a flat field/value list."""
        record.updated_at = time.time() if now is None else now
        record.updated_by = self.writer
        return _flat(record.to_redis())

    def create_for_tenant(self, job_id: str, tenant: str, record: JobRecord) -> None:
        """Write a new record owned by ``tenant`` (``record`` may set another status) and index it for the tenant."""
        now = time.time()
        record.tenant = tenant
        record.created_at = now
        record.touch("status", "stage")
        pipe = self.redis.pipeline()
        pipe.hset(JOB_KEY.format(job_id=job_id), mapping=_pairs(self._moved(record, now)))
        pipe.zadd(JOBS_INDEX_KEY, {job_id: now})
        pipe.zadd(TENANT_JOBS_KEY.format(tenant=tenant), {job_id: now})
        if record.delete_after_s:
            pipe.zadd(RETENTION_DUE_KEY, {job_id: now + record.delete_after_s})
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

    def get_many(self, job_ids: list[str]) -> dict[str, JobRecord]:
        """Records of the given jobs that exist, by id."""
        pipe = self.redis.pipeline(transaction=False)
        for job_id in job_ids:
            pipe.hgetall(JOB_KEY.format(job_id=job_id))
        answers = zip(job_ids, pipe.execute(), strict=True)
        return {job_id: JobRecord.from_redis(raw) for job_id, raw in answers if raw}

    def peek_many(self, job_ids: list[str], fields: list[str]) -> list[JobRecord | None]:
        """Records of the given jobs, in order, read for ``fields`` only (the rest at defaults).

        None where a job has no record (no ``status``). Record field names; ``started``/``finished``
        read every stage's time.
        """
        wire = JobRecord.wire_names(["status", *fields])
        pipe = self.redis.pipeline(transaction=False)
        for job_id in job_ids:
            pipe.hmget(JOB_KEY.format(job_id=job_id), wire)
        records: list[JobRecord | None] = []
        for values in pipe.execute():
            raw = {name: value for name, value in zip(wire, values, strict=True) if value is not None}
            records.append(JobRecord.from_redis(raw) if "status" in raw else None)
        return records

    def find(self, job_id: str) -> JobRecord | None:
        """The record, or None if the job has none."""
        raw = self.redis.hgetall(JOB_KEY.format(job_id=job_id))
        return JobRecord.from_redis(raw) if raw else None

    def get(self, job_id: str) -> JobRecord:
        """The record; raise JobNotFound."""
        record = self.find(job_id)
        if record is None:
            raise JobNotFound(job_id)
        return record

    def exists(self, job_id: str) -> bool:
        """True if the job has a record."""
        return bool(self.redis.exists(JOB_KEY.format(job_id=job_id)))

    def update(self, job_id: str, **fields: Any) -> bool:
        """Set record fields, stamping ``updated_at``/``updated_by``, unless the record is gone; True if it existed."""
        return bool(self._update_if_exists(keys=[JOB_KEY.format(job_id=job_id)], args=self._moved(JobRecord(**fields))))

    def update_if_exists(self, job_id: str, **fields: Any) -> bool:
        """Set bookkeeping fields without the progress stamp unless the record is gone; return whether it existed."""
        argv = _flat(JobRecord(**fields).to_redis())
        return bool(self._update_if_exists(keys=[JOB_KEY.format(job_id=job_id)], args=argv))

    def start_stage(self, job_id: str, stage: str) -> JobRecord | None:
        """Mark ``stage`` running and return the record; None (nothing written) if the job is gone or ended.

        A redelivered task keeps the first start time.
        """
        name = pipeline_stage(stage).name
        now = time.time()
        fields = self._moved(JobRecord(status=JobStatus.RUNNING, stage=name), now)
        ((start_field, start_value),) = JobRecord(started={name: now}).to_redis().items()
        raw = self._start_stage(keys=[JOB_KEY.format(job_id=job_id)], args=[start_field, start_value, *fields])
        return JobRecord.from_redis(_pairs(raw)) if raw else None

    def finish_stage(self, job_id: str, stage: str, **fields: Any) -> bool:
        """Record the end of ``stage`` together with any result fields."""
        return self.update(job_id, finished={pipeline_stage(stage).name: time.time()}, **fields)

    def complete(self, job_id: str, status: JobStatus, **fields: Any) -> bool:
        """Put the job in a final state unless it already has one (the sweeper may have failed it).

        Returns True if this call ended the job.
        """
        record = JobRecord(status=status, stage=None, **fields)
        return bool(self._set_if_open(keys=[JOB_KEY.format(job_id=job_id)], args=["", *self._moved(record)]))

    def fail(self, job_id: str, reason: str, message: str) -> bool:
        """Mark the job failed with a stable reason code, unless it is gone or already ended; True if it did."""
        record = JobRecord(status=JobStatus.FAILED, reason=reason, message=message)
        return bool(self._set_if_open(keys=[JOB_KEY.format(job_id=job_id)], args=["", *self._moved(record)]))

    def fail_if_idle(self, job_id: str, cutoff: float, reason: str, message: str, now: float) -> bool:
        """Fail the job unless it ended or made progress after ``cutoff`` (the sweeper); True if it did."""
        record = JobRecord(status=JobStatus.FAILED, reason=reason, message=message)
        argv = [repr(cutoff), *self._moved(record, now)]
        return bool(self._set_if_open(keys=[JOB_KEY.format(job_id=job_id)], args=argv))

    def record_chunk_scores(self, job_id: str, chunk: int, scores: dict[int, dict[str, Any]]) -> tuple[bool, int]:
        """Store one classify chunk's face scores; return (newly recorded, chunks done so far)."""
        argv: list[Any] = [chunk, time.time(), self.writer]
        for face_index, score in scores.items():
            argv += [face_index, json.dumps(score)]
        keys = [SCORES_KEY.format(job_id=job_id), CHUNKS_DONE_KEY.format(job_id=job_id), JOB_KEY.format(job_id=job_id)]
        added, done = self._record_chunk(keys=keys, args=argv)
        return bool(added), int(done)

    def record_frame_chunk(self, job_id: str, chunk: int, frames: int) -> tuple[bool, int]:
        """Mark a video's chunk of sampled frames searched, adding its ``frames`` to ``frames_detected`` once.

        Returns (newly recorded, chunks done so far); chunks done is -1 when the job is gone.
        """
        keys = [FRAME_CHUNKS_DONE_KEY.format(job_id=job_id), JOB_KEY.format(job_id=job_id)]
        added, done = self._record_frame_chunk(keys=keys, args=[chunk, frames, repr(time.time()), self.writer])
        return bool(added), int(done)

    def scores(self, job_id: str) -> dict[int, dict[str, Any]]:
        """All face scores recorded for a job, by face index."""
        raw = self.redis.hgetall(SCORES_KEY.format(job_id=job_id))
        return {int(k): json.loads(v) for k, v in raw.items()}

    def delete(self, job_id: str) -> None:
        """Remove the record, its side keys and its entries in the job indexes."""
        tenant = self.redis.hget(JOB_KEY.format(job_id=job_id), "tenant")
        pipe = self.redis.pipeline()
        if tenant:
            pipe.zrem(TENANT_JOBS_KEY.format(tenant=tenant), job_id)
            pipe.zrem(TENANT_ACTIVE_KEY.format(tenant=tenant), job_id)
        pipe.delete(
            JOB_KEY.format(job_id=job_id),
            SCORES_KEY.format(job_id=job_id),
            CHUNKS_DONE_KEY.format(job_id=job_id),
            FRAME_CHUNKS_DONE_KEY.format(job_id=job_id),
        )
        pipe.zrem(JOBS_INDEX_KEY, job_id)
        pipe.zrem(RETENTION_DUE_KEY, job_id)
        pipe.execute()


def _flat(fields: dict[str, str]) -> list[str]:
    return [part for pair in fields.items() for part in pair]


def _pairs(flat: list[str]) -> dict[str, str]:
    return dict(zip(flat[::2], flat[1::2], strict=True))
