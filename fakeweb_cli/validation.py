"""Checking a SavedModel before it is deployed, and writing TF Serving warmup requests for it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fakeweb_cli.repository_layout import WARMUP_FILE, read_signature_defs
from fakeweb_cli.smoke_face import load_smoke_face
from services.classifier.scoring import prepare_batch
from services.classifier.serving_client import (
    ModelIncompatible,
    ModelSignature,
    make_tensor_proto,
    signature_from_def,
)

SIGNATURE_NAME = "serving_default"
UINT8 = 4  # tensorflow.DataType DT_UINT8


class InvalidModel(Exception):
    """The export cannot be deployed; the message says why."""


def check_signature(export_dir: Path) -> ModelSignature:
    """FakeWeb's serving signature: one uint8 [N, H, W, 3] image input and a probability output."""
    if not (export_dir / "saved_model.pb").is_file():
        raise InvalidModel(f"{export_dir} is not a SavedModel folder (no saved_model.pb)")
    if not (export_dir / "variables").is_dir():
        raise InvalidModel(f"{export_dir} has no variables/ folder")
    try:
        signatures = read_signature_defs(export_dir)
    except (ValueError, OSError) as exc:
        raise InvalidModel(f"cannot read the signatures of {export_dir}: {exc}") from exc
    if SIGNATURE_NAME not in signatures:
        raise InvalidModel(f"no {SIGNATURE_NAME!r} signature (found {sorted(signatures)})")
    signature_def = signatures[SIGNATURE_NAME]
    if signature_def.method_name != "tensorflow/serving/predict":
        raise InvalidModel(f"signature method is {signature_def.method_name!r}, not tensorflow/serving/predict")
    try:
        signature = signature_from_def(signature_def, "candidate", 0, SIGNATURE_NAME)
    except ModelIncompatible as exc:
        raise InvalidModel(str(exc)) from exc
    if signature.dtype_enum != UINT8:
        raise InvalidModel(f"input {signature.input_name!r} must be uint8 (FakeWeb sends uint8 crops)")
    return signature


def smoke_batch(signature: ModelSignature) -> np.ndarray:
    """The bundled face crop as a batch of one, at the model's input size."""
    return prepare_batch([load_smoke_face()], signature)


def smoke_predict(export_dir: Path, signature: ModelSignature) -> float:
    """Load the export in this process and score the bundled face; return the probability."""
    import tensorflow as tf

    try:
        model = tf.saved_model.load(str(export_dir))
        function = model.signatures[SIGNATURE_NAME]
        outputs = function(**{signature.input_name: tf.constant(smoke_batch(signature))})
    except Exception as exc:
        raise InvalidModel(f"smoke prediction failed: {type(exc).__name__}: {exc}") from exc
    values = np.asarray(outputs[signature.output_name]).reshape(-1)
    if values.size != 1 or not np.isfinite(values[0]) or not 0.0 <= float(values[0]) <= 1.0:
        raise InvalidModel(f"smoke prediction returned {values.tolist()}, not one probability in [0, 1]")
    return float(values[0])


def write_warmup(version_dir: Path, signature: ModelSignature, model_name: str) -> Path | None:
    """Write ``assets.extra/tf_serving_warmup_requests`` (one Predict of the smoke face) unless one exists."""
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

    path = version_dir / WARMUP_FILE
    if path.exists():
        return None
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = SIGNATURE_NAME
    request.inputs[signature.input_name].CopyFrom(make_tensor_proto(smoke_batch(signature), signature.dtype_enum))
    record = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        writer.write(record.SerializeToString())
    return path
