"""A TF Serving gRPC client: one lazy channel per process, deadlines, retries, raised message limits.

The API messages and stubs come from ``tfserving_protos`` (generated, protobuf + grpcio only), so
this process never imports TensorFlow.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc
import numpy as np

from services.contract.tasks import ServingUnavailable
from tfserving_protos import tensors
from tfserving_protos.tensorflow.core.framework import tensor_pb2
from tfserving_protos.tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 64 * 1024 * 1024
TRANSIENT_CODES = frozenset(
    {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.RESOURCE_EXHAUSTED}
)
DEFAULT_OUTPUT = "manipulated_probability"

# tensorflow.DataType numbers this client can send, and how.
_DT_FLOAT, _DT_UINT8 = 1, 4
_NUMPY_DTYPES = {_DT_FLOAT: np.float32, _DT_UINT8: np.uint8}


class ServingCallError(Exception):
    """TF Serving answered with a non-transient error status."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"{code.name}: {details}")
        self.code = code
        self.details = details


class ModelIncompatible(Exception):
    """The served model's signature is not one FakeWeb can call (no image input, no score output)."""


@dataclass(frozen=True)
class ModelRoute:
    """What to ask serving for: a model name plus at most one of version or label."""

    name: str
    version: int | None = None
    label: str | None = None

    def spec(self, signature_name: str = "") -> model_pb2.ModelSpec:
        """The ModelSpec of this route."""
        spec = model_pb2.ModelSpec(name=self.name, signature_name=signature_name)
        if self.version is not None:
            spec.version.value = self.version
        elif self.label:
            spec.version_label = self.label
        return spec

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name} version {self.version}"
        return f"{self.name} label {self.label}" if self.label else f"{self.name} (latest)"


@dataclass(frozen=True)
class ModelSignature:
    """What the classifier learned about a model version from GetModelMetadata."""

    name: str
    version: int
    signature_name: str
    input_name: str
    height: int
    width: int
    dtype: type
    dtype_enum: int
    batch_limit: int | None
    output_name: str


def parse_signature(
    response: get_model_metadata_pb2.GetModelMetadataResponse, signature_name: str = "serving_default"
) -> ModelSignature:
    """Read input name/size/dtype, the fixed batch size (if any) and the score output from metadata."""
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    if not response.metadata["signature_def"].Unpack(signature_map):
        raise ModelIncompatible("GetModelMetadata returned no signature_def map")
    if signature_name not in signature_map.signature_def:
        raise ModelIncompatible(f"the model has no signature {signature_name!r}")
    return signature_from_def(
        signature_map.signature_def[signature_name],
        response.model_spec.name,
        int(response.model_spec.version.value),
        signature_name,
    )


def signature_from_def(signature: Any, name: str, version: int, signature_name: str) -> ModelSignature:
    """The part of a SignatureDef FakeWeb calls: one [N, H, W, 3] image input and a score output."""
    if len(signature.inputs) != 1:
        raise ModelIncompatible(f"expected one image input, the signature has {sorted(signature.inputs)}")
    input_name, tensor = next(iter(signature.inputs.items()))
    dims = [d.size for d in tensor.tensor_shape.dim]
    if len(dims) != 4 or dims[3] != 3 or dims[1] <= 0 or dims[2] <= 0:
        raise ModelIncompatible(f"input {input_name} must be [N, H, W, 3] with fixed H and W, got {dims}")
    if tensor.dtype not in _NUMPY_DTYPES:
        raise ModelIncompatible(f"input {input_name} has dtype enum {tensor.dtype}; uint8 or float32 expected")
    outputs = list(signature.outputs)
    if DEFAULT_OUTPUT in outputs:
        output_name = DEFAULT_OUTPUT
    elif len(outputs) == 1:
        output_name = outputs[0]
    else:
        raise ModelIncompatible(f"cannot tell the score output among {outputs}")
    return ModelSignature(
        name=name,
        version=version,
        signature_name=signature_name,
        input_name=input_name,
        height=dims[1],
        width=dims[2],
        dtype=_NUMPY_DTYPES[tensor.dtype],
        dtype_enum=tensor.dtype,
        batch_limit=dims[0] if dims[0] > 0 else None,
        output_name=output_name,
    )


