"""Content Credentials through the real local stack: files the tests sign themselves, read by the provenance worker.

The stack's trust anchors file (FAKEWEB_PROVENANCE_TRUST_ANCHORS) starts missing; the module adds its own
test authority to it, and the worker re-reads it for every job.
"""

from __future__ import annotations

import pytest

from services.contract.storage import ObjectStore, original_key
from tests.e2e.test_pipeline import submit_and_wait
from tests.support.credentials import TestAuthority, created, edited, manifest, tampered, with_xmp, xmp_packet
from tests.support.photos import group_photo, landscape_without_faces

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def authority(local_stack) -> TestAuthority:
    """A test CA on the stack's trust list."""
    ca = TestAuthority()
    ca.trust_in(local_stack.settings.provenance_trust_anchors)
    return ca


@pytest.fixture(scope="module")
def camera(authority):
    return authority.signer("FakeWeb Test Camera")


def landscape(tag: int) -> bytes:
    """A photo without faces; each tag gives other bytes, so no job is answered from the result cache."""
    return landscape_without_faces(640 + tag, 400)


def provenance_of(local_stack, photo: bytes, **form) -> dict:
    job_id, document, _ = submit_and_wait(local_stack.gateway_url, photo, **form)
    assert document["status"] in ("completed", "no_face"), document
    assert document["timings"]["provenance"]["seconds"] is not None
    assert ObjectStore(local_stack.settings).get_bytes(original_key(job_id)) == photo, "read from the bytes as sent"
    return document


def test_a_camera_signature_on_the_trust_list_is_valid(local_stack, camera):
    signed = camera.sign(landscape(1), manifest("FakeWeb Test Camera", created("digitalCapture")))
    document = provenance_of(local_stack, signed)
    provenance = document["provenance"]
    assert provenance["status"] == "valid", provenance
    assert provenance["claim_generator"] == "FakeWeb Test Camera 1.0"
    assert provenance["signer"] == "FakeWeb Test Camera"
    assert provenance["actions"][0]["action"] == "c2pa.created"
    assert provenance["digital_source_type"] == "digitalCapture"
    assert provenance["badge"] is None
    assert document["summary"].startswith("No face found. Credentials (signer trusted")


def test_the_same_file_changed_after_signing_is_invalid(local_stack, camera):
    signed = camera.sign(landscape(2), manifest("FakeWeb Test Camera", created("digitalCapture")))
    provenance = provenance_of(local_stack, tampered(signed))["provenance"]
    assert provenance["status"] == "invalid"
    assert "assertion.dataHash.mismatch" in provenance["reason"]


def test_a_signer_outside_the_trust_list_is_untrusted(local_stack, authority):
    stranger = TestAuthority(name="Unknown Root").signer("Unknown Camera")
    signed = stranger.sign(landscape(3), manifest("Unknown Camera", created("digitalCapture")))
    provenance = provenance_of(local_stack, signed)["provenance"]
    assert (provenance["status"], provenance["signer"]) == ("untrusted", "Unknown Camera")


def test_a_declared_ai_generation_is_badged_and_disagrees_with_genuine_faces(local_stack, shared_data, authority):
    generator = authority.signer("FakeWeb Test Generator")
    photo = generator.sign(
        group_photo(shared_data, tag="provenance-ai"), manifest("Image Generator", created("trainedAlgorithmicMedia"))
    )
    # At threshold 1.0 no face can be scored manipulated: the credentials' "AI-generated" disagrees.
    document = provenance_of(local_stack, photo, threshold="1.0")
    assert document["status"] == "completed"
    assert {face["verdict"] for face in document["faces"]} == {"genuine"}
    assert document["provenance"]["status"] == "valid"
    assert document["provenance"]["badge"] == "ai-generated"
    assert "Disagreement:" in document["summary"] and "AI-generated" in document["summary"], document["summary"]


def test_camera_credentials_disagree_with_a_face_scored_manipulated_and_move_no_score(local_stack, shared_data, camera):
    unsigned = group_photo(shared_data, tag="provenance-camera")
    photo = camera.sign(unsigned, manifest("Cam", created("digitalCapture")))
    # At threshold 0.0 every scored face is manipulated: "captured by a camera, not edited" disagrees.
    document = provenance_of(local_stack, photo, threshold="0.0")
    assert any(face["verdict"] == "manipulated" for face in document["faces"])
    assert "captured by a camera, not edited; but" in document["summary"], document["summary"]
    assert "scored manipulated" in document["summary"]
    # The same pixels without credentials get the same scores: the credentials only sit beside them.
    plain = provenance_of(local_stack, unsigned, threshold="0.0")
    assert plain["provenance"]["status"] == "none"
    scores = [face["manipulated_probability"] for face in document["faces"]]
    assert scores == [face["manipulated_probability"] for face in plain["faces"]]


def test_an_edit_chain_lists_the_parent_ingredient(local_stack, authority, camera):
    original = camera.sign(landscape(4), manifest("FakeWeb Test Camera", created("digitalCapture")))
    editor = authority.signer("FakeWeb Test Editor")
    edited_photo = editor.sign(landscape(5), manifest("Photo Editor", edited()), parent=original)
    provenance = provenance_of(local_stack, edited_photo)["provenance"]
    assert provenance["status"] == "valid"
    assert {a["action"] for a in provenance["actions"]} == {"c2pa.opened", "c2pa.edited"}
    (ingredient,) = provenance["ingredients"]
    assert ingredient["relationship"] == "parentOf"
    assert ingredient["signer"] == "FakeWeb Test Camera"
    assert provenance["badge"] == "edited"


def test_an_xmp_digital_source_type_alone(local_stack):
    photo = with_xmp(landscape(6), xmp_packet("trainedAlgorithmicMedia"))
    provenance = provenance_of(local_stack, photo)["provenance"]
    assert provenance["status"] == "none"
    assert (provenance["digital_source_type"], provenance["digital_source_type_from"]) == (
        "trainedAlgorithmicMedia",
        "xmp",
    )
    assert provenance["badge"] == "ai-generated"


def test_no_metadata_reads_none_and_says_it_proves_nothing(local_stack):
    document = provenance_of(local_stack, landscape(7))
    assert document["provenance"]["status"] == "none"
    assert document["provenance"]["actions"] == [] and document["provenance"]["badge"] is None
    assert "says nothing either way" in document["summary"]


def test_a_result_reused_from_the_cache_carries_the_same_provenance(local_stack, camera):
    signed = camera.sign(landscape(8), manifest("FakeWeb Test Camera", created("digitalCapture")))
    first = provenance_of(local_stack, signed)
    _, again, _ = submit_and_wait(local_stack.gateway_url, signed)
    assert again["cached"] is True
    assert again["provenance"] == first["provenance"]
