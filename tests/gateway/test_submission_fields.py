"""The submission's options are declared once (SubmissionOptions): both request bodies and the record follow it."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.contract.record import JobRecord
from services.gateway.app import create_app
from services.gateway.models import SubmissionOptions, SubmitByUpload, SubmitByUrl

OPTIONS = list(SubmissionOptions.model_fields)


def test_both_request_bodies_document_every_option_alike():
    schema = create_app().openapi()
    body = schema["paths"]["/v1/jobs"]["post"]["requestBody"]["content"]
    form = body["multipart/form-data"]["schema"]["properties"]
    json_body = schema["components"]["schemas"]["SubmitByUrl"]["properties"]
    assert set(OPTIONS) <= set(form) & set(json_body)
    for name in OPTIONS:
        declared = SubmissionOptions.model_fields[name].description
        assert form[name]["description"] == json_body[name]["description"] == declared
    assert (form["threshold"]["minimum"], form["threshold"]["maximum"]) == (0.0, 1.0)
    assert "anyOf" not in form["threshold"], "a form field is left out, never null"
    assert form["image"]["format"] == "binary"


def test_a_form_reads_blank_as_unset_and_words_without_case_or_space():
    parsed = SubmitByUpload.model_validate(
        {"image": b"x", "threshold": " ", "callback_url": "", "include_landmarks": " Yes "}
    )
    assert (parsed.threshold, parsed.callback_url, parsed.include_landmarks) == (None, None, True)
    assert SubmitByUpload.model_validate({"image": b"x", "threshold": " 0.25 "}).threshold == 0.25


@pytest.mark.parametrize("field", [{"threshold": "1.5"}, {"include_landmarks": "maybe"}, {"callback_url": "x" * 2049}])
def test_both_bodies_refuse_the_same_option_values(field):
    with pytest.raises(ValidationError):
        SubmitByUpload.model_validate({"image": b"x", **field})
    with pytest.raises(ValidationError):
        SubmitByUrl.model_validate({"url": "https://example.com/a.jpg", **field})


def test_every_option_is_a_record_field_of_the_same_name():
    assert set(OPTIONS) <= set(JobRecord.model_fields)
    fields = SubmitByUrl(url="https://example.com/a.jpg", include_landmarks=True).record_fields(0.5)
    assert JobRecord(**fields).model_dump(include=set(OPTIONS)) == {
        "threshold": 0.5,
        "callback_url": "",
        "include_landmarks": True,
        "delete_after_s": None,
    }
