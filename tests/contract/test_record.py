"""The typed job record: it reads what earlier versions wrote, and writes only what changed."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.contract.record import JobRecord, JobStatus

# A finished job's hash as the previous version (dict[str, str] everywhere) left it.
EARLIER_VERSION = {
    "status": "completed",
    "stage": "",
    "created_at": "1790000000.123",
    "updated_at": "1790000002.5",
    "tenant": "dev",
    "threshold": "0.5",
    "include_landmarks": "0",
    "sha256": "ab" * 32,
    "bytes": "81234",
    "width": "640",
    "height": "480",
    "media_type": "image/jpeg",
    "source": "upload",
    "callback_url": "",
    "model_spec": "fakeweb@default",
    "cache_scope": "tenant-dev",
    "cache_ttl_s": "86400",
    "idempotency_key": "",
    "detect_started": "1790000000.2",
    "detect_finished": "1790000000.6",
    "faces_total": "2",
    "faces_judgeable": "1",
    "chunks_total": "1",
    "classify_started": "1790000000.7",
    "chunks_done": "1",
    "faces_scored": "1",
    "classify_finished": "1790000000.8",
    "annotate_started": "1790000000.9",
    "annotate_finished": "1790000002.4",
    "faces_annotated": "2",
    "ended_notified": "1790000002.6",
    "cache_key": "fakeweb:cache:tenant-dev:abab:0.5:0:fakeweb:2",
    "webhook_status": "delivered",
    "webhook_attempts": "1",
    "webhook_last_http_status": "204",
    "webhook_error": "",
}


def test_a_record_of_the_earlier_version_reads_as_typed_values():
    record = JobRecord.from_redis(EARLIER_VERSION)
    assert record.status is JobStatus.COMPLETED and record.is_final and record.has_result
    assert record.stage is None and record.reason is None
    assert (record.threshold, record.include_landmarks, record.cache_ttl_s) == (0.5, False, 86400)
    assert (record.faces_total, record.faces_judgeable, record.faces_annotated) == (2, 1, 2)
    assert record.started == {"detect": 1790000000.2, "classify": 1790000000.7, "annotate": 1790000000.9}
    assert record.finished["annotate"] == 1790000002.4
    assert (record.webhook_status, record.webhook_attempts, record.webhook_last_http_status) == ("delivered", 1, 204)
    assert record.updated_by == "", "written before updated_by existed"


def test_reading_writes_nothing_back_and_the_wire_form_is_unchanged():
    record = JobRecord.from_redis(EARLIER_VERSION)
    assert record.to_redis() == {}
    record.touch(*record.model_fields_set)
    assert record.to_redis() == {name: value for name, value in EARLIER_VERSION.items() if value != ""}


def test_only_assigned_fields_are_written():
    record = JobRecord.from_redis(EARLIER_VERSION)
    record.webhook_attempts = 2
    record.finished = {**record.finished, "classify": 5.25}
    assert record.to_redis() == {
        "webhook_attempts": "2",
        "detect_finished": "1790000000.6",
        "classify_finished": "5.25",
        "annotate_finished": "1790000002.4",
    }


def test_a_record_made_in_code_writes_the_fields_it_was_given_in_the_wire_format():
    record = JobRecord(threshold=0.25, include_landmarks=True, stage=None, started={"detect": 1.5})
    assert record.to_redis() == {"stage": "", "threshold": "0.25", "include_landmarks": "1", "detect_started": "1.5"}


def test_fields_and_values_are_checked_when_written_in_code():
    with pytest.raises(ValidationError):
        JobRecord(faces_totl=3)
    with pytest.raises(ValidationError):
        JobRecord(stage="detct")
    with pytest.raises(ValidationError):
        JobRecord(finished={"detct": 1.0})
    record = JobRecord()
    with pytest.raises(ValidationError):
        record.faces_total = "many"


def test_fields_of_other_versions_are_read_without_failing():
    record = JobRecord.from_redis({"status": "running", "stage": "track", "track_started": "1.0", "colour": "red"})
    assert record.status is JobStatus.RUNNING
    assert record.stage == "track", "a stage a newer version declares is reported as it is"
    assert record.started == {}


def test_wire_names_expand_the_stage_times():
    assert JobRecord.wire_names(["status", "started"]) == [
        "status",
        "provenance_started",
        "detect_started",
        "classify_started",
        "annotate_started",
    ]
    with pytest.raises(AttributeError):
        JobRecord.wire_names(["statu"])


def test_provenance_travels_as_one_json_field_and_reads_back_equal():
    from services.contract.provenance import Provenance, ProvenanceAction, ProvenanceStatus

    provenance = Provenance(
        status=ProvenanceStatus.UNTRUSTED,
        claim_generator="Camera 1.0",
        actions=[ProvenanceAction(action="c2pa.created", digital_source_type="digitalCapture")],
        digital_source_type="digitalCapture",
        digital_source_type_from="c2pa",
    )
    wire = JobRecord(provenance=provenance).to_redis()
    assert list(wire) == ["provenance"] and wire["provenance"].startswith('{"status":"untrusted"')
    assert JobRecord.from_redis(wire).provenance == provenance


def test_a_provenance_written_by_a_newer_version_with_more_keys_still_reads():
    record = JobRecord.from_redis({"provenance": '{"status":"valid","signer":"S","colour":"red"}'})
    assert record.provenance is not None
    assert (record.provenance.status.value, record.provenance.signer) == ("valid", "S")
