"""One loaded model version: its SavedModel, signatures, Predict and warmup replay."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import grpc
import numpy as np
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

from fakeweb_cli.repository_layout import DEFAULT_SIGNATURE, SERVE_TAG, WARMUP_FILE, read_signature_defs

log = logging.getLogger(__name__)


class ServingError(Exception):
    """A request error carrying the gRPC status code TF Serving would answer with."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Servable:
    """A SavedModel version loaded in this process (TensorFlow objects are made here, on load)."""

    def __init__(self, name: str, version: int, path: Path) -> None:
        import tensorflow as tf

        self.name = name
        self.version = version
        self.path = path
        self.signature_defs = read_signature_defs(path)
        self._model = tf.saved_model.load(str(path), tags=[SERVE_TAG])
        self._functions = dict(self._model.signatures)

    def predict(self, request: predict_pb2.PredictRequest) -> dict[str, Any]:
        """Run one PredictRequest; return output name -> TensorProto. Raise ServingError."""
        import tensorflow as tf

        signature_name = request.model_spec.signature_name or DEFAULT_SIGNATURE
        signature = self.signature_defs.get(signature_name)
        function = self._functions.get(signature_name)
        if signature is None or function is None:
            raise ServingError(
                grpc.StatusCode.FAILED_PRECONDITION, f'Serving signature key "{signature_name}" not found.'
            )
        expected = set(signature.inputs)
        given = set(request.inputs)
        if given != expected:
            raise ServingError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"input size does not match signature: {len(given)}!={len(expected)} "
                f"len({sorted(given)}) != len({sorted(expected)}).",
            )
        kwargs = {}
        for key, tensor_info in signature.inputs.items():
            proto = request.inputs[key]
            if proto.dtype != tensor_info.dtype:
                want = tf.dtypes.as_dtype(tensor_info.dtype).name
                got = tf.dtypes.as_dtype(proto.dtype).name if proto.dtype else "unknown"
                raise ServingError(
                    grpc.StatusCode.INVALID_ARGUMENT, f"Expects arg[{key}] to be {want} but {got} is provided"
                )
            try:
                array = tf.make_ndarray(proto)
            except (TypeError, ValueError) as exc:
                raise ServingError(grpc.StatusCode.INVALID_ARGUMENT, f"input {key} is malformed: {exc}") from exc
            _check_shape(key, array.shape, tensor_info)
            kwargs[key] = tf.constant(array)
        try:
            outputs = function(**kwargs)
        except (tf.errors.InvalidArgumentError, ValueError, TypeError) as exc:
            raise ServingError(grpc.StatusCode.INVALID_ARGUMENT, _first_line(exc)) from exc
        wanted = list(request.output_filter) or list(outputs)
        unknown = [name for name in wanted if name not in outputs]
        if unknown:
            raise ServingError(
                grpc.StatusCode.INVALID_ARGUMENT, f"output tensor alias not found in signature: {unknown[0]}"
            )
        return {name: tf.make_tensor_proto(np.asarray(outputs[name])) for name in wanted}

    def warm_up(self) -> int:
        """Replay ``assets.extra/tf_serving_warmup_requests`` (PredictionLog TFRecords); return the count."""
        import tensorflow as tf

        warmup = self.path / WARMUP_FILE
        if not warmup.is_file():
            return 0
        replayed = 0
        for record in tf.data.TFRecordDataset(str(warmup)).as_numpy_iterator():
            entry = prediction_log_pb2.PredictionLog()
            entry.ParseFromString(record)
            if entry.WhichOneof("log_type") != "predict_log":
                raise ValueError("only predict_log warmup records are supported by the stand-in")
            self.predict(entry.predict_log.request)
            replayed += 1
        return replayed


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _check_shape(key: str, shape: tuple[int, ...], tensor_info: meta_graph_pb2.TensorInfo) -> None:
    """Refuse a tensor whose shape the signature's placeholder would not accept (as a session feed does)."""
    if tensor_info.tensor_shape.unknown_rank:
        return
    expected = [d.size for d in tensor_info.tensor_shape.dim]
    mismatch = any(want >= 0 and want != got for want, got in zip(expected, shape, strict=False))
    if len(expected) != len(shape) or mismatch:
        raise ServingError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"input {key} has shape {list(shape)}, the signature expects {expected} (-1: any size)",
        )
