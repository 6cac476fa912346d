"""A tiny SavedModel with FakeWeb's serving signature, for tests and benchmarks that need *a* model quickly.

Its probability is a fixed function of the crop's mean red-minus-blue, so results are
deterministic; ``bias`` shifts it so that two versions are told apart in tests.
"""

from __future__ import annotations

from pathlib import Path

CROP_SIZE = 224


def export_tiny_model(version_dir: Path, bias: float = 0.0, size: int = CROP_SIZE) -> Path:
    """Write a SavedModel taking uint8 crops [N, size, size, 3] and returning manipulated_probability [N]."""
    import tensorflow as tf

    class Tiny(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, size, size, 3], tf.uint8, name="image")])
        def serve(self, image: tf.Tensor) -> dict[str, tf.Tensor]:
            x = tf.cast(image, tf.float32) / 255.0
            red_minus_blue = tf.reduce_mean(x[..., 0] - x[..., 2], axis=[1, 2])
            return {"manipulated_probability": tf.sigmoid(4.0 * red_minus_blue + bias)}

    module = Tiny()
    version_dir = Path(version_dir)
    version_dir.parent.mkdir(parents=True, exist_ok=True)
    tf.saved_model.save(module, str(version_dir), signatures={"serving_default": module.serve})
    return version_dir
