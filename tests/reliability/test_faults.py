"""Faults injected into the real processes of the reliability stack (tests/reliability/conftest.py):
killed and stopped workers, Redis, S3, serving and gateway restarts, and a stuck job."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from deploy.local.stack import ROOT, stop_process_group
from services.contract.pipeline import STAGE_NAMES
from services.contract.pipeline import stage as declared
from services.runtime.testhooks import set_stage_delay
from tests.reliability.conftest import BACKOFF_MAX_S, MAX_RETRIES, VISIBILITY_TIMEOUT_S
from tests.reliability.stackops import (
    KEY_HEADER,
    Stack,
    check_one_result_per_face,
    gateway_statuses,
    submit,
    wait_final,
)

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

DETECT_TASK, CLASSIFY_TASK, ANNOTATE_TASK = (declared(name).task for name in ("detect", "classify", "annotate"))
PROGRAMS = (
    "redis",
    "s3",
    "serving",
    "detector",
    "detector-frames",
    "classifier",
    "annotator",
    "webhook",
    "sweeper",
    "gateway",
)


@pytest.fixture(scope="module")
def fault_stack(stack: Stack) -> Stack:
    return stack


@pytest.fixture(autouse=True)
def healthy_afterwards(fault_stack: Stack) -> Iterator[None]:
    """Each test starts on a whole stack and leaves one: no delays, every program running, ready."""
    yield
    status = fault_stack.stack.ctl("status")
    for program in PROGRAMS:
        if not any(line.split()[:2] == [program, "RUNNING"] for line in status.splitlines()):
            fault_stack.stack.ctl("start", program)
    fault_stack.wait_ready(180)
    for name in STAGE_NAMES:
        set_stage_delay(fault_stack.redis, name, 0)


def log_since(stack: Stack, offset: int) -> str:
    return stack.stack.log_path.read_bytes()[offset:].decode(errors="replace")


def log_size(stack: Stack) -> int:
    return stack.stack.log_path.stat().st_size


@pytest.mark.parametrize(
    ("program", "stage", "task"),
    [
        ("detector", "detect", DETECT_TASK),
        ("classifier", "classify", CLASSIFY_TASK),
        ("annotator", "annotate", ANNOTATE_TASK),
    ],
)
def test_worker_killed_while_holding_a_task_gets_it_redelivered(fault_stack, photos, program, stage, task):
    set_stage_delay(fault_stack.redis, stage, 30)
    with fault_stack.client() as client:
        job_id = submit(client, photos.group)
        fault_stack.wait_held(job_id, task)
        killed = fault_stack.pid(program)
        os.kill(killed, signal.SIGKILL)
        set_stage_delay(fault_stack.redis, stage, 0)
        fault_stack.wait_running(program, not_pid=killed)
        document = wait_final(client, job_id, timeout_s=VISIBILITY_TIMEOUT_S + 150)

    assert document["status"] == "completed", document
    assert len(document["faces"]) == 3
    check_one_result_per_face(fault_stack, job_id, document)


def test_sigterm_lets_the_worker_finish_its_task_first(fault_stack, photos):
    set_stage_delay(fault_stack.redis, "detect", 60)
    with fault_stack.client() as client:
        job_id = submit(client, photos.single)
        fault_stack.wait_held(job_id, DETECT_TASK)
        stopping = fault_stack.pid("detector")
        os.kill(stopping, signal.SIGTERM)
        set_stage_delay(fault_stack.redis, "detect", 0)
        while Path(f"/proc/{stopping}").exists() and "zombie" not in _state(stopping):
            time.sleep(0.05)
        gone_at = time.time()
        # Warm shutdown: the stopping worker finished detect itself before it exited.
        detect_finished = fault_stack.record(job_id).get("detect_finished")
        assert detect_finished and float(detect_finished) <= gone_at, fault_stack.record(job_id)
        fault_stack.wait_running("detector", not_pid=stopping)
        document = wait_final(client, job_id)
    assert document["status"] == "completed", document
    check_one_result_per_face(fault_stack, job_id, document)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:", 1)[1].splitlines()[0]
    except (OSError, IndexError):
        return "zombie"


def test_redis_restart_keeps_queued_and_running_jobs_and_readyz_says_503(fault_stack, photos):
    set_stage_delay(fault_stack.redis, "detect", 60)  # released by the outage itself
    with fault_stack.client() as client:
        jobs = {submit(client, photos.group): 3, submit(client, photos.single): 1, submit(client, photos.empty): 0}
        first = next(iter(jobs))
        fault_stack.wait_held(first, DETECT_TASK)
        fault_stack.stack.ctl("stop", "redis")
        try:
            ready = client.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"]["redis"] != "ok"
            for answer in (
                client.get(f"/v1/jobs/{first}"),
                client.get("/v1/jobs"),
                client.post("/v1/jobs", files={"image": ("p.jpg", photos.single, "image/jpeg")}),
            ):
                assert answer.status_code == 503, answer.text
                assert answer.json()["error"]["code"] == "service_unavailable"
            time.sleep(2)
        finally:
            fault_stack.stack.ctl("start", "redis")
        fault_stack.wait_ready(120)
        set_stage_delay(fault_stack.redis, "detect", 0)
        documents = {job_id: wait_final(client, job_id, timeout_s=VISIBILITY_TIMEOUT_S + 150) for job_id in jobs}

    for job_id, faces in jobs.items():
        document = documents[job_id]
        assert document["status"] == ("completed" if faces else "no_face"), document
        assert len(document["faces"]) == faces
        check_one_result_per_face(fault_stack, job_id, document)


def test_short_s3_outage_is_retried_with_backoff_and_the_job_completes(fault_stack, photos):
    set_stage_delay(fault_stack.redis, "detect", 60)
    offset = log_size(fault_stack)
    with fault_stack.client() as client:
        job_id = submit(client, photos.group)
        fault_stack.wait_held(job_id, DETECT_TASK)
        fault_stack.stack.ctl("stop", "s3")
        set_stage_delay(fault_stack.redis, "detect", 0)  # detect goes on, with S3 down
        try:
            ready = client.get("/readyz")
            assert ready.status_code == 503 and ready.json()["checks"]["s3"] != "ok"
            deadline = time.monotonic() + 60
            while "StorageUnavailable" not in log_since(fault_stack, offset) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert fault_stack.record(job_id)["status"] == "running"
        finally:
            fault_stack.stack.ctl("start", "s3")
        document = wait_final(client, job_id)

    logged = log_since(fault_stack, offset)
    assert f"{DETECT_TASK}[" in logged and "retry" in logged.lower() and "StorageUnavailable" in logged
    assert document["status"] == "completed", document
    check_one_result_per_face(fault_stack, job_id, document)


def test_s3_outage_past_the_retry_budget_fails_the_job_with_a_clear_reason(fault_stack, photos):
    set_stage_delay(fault_stack.redis, "detect", 60)
    with fault_stack.client() as client:
        job_id = submit(client, photos.single)
        fault_stack.wait_held(job_id, DETECT_TASK)
        fault_stack.stack.ctl("stop", "s3")
        set_stage_delay(fault_stack.redis, "detect", 0)  # detect goes on, with S3 down
        try:
            document = wait_final(client, job_id, timeout_s=MAX_RETRIES * (BACKOFF_MAX_S + 5) + 30)
        finally:
            fault_stack.stack.ctl("start", "s3")

    assert document["status"] == "failed", document
    assert document["error"]["code"] == "dependency_unavailable"
    assert f"gave up after {MAX_RETRIES} retries" in document["error"]["message"]
    assert "S3" in document["error"]["message"]


def test_serving_down_fails_classify_cleanly_and_new_jobs_succeed_once_it_is_back(fault_stack, photos):
    fault_stack.stack.ctl("stop", "serving")
    try:
        with fault_stack.client() as client:
            job_id = submit(client, photos.single)
            document = wait_final(client, job_id, timeout_s=MAX_RETRIES * (BACKOFF_MAX_S + 5) + 30)
            assert client.get("/readyz").json()["checks"]["serving"] != "ok"
    finally:
        fault_stack.stack.ctl("start", "serving")
    assert document["status"] == "failed", document
    assert document["error"]["code"] == "serving_unavailable"
    assert f"{CLASSIFY_TASK}: gave up after {MAX_RETRIES} retries" in document["error"]["message"]
    assert document["timings"]["detect"]["finished_at"] is not None

    fault_stack.wait_ready(180)
    with fault_stack.client() as client:
        job_id = submit(client, photos.group)
        document = wait_final(client, job_id)
    assert document["status"] == "completed", document
    check_one_result_per_face(fault_stack, job_id, document)


def test_gateway_restart_still_serves_status_and_results(fault_stack, photos):
    with fault_stack.client() as client:
        job_id = submit(client, photos.group)
        before = wait_final(client, job_id)
        image_before = client.get(f"/v1/jobs/{job_id}/image").content
    old = fault_stack.pid("gateway")
    fault_stack.stack.ctl("restart", "gateway")
    assert fault_stack.wait_running("gateway", not_pid=old)
    fault_stack.wait_ready(120)
    with fault_stack.client() as client:
        after = client.get(f"/v1/jobs/{job_id}")
        image_after = client.get(f"/v1/jobs/{job_id}/image")
        listed = client.get("/v1/jobs?limit=100").json()["jobs"]
    assert after.status_code == 200
    assert after.json() == before
    assert image_after.status_code == 200 and image_after.content == image_before
    assert job_id in {job["id"] for job in listed}


def test_sweeper_fails_a_job_whose_stage_stopped_moving(fault_stack, photos):
    assert fault_stack.pid("sweeper") > 0, "the local stack runs the sweeper"
    # A second sweeper with a 3 s deadline; the stack's own one waits 600 s and stays out of the way.
    env = {**os.environ, **fault_stack.env, "FAKEWEB_STUCK_JOB_TIMEOUT_S": "3", "PYTHONPATH": str(ROOT)}
    set_stage_delay(fault_stack.redis, "classify", 60)
    with fault_stack.client() as client:
        job_id = submit(client, photos.single)
        fault_stack.wait_held(job_id, CLASSIFY_TASK)
        log_path = fault_stack.stack.data_dir / "quick-sweeper.log"
        with log_path.open("ab") as log:
            sweeper = subprocess.Popen(
                [sys.executable, "-m", "services.sweeper"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            document = wait_final(client, job_id, timeout_s=60)
        finally:
            stop_process_group(sweeper.pid, timeout_s=10)
        # Released, the held classify task sees the job ended and leaves it as it is.
        set_stage_delay(fault_stack.redis, "classify", 0)
        deadline = time.monotonic() + 60
        while fault_stack.held_by_a_worker(job_id, CLASSIFY_TASK) and time.monotonic() < deadline:
            time.sleep(0.2)
        later = client.get(f"/v1/jobs/{job_id}").json()

    assert document["status"] == "failed", document
    assert document["error"]["code"] == "timeout"
    assert "no progress" in document["error"]["message"]
    assert later["status"] == "failed" and later["error"]["code"] == "timeout"
    assert not fault_stack.held_by_a_worker(job_id, CLASSIFY_TASK)


def test_every_answer_during_the_faults_was_json(fault_stack):
    """The gateway answered 503 (never another 5xx) while the other tests broke its neighbours."""
    statuses = gateway_statuses(fault_stack)
    assert statuses and all(status < 500 or status == 503 for status in statuses), sorted(set(statuses))
    with httpx.Client(base_url=fault_stack.url, headers=KEY_HEADER) as client:
        assert client.get("/readyz").status_code == 200
