"""Webhooks delivered by the real webhook worker (Celery, queue ``webhook``) to a real local receiver."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from services.contract.jobs import JobStore
from services.contract.tasks import make_celery, notify_job_ended
from services.gateway.app import create_app
from services.webhooks.signing import backoff_s, sign, verify
from tests.gateway.conftest import ALPHA, gateway_settings, submit
from tests.gateway.httpserver import Reply, local_server
from tests.gateway.pipeline_double import finish_job
from tests.support.images import jpeg_bytes
from tests.support.records import stored
from tests.support.servers import settings_env

ROOT = Path(__file__).resolve().parents[2]
SECRET = "webhook-test-secret-0123456789"


@pytest.fixture(scope="module")
def hook_settings(backends):
    return gateway_settings(backends, webhook_secret=SECRET, webhook_backoff_max_s=1, webhook_max_retries=3)


@pytest.fixture(scope="module")
def webhook_worker(hook_settings, tmp_path_factory):
    """``celery -A services.webhooks.worker worker -Q webhook -P solo`` on the test Redis."""
    log_path = tmp_path_factory.mktemp("webhook") / "worker.log"
    env = {**os.environ, **settings_env(hook_settings), "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-m", "celery", "-A", "services.webhooks.worker", "worker", "-Q", "webhook"]
    argv += ["-P", "solo", "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "INFO"]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    yield log_path
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def hook_client(hook_settings):
    with TestClient(create_app(hook_settings)) as client:
        yield client


def wait_for(condition, timeout_s: float = 40.0, what: str = "condition"):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_signature_is_hmac_sha256_of_the_exact_body():
    body = b'{"id":"abc","status":"completed"}'
    header = sign("s3cret", body)
    assert header == "sha256=" + __import__("hmac").new(b"s3cret", body, "sha256").hexdigest()
    assert verify("s3cret", body, header)
    assert not verify("s3cret", body + b" ", header)
    assert not verify("other", body, header)


def test_backoff_doubles_up_to_the_cap():
    assert [backoff_s(n, cap_s=30) for n in range(6)] == [2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


def test_completed_job_is_posted_signed_and_retried_after_500s(hook_client, hook_settings, backends, webhook_worker):
    answers = iter([Reply(500, b"busy"), Reply(503, b"busy"), Reply(204)])
    with local_server({"/hook": lambda _request: next(answers)}) as receiver:
        job_id = submit(hook_client, jpeg_bytes(seed=200), callback_url=receiver.url("/hook")).json()["id"]
        result = finish_job(hook_settings, job_id, faces=2)
        wait_for(lambda: len(receiver.received) >= 3, what=f"3 deliveries (log: {webhook_worker})")
        received = list(receiver.received)
    jobs = JobStore(backends.redis)
    wait_for(lambda: stored(jobs, job_id).get("webhook_status") == "delivered", what="delivered state")

    assert len(received) == 3
    for attempt, request in enumerate(received, start=1):
        assert request.method == "POST"
        assert verify(SECRET, request.body, request.headers["X-FakeWeb-Signature"])
        assert request.headers["X-FakeWeb-Event"] == "job.completed"
        assert request.headers["X-FakeWeb-Attempt"] == str(attempt)
    document = json.loads(received[-1].body)
    assert document["id"] == job_id and document["status"] == "completed"
    assert document["faces"] == [face.model_dump(mode="json") for face in result.faces]
    state = hook_client.get(f"/v1/jobs/{job_id}", headers=ALPHA).json()["webhook"]
    assert state == {"status": "delivered", "attempts": 3, "last_http_status": 204}


def test_failed_job_is_announced_with_its_error(hook_client, hook_settings, backends, webhook_worker):
    with local_server({"/hook": Reply(200)}) as receiver:
        job_id = submit(hook_client, jpeg_bytes(seed=201), callback_url=receiver.url("/hook")).json()["id"]
        jobs = JobStore(backends.redis)
        jobs.fail(job_id, "corrupt_image", "The image data is truncated or corrupt.")
        notify_job_ended(make_celery("test-stage", hook_settings), jobs, job_id)
        wait_for(lambda: receiver.received, what="delivery")
        request = receiver.received[0]
    assert request.headers["X-FakeWeb-Event"] == "job.failed"
    assert json.loads(request.body)["error"] == {
        "code": "corrupt_image",
        "message": "The image data is truncated or corrupt.",
    }


def test_a_4xx_answer_is_final_and_not_retried(hook_client, hook_settings, backends, webhook_worker):
    with local_server({"/hook": Reply(410, b"unsubscribed")}) as receiver:
        job_id = submit(hook_client, jpeg_bytes(seed=202), callback_url=receiver.url("/hook")).json()["id"]
        finish_job(hook_settings, job_id)
        jobs = JobStore(backends.redis)
        wait_for(lambda: stored(jobs, job_id).get("webhook_status") == "failed", what="failed state")
        time.sleep(1.5)  # longer than the 1 s backoff cap: a retry would have arrived
        assert len(receiver.received) == 1


def test_webhook_to_an_address_that_turned_private_is_refused_unsent(
    hook_client, hook_settings, backends, webhook_worker
):
    with local_server({"/hook": Reply(200)}) as receiver:
        job_id = submit(hook_client, jpeg_bytes(seed=203), callback_url=receiver.url("/hook")).json()["id"]
        jobs = JobStore(backends.redis)
        # As if the callback's DNS now answered a loopback address outside the test allow-list.
        jobs.update(job_id, callback_url=f"http://127.0.0.2:{receiver.port}/hook")
        finish_job(hook_settings, job_id)
        wait_for(lambda: stored(jobs, job_id).get("webhook_status") == "failed", what="refused state")
        assert receiver.received == []
    assert stored(jobs, job_id)["webhook_error"] == "url_not_allowed"


def test_notify_is_once_per_job(hook_settings, backends, webhook_worker, hook_client):
    with local_server({"/hook": Reply(200)}) as receiver:
        job_id = submit(hook_client, jpeg_bytes(seed=204), callback_url=receiver.url("/hook")).json()["id"]
        finish_job(hook_settings, job_id)
        notify_job_ended(make_celery("again", hook_settings), JobStore(backends.redis), job_id)  # a redelivery
        wait_for(lambda: receiver.received, what="delivery")
        time.sleep(1.0)
        assert len(receiver.received) == 1
