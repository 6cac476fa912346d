"""The credentials reader on files the tests sign themselves with c2pa-python (no stack: the library itself)."""

from __future__ import annotations

import io
import os
import signal
import time

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from services.contract.provenance import ProvenanceStatus
from services.provenance.bounded import ChildFailed, call_bounded
from services.provenance.reading import ReadOptions, TrustListInvalid, read_provenance, xmp_source_type
from tests.support.credentials import TestAuthority, created, edited, manifest, tampered, with_xmp, xmp_packet
from tests.support.images import jpeg_bytes


@pytest.fixture(scope="module")
def authority() -> TestAuthority:
    return TestAuthority()


@pytest.fixture(scope="module")
def camera(authority):
    return authority.signer("FakeWeb Test Camera")


def options(anchors: str = "") -> ReadOptions:
    return ReadOptions(trust_anchors_pem=anchors, max_manifest_mb=16, timeout_s=20, memory_bytes=512 << 20)


@pytest.fixture(scope="module")
def captured(camera) -> bytes:
    return camera.sign(jpeg_bytes(160, 120, seed=1), manifest("FakeWeb Test Camera", created("digitalCapture")))


def test_a_signature_chaining_to_a_trust_anchor_is_valid_with_what_the_manifest_records(authority, captured):
    found = read_provenance(captured, "image/jpeg", options(authority.pem))
    assert found.status is ProvenanceStatus.VALID, found
    assert found.claim_generator == "FakeWeb Test Camera 1.0"
    assert (found.signer, found.issuer) == ("FakeWeb Test Camera", "FakeWeb tests")
    assert [a.action for a in found.actions] == ["c2pa.created"]
    assert found.actions[0].when == "2026-11-30T10:00:00Z"
    assert (found.digital_source_type, found.digital_source_type_from) == ("digitalCapture", "c2pa")
    assert found.declares_captured and not found.declares_edited and found.badge is None


def test_with_no_trust_anchors_an_intact_signature_reads_untrusted(captured):
    found = read_provenance(captured, "image/jpeg", options())
    assert found.status is ProvenanceStatus.UNTRUSTED
    assert "signingCredential.untrusted" in (found.reason or "")
    assert found.signer == "FakeWeb Test Camera", "an untrusted signature still says who signed"


def test_a_signer_from_an_unknown_authority_is_untrusted(authority):
    stranger = TestAuthority(name="Unknown Root").signer("Someone Else")
    signed = stranger.sign(jpeg_bytes(seed=2), manifest("Elsewhere", created("digitalCapture")))
    found = read_provenance(signed, "image/jpeg", options(authority.pem))
    assert found.status is ProvenanceStatus.UNTRUSTED
    assert found.signer == "Someone Else"


def test_a_file_changed_after_signing_is_invalid_never_valid(authority, captured):
    found = read_provenance(tampered(captured), "image/jpeg", options(authority.pem))
    assert found.status is ProvenanceStatus.INVALID
    assert "dataHash.mismatch" in (found.reason or "")
    assert not found.declares_captured, "what invalid credentials declare counts for nothing"


def test_an_ai_generation_action_is_declared_and_badged(authority):
    generator = authority.signer("FakeWeb Test Generator")
    signed = generator.sign(jpeg_bytes(seed=3), manifest("Image Generator", created("trainedAlgorithmicMedia")))
    found = read_provenance(signed, "image/jpeg", options(authority.pem))
    assert found.status is ProvenanceStatus.VALID
    assert found.digital_source_type == "trainedAlgorithmicMedia"
    assert found.declares_generated and found.badge == "ai-generated"


def test_an_edit_chain_names_its_ingredient_and_the_ingredient_signer(authority, camera, captured):
    editor = authority.signer("FakeWeb Test Editor")
    edited_file = editor.sign(jpeg_bytes(160, 120, seed=4), manifest("Photo Editor", edited()), parent=captured)
    found = read_provenance(edited_file, "image/jpeg", options(authority.pem))
    assert found.status is ProvenanceStatus.VALID, found
    assert found.claim_generator == "Photo Editor 1.0"
    # The library adds the c2pa.opened action that links the parent ingredient.
    actions = {a.action: a for a in found.actions}
    assert set(actions) == {"c2pa.opened", "c2pa.edited"}
    assert actions["c2pa.edited"].software_agent == "FakeWeb test editor"
    (ingredient,) = found.ingredients
    assert (ingredient.title, ingredient.relationship) == ("parent.jpg", "parentOf")
    assert (ingredient.claim_generator, ingredient.signer) == ("FakeWeb Test Camera 1.0", camera.common_name)
    assert found.declares_edited and found.badge == "edited"


