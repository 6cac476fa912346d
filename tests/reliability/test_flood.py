"""A bounded flood: submissions at several times the stack's measured capacity, for a fixed time.

The stack (its own, with small admission bounds) first measures its capacity: jobs completed per
second for a few jobs submitted at once. Then three tenants submit at ``FLOOD_FACTOR`` times that
rate for ``FLOOD_S`` seconds. Every answer must be a 202, or a 429 ``too_many_jobs`` / 503
``overloaded`` with ``Retry-After``; every accepted job must end exactly once with its result,
nothing may be stored for a refused one, Redis memory and worker RSS stay under the bounds below,
and the queues must drain afterwards. The figures are printed (run with ``-s``) and written to
``flood-summary.json`` in the stack's folder.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from services.contract.jobs import JOBS_INDEX_KEY
from services.contract.pipeline import PIPELINE
from tests.reliability.stackops import (
    FINAL,
    WORKER_PROGRAMS,
    WORKER_RSS_BOUND_KB,
    RssSampler,
    check_one_result_per_face,
    start_stack,
    wait_final,
)

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

FLOOD_S = float(os.environ.get("FAKEWEB_FLOOD_S", "20"))
FLOOD_FACTOR = 5  # submissions per second, as a multiple of the measured completions per second
TENANTS = {"flood-a": "flood-a-key-0123456789", "flood-b": "flood-b-key-0123456789", "flood-c": "flood-c-key-01234567"}
MAX_ACTIVE_PER_TENANT = 6
MAX_QUEUE_DEPTH = 8
REDIS_MEMORY_BOUND_BYTES = 256 * 1024 * 1024
STAGE_QUEUES = tuple(spec.queue for spec in PIPELINE)


@pytest.fixture(scope="module")
def flood_stack(tmp_path_factory):
    keys = ",".join(f"{tenant}:{key}" for tenant, key in TENANTS.items())
    started = start_stack(
        tmp_path_factory.mktemp("flood-stack"),
        api_keys=f"dev:fakeweb-dev-key,{keys}",
        max_active_jobs_per_tenant=MAX_ACTIVE_PER_TENANT,
        max_queue_depth=MAX_QUEUE_DEPTH,
        overload_retry_after_s=1,
    )
    try:
        yield started
    finally:
        started.stack.stop()


class Sampler(RssSampler):
    """Besides each worker's RSS: the deepest each stage queue got and Redis used_memory; keeps the peaks."""

    def __init__(self, stack, pids: dict[str, int]) -> None:
        super().__init__(pids)
        self.stack = stack
        self.peak_queue = dict.fromkeys(STAGE_QUEUES, 0)
        self.peak_queued_total = 0  # all stage queues read at one instant (MULTI/EXEC)
        self.peak_redis_bytes = 0

    def sample(self) -> None:
        super().sample()
        pipe = self.stack.redis.pipeline(transaction=True)
        for queue in STAGE_QUEUES:
            pipe.llen(queue)
        depths = dict(zip(STAGE_QUEUES, pipe.execute(), strict=True))
        for queue, depth in depths.items():
            self.peak_queue[queue] = max(self.peak_queue[queue], depth)
        self.peak_queued_total = max(self.peak_queued_total, sum(depths.values()))
        self.peak_redis_bytes = max(self.peak_redis_bytes, int(self.stack.redis.info("memory")["used_memory"]))


def tenant_client(stack, key: str) -> httpx.Client:
    return httpx.Client(base_url=stack.url, timeout=60, headers={"X-API-Key": key})


def measure_capacity(stack, photo: bytes, jobs: int = 5) -> float:
    """Jobs completed per second for ``jobs`` submitted at once (one tenant, under every bound)."""
    with stack.client() as client:
        started = time.monotonic()
        ids = []
        for number in range(jobs):
            answer = client.post("/v1/jobs", files={"image": (f"warm-{number}.jpg", photo, "image/jpeg")})
            assert answer.status_code == 202, answer.text
            ids.append(answer.json()["id"])
        for job_id in ids:
            assert wait_final(client, job_id)["status"] == "completed"
        return jobs / (time.monotonic() - started)


