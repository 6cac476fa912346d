"""The fast training method: frozen ImageNet EfficientNet-Lite0 statistics and a small trained head.

Fine-tuning the whole network costs ~6 minutes per epoch on two shared CPU cores and stayed near
chance after one epoch; the frozen trunk's multi-level mean/std statistics (texture at 1/8 and
1/16 scale, content at 1/32) are computed once per augmented copy and cached, and a two-layer head
trains on them in seconds, which also makes the with/without self-blended-fakes comparison cheap.
The exported network is trunk + statistics + head in one graph.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np


def build_feature_model(backbone: str, input_size: int, weights: Path | None):  # noqa: ANN201
    """Frozen trunk: float RGB [0, 255] crops -> statistics. ``lite0`` loads ImageNet weights;
    ``tiny`` (tests, smoke runs) is a randomly initialised small CNN with the same pooling."""
    import keras

    from training.backbone import MeanStdPool, lite0_multilevel_stats, load_lite0_weights, tiny_features

    inputs = keras.Input((input_size, input_size, 3), name="crop")
    if backbone == "tiny":
        model = keras.Model(inputs, MeanStdPool(name="stats")(tiny_features(inputs)), name="tiny_stats")
    else:
        model = keras.Model(inputs, lite0_multilevel_stats(inputs), name="lite0_stats")
        load_lite0_weights(model, weights)
    model.trainable = False
    return model


# SRM-style fixed high-pass filters (Fridrich & Kodovsky's rich-model residuals), applied to each
# RGB channel: the 3x3 "square" residual, the 5x5 KV residual and a horizontal 2nd-order residual.
SRM_KERNELS = (
    np.array([[0, 0, 0, 0, 0], [0, -1, 2, -1, 0], [0, 2, -4, 2, 0], [0, -1, 2, -1, 0], [0, 0, 0, 0, 0]]) / 4.0,
    np.array([[-1, 2, -2, 2, -1], [2, -6, 8, -6, 2], [-2, 8, -12, 8, -2], [2, -6, 8, -6, 2], [-1, 2, -2, 2, -1]])
    / 12.0,
    np.array([[0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 1, -2, 1, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]]) / 2.0,
)


def residual_stats(x):  # noqa: ANN001, ANN201
    """Noise-residual statistics of float RGB [0, 255] crops: 3 SRM filters x 3 channels at full and half
    resolution (filters evaluated at every second pixel, to stay cheap), each summarised by std,
    mean |r| and log kurtosis -> [N, 54]."""
    import tensorflow as tf

    kernel = np.stack(SRM_KERNELS, axis=-1)[:, :, None, :].repeat(3, axis=2).astype(np.float32)  # [5,5,3,3]
    kernel = tf.constant(kernel)
    out = []
    for scale in (1, 2):
        image = x if scale == 1 else tf.nn.avg_pool2d(x, 2, 2, "VALID")
        out += summarise_residual(tf.nn.depthwise_conv2d(image, kernel, [1, 2, 2, 1], "VALID"))
    return tf.concat(out, axis=-1)


def summarise_residual(r):  # noqa: ANN001, ANN201
    """Per channel std, mean |r| and log kurtosis of a residual [N, H, W, C] -> three [N, C] tensors."""
    import tensorflow as tf

    mean = tf.reduce_mean(r, axis=(1, 2), keepdims=True)
    centred = r - mean
    var = tf.reduce_mean(tf.square(centred), axis=(1, 2))
    fourth = tf.reduce_mean(tf.square(tf.square(centred)), axis=(1, 2))
    return [
        tf.sqrt(var + 1e-6),
        tf.reduce_mean(tf.abs(r), axis=(1, 2)),
        tf.math.log(fourth / (tf.square(var) + 1e-6) + 1e-6),
    ]


class ResidualStats:
    """Callable 'model' for ``features_of``: noise-residual statistics (no weights)."""

    output_dim = 54

    def __call__(self, x, training: bool = False):  # noqa: ANN001
        return residual_stats(x)


def features_of(feature_model: object, crops: np.ndarray, input_size: int, batch_size: int = 32) -> np.ndarray:
    """Statistics of uint8 policy crops, through the same input window the export uses."""
    import tensorflow as tf

    from training.export import input_window

    @tf.function(reduce_retracing=True)
    def run(batch: tf.Tensor) -> tf.Tensor:
        return feature_model(input_window(batch, input_size), training=False)

    out = [run(tf.constant(crops[i : i + batch_size])).numpy() for i in range(0, len(crops), batch_size)]
    if out:
        return np.concatenate(out)
    width = getattr(feature_model, "output_dim", None) or int(feature_model.output.shape[-1])
    return np.zeros((0, width), np.float32)


def cached_features(cache_dir: Path | None, key: dict[str, object], compute: Callable[[], np.ndarray]) -> np.ndarray:
    """``compute()`` once per key; the array is kept under ``<cache_dir>/features/<hash>.npy``."""
    if cache_dir is None:
        return compute()
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:20]
    path = Path(cache_dir) / "features" / f"{digest}.npy"
    if path.is_file():
        return np.load(path)
    array = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path.with_suffix(".tmp.npy"), array)
    path.with_suffix(".tmp.npy").replace(path)
    return array


def build_head(features: np.ndarray, hidden: int = 256, seed: int = 1):  # noqa: ANN201
    """Standardise (statistics of ``features``) -> dense ReLU -> logit."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((features.shape[1],), name="stats")
    norm = layers.Normalization(name="stats_norm")
    norm.adapt(features)
    x = norm(inputs)
    x = layers.Dropout(0.2, name="head_dropout_in")(x)
    x = layers.Dense(hidden, activation="relu", name="head_hidden")(x)
    x = layers.Dropout(0.4, name="head_dropout")(x)
    logit = layers.Dense(1, dtype="float32", name="logit")(x)
    return keras.Model(inputs, logit, name="head")


