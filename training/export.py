"""Export a trained Keras classifier as FakeWeb's versioned SavedModel, with warm-up requests.

The SavedModel's ``serving_default`` takes uint8 crops ``image`` [N, 224, 224, 3] exactly as
CROP_POLICY makes them and returns ``manipulated_probability`` [N] (float32, 0..1). Casting,
the centre crop the network looks at and the normalisation all happen inside the graph.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from services.contract.crop_policy import CROP_POLICY

WARMUP_FILE = Path("assets.extra") / "tf_serving_warmup_requests"


def input_window(image: tf.Tensor, input_size: int) -> tf.Tensor:
    """Float crops the network sees: the central ``input_size`` square of the policy crop."""
    x = tf.cast(image, tf.float32)
    if input_size != CROP_POLICY.size:
        offset = (CROP_POLICY.size - input_size) // 2
        x = x[:, offset : offset + input_size, offset : offset + input_size, :]
    return x


class FlipAveraged:
    """A network whose logit is the mean of its logits for the crop and the crop's mirror image."""

    def __init__(self, network: object) -> None:
        self.network = network

    @property
    def weights(self) -> list:
        """The wrapped network's weights (what the SavedModel tracks)."""
        return list(self.network.weights)

    def count_params(self) -> int:
        """Parameters of the wrapped network."""
        return int(self.network.count_params())

    def __call__(self, x: tf.Tensor, training: bool = False) -> tf.Tensor:
        """Mean logit over the crop and its horizontal mirror."""
        return 0.5 * (self.network(x, training=training) + self.network(tf.reverse(x, axis=[2]), training=training))


class FakeWebClassifier(tf.Module):
    """A Keras network (logit out) behind FakeWeb's serving signature."""

    def __init__(
        self, network: tf.keras.Model | object, input_size: int, calibration: tuple[float, float] = (1.0, 0.0)
    ) -> None:
        super().__init__(name="fakeweb_classifier")
        # Track the weights only: tracking the Keras model would also save its optimizer's slots.
        self.weights = list(network.weights)
        self._network_call = lambda x: network(x, training=False)
        branches = getattr(network, "branch_logits", None)
        self._branches = (lambda x: branches(x, training=False)) if branches else (lambda x: {})
        self._combine = getattr(network, "combine", None)
        self.input_size = input_size
        # Platt scaling baked into the graph: probability = sigmoid(scale * logit + bias).
        self.calibration_scale = tf.constant(float(calibration[0]), tf.float32)
        self.calibration_bias = tf.constant(float(calibration[1]), tf.float32)

    @tf.function(input_signature=[tf.TensorSpec([None, CROP_POLICY.size, CROP_POLICY.size, 3], tf.uint8, name="image")])
    def serve(self, image: tf.Tensor) -> dict[str, tf.Tensor]:
        """uint8 policy crops -> manipulated_probability."""
        x = input_window(image, self.input_size)
        branches = self._branches(x)  # a blend's members, each run once
        logits = self._combine(branches) if branches else self._network_call(x)
        logits = tf.cast(tf.reshape(logits, [-1]), tf.float32)
        out = {"manipulated_probability": tf.sigmoid(self.calibration_scale * logits + self.calibration_bias)}
        for name, branch in branches.items():  # uncalibrated, for inspection
            out[f"{name}_probability"] = tf.sigmoid(tf.cast(branch, tf.float32))
        return out


def write_warmup_requests(version_dir: Path, crops: np.ndarray, model_name: str = "fakeweb") -> Path:
    """TFRecord of one PredictionLog whose PredictRequest carries ``crops`` (TF Serving warm-up)."""
    from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

    request = predict_pb2.PredictRequest(
        model_spec=model_pb2.ModelSpec(name=model_name, signature_name="serving_default")
    )
    request.inputs["image"].CopyFrom(tf.make_tensor_proto(np.asarray(crops, dtype=np.uint8)))
    log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
    path = Path(version_dir) / WARMUP_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        writer.write(log.SerializeToString())
    return path


def export_saved_model(
    network: object,
    input_size: int,
    version_dir: Path,
    warmup_crops: np.ndarray,
    calibration: tuple[float, float] = (1.0, 0.0),
) -> Path:
    """Write the SavedModel (with ``calibration`` = Platt scale, bias on the logit) and its warm-up
    requests into ``version_dir`` (created, must be empty)."""
    version_dir = Path(version_dir)
    if version_dir.exists() and any(version_dir.iterdir()):
        raise FileExistsError(f"{version_dir} is not empty; choose another --version")
    module = FakeWebClassifier(network, input_size, calibration)
    tf.saved_model.save(module, str(version_dir), signatures={"serving_default": module.serve})
    write_warmup_requests(version_dir, warmup_crops)
    return version_dir
