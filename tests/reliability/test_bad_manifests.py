"""Hostile Content Credentials: cut, overwritten, mis-sized and nested C2PA manifests, through the real stack
and fuzzed against the reader.

A broken manifest reads ``invalid`` (or ``none`` when nothing C2PA is left to find), never ``valid``;
the job still ends with its faces; no worker dies. The fuzz mutates the manifest segment of a signed
JPEG and the image data after it: the reader always answers a status, and changed image data is
never ``valid`` (the hash binding covers it).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.contract.provenance import ProvenanceStatus
from services.provenance.reading import ReadOptions, read_provenance
from tests.reliability.stackops import wait_final
from tests.support.badmanifests import ManifestSegment, hostile_manifests
from tests.support.credentials import TestAuthority, created, manifest
from tests.support.images import jpeg_bytes

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
AUTHORITY = TestAuthority()
SIGNED = AUTHORITY.signer("Fuzz Camera").sign(jpeg_bytes(96, 64, seed=11), manifest("Fuzz", created("digitalCapture")))
SEGMENT = ManifestSegment.of(SIGNED)
OPTIONS = ReadOptions(trust_anchors_pem=AUTHORITY.pem, max_manifest_mb=16, timeout_s=20, memory_bytes=512 << 20)


def test_the_unchanged_file_is_valid_so_the_cases_below_start_from_a_good_manifest():
    assert read_provenance(SIGNED, "image/jpeg", OPTIONS).status is ProvenanceStatus.VALID


@pytest.mark.parametrize("name", sorted(hostile_manifests(SIGNED)))
def test_each_hostile_manifest_reads_invalid_or_none_never_valid(name):
    found = read_provenance(hostile_manifests(SIGNED)[name], "image/jpeg", OPTIONS)
    assert found.status in (ProvenanceStatus.INVALID, ProvenanceStatus.NONE), (name, found)


@FUZZ
@given(st.data())
def test_mutated_manifests_always_get_a_status(data):
    payload = bytearray(SEGMENT.payload)
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(0, len(payload) - 1))
        payload[at] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        payload = payload[: data.draw(st.integers(0, len(payload)))]
    found = read_provenance(SEGMENT.with_payload(bytes(payload)), "image/jpeg", OPTIONS)
    assert isinstance(found.status, ProvenanceStatus) and found.status is not ProvenanceStatus.PENDING


@FUZZ
@given(st.integers(0, len(SEGMENT.after) - 3), st.integers(1, 255))
def test_changed_image_data_is_never_valid(offset, xor):
    after = bytearray(SEGMENT.after)
    after[offset] ^= xor
    found = read_provenance(
        SEGMENT.before + SIGNED[len(SEGMENT.before) : -len(SEGMENT.after)] + bytes(after), "image/jpeg", OPTIONS
    )
    assert found.status is not ProvenanceStatus.VALID, (offset, xor, found)


@pytest.mark.slow
@pytest.mark.e2e
def test_hostile_manifests_through_the_stack_end_their_jobs_and_crash_no_worker(stack):
    before = stack.worker_pids()
    cases = hostile_manifests(SIGNED)
    with stack.client() as client:
        jobs = {}
        for name, data in cases.items():
            answer = client.post("/v1/jobs", files={"image": (f"{name}.jpg", data, "image/jpeg")})
            assert answer.status_code == 202, (name, answer.text)
            jobs[name] = answer.json()["id"]
        for name, job_id in jobs.items():
            document = wait_final(client, job_id)
            assert document["status"] == "no_face", (name, document)
            assert document["provenance"]["status"] in ("invalid", "none"), (name, document["provenance"])
    assert stack.worker_pids() == before