def test_a_flood_is_refused_with_retry_after_and_every_accepted_job_ends_once(flood_stack, photos):
    stack = flood_stack
    measure_capacity(stack, photos.single, jobs=2)  # warm every stage up first
    capacity = measure_capacity(stack, photos.single)
    rate = FLOOD_FACTOR * capacity
    pids = {program: stack.pid(program) for program in WORKER_PROGRAMS}
    jobs_before = stack.redis.zcard(JOBS_INDEX_KEY)
    prefixes_before = {key.split("/")[1] for key in stack.store.list_keys("jobs/")}
    sampler = Sampler(stack, pids)
    sampler.start()

    tenants = list(TENANTS.items())
    plan = [(photos.single, 1), (photos.empty, 0)]
    accepted: list[tuple[str, str, int]] = []  # (tenant, job id, faces)
    refused: Counter[str] = Counter()
    wrong: list[tuple[int, str, str | None]] = []
    lock = threading.Lock()
    clients = {tenant: tenant_client(stack, key) for tenant, key in tenants}
    flood_started = time.monotonic()

    def one(number: int) -> None:
        time.sleep(max(0.0, flood_started + number / rate - time.monotonic()))  # paced at ``rate``
        tenant, _ = tenants[number % len(tenants)]
        photo, faces = plan[number % len(plan)]
        answer = clients[tenant].post("/v1/jobs", files={"image": (f"flood-{number}.jpg", photo, "image/jpeg")})
        with lock:
            if answer.status_code == 202:
                accepted.append((tenant, answer.json()["id"], faces))
                return
            code = answer.json().get("error", {}).get("code") if answer.content else None
            expected = {429: "too_many_jobs", 503: "overloaded"}.get(answer.status_code)
            if code != expected or not answer.headers.get("Retry-After", "").isdigit():
                wrong.append((answer.status_code, answer.text[:200], answer.headers.get("Retry-After")))
            refused[f"{answer.status_code} {code}"] += 1

    submissions = int(rate * FLOOD_S)
    try:
        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(one, range(submissions)))
        flood_s = time.monotonic() - flood_started
        finals: dict[str, dict] = {}
        for tenant, job_id, _ in accepted:
            finals[job_id] = wait_final(clients[tenant], job_id, timeout_s=300, poll_s=0.5)
        drain_deadline = time.monotonic() + 60
        while time.monotonic() < drain_deadline:
            if not any(stack.redis.llen(queue) for queue in STAGE_QUEUES) and not stack.redis.hlen("unacked"):
                break
            time.sleep(0.5)
        drained_s = time.monotonic() - flood_started
    finally:
        sampler.stop.set()
        sampler.join()
        for client in clients.values():
            client.close()

    summary = {
        "capacity_jobs_per_s": round(capacity, 2),
        "offered_per_s": round(submissions / flood_s, 2),
        "flood_s": round(flood_s, 1),
        "submitted": submissions,
        "accepted": len(accepted),
        "refused": dict(refused),
        "completed": sum(1 for d in finals.values() if d["status"] in FINAL),
        "seconds_until_drained": round(drained_s, 1),
        "peak_queue_depth": sampler.peak_queue,
        "peak_queued_total": sampler.peak_queued_total,
        "peak_redis_mb": round(sampler.peak_redis_bytes / 2**20, 1),
        "peak_worker_rss_mb": {k: round(v / 1024) for k, v in sampler.peak_kb.items()},
        "bounds": {
            "max_active_jobs_per_tenant": MAX_ACTIVE_PER_TENANT,
            "max_queue_depth": MAX_QUEUE_DEPTH,
            "redis_mb": REDIS_MEMORY_BOUND_BYTES // 2**20,
            "worker_rss_mb": WORKER_RSS_BOUND_KB // 1024,
        },
    }
    (stack.stack.data_dir / "flood-summary.json").write_text(json.dumps(summary, indent=2))
    print("\nFLOOD", json.dumps(summary))

    assert not wrong, wrong[:5]
    assert accepted and sum(refused.values()) > 0, summary  # the flood was big enough to be refused
    assert len(accepted) + sum(refused.values()) == submissions
    # Every accepted job ended, once, with its result; none failed.
    ids = [job_id for _, job_id, _ in accepted]
    assert len(ids) == len(set(ids))
    for _, job_id, faces in accepted:
        document = finals[job_id]
        assert document["status"] == ("completed" if faces else "no_face"), document
        assert len(document["faces"]) == faces
        check_one_result_per_face(stack, job_id, document)
    # Nothing was stored for a refused submission: the records and the objects are the accepted jobs'.
    assert stack.redis.zcard(JOBS_INDEX_KEY) - jobs_before == len(accepted)
    prefixes_after = {key.split("/")[1] for key in stack.store.list_keys("jobs/")}
    assert prefixes_after - prefixes_before == set(ids)
    # The queues drained, memory stayed bounded, no worker restarted.
    assert not any(stack.redis.llen(queue) for queue in STAGE_QUEUES) and not stack.redis.hlen("unacked"), summary
    # The queue bound is read at most 4 times a second, so it may be overshot briefly; the tenant caps are exact:
    # each active job (one face, so one classify chunk, here) has at most one message in the stage queues at a
    # time; per-queue peaks fall at different times, so only the total read at one instant is bounded by the caps.
    assert sampler.peak_queued_total <= len(TENANTS) * MAX_ACTIVE_PER_TENANT, summary
    assert sampler.peak_redis_bytes < REDIS_MEMORY_BOUND_BYTES, summary
    for program in WORKER_PROGRAMS:
        assert 0 < sampler.peak_kb[program] < WORKER_RSS_BOUND_KB, summary
    assert {program: stack.pid(program) for program in pids} == pids, "a worker restarted during the flood"
