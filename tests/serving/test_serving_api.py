"""TF Serving's gRPC API as FakeWeb uses it, run against the stand-in (or a real server, see harness.py)."""

from __future__ import annotations

import threading

import grpc
import numpy as np
import pytest
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    model_management_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)
from tensorflow_serving.config import model_server_config_pb2

from services.classifier.serving_client import ModelRoute, ServingCallError, make_tensor_proto
from tests.serving.harness import ServingHarness

BIAS0_ZERO_IMAGE = 0.5  # sigmoid(0): tiny model, bias 0, black crop
BIAS3_ZERO_IMAGE = 1 / (1 + np.exp(-3.0))


def _stub(serving: ServingHarness) -> prediction_service_pb2_grpc.PredictionServiceStub:
    options = [("grpc.max_send_message_length", 64 << 20), ("grpc.max_receive_message_length", 64 << 20)]
    return prediction_service_pb2_grpc.PredictionServiceStub(grpc.insecure_channel(serving.address, options=options))


def _predict_request(name: str, batch: np.ndarray, input_name: str = "image", dtype_enum: int = 4, **spec):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = name
    if "version" in spec:
        request.model_spec.version.value = spec["version"]
    if "label" in spec:
        request.model_spec.version_label = spec["label"]
    request.inputs[input_name].CopyFrom(make_tensor_proto(batch, dtype_enum))
    return request


def _code(call) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value.code()


@pytest.fixture
def one_version(serving: ServingHarness) -> str:
    name = serving.new_model_name()
    serving.add_version(name, 1)
    serving.set_model(name)
    serving.wait_available(name, {1})
    return name


def test_metadata_describes_the_signature_and_the_version(serving: ServingHarness, one_version: str) -> None:
    signature = serving.client().metadata(ModelRoute(one_version))
    assert (signature.name, signature.version) == (one_version, 1)
    assert (signature.input_name, signature.height, signature.width) == ("image", 224, 224)
    assert signature.dtype is np.uint8
    assert signature.output_name == "manipulated_probability"
    assert signature.batch_limit is None


def test_predict_scores_each_row_and_names_the_version(serving: ServingHarness, one_version: str) -> None:
    batch = np.zeros((3, 224, 224, 3), np.uint8)
    batch[1, ..., 0] = 255  # all red: mean(R - B) = 1
    client = serving.client()
    scores, name, version = client.predict(client.metadata(ModelRoute(one_version)), batch)
    assert (name, version) == (one_version, 1)
    np.testing.assert_allclose(scores, [0.5, 1 / (1 + np.exp(-4.0)), 0.5], rtol=1e-5)


def test_large_messages_pass_because_limits_are_raised(serving: ServingHarness, one_version: str) -> None:
    batch = np.zeros((100, 224, 224, 3), np.uint8)  # 15 MB, over gRPC's 4 MiB default
    response = _stub(serving).Predict(_predict_request(one_version, batch), timeout=60)
    assert response.outputs["manipulated_probability"].tensor_shape.dim[0].size == 100


def test_status_codes_match_tf_serving(serving: ServingHarness, one_version: str) -> None:
    stub = _stub(serving)
    batch = np.zeros((1, 224, 224, 3), np.uint8)
    assert (
        _code(lambda: stub.Predict(_predict_request("no-such-model", batch), timeout=10)) == grpc.StatusCode.NOT_FOUND
    )
    assert _code(lambda: stub.Predict(_predict_request(one_version, batch, version=9), timeout=10)) == (
        grpc.StatusCode.NOT_FOUND
    )
    assert _code(lambda: stub.Predict(_predict_request(one_version, batch, label="nope"), timeout=10)) == (
        grpc.StatusCode.INVALID_ARGUMENT
    )
    floats = batch.astype(np.float32)
    assert _code(lambda: stub.Predict(_predict_request(one_version, floats, dtype_enum=1), timeout=10)) == (
        grpc.StatusCode.INVALID_ARGUMENT
    )
    assert _code(lambda: stub.Predict(_predict_request(one_version, batch, input_name="pixels"), timeout=10)) == (
        grpc.StatusCode.INVALID_ARGUMENT
    )
    wrong_size = np.zeros((1, 100, 100, 3), np.uint8)
    assert _code(lambda: stub.Predict(_predict_request(one_version, wrong_size), timeout=10)) == (
        grpc.StatusCode.INVALID_ARGUMENT
    )
    with pytest.raises(ServingCallError) as info:
        serving.client().model_status("no-such-model")
    assert info.value.code == grpc.StatusCode.NOT_FOUND


def test_a_model_without_a_loaded_version_is_not_servable(serving: ServingHarness) -> None:
    name = serving.new_model_name()
    (serving.base / name).mkdir()
    serving.set_model(name)
    client = serving.client()
    if not serving.real:
        serving.wait_until("the empty model to be configured", lambda: _configured(client, name))
    with pytest.raises(ServingCallError) as info:
        client.metadata(ModelRoute(name))
    expected = {grpc.StatusCode.NOT_FOUND} if serving.real else {grpc.StatusCode.FAILED_PRECONDITION}
    assert info.value.code in expected


