"""Idempotency, listing, originals, deletion and the result cache, against real Redis and SeaweedFS."""

from __future__ import annotations

import pytest

from services.contract.pipeline import PIPELINE
from services.contract.storage import annotated_key, job_prefix, original_key, result_key
from tests.gateway.conftest import ALPHA, BETA, submit
from tests.gateway.pipeline_double import finish_job
from tests.support.images import jpeg_bytes, png_bytes


def test_idempotency_key_repeat_returns_the_same_job_per_tenant(client, backends):
    photo = jpeg_bytes(seed=21)
    first = submit(client, photo, headers={**ALPHA, "Idempotency-Key": "order-1"})
    jobs_after_first = backends.redis.zcard("fakeweb:jobs")
    again = submit(client, photo, headers={**ALPHA, "Idempotency-Key": "order-1"})
    other_tenant = submit(client, photo, headers={**BETA, "Idempotency-Key": "order-1"})

    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == first.headers["location"]
    assert other_tenant.json()["id"] != first.json()["id"]
    assert backends.redis.zcard("fakeweb:jobs") == jobs_after_first + 1  # only beta's job is new


def test_idempotency_key_with_a_different_request_is_refused(client):
    submit(client, jpeg_bytes(seed=22), headers={**ALPHA, "Idempotency-Key": "order-2"})
    answer = submit(client, jpeg_bytes(seed=23), headers={**ALPHA, "Idempotency-Key": "order-2"})
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "idempotency_key_reused"


def test_refused_submission_does_not_burn_its_idempotency_key(client):
    bad = submit(client, b"nope", headers={**ALPHA, "Idempotency-Key": "order-3"})
    good = submit(client, jpeg_bytes(seed=24), headers={**ALPHA, "Idempotency-Key": "order-3"})
    assert bad.status_code == 415
    assert good.status_code == 202


def test_list_is_newest_first_and_cursor_pages_cover_every_job_once(client):
    ids = [submit(client, jpeg_bytes(seed=30 + i), headers=BETA).json()["id"] for i in range(5)]
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/jobs", params=params, headers=BETA).json()
        seen += [job["id"] for job in page["jobs"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    mine = [job_id for job_id in seen if job_id in ids]
    assert mine == list(reversed(ids))
    assert len(seen) == len(set(seen))


def test_list_refuses_a_forged_cursor_and_bad_limit(client):
    assert client.get("/v1/jobs", params={"cursor": "!!!"}, headers=ALPHA).json()["error"]["code"] == "invalid_cursor"
    assert client.get("/v1/jobs", params={"limit": 0}, headers=ALPHA).status_code == 422


def test_original_is_returned_byte_for_byte_with_its_detected_type(client):
    photo = png_bytes(40, 30)
    job_id = submit(client, photo, name="photo.jpg").json()["id"]  # declared jpeg, really png
    answer = client.get(f"/v1/jobs/{job_id}/original", headers=ALPHA)
    assert answer.status_code == 200
    assert answer.content == photo
    assert answer.headers["content-type"] == "image/png"


def test_delete_removes_every_object_the_record_and_the_listing_entry(client, backends):
    job_id = submit(client, jpeg_bytes(seed=40), headers={**ALPHA, "Idempotency-Key": "del-1"}).json()["id"]
    finish_job(backends.settings, job_id)
    backends.store.put_bytes(f"jobs/{job_id}/faces/0000.png", png_bytes(8, 8))
    assert len(backends.store.list_keys(job_prefix(job_id))) == 4

    answer = client.delete(f"/v1/jobs/{job_id}", headers=ALPHA)

    assert answer.status_code == 204
    assert backends.store.list_keys(job_prefix(job_id)) == []
    assert not backends.redis.exists(f"fakeweb:job:{job_id}")
    assert client.get(f"/v1/jobs/{job_id}", headers=ALPHA).status_code == 404
    listed = {job["id"] for job in client.get("/v1/jobs?limit=100", headers=ALPHA).json()["jobs"]}
    assert job_id not in listed
    assert client.delete(f"/v1/jobs/{job_id}", headers=ALPHA).status_code == 404
    # The idempotency key is released with the job: the same key now makes a new job.
    again = submit(client, jpeg_bytes(seed=40), headers={**ALPHA, "Idempotency-Key": "del-1"})
    assert again.status_code == 202 and again.json()["id"] != job_id


def test_delete_of_a_queued_job_stops_it(client, backends):
    job_id = submit(client, jpeg_bytes(seed=41)).json()["id"]
    assert client.delete(f"/v1/jobs/{job_id}", headers=ALPHA).status_code == 204
    assert not backends.store.exists(original_key(job_id))
    assert not backends.redis.exists(f"fakeweb:job:{job_id}")


def test_same_photo_and_threshold_reuses_the_result_as_a_new_job(client, backends):
    photo = jpeg_bytes(seed=50)
    first_id = submit(client, photo, threshold="0.6").json()["id"]
    scored = finish_job(backends.settings, first_id, model_version=1, faces=2)
    first_queue = PIPELINE[0].queue
    queued_before = backends.redis.llen(first_queue)

    second = submit(client, photo, threshold="0.6")

    assert second.status_code == 202
    body = second.json()
    assert body["id"] != first_id
    assert body["status"] == "completed"
    assert backends.redis.llen(first_queue) == queued_before  # nothing recomputed
    document = client.get(f"/v1/jobs/{body['id']}", headers=ALPHA).json()
    assert document["cached"] is True
    assert document["faces"] == [face.model_dump(mode="json") for face in scored.faces]
    assert document["progress"]["faces_total"] == 2
    for key in (original_key, result_key, annotated_key):
        assert backends.store.exists(key(body["id"]))
    assert client.get(f"/v1/jobs/{body['id']}/image", headers=ALPHA).status_code == 200
    # Deleting the first job leaves the copy intact (it owns its own objects).
    assert client.delete(f"/v1/jobs/{first_id}", headers=ALPHA).status_code == 204
    assert client.get(f"/v1/jobs/{body['id']}/image", headers=ALPHA).status_code == 200


@pytest.mark.parametrize("change", ["threshold", "tenant", "bytes"])
def test_cache_misses_on_another_threshold_tenant_or_photo(client, backends, change):
    photo = jpeg_bytes(seed=60)
    first_id = submit(client, photo, threshold="0.4").json()["id"]
    finish_job(backends.settings, first_id)
    variants = {
        "threshold": lambda: submit(client, photo, threshold="0.41"),
        "tenant": lambda: submit(client, photo, threshold="0.4", headers=BETA),
        "bytes": lambda: submit(client, jpeg_bytes(seed=61), threshold="0.4"),
    }
    assert variants[change]().json()["status"] == "queued"


def test_cached_result_whose_objects_are_gone_is_scored_again(client, backends):
    photo = jpeg_bytes(seed=80)
    first_id = submit(client, photo).json()["id"]
    finish_job(backends.settings, first_id, model_version=None, faces=0)  # no_face: model-independent entry
    backends.store.delete_prefix(job_prefix(first_id))
    assert submit(client, photo).json()["status"] == "queued"