def train_head(
    x: np.ndarray,
    y: np.ndarray,
    evaluate: Callable[[Callable[[np.ndarray], np.ndarray]], float],
    epochs: int,
    lr: float,
    seed: int,
    log: Callable[[str], None],
    label: str,
    sample_weight: np.ndarray | None = None,
) -> tuple[object, dict[str, object]]:
    """Fit the head (optionally with per-row ``sample_weight``); keep the weights of the epoch with
    the best ``evaluate(predict_from_features)``."""
    import keras

    head = build_head(x, seed=seed)
    steps = max(1, len(x) // 128) * epochs
    schedule = keras.optimizers.schedules.CosineDecay(lr, decay_steps=steps, alpha=0.05)
    head.compile(
        optimizer=keras.optimizers.AdamW(learning_rate=schedule, weight_decay=1e-3),
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
    )

    def predict(features: np.ndarray) -> np.ndarray:
        logits = head.predict(features, batch_size=1024, verbose=0).reshape(-1)
        return 1.0 / (1.0 + np.exp(-logits))

    rng = np.random.default_rng(seed)
    best: dict[str, object] = {"val_auc": -1.0}
    best_weights = head.get_weights()
    history = []
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(x))
        weights = None if sample_weight is None else sample_weight[order]
        fit = head.fit(x[order], y[order], sample_weight=weights, batch_size=128, epochs=1, verbose=0)
        val_auc = evaluate(predict)
        record = {
            "epoch": epoch,
            "phase": "head",
            "loss": round(float(fit.history["loss"][-1]), 4),
            "val_auc": round(val_auc, 4),
            "seconds": 0.0,
        }
        history.append(record)
        if val_auc > best["val_auc"]:
            best, best_weights = {"val_auc": val_auc, "epoch": epoch}, head.get_weights()
    head.set_weights(best_weights)
    log(
        f"{label}: best val AUC {best['val_auc']:.4f} at epoch {best['epoch']} "
        f"(last: {history[-1]['val_auc']}, loss {history[-1]['loss']})"
    )
    return head, {"best": best, "history": history}


class _ProbeNetwork:
    """Trunk statistics (+ optional residual statistics) -> head, as one callable with ``weights``."""

    def __init__(self, feature_model: object, head: object, residual: bool) -> None:
        self.feature_model, self.head, self.residual = feature_model, head, residual
        self.weights = list(feature_model.weights) + list(head.weights)

    def __call__(self, x, training: bool = False):  # noqa: ANN001
        import tensorflow as tf

        stats = self.feature_model(x, training=False)
        if self.residual:
            stats = tf.concat([stats, residual_stats(x)], axis=-1)
        return self.head(stats, training=False)

    def count_params(self) -> int:
        return int(self.feature_model.count_params() + self.head.count_params())


def combine(feature_model: object, head: object, input_size: int, residual: bool = False):  # noqa: ANN201
    """One network for export: float crops -> statistics (+ residual statistics) -> head -> logit."""
    import keras

    if residual:
        return _ProbeNetwork(feature_model, head, residual)
    inputs = keras.Input((input_size, input_size, 3), name="crop")
    return keras.Model(inputs, head(feature_model(inputs)), name="fakeweb_lite0_probe")