def test_an_xmp_source_type_alone_is_reported_without_credentials():
    photo = with_xmp(jpeg_bytes(seed=5), xmp_packet("compositeWithTrainedAlgorithmicMedia"))
    found = read_provenance(photo, "image/jpeg", options())
    assert found.status is ProvenanceStatus.NONE
    assert found.digital_source_type == "compositeWithTrainedAlgorithmicMedia"
    assert found.digital_source_type_from == "xmp"
    assert found.badge == "ai-generated"


def test_png_and_webp_xmp_packets_are_read():
    png = io.BytesIO()
    info = PngInfo()
    info.add_itxt("XML:com.adobe.xmp", xmp_packet("digitalCapture").decode())
    Image.new("RGB", (32, 32)).save(png, format="PNG", pnginfo=info)
    assert xmp_source_type(png.getvalue()) == "digitalCapture"
    webp = io.BytesIO()
    Image.new("RGB", (32, 32)).save(webp, format="WEBP", xmp=xmp_packet("trainedAlgorithmicMedia"))
    assert xmp_source_type(webp.getvalue()) == "trainedAlgorithmicMedia"


def test_a_source_type_outside_the_iptc_namespace_is_not_taken_for_one():
    packet = xmp_packet("trainedAlgorithmicMedia").replace(b"http://iptc.org/std/Iptc4xmpExt/2008-02-29/", b"urn:other")
    assert xmp_source_type(with_xmp(jpeg_bytes(seed=6), packet)) is None


def test_an_xmp_entity_bomb_is_refused_not_expanded():
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><x:xmpmeta xmlns:x="adobe:ns:meta/">&c;</x:xmpmeta>'
    )
    assert xmp_source_type(with_xmp(jpeg_bytes(seed=7), bomb)) is None


def test_no_metadata_at_all_reads_none():
    found = read_provenance(jpeg_bytes(seed=8), "image/jpeg", options())
    assert found.status is ProvenanceStatus.NONE
    assert (found.digital_source_type, found.claim_generator, found.actions) == (None, None, [])


def test_a_trust_anchors_file_that_is_not_pem_is_a_configuration_error(captured):
    with pytest.raises(TrustListInvalid):
        read_provenance(captured, "image/jpeg", options("-----BEGIN CERTIFICATE-----\nnot base64\n"))


def test_the_trust_anchors_file_is_read_when_the_options_are_made(tmp_path, authority):
    from services.contract.settings import Settings

    path = tmp_path / "anchors.pem"
    assert ReadOptions.from_settings(Settings(provenance_trust_anchors=path)).trust_anchors_pem == ""
    path.write_text(authority.pem)
    assert ReadOptions.from_settings(Settings(provenance_trust_anchors=path)).trust_anchors_pem == authority.pem.strip()


def _sleep(seconds: float) -> str:
    time.sleep(seconds)
    return "woke"


def _allocate(megabytes: int) -> int:
    return len(bytearray(megabytes << 20))


def _killed() -> None:
    os.kill(os.getpid(), signal.SIGKILL)  # what the kernel's OOM killer, or a native crash, does to it


def test_a_child_past_its_deadline_is_killed():
    started = time.monotonic()
    with pytest.raises(ChildFailed) as failed:
        call_bounded(_sleep, 30, timeout_s=0.5, memory_bytes=64 << 20)
    assert failed.value.reason == "timeout"
    assert time.monotonic() - started < 10
    assert call_bounded(_sleep, 0, timeout_s=5, memory_bytes=64 << 20) == "woke"


def test_a_child_past_its_memory_ceiling_fails_alone():
    with pytest.raises(ChildFailed) as failed:
        call_bounded(_allocate, 1024, timeout_s=20, memory_bytes=64 << 20)
    assert failed.value.reason == "out_of_memory"
    assert call_bounded(_allocate, 8, timeout_s=20, memory_bytes=64 << 20) == 8 << 20


def test_a_child_that_crashes_is_reported_and_the_caller_lives_on():
    with pytest.raises(ChildFailed) as failed:
        call_bounded(_killed, timeout_s=20, memory_bytes=64 << 20)
    assert failed.value.reason == "crashed" and "signal 9" in failed.value.detail
