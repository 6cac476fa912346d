"""Hostile and awkward uploads through the real stack: a 4xx JSON error or a correct result, never a 500,
and no worker crashes (every worker keeps its pid)."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.reliability.stackops import gateway_statuses, wait_final
from tests.support.badinput import BadInput, corpus

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


@pytest.fixture(scope="module")
def cases(photos) -> list[BadInput]:
    portrait = Image.open(io.BytesIO(photos.single)).convert("RGB")
    # Not square, so an EXIF rotation that is ignored (or applied twice) shows in the result's size.
    left = (portrait.width - portrait.height * 3 // 4) // 2
    face = portrait.crop((left, 0, left + portrait.height * 3 // 4, portrait.height))
    return corpus(face)


@pytest.fixture(scope="module")
def worker_pids_before(stack):
    return stack.worker_pids()


@pytest.fixture(scope="module")
def log_offset(stack) -> int:
    return stack.stack.log_path.stat().st_size


def test_each_bad_input_gets_a_json_4xx_or_a_correct_result(stack, cases, worker_pids_before, log_offset):
    accepted: dict[str, tuple[BadInput, str]] = {}
    problems: list[str] = []
    with stack.client() as client:
        for case in cases:
            answer = client.post("/v1/jobs", files={"image": (case.filename, case.data, "image/jpeg")})
            if case.refused is not None:
                status, code = case.refused
                body = answer.json()  # every refusal is JSON
                if (answer.status_code, body.get("error", {}).get("code")) != (status, code):
                    problems.append(f"{case.name}: wanted {status} {code}, got {answer.status_code} {body}")
                continue
            if answer.status_code != 202:
                problems.append(f"{case.name}: wanted 202, got {answer.status_code} {answer.text}")
                continue
            accepted[answer.json()["id"]] = (case, answer.json()["id"])
        for job_id, (case, _) in accepted.items():
            document = wait_final(client, job_id)
            expected_status = "completed" if case.faces else "no_face"
            if document["status"] != expected_status or len(document["faces"]) != case.faces:
                problems.append(f"{case.name}: wanted {expected_status} with {case.faces} faces, got {document}")
                continue
            image = client.get(f"/v1/jobs/{job_id}/image")
            if image.status_code != 200 or Image.open(io.BytesIO(image.content)).size != case.size:
                problems.append(f"{case.name}: annotated image {image.status_code}, wanted size {case.size}")
            original = client.get(f"/v1/jobs/{job_id}/original")
            if original.content != case.data or not original.headers["content-type"].startswith("image/"):
                problems.append(f"{case.name}: original not returned as an image byte for byte")
    assert not problems, "\n".join(problems)
    assert len(cases) >= 30


def test_no_worker_crashed_and_no_500_was_served(stack, worker_pids_before, log_offset):
    assert stack.worker_pids() == worker_pids_before
    statuses = gateway_statuses(stack, log_offset)
    assert statuses and all(status < 500 for status in statuses), sorted(set(statuses))