def _configured(client, name: str) -> bool:
    try:
        client.metadata(ModelRoute(name))
    except ServingCallError as exc:
        return exc.code == grpc.StatusCode.FAILED_PRECONDITION
    return False


def test_a_new_version_loads_without_a_restart_and_without_a_gap(serving: ServingHarness, one_version: str) -> None:
    client = serving.client()
    batch = np.zeros((2, 224, 224, 3), np.uint8)
    seen: list[int] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def predict_latest() -> int:
        return client.predict(client.metadata(ModelRoute(one_version)), batch)[2]

    def keep_predicting() -> None:
        # Metadata names a version and Predict pins it: if version 1 is unloaded between the two
        # calls, TF Serving answers NOT_FOUND. A client asks again at once (the classifier does, in
        # Classifier.score); a gap would be a second failure in a row.
        while not stop.is_set():
            try:
                try:
                    seen.append(predict_latest())
                except ServingCallError as exc:
                    if exc.code != grpc.StatusCode.NOT_FOUND:
                        raise
                    seen.append(predict_latest())
            except Exception as exc:  # every failure is reported by the assertion below
                errors.append(exc)

    thread = threading.Thread(target=keep_predicting, daemon=True)
    thread.start()
    try:
        serving.add_version(one_version, 2, bias=3.0)
        serving.wait_available(one_version, {2})
        serving.wait_until("a prediction from version 2", lambda: bool(seen) and seen[-1] == 2)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert errors == []
    assert seen[0] == 1 and seen[-1] == 2
    assert sorted(set(seen)) == [1, 2]
    assert serving.statuses(one_version)[1] == "END"
    scores, _, version = client.predict(client.metadata(ModelRoute(one_version)), batch)
    assert version == 2
    np.testing.assert_allclose(scores, [BIAS3_ZERO_IMAGE] * 2, rtol=1e-5)


def test_labels_resolve_and_move_with_the_config_file(serving: ServingHarness) -> None:
    name = serving.new_model_name()
    serving.add_version(name, 1)
    serving.add_version(name, 2, bias=3.0)
    serving.set_model(name, specific=[1, 2])
    serving.wait_available(name, {1, 2})
    serving.set_model(name, specific=[1, 2], labels={"stable": 1, "canary": 2})
    client = serving.client()

    def label_version(label: str) -> int | None:
        try:
            return client.metadata(ModelRoute(name, label=label)).version
        except ServingCallError:
            return None

    serving.wait_until("labels stable=1 canary=2", lambda: (label_version("stable"), label_version("canary")) == (1, 2))
    scores, _, version = client.predict(
        client.metadata(ModelRoute(name, label="canary")), np.zeros((1, 224, 224, 3), np.uint8)
    )
    assert version == 2
    np.testing.assert_allclose(scores, [BIAS3_ZERO_IMAGE], rtol=1e-5)
    assert client.metadata(ModelRoute(name)).version == 2  # no label: the highest loaded version

    serving.set_model(name, specific=[1, 2], labels={"stable": 2})
    serving.wait_until("stable moved to 2", lambda: label_version("stable") == 2)
    with pytest.raises(ServingCallError) as info:
        client.metadata(ModelRoute(name, label="canary"))
    assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT


def test_a_label_on_a_version_that_is_not_loaded_is_refused(serving: ServingHarness) -> None:
    name = serving.new_model_name()
    serving.add_version(name, 1)
    serving.set_model(name, labels={"stable": 1})
    serving.wait_available(name, {1})
    config = model_server_config_pb2.ModelServerConfig()
    config.model_config_list.config.extend(serving.models.values())
    target = next(c for c in config.model_config_list.config if c.name == name)
    target.version_labels["canary"] = 5
    stub = model_service_pb2_grpc.ModelServiceStub(grpc.insecure_channel(serving.address))
    request = model_management_pb2.ReloadConfigRequest(config=config)
    assert _code(lambda: stub.HandleReloadConfigRequest(request, timeout=30)) == grpc.StatusCode.FAILED_PRECONDITION
    assert serving.client().metadata(ModelRoute(name, label="stable")).version == 1


def test_metadata_needs_the_signature_def_field(serving: ServingHarness, one_version: str) -> None:
    stub = _stub(serving)
    request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["nope"])
    request.model_spec.name = one_version
    assert _code(lambda: stub.GetModelMetadata(request, timeout=10)) == grpc.StatusCode.INVALID_ARGUMENT


def test_a_broken_version_does_not_replace_the_working_one(serving: ServingHarness) -> None:
    name = serving.new_model_name()
    serving.add_version(name, 1)
    serving.set_model(name)
    serving.wait_available(name, {1})
    broken = serving.base / name / ".tmp-2"
    broken.mkdir()
    (broken / "saved_model.pb").write_bytes(b"not a SavedModel")
    broken.rename(serving.base / name / "2")
    serving.wait_until("version 2 to fail loading", lambda: serving.statuses(name).get(2) in ("LOADING", "END"))
    serving.wait_until("version 2 to give up", lambda: serving.statuses(name).get(2) == "END", timeout_s=120)
    _, _, version = serving.client().predict(
        serving.client().metadata(ModelRoute(name)), np.zeros((1, 224, 224, 3), np.uint8)
    )
    assert version == 1
    assert serving.statuses(name)[1] == "AVAILABLE"
