"""The whole pipeline on real parts: gateway, Redis, SeaweedFS, serving and three Celery workers."""

from __future__ import annotations

import io
import time

import httpx
import pytest
from PIL import Image

from services.contract.storage import ObjectStore, annotated_key, crop_key, faces_key, original_key, result_key
from tests.support.photos import GROUP_MEMBERS, group_photo, landscape_without_faces

pytestmark = pytest.mark.e2e

FINAL = {"completed", "failed", "no_face"}
# Every /v1 request needs an API key; the dev stack accepts the documented dev key.
DEV_KEY_HEADER = {"X-API-Key": "fakeweb-dev-key"}


def submit_and_wait(
    gateway_url: str,
    photo: bytes,
    timeout_s: float = 120,
    upload: tuple[str, str] = ("photo.jpg", "image/jpeg"),
    **form,
) -> tuple[str, dict, list[dict]]:
    """Submit a photo (or a video, named and typed by ``upload``); poll until the job ends.

    Returns the job's id, its final document and every status seen.
    """
    with httpx.Client(base_url=gateway_url, timeout=30, headers=DEV_KEY_HEADER) as client:
        answer = client.post("/v1/jobs", files={"image": (upload[0], photo, upload[1])}, data=form)
        assert answer.status_code == 202, answer.text
        job_id = answer.json()["id"]
        assert answer.headers["location"].endswith(f"/v1/jobs/{job_id}")
        seen = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            document = client.get(f"/v1/jobs/{job_id}").json()
            seen.append({"status": document["status"], "stage": document["stage"]})
            if document["status"] in FINAL:
                return job_id, document, seen
            time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not end within {timeout_s} s; last: {seen[-1:]}")


def test_group_photo_gets_a_scored_face_per_person_and_an_annotated_image(local_stack, shared_data):
    # Tagged so no other test's job of the same photo can answer this one from the result cache.
    photo = group_photo(shared_data, tag="e2e-pipeline")
    width, height = Image.open(io.BytesIO(photo)).size

    job_id, document, seen = submit_and_wait(local_stack.gateway_url, photo)

    assert document["status"] == "completed", document
    assert document["cached"] is False
    faces = document["faces"]
    assert len(faces) == len(GROUP_MEMBERS)
    assert document["progress"]["faces_total"] == len(GROUP_MEMBERS)
    for face in faces:
        x, y, w, h = face["box"]
        assert x >= 0 and y >= 0 and w > 20 and h > 20
        assert x + w <= width and y + h <= height
        assert face["verdict"] in ("manipulated", "genuine")
        assert 0.0 <= face["manipulated_probability"] <= 1.0
        assert face["model"] == {"name": "fakeweb", "version": 1}
    # One face per portrait: the boxes' centres fall in distinct thirds of the strip.
    thirds = sorted(int((f["box"][0] + f["box"][2] / 2) / (width / 3)) for f in faces)
    assert thirds == [0, 1, 2]
    rank = {"queued": 0, "running": 1, "completed": 2}
    ranks = [rank[step["status"]] for step in seen]
    assert ranks == sorted(ranks), f"status went backwards: {seen}"
    for stage in ("detect", "classify", "annotate"):
        timing = document["timings"][stage]
        assert timing["seconds"] is not None and timing["seconds"] >= 0

    with httpx.Client(base_url=local_stack.gateway_url, timeout=30, headers=DEV_KEY_HEADER) as client:
        image = client.get(f"/v1/jobs/{job_id}/image")
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(image.content)).size == (width, height)

    store = ObjectStore(local_stack.settings)
    assert store.get_bytes(original_key(job_id)) == photo
    for key in (faces_key(job_id), annotated_key(job_id), result_key(job_id)):
        assert store.exists(key), key
    for face in faces:
        assert store.exists(crop_key(job_id, face["index"]))


def test_photo_without_faces_ends_as_no_face(local_stack):
    job_id, document, _ = submit_and_wait(local_stack.gateway_url, landscape_without_faces())

    assert document["status"] == "no_face", document
    assert document["faces"] == []
    with httpx.Client(base_url=local_stack.gateway_url, timeout=30, headers=DEV_KEY_HEADER) as client:
        image = client.get(f"/v1/jobs/{job_id}/image")
    assert image.status_code == 200
    assert Image.open(io.BytesIO(image.content)).size == (640, 400)


def test_corrupt_bytes_that_pass_the_header_fail_the_job_cleanly_or_are_refused(local_stack, shared_data):
    photo = group_photo(shared_data)
    truncated = photo[: len(photo) // 2]
    with httpx.Client(base_url=local_stack.gateway_url, timeout=30, headers=DEV_KEY_HEADER) as client:
        answer = client.post("/v1/jobs", files={"image": ("x.jpg", truncated, "image/jpeg")})
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "corrupt_image"
