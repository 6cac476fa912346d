"""The classifier's scoring against a real TF Serving (the stand-in subprocess, or a real one)."""

from __future__ import annotations

import grpc
import numpy as np
import pytest

from deploy.local.stack import free_port
from services.classifier.scoring import Classifier, ModelConfigurationError, ModelUnavailable, check_routes
from services.classifier.serving_client import ServingClient
from services.contract.settings import Settings
from services.contract.tasks import JobFailed, ServingUnavailable
from tests.serving.harness import ServingHarness

SIGMOID_3 = 1 / (1 + np.exp(-3.0))


class CountingClient(ServingClient):
    """A real client that remembers the batch sizes it sent."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.batches: list[int] = []

    def predict(self, signature, batch):
        self.batches.append(len(batch))
        return super().predict(signature, batch)


def _crops(count: int, red: bool = False) -> list[np.ndarray]:
    crop = np.zeros((224, 224, 3), np.uint8)
    if red:
        crop[..., 0] = 255
    return [crop.copy() for _ in range(count)]


def _classifier(serving: ServingHarness, name: str, **settings) -> Classifier:
    values = {"serving_address": serving.address, "model_name": name, **settings}
    config = Settings(**values)
    return Classifier(config, CountingClient(serving.address, 10.0))


@pytest.fixture(scope="module")
def two_versions(serving: ServingHarness) -> str:
    """Versions 1 (bias 0) and 2 (bias 3) loaded, labelled stable=1 and canary=2."""
    name = serving.new_model_name("c")
    serving.add_version(name, 1)
    serving.add_version(name, 2, bias=3.0)
    serving.set_model(name, specific=[1, 2])
    serving.wait_available(name, {1, 2})
    serving.set_model(name, specific=[1, 2], labels={"stable": 1, "canary": 2})
    client = serving.client()
    serving.wait_until("labels", lambda: _label_ok(client, name))
    return name


def _label_ok(client: ServingClient, name: str) -> bool:
    from services.classifier.serving_client import ModelRoute, ServingCallError

    try:
        return client.metadata(ModelRoute(name, label="canary")).version == 2
    except ServingCallError:
        return False


def test_batches_never_exceed_the_limit_and_every_face_gets_its_version(serving, two_versions):
    classifier = _classifier(serving, two_versions, model_label="stable", classify_max_batch=4)
    results = classifier.score("job-a", _crops(9) + _crops(1, red=True))
    assert classifier.client.batches == [4, 4, 2]
    assert [(name, version) for _, name, version in results] == [(two_versions, 1)] * 10
    np.testing.assert_allclose([p for p, _, _ in results], [0.5] * 9 + [1 / (1 + np.exp(-4.0))], rtol=1e-5)


def test_canary_share_sends_a_job_to_the_canary_version(serving, two_versions):
    all_canary = _classifier(serving, two_versions, canary_share=1.0)
    (p, _, version), *_ = all_canary.score("job-b", _crops(2))
    assert version == 2 and p == pytest.approx(SIGMOID_3, rel=1e-5)
    half = _classifier(serving, two_versions, canary_share=0.5)
    versions = {half.score(f"job-{i}", _crops(1))[0][2] for i in range(40)}
    assert versions == {1, 2}


def test_a_pinned_version_is_called_and_its_metadata_cached(serving, two_versions):
    classifier = _classifier(serving, two_versions, model_version=2)
    assert {v for _, _, v in classifier.score("job-c", _crops(3))} == {2}
    assert (two_versions, 2) in classifier._signatures


def test_a_missing_canary_label_falls_back_to_the_main_route(serving):
    name = serving.new_model_name("c")
    serving.add_version(name, 1)
    serving.set_model(name, labels={"stable": 1})
    serving.wait_available(name, {1})
    classifier = _classifier(serving, name, canary_share=1.0)
    serving.wait_until("stable label", lambda: _has_label(classifier, "stable"))
    assert [v for _, _, v in classifier.score("job-d", _crops(2))] == [1, 1]


def _has_label(classifier: Classifier, label: str) -> bool:
    from services.classifier.serving_client import ModelRoute, ServingCallError

    try:
        classifier.client.metadata(ModelRoute(classifier.settings.model_name, label=label))
        return True
    except ServingCallError:
        return False


def test_an_unknown_label_fails_the_job_and_the_start_up_check(serving, two_versions):
    classifier = _classifier(serving, two_versions, model_label="nope")
    with pytest.raises(JobFailed) as info:
        classifier.score("job-e", _crops(1))
    assert info.value.reason == "model_unavailable"
    with pytest.raises(ModelConfigurationError, match="no version label 'nope'"):
        check_routes(classifier.settings, classifier.client)
    found = check_routes(_classifier(serving, two_versions, canary_share=0.5).settings, classifier.client)
    assert [s.version for s in found] == [1, 2]


def test_a_version_that_is_not_loaded_is_retried_as_model_unavailable(serving, two_versions):
    classifier = _classifier(serving, two_versions, model_version=9)
    with pytest.raises(ModelUnavailable) as info:
        classifier.score("job-f", _crops(1))
    assert isinstance(info.value, ServingUnavailable)
    assert info.value.reason == "model_unavailable"


def test_serving_down_is_serving_unavailable_after_client_retries():
    address = f"127.0.0.1:{free_port()}"
    settings = Settings(serving_address=address, serving_timeout_s=1.0)
    classifier = Classifier(settings, ServingClient(address, 1.0, attempts=2, backoff_s=0.05))
    with pytest.raises(ServingUnavailable) as info:
        classifier.score("job-g", _crops(1))
    assert not isinstance(info.value, ModelUnavailable)
    assert info.value.reason == "serving_unavailable"
    assert grpc.StatusCode.UNAVAILABLE.name in str(info.value) or "DEADLINE" in str(info.value)


def test_a_model_with_another_input_size_gets_resized_crops(serving, tmp_path):
    from tests.support.tiny_model import export_tiny_model

    name = serving.new_model_name("c")
    export_tiny_model(serving.base / name / ".tmp-1", size=112).rename(serving.base / name / "1")
    serving.set_model(name)
    serving.wait_available(name, {1})
    classifier = _classifier(serving, name)
    results = classifier.score("job-h", _crops(1, red=True))
    assert results[0][1:] == (name, 1)
    assert results[0][0] == pytest.approx(1 / (1 + np.exp(-4.0)), rel=1e-4)
