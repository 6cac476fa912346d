"""SSRF through the API: URL submissions against a real local HTTP server reachable only via the test allow-list."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from services.gateway.app import create_app
from tests.gateway.conftest import ALPHA, gateway_settings
from tests.gateway.httpserver import Reply, local_server
from tests.support.images import jpeg_bytes


@pytest.fixture(scope="module")
def guarded(backends):
    """The gateway with NO allow-list: the real rules."""
    with TestClient(create_app(gateway_settings(backends, ssrf_allowlist=""))) as client:
        yield client


@pytest.fixture(scope="module")
def allowing_local(backends):
    """The gateway whose test allow-list admits 127.0.0.1 only."""
    with TestClient(create_app(gateway_settings(backends, ssrf_allowlist="127.0.0.1/32"))) as client:
        yield client


def post_url(client, url, **extra):
    return client.post("/v1/jobs", json={"url": url, **extra}, headers=ALPHA)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]", "2130706433"])
def test_loopback_url_is_refused_and_never_contacted(guarded, host):
    with local_server({"/a.jpg": Reply(200, jpeg_bytes())}) as server:
        answer = post_url(guarded, f"http://{host}:{server.port}/a.jpg")
        assert answer.status_code == 422
        assert answer.json()["error"]["code"] == "url_not_allowed"
        assert server.received == []


@pytest.mark.parametrize(
    "url", ["http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/", "http://10.0.0.1/", "http://[::1]/"]
)
def test_metadata_and_private_literals_are_refused(guarded, url):
    answer = post_url(guarded, url)
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "url_not_allowed"


@pytest.mark.parametrize("target", ["http://127.0.0.2:{port}/a.jpg", "http://169.254.169.254/", "http://[::1]:{port}/"])
def test_redirect_to_a_private_address_is_refused(allowing_local, target):
    with local_server() as server:
        server.routes["/start"] = Reply(302, headers={"Location": target.format(port=server.port)})
        server.routes["/a.jpg"] = Reply(200, jpeg_bytes())
        answer = post_url(allowing_local, server.url("/start"))
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["code"] == "url_not_allowed"
        assert [r.path for r in server.received] == ["/start"]


def test_callback_url_to_a_private_literal_is_refused_at_submission(guarded):
    answer = post_url(guarded, "https://photos.example.com/a.jpg", callback_url="http://192.168.0.10/hook")
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "url_not_allowed"
    assert answer.json()["error"]["message"].startswith("callback_url:")
