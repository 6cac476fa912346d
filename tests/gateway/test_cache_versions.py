"""The result cache follows the version serving answers with for the job's route now: after a promote
the same photo is scored again by the new version, after a rollback the old version's result is
reused. Real serving (the stand-in over a model repository whose labels move), real Redis and S3."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from services.gateway.app import create_app
from services.gateway.served_model import REMEMBER_S
from tests.gateway.conftest import ALPHA, gateway_settings, submit
from tests.gateway.pipeline_double import finish_job
from tests.serving.conftest import serving, tiny_exports  # noqa: F401 - fixtures
from tests.support.images import jpeg_bytes
from tfserving_protos.versions import resolve_version

pytestmark = pytest.mark.slow


def _move_stable(serving, name: str, version: int) -> None:  # noqa: F811
    serving.set_model(name, specific=[1, 2], labels={"stable": version})
    serving.wait_until(f"stable={version}", lambda: resolve_version(serving.address, name, "stable") == version)
    time.sleep(REMEMBER_S + 0.2)  # the gateway's remembered answer expires


def test_resubmitting_after_promote_and_rollback_gets_the_serving_versions_verdict(backends, serving):  # noqa: F811
    name = serving.new_model_name("cache")
    serving.add_version(name, 1)
    serving.add_version(name, 2, bias=3.0)
    serving.set_model(name, specific=[1, 2], labels={"stable": 1})
    serving.wait_available(name, {1, 2})
    settings = gateway_settings(
        backends, serving_address=serving.address, model_name=name, model_label="stable", model_version=None
    )
    photo = jpeg_bytes(seed=171)
    with TestClient(create_app(settings)) as client:
        first = submit(client, photo).json()["id"]
        finish_job(backends.settings, first, model_version=1, model_name=name)
        cached = submit(client, photo).json()
        assert cached["status"] == "completed"  # stable is still version 1

        _move_stable(serving, name, 2)  # fakeweb model promote
        fresh = submit(client, photo).json()
        assert fresh["status"] == "queued"  # version 2 has not scored this photo: it must
        finish_job(backends.settings, fresh["id"], model_version=2, model_name=name)
        again = submit(client, photo).json()
        assert again["status"] == "completed"
        faces = client.get(f"/v1/jobs/{again['id']}", headers=ALPHA).json()["faces"]
        assert {face["model"]["version"] for face in faces} == {2}

        _move_stable(serving, name, 1)  # fakeweb model rollback
        back = submit(client, photo).json()
        assert back["status"] == "completed"
        faces = client.get(f"/v1/jobs/{back['id']}", headers=ALPHA).json()["faces"]
        assert {face["model"]["version"] for face in faces} == {1}


def test_without_an_answer_from_serving_only_model_free_results_are_reused(backends):
    settings = gateway_settings(backends, serving_address="127.0.0.1:9", model_version=None)
    scored, faceless = jpeg_bytes(seed=181), jpeg_bytes(seed=182)
    with TestClient(create_app(settings)) as client:
        finish_job(backends.settings, submit(client, scored).json()["id"], model_version=1)
        finish_job(backends.settings, submit(client, faceless).json()["id"], model_version=None, faces=0)
        assert submit(client, scored).json()["status"] == "queued"  # no version to match: score again
        assert submit(client, faceless).json()["status"] == "no_face"  # no model decided it
