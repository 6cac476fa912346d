"""Measure forensic inputs on validation, per source: ``python -m training.forensic_probe --out report.json``.

For each feature set of training.forensic (log power spectrum, NPR residual, SRM residual, and all
three together) a class-balanced logistic regression is fitted on the training faces (clean plus
one augmented copy, so JPEG and resizing are in the data) and scored on the validation faces:
once pooled over every source, and once per source (a specialist trained and scored on that
source alone). The split is training's (training.dataset.training_split); the test split is
never read. Features are cached beside the crops.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

import numpy as np

from training.crops import DEFAULT_CACHE_DIR, CropCache
from training.dataset import list_items, training_split
from training.metrics import roc_auc

FEATURE_SETS = ("spectrum", "npr", "srm")


def _feature_models() -> dict[str, object]:
    from training.forensic import SPECTRUM_BINS, FeatureFunction, npr_features, spectrum_features
    from training.probe import ResidualStats

    return {
        "spectrum": FeatureFunction(spectrum_features, SPECTRUM_BINS),
        "npr": FeatureFunction(npr_features, 18),
        "srm": ResidualStats(),
    }


def main(argv: list[str] | None = None) -> dict[str, object]:
    """CLI entry point; returns the report."""
    from training.augment import augment
    from training.forensic import fit_logistic, logistic_logits
    from training.probe import cached_features, features_of

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=Path("../shared/data"))
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR)
    p.add_argument("--input-size", type=int, default=192)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    started = time.monotonic()
    split = training_split(list_items(args.data), args.data, seed=args.seed)
    cache = CropCache(args.cache_dir)
    rows: dict[str, tuple[np.ndarray, np.ndarray, list[str]]] = {}
    for name in ("train", "val"):
        faces = cache.faces_of_all(args.data / item.path for item in split[name])
        kept = [(f.main_face(), item) for f, item in zip(faces, split[name], strict=True) if f.count]
        rows[name] = (
            np.stack([c for c, _ in kept]),
            np.array([i.target for _, i in kept]),
            [i.source for _, i in kept],
        )
    train_crops, train_y, train_src = rows["train"]
    rng = np.random.default_rng([args.seed, 31])
    augmented = None

    def augmented_crops() -> np.ndarray:
        nonlocal augmented
        if augmented is None:
            augmented = np.stack([augment(c, rng) for c in train_crops])
        return augmented

    digest = {k: hashlib.sha256(v[0].tobytes()).hexdigest()[:16] for k, v in rows.items()}
    models = _feature_models()
    feats: dict[str, dict[str, np.ndarray]] = {}
    for name, model in models.items():
        key = {"probe": "forensic-v1", "features": name, "policy": cache.version, "size": args.input_size}
        clean = cached_features(
            args.cache_dir,
            {**key, "rows": "train", "d": digest["train"]},
            lambda m=model: features_of(m, train_crops, args.input_size),
        )
        aug = cached_features(
            args.cache_dir,
            {**key, "rows": "train-aug", "d": digest["train"], "seed": args.seed},
            lambda m=model: features_of(m, augmented_crops(), args.input_size),
        )
        val = cached_features(
            args.cache_dir,
            {**key, "rows": "val", "d": digest["val"]},
            lambda m=model: features_of(m, rows["val"][0], args.input_size),
        )
        feats[name] = {"train": np.concatenate([clean, aug]), "val": val}
        print(f"features {name}: {clean.shape[1]}-d ({time.monotonic() - started:.0f} s)", flush=True)
    feats["all"] = {k: np.concatenate([feats[n][k] for n in FEATURE_SETS], axis=1) for k in ("train", "val")}
    y_train = np.concatenate([train_y, train_y])
    src_train = np.array(train_src * 2)
    _, val_y, val_src = rows["val"]
    val_src = np.array(val_src)
    sources = sorted(set(val_src))
    report: dict[str, object] = {"pooled": {}, "specialist": {}}
    for name, f in feats.items():
        pooled = logistic_logits(f["val"], fit_logistic(f["train"], y_train))
        report["pooled"][name] = {s: roc_auc(val_y[val_src == s], pooled[val_src == s]) for s in sources}
        report["specialist"][name] = {}
        for s in sources:
            model = fit_logistic(f["train"][src_train == s], y_train[src_train == s])
            logits = logistic_logits(f["val"][val_src == s], model)
            report["specialist"][name][s] = roc_auc(val_y[val_src == s], logits)
        print(f"{name}: pooled {report['pooled'][name]} specialist {report['specialist'][name]}", flush=True)
    report["seconds"] = round(time.monotonic() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    main()
