"""What a file's provenance declares, the badge, and the job summary's words on it (pure functions)."""

from __future__ import annotations

from services.contract.documents import faces_sentence, job_document
from services.contract.provenance import Provenance, ProvenanceAction, ProvenanceIngredient, provenance_summary
from services.contract.record import JobRecord, JobStatus
from services.contract.schemas import FaceResult, JobResult, Verdict


def camera(status: str = "valid", *actions: str) -> Provenance:
    steps = [ProvenanceAction(action="c2pa.created", digital_source_type="digitalCapture")]
    steps += [ProvenanceAction(action=action) for action in actions]
    return Provenance(
        status=status,
        claim_generator="Cam 1.0",
        actions=steps,
        digital_source_type="digitalCapture",
        digital_source_type_from="c2pa",
    )


def test_a_camera_capture_without_edits_disagrees_with_a_manipulated_face_only():
    summary = provenance_summary(camera(), ["genuine", "manipulated"])
    assert summary.startswith("Disagreement: credentials (signer trusted, written by Cam 1.0): captured by a camera")
    assert "1 face is scored manipulated" in summary
    assert provenance_summary(camera(), ["genuine"]) == (
        "Credentials (signer trusted, written by Cam 1.0): captured by a camera, not edited."
    )


def test_an_edited_capture_does_not_disagree_with_a_manipulated_face():
    edited = camera("valid", "c2pa.edited")
    assert edited.declares_edited and edited.badge == "edited"
    assert "Disagreement" not in provenance_summary(edited, ["manipulated"])
    assert "captured by a camera, edited" in provenance_summary(edited, ["manipulated"])


def test_an_ingredient_made_from_is_an_edit_too():
    composite = camera()
    composite.ingredients = [ProvenanceIngredient(title="a.jpg", relationship="componentOf")]
    assert composite.declares_edited


def test_declared_ai_generation_disagrees_with_faces_all_genuine():
    generated = Provenance(
        status="untrusted",
        actions=[ProvenanceAction(action="c2pa.created", digital_source_type="trainedAlgorithmicMedia")],
        digital_source_type="trainedAlgorithmicMedia",
        digital_source_type_from="c2pa",
    )
    assert generated.badge == "ai-generated"
    assert "but all 2 faces are scored genuine" in provenance_summary(generated, ["genuine", "genuine"])
    assert "Disagreement" not in provenance_summary(generated, ["genuine", "manipulated"])


def test_invalid_credentials_declare_nothing_and_never_disagree():
    broken = camera("invalid")
    assert not broken.declares_captured and broken.badge is None
    assert provenance_summary(broken, ["manipulated"]).startswith("Credentials: present but invalid")


def test_unsigned_xmp_is_named_as_such():
    xmp = Provenance(status="none", digital_source_type="trainedAlgorithmicMedia", digital_source_type_from="xmp")
    summary = provenance_summary(xmp, ["genuine"])
    assert "unsigned XMP metadata says AI-generated" in summary and summary.startswith("Disagreement:")


def test_the_job_document_summary_joins_the_faces_and_the_provenance():
    record = JobRecord(status=JobStatus.COMPLETED, threshold=0.5, provenance=camera())
    face = FaceResult(index=0, box=[0, 0, 9, 9], detector_score=0.9, manipulated_probability=0.9, verdict="manipulated")
    result = JobResult(width=10, height=10, threshold=0.5, faces=[face])
    document = job_document("j1", record, "http://x", result)
    assert document.summary.startswith("1 face: 1 manipulated. Disagreement: credentials")
    assert document.faces[0].manipulated_probability == 0.9 and document.faces[0].verdict is Verdict.MANIPULATED
    queued = job_document("j2", JobRecord(threshold=0.5), "http://x", None)
    assert (queued.provenance.status.value, queued.summary) == ("pending", "Credentials: not read yet.")


def test_faces_sentence_counts_each_verdict():
    assert faces_sentence(None) == ""
    assert faces_sentence([]) == "No face found."
    assert faces_sentence(["genuine", "unjudgeable", "genuine"]) == "3 faces: 2 genuine, 1 unjudgeable."
