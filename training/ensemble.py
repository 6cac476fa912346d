"""One served network from several: their logits combined with weights fitted on validation.

The fine-tuned Lite0 learns blending and warping traces; fine-tuning washes out the low-level
texture and noise statistics that the frozen-trunk probe (training.probe_method) keeps, and those
are what GAN faces give away. ``LogitBlend`` adds the members' logits with weights from a
logistic regression on the validation faces, every source weighing the same, so one probability
comes out of one signature; each member's own probability is an extra output of the SavedModel.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from training.crops import FaceCrops
from training.dataset import Item

Log = Callable[[str], None]


class LogitBlend:
    """``sum_i w_i * member_i(x) + bias``; ``branch_logits`` gives each member's logit."""

    def __init__(self, members: dict[str, object], weights: dict[str, float], bias: float) -> None:
        self.members, self.blend_weights, self.bias = members, weights, bias

    @property
    def weights(self) -> list:
        """Every member's variables (what the SavedModel tracks)."""
        return [w for member in self.members.values() for w in member.weights]

    def count_params(self) -> int:
        """Parameters of all members."""
        return int(sum(member.count_params() for member in self.members.values()))

    def branch_logits(self, x, training: bool = False) -> dict:  # noqa: ANN001
        """Each member's logit, [N]."""
        import tensorflow as tf

        return {name: tf.reshape(m(x, training=training), [-1]) for name, m in self.members.items()}

    def combine(self, logits: dict):  # noqa: ANN201
        """The blended logit [N, 1] from the members' logits (export calls each member once)."""
        import tensorflow as tf

        total = sum(self.blend_weights[name] * logit for name, logit in logits.items()) + self.bias
        return tf.reshape(total, [-1, 1])

    def __call__(self, x, training: bool = False):  # noqa: ANN001
        """The blended logit, [N, 1]."""
        return self.combine(self.branch_logits(x, training))


def face_logits(member: object, faces: list[FaceCrops], input_size: int, batch: int = 64) -> np.ndarray:
    """A member's logit for every face of every image, in order, as float64."""
    import tensorflow as tf

    from training.export import input_window

    flat = [c for f in faces for c in f.crops]
    out = []
    for start in range(0, len(flat), batch):
        x = input_window(tf.constant(np.stack(flat[start : start + batch]), tf.uint8), input_size)
        out.append(np.asarray(member(x, training=False), np.float64).reshape(-1))
    return np.concatenate(out) if out else np.zeros(0)


def fit_blend(
    members: dict[str, object], val_items: list[Item], val_faces: list[FaceCrops], input_size: int, log: Log
) -> LogitBlend:
    """Blend weights from a logistic regression on the validation faces (sources weighted equally)."""
    from training.forensic import fit_logistic

    names = sorted(members)
    x = np.stack([face_logits(members[n], val_faces, input_size) for n in names], axis=1)
    owners = [i for i, f in enumerate(val_faces) for _ in range(f.count)]
    y = np.array([val_items[i].target for i in owners], np.float64)
    sources = [val_items[i].source for i in owners]
    per_source = {s: sources.count(s) for s in set(sources)}
    sample = np.array([1.0 / per_source[s] for s in sources])
    mean, std, w, b = fit_logistic(x, y, l2=1e-3, sample_weight=sample)
    raw = w / std
    blend = LogitBlend(members, {n: float(v) for n, v in zip(names, raw, strict=True)}, float(b - np.sum(raw * mean)))
    log(f"blend weights {blend.blend_weights} bias {blend.bias:.4f}")
    return blend
