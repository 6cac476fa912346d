"""One served network from several: their logits combined with weights fitted on validation.

The fine-tuned Lite0 learns blending and warping traces; fine-tuning washes out the low-level
texture and noise statistics that the frozen-trunk probe (training.probe_method) keeps, and those
are what GAN faces give away. ``LogitBlend`` adds the members' logits with weights from a
logistic regression on the validation faces, every source weighing the same, so one probability
comes out of one signature; each member's own probability is an extra output of the SavedModel.
A member with several logits (a network with per-family heads, :class:`NamedColumns`) enters the
blend once per logit, each under its column's name, and runs once.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from training.crops import FaceCrops
from training.dataset import Item

Log = Callable[[str], None]


class NamedColumns:
    """A network with several logits [N, k] whose columns enter a blend under ``column_names``."""

    def __init__(self, network: object, column_names: list[str]) -> None:
        self.network, self.column_names = network, list(column_names)

    @property
    def weights(self) -> list:
        """The wrapped network's weights."""
        return list(self.network.weights)

    def count_params(self) -> int:
        """Parameters of the wrapped network."""
        return int(self.network.count_params())

    def __call__(self, x, training: bool = False):  # noqa: ANN001
        """All logits, [N, k]."""
        return self.network(x, training=training)


class FirstColumn(NamedColumns):
    """The first logit [N, 1] of a several-logit network (its "any manipulation" head) as a network."""

    def __init__(self, network: object) -> None:
        super().__init__(network, [])

    def __call__(self, x, training: bool = False):  # noqa: ANN001
        """The first logit, [N, 1]."""
        return self.network(x, training=training)[:, :1]


def column_names(name: str, member: object) -> list[str]:
    """The blend's names for a member's logits: its own name, or its columns' names."""
    return getattr(member, "column_names", None) or [name]


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
        """Each member's logit (each column of a several-logit member), [N]."""
        import tensorflow as tf

        out = {}
        for name, member in self.members.items():
            names = column_names(name, member)
            logits = tf.reshape(member(x, training=training), [-1, len(names)])
            out.update({column: logits[:, i] for i, column in enumerate(names)})
        return out

    def combine(self, logits: dict):  # noqa: ANN201
        """The blended logit [N, 1] from the members' logits (export calls each member once)."""
        import tensorflow as tf

        total = sum(self.blend_weights[name] * logit for name, logit in logits.items()) + self.bias
        return tf.reshape(total, [-1, 1])

    def __call__(self, x, training: bool = False):  # noqa: ANN001
        """The blended logit, [N, 1]."""
        return self.combine(self.branch_logits(x, training))


def face_logits(member: object, faces: list[FaceCrops], input_size: int, batch: int = 64) -> np.ndarray:
    """A member's logits for every face of every image, in order, as float64 [faces, columns]."""
    import tensorflow as tf

    from training.export import input_window

    flat = [c for f in faces for c in f.crops]
    out = []
    for start in range(0, len(flat), batch):
        x = input_window(tf.constant(np.stack(flat[start : start + batch]), tf.uint8), input_size)
        out.append(np.asarray(member(x, training=False), np.float64).reshape(len(x), -1))
    return np.concatenate(out) if out else np.zeros((0, 1))


def fit_blend(
    members: dict[str, object], val_items: list[Item], val_faces: list[FaceCrops], input_size: int, log: Log
) -> LogitBlend:
    """Blend weights from a logistic regression on the validation faces (sources weighted equally)."""
    from training.forensic import fit_logistic

    names = [c for n in sorted(members) for c in column_names(n, members[n])]
    x = np.concatenate([face_logits(members[n], val_faces, input_size) for n in sorted(members)], axis=1)
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
