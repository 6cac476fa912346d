"""Which version of a model serving answers with right now, for a label or for the model's default.

One GetModelMetadata call with a deadline. TF Serving resolves ``version_label`` (and, with no
version choice, the newest loaded version) on the server exactly as it does for Predict, and names
the version in the response's ``model_spec``. GetModelMetadata needs ``metadata_field`` (TF Serving
rejects an empty one), so ``signature_def`` is asked for and left unparsed.
"""

from __future__ import annotations

import grpc

from tfserving_protos.tensorflow_serving.apis import get_model_metadata_pb2, model_pb2, prediction_service_pb2_grpc

DEFAULT_TIMEOUT_S = 2.0


class VersionLookupError(Exception):
    """Serving did not name a version: ``code`` is the gRPC status, ``details`` serving's message.

    NOT_FOUND: no such model, or the labelled version is not loaded; INVALID_ARGUMENT: serving has
    no such label; FAILED_PRECONDITION: no version loaded yet (the stand-in's answer);
    UNAVAILABLE: serving unreachable; DEADLINE_EXCEEDED: no answer within ``timeout_s``.
    """

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"{code.name}: {details}")
        self.code = code
        self.details = details


def resolve_version(
    target: str | grpc.Channel, model_name: str, label: str | None = None, timeout_s: float = DEFAULT_TIMEOUT_S
) -> int:
    """The version ``label`` of ``model_name`` (``None``: the model's default) resolves to in serving now.

    ``target`` is a ``host:port`` (a channel is opened and closed for this one call) or an open
    ``grpc.Channel`` to reuse. Raises ``VersionLookupError``; never retries.
    """
    spec = model_pb2.ModelSpec(name=model_name)
    if label:
        spec.version_label = label
    request = get_model_metadata_pb2.GetModelMetadataRequest(model_spec=spec, metadata_field=["signature_def"])
    channel = grpc.insecure_channel(target) if isinstance(target, str) else target
    try:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        response = stub.GetModelMetadata(request, timeout=timeout_s)
    except grpc.RpcError as exc:
        raise VersionLookupError(exc.code(), exc.details() or "") from exc
    finally:
        if isinstance(target, str):
            channel.close()
    if not response.model_spec.HasField("version"):
        raise VersionLookupError(grpc.StatusCode.UNKNOWN, f"serving named no version for {model_name!r}")
    return int(response.model_spec.version.value)
