"""``fakeweb scan`` waits and submits again on 429/503 (they stored nothing), honouring Retry-After.

A unit test: the gateway is faked by an httpx transport that answers the way admission control
does (tests/gateway/test_admission.py checks those answers on the real gateway).
"""

from __future__ import annotations

import httpx

from fakeweb_cli.client import Connection, FakewebClient
from fakeweb_cli.scan import ScanItem, submit


def gateway_answering(*answers: tuple[int, str, str | None]) -> tuple[httpx.MockTransport, list[int]]:
    """A transport answering POST /v1/jobs with the given (status, code, Retry-After) in turn, then 202."""
    calls: list[int] = []

    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) <= len(answers):
            status, code, retry_after = answers[len(calls) - 1]
            headers = {"Retry-After": retry_after} if retry_after else {}
            return httpx.Response(status, json={"error": {"code": code, "message": f"{code}."}}, headers=headers)
        return httpx.Response(202, json={"id": "abc123", "status": "queued", "links": {}})

    return httpx.MockTransport(handle), calls


def client_on(transport: httpx.MockTransport) -> FakewebClient:
    return FakewebClient(Connection(server="http://gateway.test", api_key="k"), transport=transport)


def test_a_capped_or_overloaded_submission_is_sent_again_after_retry_after(tmp_path):
    photo = tmp_path / "p.jpg"
    photo.write_bytes(b"jpeg")
    transport, calls = gateway_answering((429, "too_many_jobs", "3"), (503, "overloaded", "7"))
    slept: list[float] = []
    item = ScanItem(source=str(photo), path=photo)
    with client_on(transport) as client:
        submit(client, item, None, wait_s=60, sleep=slept.append)
    assert item.job_id == "abc123" and item.error is None
    assert slept == [3.0, 7.0] and len(calls) == 3


def test_it_gives_up_once_the_wait_would_pass_the_timeout_and_never_retries_a_4xx(tmp_path):
    photo = tmp_path / "p.jpg"
    photo.write_bytes(b"jpeg")
    transport, calls = gateway_answering((503, "overloaded", "30"))
    item = ScanItem(source=str(photo), path=photo)
    with client_on(transport) as client:
        submit(client, item, None, wait_s=10, sleep=lambda _: None)
    assert item.error is not None and item.error.code == "overloaded" and len(calls) == 1

    transport, calls = gateway_answering((415, "unsupported_media_type", None))
    item = ScanItem(source=str(photo), path=photo)
    with client_on(transport) as client:
        submit(client, item, None, wait_s=60, sleep=lambda _: None)
    assert item.error is not None and item.error.status == 415 and len(calls) == 1
