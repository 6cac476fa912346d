"""Submitting a photo by URL, fetched from a real local HTTP server (admitted by the test allow-list)."""

from __future__ import annotations

import pytest

from services.contract.storage import original_key
from tests.gateway.conftest import ALPHA
from tests.gateway.httpserver import Reply, local_server
from tests.support.images import jpeg_bytes, png_header_claiming


def post_url(client, url, **extra):
    return client.post("/v1/jobs", json={"url": url, **extra}, headers=ALPHA)


def test_url_photo_is_fetched_stored_and_queued(client, backends):
    photo = jpeg_bytes(90, 70, seed=5)
    with local_server({"/p.jpg": Reply(200, photo, {"Content-Type": "image/jpeg"})}) as server:
        answer = post_url(client, server.url("/p.jpg"), threshold=0.3)
        request = server.received[0]
    assert answer.status_code == 202, answer.text
    job_id = answer.json()["id"]
    assert backends.store.get_bytes(original_key(job_id)) == photo
    record = backends.redis.hgetall(f"fakeweb:job:{job_id}")
    assert (record["source"], record["threshold"], record["width"]) == ("url", "0.3", "90")
    assert request.headers["Host"] == f"127.0.0.1:{server.port}"
    assert "X-API-Key" not in request.headers


def test_redirects_are_followed_within_the_limit(client):
    with local_server() as server:
        server.routes["/r1"] = Reply(301, headers={"Location": "/r2"})
        server.routes["/r2"] = Reply(302, headers={"Location": server.url("/p.jpg")})
        server.routes["/p.jpg"] = Reply(200, jpeg_bytes())
        assert post_url(client, server.url("/r1")).status_code == 202
        assert [r.path for r in server.received] == ["/r1", "/r2", "/p.jpg"]


def test_redirect_loop_stops_at_the_limit(client):
    with local_server({"/loop": Reply(302, headers={"Location": "/loop"})}) as server:
        answer = post_url(client, server.url("/loop"))
        hops = len(server.received)
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "too_many_redirects"
    assert hops == 4  # the first request and 3 redirects (FAKEWEB_URL_FETCH_MAX_REDIRECTS)


@pytest.mark.parametrize(
    ("reply", "status", "code"),
    [
        (Reply(404, b"gone"), 422, "url_fetch_failed"),
        (Reply(200, b"<html>hello</html>"), 415, "unsupported_media_type"),
        (Reply(200, png_header_claiming(40_000, 40_000)), 413, "image_too_large"),
        (Reply(200, b"\xff\xd8\xff" + b"0" * 300_000), 413, "payload_too_large"),
        (Reply(200, jpeg_bytes(), delay_s=4.0), 422, "url_fetch_timeout"),
    ],
    ids=["404", "html", "bomb-header", "too-big", "slow"],
)
def test_remote_problems_are_clear_4xx(client, backends, reply, status, code):
    jobs_before = backends.redis.zcard("fakeweb:jobs")
    with local_server({"/x": reply}) as server:
        answer = post_url(client, server.url("/x"))
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["code"] == code
    assert backends.redis.zcard("fakeweb:jobs") == jobs_before


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"url": "ftp://example.com/a.jpg"}, 422, "url_not_allowed"),
        ({"url": "http://127.0.0.1/a.jpg", "threshold": 2}, 422, "invalid_request"),
        ({"link": "http://example.com"}, 422, "invalid_request"),
    ],
)
def test_bad_json_submissions(client, body, status, code):
    answer = client.post("/v1/jobs", json=body, headers=ALPHA)
    assert answer.status_code == status
    assert answer.json()["error"]["code"] == code


def test_unknown_body_type_and_broken_json(client):
    assert client.post("/v1/jobs", content=b"x", headers={**ALPHA, "Content-Type": "text/plain"}).status_code == 415
    broken = client.post("/v1/jobs", content=b"{", headers={**ALPHA, "Content-Type": "application/json"})
    assert broken.status_code == 400
    assert broken.json()["error"]["code"] == "malformed_body"


def test_url_video_is_recognised_by_its_bytes_whatever_the_server_calls_it(client, backends, shared_data):
    from tests.support.videos import two_person_clip

    clip = two_person_clip(shared_data, seconds=1.0)
    with local_server({"/clip": Reply(200, clip, {"Content-Type": "application/octet-stream"})}) as server:
        answer = post_url(client, server.url("/clip"))
    assert answer.status_code == 202, answer.text
    job_id = answer.json()["id"]
    assert answer.json()["links"]["video"].endswith(f"/v1/jobs/{job_id}/video")
    assert backends.store.get_bytes(original_key(job_id)) == clip
    record = backends.redis.hgetall(f"fakeweb:job:{job_id}")
    assert (record["media"], record["media_type"], record["width"], record["duration_s"]) == (
        "video",
        "video/mp4",
        "866",
        "1.0",
    )
