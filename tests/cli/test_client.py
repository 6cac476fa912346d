"""The CLI's client: where server and key come from, and how API errors read."""

from __future__ import annotations

import argparse
from pathlib import Path

import httpx
import pytest

from fakeweb_cli.client import DEFAULT_SERVER, ApiError, Connection, FakewebClient, connection_from
from fakeweb_cli.scan import ScanItem, output_path, stage_fraction


def test_flags_beat_environment_which_beats_the_default():
    env = {"FAKEWEB_SERVER": "http://env:1/", "FAKEWEB_API_KEY": "env-key"}

    flags = connection_from(argparse.Namespace(server="http://flag:2", api_key="flag-key"), env)
    from_env = connection_from(argparse.Namespace(server=None, api_key=None), env)
    default = connection_from(argparse.Namespace(server=None, api_key=None), {})

    assert flags == Connection("http://flag:2", "flag-key")
    assert from_env == Connection("http://env:1", "env-key")
    assert default == Connection(DEFAULT_SERVER, None)


def test_api_errors_carry_the_gateways_code_and_message_and_the_key_is_sent():
    seen = {}

    def gateway(request: httpx.Request) -> httpx.Response:
        seen["key"] = request.headers.get("x-api-key")
        body = {"error": {"code": "rate_limited", "message": "Slow down."}}
        return httpx.Response(429, json=body, headers={"Retry-After": "3"})

    client = FakewebClient(Connection("http://gw", "k1"), transport=httpx.MockTransport(gateway))
    with pytest.raises(ApiError) as caught:
        client.job("abc")
    error = caught.value
    assert seen["key"] == "k1"
    assert (error.status, error.code, error.message, error.retry_after) == (429, "rate_limited", "Slow down.", 3.0)


def test_job_list_follows_cursors_up_to_the_limit():
    pages = {None: (["a", "b"], "c1"), "c1": (["c", "d"], "c2"), "c2": (["e"], None)}

    def gateway(request: httpx.Request) -> httpx.Response:
        ids, cursor = pages[request.url.params.get("cursor")]
        return httpx.Response(200, json={"jobs": [{"id": i} for i in ids], "next_cursor": cursor})

    client = FakewebClient(Connection("http://gw", None), transport=httpx.MockTransport(gateway))
    assert [job["id"] for job in client.list_jobs(limit=3)] == ["a", "b", "c"]
    assert [job["id"] for job in client.list_jobs(limit=50)] == ["a", "b", "c", "d", "e"]


def test_outputs_go_next_to_the_photo_or_into_out_and_never_collide(tmp_path):
    taken: set[Path] = set()
    first = ScanItem(source="a/p.jpg", path=Path("a/p.jpg"), job_id="1" * 32)
    second = ScanItem(source="b/p.jpg", path=Path("b/p.jpg"), job_id="2" * 32)
    url = ScanItem(source="https://x/y/z.png?s=1", url="https://x/y/z.png?s=1", job_id="3" * 32)

    assert output_path(first, None, taken) == Path("a/p.fakeweb.jpg")
    assert output_path(first, tmp_path, taken) == tmp_path / "p.fakeweb.jpg"
    assert output_path(second, tmp_path, taken) == tmp_path / "p.22222222.fakeweb.jpg"
    assert output_path(url, tmp_path, taken) == tmp_path / "z.fakeweb.jpg"


def test_progress_grows_through_the_stages():
    steps = [
        {"status": "queued"},
        {"status": "running", "stage": "detect"},
        {"status": "running", "stage": "classify", "progress": {"faces_judgeable": 4, "faces_scored": 0}},
        {"status": "running", "stage": "classify", "progress": {"faces_judgeable": 4, "faces_scored": 4}},
        {"status": "running", "stage": "annotate"},
        {"status": "completed"},
    ]
    fractions = [stage_fraction(step) for step in steps]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and fractions[0] < 0.05
