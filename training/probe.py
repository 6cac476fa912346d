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


def features_of(feature_model: object, crops: np.ndarray, input_size: int, batch_size: int = 32) -> np.ndarray:
    """Statistics of uint8 policy crops, through the same input window the export uses."""
    import tensorflow as tf

    from training.export import input_window

    @tf.function(reduce_retracing=True)
    def run(batch: tf.Tensor) -> tf.Tensor:
        return feature_model(input_window(batch, input_size), training=False)

    out = [run(tf.constant(crops[i : i + batch_size])).numpy() for i in range(0, len(crops), batch_size)]
    return np.concatenate(out) if out else np.zeros((0, int(feature_model.output.shape[-1])), np.float32)


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
) -> tuple[object, dict[str, object]]:
    """Fit the head; keep the weights of the epoch with the best ``evaluate(predict_from_features)``."""
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
        fit = head.fit(x[order], y[order], batch_size=128, epochs=1, verbose=0)
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


def combine(feature_model: object, head: object, input_size: int):  # noqa: ANN201
    """One network for export: float crops -> statistics -> head -> logit."""
    import keras

    inputs = keras.Input((input_size, input_size, 3), name="crop")
    return keras.Model(inputs, head(feature_model(inputs)), name="fakeweb_lite0_probe")
