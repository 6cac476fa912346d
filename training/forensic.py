"""Forensic features a pretrained trunk does not see, as TensorFlow functions (usable inside the served graph).

- ``spectrum_features``: the azimuthally averaged log power spectrum of the grey face window
  (Durall et al., CVPR 2020: GAN up-sampling leaves a tell-tale high-frequency tail).
- ``npr_features``: statistics of the neighbouring-pixel residual, ``x - up(down(x))`` with
  nearest-neighbour 2x sampling (Tan et al., "Rethinking the Up-Sampling Operations", CVPR 2024).
- ``training.probe.residual_stats``: the SRM noise-residual statistics (v2's extra input).

``training.forensic_probe`` measures each of them on validation, per source.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from training.probe import summarise_residual

SPECTRUM_BINS = 48


def _radial_index(size: int, bins: int) -> np.ndarray:
    """Bin index of every pixel of a centred ``size`` x ``size`` spectrum by its radius (corners in the last bin)."""
    centre = (size - 1) / 2.0
    yy, xx = np.mgrid[0:size, 0:size]
    radius = np.hypot(yy - centre, xx - centre) / (size / 2.0)
    return np.minimum((radius * bins).astype(np.int32), bins - 1).reshape(-1)


def spectrum_features(x: tf.Tensor, bins: int = SPECTRUM_BINS) -> tf.Tensor:
    """Float RGB [N, S, S, 3] in [0, 255] -> [N, bins]: mean log power per radius, minus its mean over radii."""
    size = int(x.shape[1])
    grey = tf.reduce_mean(x, axis=-1) / 255.0
    grey = grey - tf.reduce_mean(grey, axis=(1, 2), keepdims=True)
    power = tf.abs(tf.signal.fftshift(tf.signal.fft2d(tf.cast(grey, tf.complex64)), axes=(1, 2))) ** 2
    log_power = tf.math.log(power + 1e-8)
    flat = tf.reshape(log_power, [-1, size * size])
    index = tf.constant(_radial_index(size, bins))
    profile = tf.transpose(tf.math.unsorted_segment_mean(tf.transpose(flat), index, bins))
    return profile - tf.reduce_mean(profile, axis=1, keepdims=True)


def npr_features(x: tf.Tensor) -> tf.Tensor:
    """Float RGB [N, S, S, 3] -> [N, 18]: per channel std, mean |r| and log kurtosis of the nearest-neighbour
    up-sampling residual, at full and half resolution."""
    out = []
    for scale in (1, 2):
        image = x if scale == 1 else tf.nn.avg_pool2d(x, 2, 2, "VALID")
        size = int(image.shape[1]) // 2 * 2
        image = image[:, :size, :size, :]
        down = image[:, ::2, ::2, :]
        up = tf.repeat(tf.repeat(down, 2, axis=1), 2, axis=2)
        out += summarise_residual(image - up)
    return tf.concat(out, axis=-1)


class FeatureFunction:
    """A weightless 'model' for ``training.probe.features_of``: calls ``fn`` on the float window."""

    def __init__(self, fn, output_dim: int) -> None:  # noqa: ANN001
        self.fn = fn
        self.output_dim = output_dim

    def __call__(self, x: tf.Tensor, training: bool = False) -> tf.Tensor:
        """The features of a float RGB batch."""
        return self.fn(x)


def fit_logistic(
    x: np.ndarray, y: np.ndarray, l2: float = 1e-2, sample_weight: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """L2-regularised logistic regression on standardised features, classes weighted equally
    (within the optional ``sample_weight`` per row).

    Returns ``(mean, std, weights, bias)``: ``logit = ((x - mean) / std) @ weights + bias``.
    """
    from scipy.optimize import minimize

    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-6
    z = (x - mean) / std
    y = y.astype(np.float64)
    base = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, np.float64)
    fakes = y == 1
    w_row = np.where(fakes, 0.5 / max(base[fakes].sum(), 1e-9), 0.5 / max(base[~fakes].sum(), 1e-9)) * base

    def loss(params: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = params[:-1], params[-1]
        logits = z @ w + b
        p = 1.0 / (1.0 + np.exp(-logits))
        value = np.sum(w_row * (np.logaddexp(0, logits) - y * logits)) + 0.5 * l2 * np.dot(w, w)
        g = w_row * (p - y)
        return float(value), np.concatenate([z.T @ g + l2 * w, [g.sum()]])

    result = minimize(loss, np.zeros(z.shape[1] + 1), jac=True, method="L-BFGS-B", options={"maxiter": 500})
    return mean, std, result.x[:-1], float(result.x[-1])


def logistic_logits(x: np.ndarray, model: tuple[np.ndarray, np.ndarray, np.ndarray, float]) -> np.ndarray:
    """Logits of a model from :func:`fit_logistic`."""
    mean, std, w, b = model
    return ((x - mean) / std) @ w + b
