"""resolve_version against a real TF Serving (the stand-in subprocess, or a real one; see tests/serving/harness.py)."""

from __future__ import annotations

import threading
import time
from concurrent import futures

import grpc
import pytest

from deploy.local.stack import free_port
from tests.serving.harness import ServingHarness
from tfserving_protos.tensorflow_serving.apis import get_model_metadata_pb2
from tfserving_protos.versions import VersionLookupError, resolve_version


@pytest.fixture(scope="module")
def labelled(serving: ServingHarness) -> str:
    """Versions 1 and 2 loaded, labelled stable=1 and canary=2."""
    name = serving.new_model_name("v")
    serving.add_version(name, 1)
    serving.add_version(name, 2, bias=3.0)
    serving.set_model(name, specific=[1, 2])
    serving.wait_available(name, {1, 2})
    serving.set_model(name, specific=[1, 2], labels={"stable": 1, "canary": 2})
    serving.wait_until("labels", lambda: _quiet(serving.address, name, "canary") == 2)
    return name


def _quiet(address: str, name: str, label: str | None) -> int | None:
    try:
        return resolve_version(address, name, label)
    except VersionLookupError:
        return None


def test_labels_and_the_default_resolve_to_their_versions(serving, labelled):
    assert resolve_version(serving.address, labelled) == 2  # no label: the newest loaded version
    assert resolve_version(serving.address, labelled, "stable") == 1
    assert resolve_version(serving.address, labelled, "canary", timeout_s=5.0) == 2


def test_an_open_channel_is_reused_and_left_open(serving, labelled):
    channel = grpc.insecure_channel(serving.address)
    try:
        assert [resolve_version(channel, labelled, label) for label in ("stable", "canary", None)] == [1, 2, 2]
        assert resolve_version(channel, labelled, "stable") == 1  # still open
    finally:
        channel.close()


def test_the_answer_follows_a_label_moved_in_the_config(serving, labelled):
    serving.set_model(labelled, specific=[1, 2], labels={"stable": 2, "canary": 2})
    try:
        serving.wait_until("stable moved to 2", lambda: _quiet(serving.address, labelled, "stable") == 2)
    finally:
        serving.set_model(labelled, specific=[1, 2], labels={"stable": 1, "canary": 2})
        serving.wait_until("stable back at 1", lambda: _quiet(serving.address, labelled, "stable") == 1)


def test_unknown_label_and_unknown_model_raise_with_the_status_code(serving, labelled):
    with pytest.raises(VersionLookupError) as label:
        resolve_version(serving.address, labelled, "no-such-label")
    assert label.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "no-such-label" in label.value.details
    with pytest.raises(VersionLookupError) as model:
        resolve_version(serving.address, "no-such-model")
    assert model.value.code == grpc.StatusCode.NOT_FOUND


def test_unreachable_serving_is_unavailable_quickly():
    started = time.monotonic()
    with pytest.raises(VersionLookupError) as info:
        resolve_version(f"127.0.0.1:{free_port()}", "fakeweb", timeout_s=5.0)
    assert info.value.code == grpc.StatusCode.UNAVAILABLE
    assert time.monotonic() - started < 5.0


def test_a_slow_server_hits_the_deadline():
    """A real gRPC server that answers GetModelMetadata only after the client's deadline."""
    release = threading.Event()

    def slow(request, context):
        release.wait(5)
        return get_model_metadata_pb2.GetModelMetadataResponse()

    handler = grpc.method_handlers_generic_handler(
        "tensorflow.serving.PredictionService",
        {
            "GetModelMetadata": grpc.unary_unary_rpc_method_handler(
                slow,
                request_deserializer=get_model_metadata_pb2.GetModelMetadataRequest.FromString,
                response_serializer=get_model_metadata_pb2.GetModelMetadataResponse.SerializeToString,
            )
        },
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2), handlers=[handler])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        started = time.monotonic()
        with pytest.raises(VersionLookupError) as info:
            resolve_version(f"127.0.0.1:{port}", "fakeweb", "stable", timeout_s=0.3)
        assert info.value.code == grpc.StatusCode.DEADLINE_EXCEEDED
        assert time.monotonic() - started < 3.0
    finally:
        release.set()
        server.stop(grace=None)