def make_tensor_proto(array: np.ndarray, dtype_enum: int) -> tensor_pb2.TensorProto:
    """A TensorProto with the raw bytes of ``array`` as a dtype this client sends (uint8 or float32)."""
    if dtype_enum not in _NUMPY_DTYPES:
        raise KeyError(dtype_enum)
    return tensors.to_tensor_proto(array, dtype_enum)


def tensor_to_array(proto: tensor_pb2.TensorProto) -> np.ndarray:
    """Decode an output TensorProto (tensor_content or the repeated values), as tf.make_ndarray does."""
    try:
        return tensors.to_ndarray(proto)
    except (TypeError, ValueError) as exc:
        raise ModelIncompatible(f"the output tensor cannot be read: {exc}") from exc


class ServingClient:
    """Calls TF Serving over one channel made on first use; transient faults are retried with backoff."""

    def __init__(self, address: str, timeout_s: float, attempts: int = 3, backoff_s: float = 0.2) -> None:
        self.address = address
        self.timeout_s = timeout_s
        self.attempts = attempts
        self.backoff_s = backoff_s
        self._lock = threading.Lock()
        self._channel: grpc.Channel | None = None
        self._prediction: prediction_service_pb2_grpc.PredictionServiceStub | None = None
        self._models: model_service_pb2_grpc.ModelServiceStub | None = None

    def _stubs(
        self,
    ) -> tuple[prediction_service_pb2_grpc.PredictionServiceStub, model_service_pb2_grpc.ModelServiceStub]:
        with self._lock:
            if self._channel is None:
                self._channel = grpc.insecure_channel(
                    self.address,
                    options=[
                        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                    ],
                )
                self._prediction = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)
                self._models = model_service_pb2_grpc.ModelServiceStub(self._channel)
            assert self._prediction is not None and self._models is not None
            return self._prediction, self._models

    def close(self) -> None:
        """Close the channel (a later call opens a new one)."""
        with self._lock:
            if self._channel is not None:
                self._channel.close()
            self._channel = self._prediction = self._models = None

    def _call(self, method: Callable[..., Any], request: Any, timeout_s: float | None = None) -> Any:
        delay = self.backoff_s
        for attempt in range(1, self.attempts + 1):
            try:
                return method(request, timeout=timeout_s or self.timeout_s)
            except grpc.RpcError as exc:
                code = exc.code()
                if code not in TRANSIENT_CODES:
                    raise ServingCallError(code, exc.details() or "") from exc
                if attempt == self.attempts:
                    raise ServingUnavailable(f"TF Serving at {self.address}: {code.name}: {exc.details()}") from exc
                log.warning("serving %s (%s), retry %d in %.1fs", code.name, exc.details(), attempt, delay)
                time.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")

    def metadata(self, route: ModelRoute, signature_name: str = "serving_default") -> ModelSignature:
        """Resolve ``route`` to a version and learn its signature."""
        request = get_model_metadata_pb2.GetModelMetadataRequest(
            model_spec=route.spec(), metadata_field=["signature_def"]
        )
        response = self._call(self._stubs()[0].GetModelMetadata, request)
        return parse_signature(response, signature_name)

    def predict(self, signature: ModelSignature, batch: np.ndarray) -> tuple[np.ndarray, str, int]:
        """Score a batch on exactly the version ``signature`` describes; return (scores, name, version)."""
        spec = ModelRoute(signature.name, signature.version).spec(signature.signature_name)
        request = predict_pb2.PredictRequest(model_spec=spec, output_filter=[signature.output_name])
        request.inputs[signature.input_name].CopyFrom(make_tensor_proto(batch, signature.dtype_enum))
        response = self._call(self._stubs()[0].Predict, request)
        scores = tensor_to_array(response.outputs[signature.output_name]).reshape(len(batch), -1)[:, 0]
        return scores.astype(float), response.model_spec.name, int(response.model_spec.version.value)

    def model_status(self, name: str, version: int | None = None) -> list[tuple[int, str, str]]:
        """``(version, state name, error message)`` for each version serving knows of."""
        spec = ModelRoute(name, version).spec()
        request = get_model_status_pb2.GetModelStatusRequest(model_spec=spec)
        response = self._call(self._stubs()[1].GetModelStatus, request)
        state_name = get_model_status_pb2.ModelVersionStatus.State.Name
        return [(s.version, state_name(s.state), s.status.error_message) for s in response.model_version_status]
