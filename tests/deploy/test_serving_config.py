"""TF Serving's files under deploy/ agree with the compose/k8s mounts and the FakeWeb settings."""

from __future__ import annotations

import re

from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from tests.deploy.code_scan import REPO
from tests.deploy.test_settings_env import parse_env_file

TFSERVING = REPO / "deploy" / "tfserving"


def models_config() -> model_server_config_pb2.ModelServerConfig:
    return text_format.Parse((TFSERVING / "models.config").read_text(), model_server_config_pb2.ModelServerConfig())


def test_models_config_serves_the_configured_model_from_the_volume():
    env, _ = parse_env_file(REPO / ".env.example")
    configs = {c.name: c for c in models_config().model_config_list.config}
    model = configs[env["FAKEWEB_MODEL_NAME"]]
    # compose and k8s mount the model repository at FAKEWEB_MODEL_BASE_PATH (/models)
    assert model.base_path == f"{env['FAKEWEB_MODEL_BASE_PATH']}/{model.name}"
    assert model.model_platform == "tensorflow"


def test_batching_allows_the_classifiers_largest_batch():
    env, _ = parse_env_file(REPO / ".env.example")
    # BatchingParameters' proto is not in the tensorflow-serving-api wheel: read the one field.
    text = (TFSERVING / "batching_parameters.txt").read_text()
    (max_batch,) = re.findall(r"^\s*max_batch_size\s*\{\s*value:\s*(\d+)\s*\}", text, flags=re.MULTILINE)
    # TF Serving rejects a request with more rows than max_batch_size (INVALID_ARGUMENT)
    assert int(max_batch) >= int(env["FAKEWEB_CLASSIFY_MAX_BATCH"])


def test_every_labelled_version_is_bundled():
    for model in models_config().model_config_list.config:
        versions = set(model.version_labels.values()) | set(model.model_version_policy.specific.versions)
        for version in versions:
            bundled = REPO / "deploy" / "models" / model.name / str(version) / "saved_model.pb"
            assert bundled.is_file(), f"models.config serves {model.name}/{version}, but {bundled} is missing"
