"""The probe training method (``--method probe``): frozen-trunk statistics of augmented copies, heads per variant.

Every training face is summarised once per copy (clean, ``--augment-copies`` augmented, and
``--sbi-copies`` self-blended fakes made from the reals) by the frozen trunk (training.probe) and,
separately cached, by the SRM residual statistics; then one small head is trained per variant
(SBI, class balance, residual statistics on or off) and the best on validation is kept.
"""

from __future__ import annotations

import argparse
import hashlib
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from services.contract.crop_policy import CROP_POLICY
from training.crops import FaceCrops
from training.dataset import Item

Log = Callable[[str], None]
CHOICES = {"on": [True], "off": [False], "compare": [False, True]}


def balanced_weights(sources: list[str], targets: np.ndarray) -> np.ndarray:
    """Row weights giving every (source, label) group the same total weight (mean weight 1)."""
    keys = [f"{s}/{int(t)}" for s, t in zip(sources, targets, strict=True)]
    counts = {k: keys.count(k) for k in set(keys)}
    return np.array([len(keys) / (len(counts) * counts[k]) for k in keys], np.float32)


class ProbeFeatures:
    """Trunk (and residual) statistics of crop copies, each cached on disk under its own key."""

    def __init__(self, args: argparse.Namespace, weights: Path | None, detector: str, train_crops: np.ndarray) -> None:
        from training.probe import ResidualStats, build_feature_model

        self.args = args
        self.feature_model = build_feature_model(args.backbone, args.input_size, weights)
        self.residual_model = ResidualStats() if args.residual != "off" else None
        self.key = {
            "backbone": args.backbone,
            "levels": "taps-2-4-7-10-14",
            "weights": hashlib.sha256(weights.read_bytes()).hexdigest()[:16] if weights else "random",
            "policy": CROP_POLICY.name,
            "detector": detector,
            "input_size": args.input_size,
            "train_crops": hashlib.sha256(train_crops.tobytes()).hexdigest()[:16],
            "seed": args.seed,
        }
        if args.backbone == "tiny":
            self.key["random_init"] = f"{time.time()}"  # an untrained trunk differs per run: never reuse it

    @property
    def trunk_width(self) -> int:
        """Columns that come from the trunk (the residual statistics follow them)."""
        return int(self.feature_model.output.shape[-1])

    def of(self, key: dict[str, object], make: Callable[[], np.ndarray], log: Log) -> np.ndarray:
        """Features of the crops ``make()`` returns (made only on a cache miss), trunk then residual columns."""
        from training.probe import cached_features, features_of

        made: list[np.ndarray] = []

        def compute(model: object) -> Callable[[], np.ndarray]:
            def run() -> np.ndarray:
                if not made:
                    made.append(make())
                started = time.monotonic()
                feats = features_of(model, made[0], self.args.input_size)
                log(f"features {key}: {feats.shape} in {time.monotonic() - started:.0f} s")
                return feats

            return run

        full_key = {**self.key, **key}
        trunk = cached_features(self.args.cache_dir, full_key, compute(self.feature_model))
        if self.residual_model is None:
            return trunk
        residual = cached_features(
            self.args.cache_dir, {**full_key, "features": "srm-v1"}, compute(self.residual_model)
        )
        return np.concatenate([trunk, residual], axis=1)


def run_probe(
    args: argparse.Namespace,
    weights: Path | None,
    train_crops: np.ndarray,
    train_targets: np.ndarray,
    train_sources: list[str],
    landmarks: list[np.ndarray | None] | None,
    val_items: list[Item],
    val_faces: list[FaceCrops],
    detector: str,
    log: Log,
) -> tuple[object, dict[str, object], list[dict[str, object]]]:
    """Train a head per variant on cached features; return the best as a network, its record and all records."""
    from training.augment import augment, self_blend
    from training.evaluate import report_from_face_scores
    from training.probe import combine, train_head

    features = ProbeFeatures(args, weights, detector, train_crops)

    def rng(kind: str, copy: int) -> np.random.Generator:
        return np.random.default_rng([args.seed, copy, len(kind)])

    def augmented(copy: int) -> Callable[[], np.ndarray]:
        def make() -> np.ndarray:
            g = rng("base", copy)
            return np.stack([augment(c, g) for c in train_crops]) if copy else train_crops

        return make

    base_x = [features.of({"kind": "base", "copy": c}, augmented(c), log) for c in range(1 + args.augment_copies)]
    sbi_x = []
    if landmarks is not None:
        reals = np.flatnonzero(train_targets == 0)
        for copy in range(args.sbi_copies):
            g = rng("sbi", copy)
            make = lambda g=g: np.stack([augment(self_blend(train_crops[i], landmarks[i], g), g) for i in reals])  # noqa: E731
            sbi_x.append(features.of({"kind": "sbi", "copy": copy}, make, log))
    val_flat = np.stack([c for f in val_faces for c in f.crops])
    val_digest = hashlib.sha256(val_flat.tobytes()).hexdigest()[:16]
    val_x = features.of({"kind": "val", "val_crops": val_digest}, lambda: val_flat, log)
    bounds = np.cumsum([0] + [f.count for f in val_faces])

    def val_auc_of(columns: int) -> Callable[[Callable[[np.ndarray], np.ndarray]], float]:
        def val_auc(predict: Callable[[np.ndarray], np.ndarray]) -> float:
            probs = predict(val_x[:, :columns])
            per_face = [probs[bounds[i] : bounds[i + 1]] for i in range(len(val_faces))]
            report, _, _ = report_from_face_scores(val_items, per_face, 0.5)
            return float(report["overall"]["auc"] or 0.0)

        return val_auc

    group_weights = balanced_weights(train_sources, train_targets)
    results = []
    for use_sbi in CHOICES[args.sbi]:
        x_all = np.concatenate(base_x + (sbi_x if use_sbi else []))
        y = np.concatenate(
            [train_targets] * len(base_x) + ([np.ones(len(s), np.float32) for s in sbi_x] if use_sbi else [])
        )
        for residual in CHOICES[args.residual]:
            columns = x_all.shape[1] if residual else features.trunk_width
            for balance in CHOICES[args.balance]:
                weights_rows = None
                if balance:
                    sbi_w = [np.ones(len(s), np.float32) for s in sbi_x] if use_sbi else []
                    weights_rows = np.concatenate([group_weights] * len(base_x) + sbi_w)
                label = " ".join(
                    f"{k}={'on' if v else 'off'}"
                    for k, v in (("sbi", use_sbi), ("balance", balance), ("residual", residual))
                )
                head, info = train_head(
                    x_all[:, :columns],
                    y,
                    val_auc_of(columns),
                    args.probe_epochs,
                    args.lr or 1e-3,
                    args.seed,
                    log,
                    label,
                    weights_rows,
                )
                record = {"sbi": use_sbi, "balance": balance, "residual": residual, "training_rows": len(y), **info}
                results.append((head, record))
    head, chosen = max(results, key=lambda r: r[1]["best"]["val_auc"])
    network = combine(features.feature_model, head, args.input_size, chosen["residual"])
    return network, chosen, [r[1] for r in results]
