"""Evaluate a FakeWeb SavedModel on any folder ``<source>/<label>/<image>`` (MANIFEST.tsv optional).

``python -m training.evaluate --model deploy/models/fakeweb/1 --data DIR --out report.json``

Every image goes through the service's detector and crop policy (training.crops), every
face through the SavedModel's ``serving_default``; an image's score is its most manipulated
face. The report has, overall and per source (FF++ Face2Face apart from FF++ swaps): AUC,
accuracy/TPR/FPR at the model's threshold (per image, and per face for the reals), TPR at 5% FPR
and the images with no face, plus a ROC plot, a calibration plot and the top losses (a TSV and a
contact sheet of the images the model gets most wrong per source) next to it. Training's own validation calls
:func:`evaluate_faces` too.

Video clips in the folder (``<source>/<label>/<clip>.mp4``, also ``.mov`` and ``.webm``) are read as a video job
reads them (training.video_eval): the report's ``video`` part has, per source and per manipulation method, AUC at
frame level and at clip level by the main track's mean and by the ``confident`` rule, for all clips, for the clips
whose FF++ ids had frames in training's train split and for the clean ones; a per-clip TSV goes next to it.
``--sources`` limits the run to some sources (``--sources ffpp_c23_videos`` for the clips alone).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from training.crops import DEFAULT_CACHE_DIR, CropCache, FaceCrops
from training.dataset import SPLITS, Item, ffpp_method, list_items, training_split
from training.metrics import calibration_bins, roc_curve, summarise
from training.video_eval import ClipCache, ffpp_id_splits, list_videos, score_clips, video_report

Predict = Callable[[np.ndarray], np.ndarray]
DEFAULT_THRESHOLD = 0.5


def load_saved_model(model_dir: Path) -> tuple[Predict, float]:
    """The SavedModel's serving function as ``uint8 crops -> probabilities`` and its card's threshold."""
    import tensorflow as tf

    loaded = tf.saved_model.load(str(model_dir))
    serve = loaded.signatures["serving_default"]

    def predict(crops: np.ndarray) -> np.ndarray:
        return serve(image=tf.constant(crops, dtype=tf.uint8))["manipulated_probability"].numpy()

    card = Path(model_dir) / "model_card.json"
    threshold = DEFAULT_THRESHOLD
    if card.is_file():
        threshold = float(json.loads(card.read_text()).get("threshold", DEFAULT_THRESHOLD))
    predict.keep_alive = loaded  # type: ignore[attr-defined]  # the function needs its module alive
    return predict, threshold


def face_scores(faces: Sequence[FaceCrops], predict: Predict, batch_size: int = 64) -> list[np.ndarray]:
    """Probabilities of every face of every image, batched through ``predict``."""
    flat = [crop for f in faces for crop in f.crops]
    probs = np.zeros((len(flat),), dtype=np.float32)
    for start in range(0, len(flat), batch_size):
        probs[start : start + batch_size] = np.asarray(predict(np.stack(flat[start : start + batch_size])))
    out, at = [], 0
    for f in faces:
        out.append(probs[at : at + f.count])
        at += f.count
    return out


def report_groups(items: Sequence[Item]) -> dict[str, list[int]]:
    """Indices per reported group: each source, and FF++ reals with Face2Face or with the swaps."""
    groups: dict[str, list[int]] = {}
    for i, item in enumerate(items):
        groups.setdefault(item.source, []).append(i)
        if item.source == "ffpp_c23":
            method = ffpp_method(item.path)
            if item.label == "real" or method == "Face2Face":
                groups.setdefault("ffpp_c23:face2face", []).append(i)
            if item.label == "real" or method in ("Deepfakes", "FaceSwap"):
                groups.setdefault("ffpp_c23:swaps", []).append(i)
    return groups


def evaluate_faces(
    items: Sequence[Item], faces: Sequence[FaceCrops], predict: Predict, threshold: float
) -> tuple[dict[str, object], np.ndarray, np.ndarray]:
    """The report for images whose faces are known; also returns labels and scores of scored images."""
    return report_from_face_scores(items, face_scores(faces, predict), threshold)


def report_from_face_scores(
    items: Sequence[Item], per_face: Sequence[np.ndarray], threshold: float
) -> tuple[dict[str, object], np.ndarray, np.ndarray]:
    """The report from each image's face probabilities (image score = its most manipulated face)."""
    has_face = np.array([len(p) > 0 for p in per_face], dtype=bool)
    scores = np.array([float(np.max(p)) if len(p) else np.nan for p in per_face])
    labels = np.array([item.target for item in items], dtype=np.int64)

    def block(indices: Sequence[int]) -> dict[str, object]:
        idx = np.asarray(indices, dtype=np.int64)
        scored = idx[has_face[idx]]
        real_faces = np.concatenate([np.asarray(per_face[i], np.float64) for i in idx if labels[i] == 0] + [[]])
        return {
            **summarise(labels[scored], scores[scored], threshold),
            "images": len(idx),
            "no_face": int((~has_face[idx]).sum()),
            "real_faces": len(real_faces),
            "real_face_fpr": float(np.mean(real_faces >= threshold)) if len(real_faces) else None,
        }

    report: dict[str, object] = {
        "threshold": threshold,
        "overall": block(range(len(items))),
        "per_source": {name: block(idx) for name, idx in sorted(report_groups(items).items())},
        "calibration": calibration_bins(labels[has_face], scores[has_face]),
    }
    return report, labels[has_face], scores[has_face]


def top_losses(items: Sequence[Item], per_face: Sequence[np.ndarray], k: int = 12) -> list[dict[str, object]]:
    """Per source, the ``k`` fakes scored lowest and the ``k`` reals scored highest (images with a face)."""
    rows: list[dict[str, object]] = []
    for source in sorted({item.source for item in items}):
        for label, worst_first in (("fake", 1.0), ("real", -1.0)):
            chosen = [i for i, item in enumerate(items) if item.source == source and item.label == label]
            chosen = [i for i in chosen if len(per_face[i])]
            chosen.sort(key=lambda i: worst_first * float(np.max(per_face[i])))
            for i in chosen[:k]:
                rows.append(
                    {
                        "source": source,
                        "label": label,
                        "path": items[i].path,
                        "score": round(float(np.max(per_face[i])), 4),
                        "faces": len(per_face[i]),
                        "worst_face": int(np.argmax(per_face[i])),
                    }
                )
    return rows


def write_top_losses(
    items: Sequence[Item], faces: Sequence[FaceCrops], per_face: Sequence[np.ndarray], prefix: Path, k: int = 12
) -> dict[str, str]:
    """``<prefix>_top_losses.tsv`` and a contact sheet ``<prefix>_top_losses.png`` of the images the model gets
    most wrong per source: one row of missed fakes and one of flagged reals, each tile the face that set the
    image's score, with that score."""
    import cv2

    rows = top_losses(items, per_face, k)
    paths = {"tsv": f"{prefix}_top_losses.tsv", "png": f"{prefix}_top_losses.png"}
    columns = ["source", "label", "path", "score", "faces", "worst_face"]
    lines = ["\t".join(columns)] + ["\t".join(str(r[c]) for c in columns) for r in rows]
    Path(paths["tsv"]).write_text("\n".join(lines) + "\n")
    tile, caption = 112, 16
    index = {item.path: i for i, item in enumerate(items)}
    groups = sorted({(r["source"], r["label"]) for r in rows})
    sheet = np.full((max(1, len(groups)) * (tile + caption) + caption, 200 + k * tile, 3), 255, np.uint8)
    for g, (source, label) in enumerate(groups):
        top = g * (tile + caption) + caption
        kind = "missed fakes" if label == "fake" else "flagged reals"
        cv2.putText(sheet, source[:22], (4, top + 40), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1)
        cv2.putText(sheet, kind, (4, top + 60), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1)
        for j, r in enumerate(x for x in rows if (x["source"], x["label"]) == (source, label)):
            crop = faces[index[r["path"]]].crops[int(r["worst_face"])]
            left = 200 + j * tile
            sheet[top : top + tile, left : left + tile] = cv2.resize(crop, (tile, tile), interpolation=cv2.INTER_AREA)
            cv2.putText(
                sheet, f"{r['score']:.2f}", (left + 4, top + tile + 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (200, 0, 0), 1
            )
    cv2.imwrite(paths["png"], sheet[..., ::-1])
    return paths


def write_plots(labels: np.ndarray, scores: np.ndarray, threshold: float, prefix: Path) -> dict[str, str]:
    """ROC and calibration PNGs at ``<prefix>_roc.png`` and ``<prefix>_calibration.png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = {"roc": f"{prefix}_roc.png", "calibration": f"{prefix}_calibration.png"}
    fpr, tpr, _ = roc_curve(labels, scores)
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.plot(fpr, tpr)
    ax.plot([0, 1], [0, 1], "--", color="grey")
    ax.set(xlabel="false-positive rate (reals)", ylabel="true-positive rate (fakes)", title="ROC")
    fig.tight_layout()
    fig.savefig(paths["roc"], dpi=80)
    plt.close(fig)
    bins = calibration_bins(labels, scores)
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.plot([b["mean_probability"] for b in bins], [b["fake_fraction"] for b in bins], "o-")
    ax.plot([0, 1], [0, 1], "--", color="grey")
    ax.axvline(threshold, color="red", linewidth=0.8)
    ax.set(xlabel="predicted probability", ylabel="fraction fake", title="Calibration")
    fig.tight_layout()
    fig.savefig(paths["calibration"], dpi=80)
    plt.close(fig)
    return paths


def evaluate_folder(
    model_dir: Path,
    data_dir: Path,
    out: Path,
    cache_dir: Path | None = DEFAULT_CACHE_DIR,
    split: str | None = None,
    seed: int = 1,
    sources: set[str] | None = None,
) -> dict[str, object]:
    """Run the whole evaluation of ``model_dir`` on ``data_dir`` and write the JSON report and plots.

    ``split`` limits it to one side of training's split (same seed and rules: ``training_split``); a clip
    is on the side its FF++ ids' frames are (``video_eval.clip_split``). ``sources`` limits it to those sources.
    """
    predict, threshold = load_saved_model(model_dir)
    items = list_items(data_dir, sources)
    if split is not None:
        items = training_split(items, data_dir, seed=seed)[split]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    prefix = out.with_suffix("")
    cache = CropCache(cache_dir)
    report: dict[str, object] = {
        "model": str(model_dir),
        "data": str(data_dir),
        "split": split,
        "sources": sorted(sources) if sources else None,
        "detector": cache.version,
        "threshold": threshold,
    }
    if items:
        faces = cache.faces_of_all(Path(data_dir) / item.path for item in items)
        per_face = face_scores(faces, predict)
        image_report, labels, scores = report_from_face_scores(items, per_face, threshold)
        report.update(image_report)
        report["plots"] = write_plots(labels, scores, threshold, prefix) if len(labels) else {}
        report["top_losses"] = write_top_losses(items, faces, per_face, prefix)
    videos = list_videos(data_dir, sources)
    if videos:
        id_splits = ffpp_id_splits(data_dir, seed=seed)
        clip_cache = ClipCache(cache_dir)
        clips = score_clips(videos, [clip_cache.faces(Path(data_dir) / v.path) for v in videos], predict, id_splits)
        if split is not None:
            clips = [clip for clip in clips if clip.split == split]
        report["video"] = {"clip_faces": clip_cache.version, **video_report(clips, threshold)}
        report["video"]["per_clip_tsv"] = write_clip_table(report["video"]["per_clip"], prefix)
    out.write_text(json.dumps(report, indent=2) + "\n")
    return report


def write_clip_table(rows: Sequence[dict[str, object]], prefix: Path) -> str:
    """``<prefix>_videos.tsv``: one row per clip (label, method, split side of its ids, frames, clip scores)."""
    path = f"{prefix}_videos.tsv"
    columns = ["path", "label", "method", "split", "frames_sampled", "tracks", "frames_scored", "mean", "confident"]
    lines = ["\t".join(columns)] + ["\t".join(str(row[c]) for c in columns) for row in rows]
    Path(path).write_text("\n".join(lines) + "\n")
    return path


def main(argv: list[str] | None = None) -> None:
    """CLI entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True, help="SavedModel version directory")
    parser.add_argument("--data", type=Path, required=True, help="folder <source>/<label>/<image>")
    parser.add_argument("--out", type=Path, required=True, help="report JSON path (plots are written beside it)")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR, help="crop cache ('' disables)")
    parser.add_argument("--split", choices=SPLITS, default=None, help="only this side of training's grouped split")
    parser.add_argument("--seed", type=int, default=1, help="split seed (as given to training)")
    parser.add_argument("--sources", default="", help="comma-separated sources to evaluate (default: all)")
    args = parser.parse_args(argv)
    cache_dir = args.cache_dir if str(args.cache_dir) else None
    sources = {s for s in args.sources.split(",") if s} or None
    report = evaluate_folder(args.model, args.data, args.out, cache_dir, args.split, args.seed, sources)
    summary: dict[str, object] = {}
    if "overall" in report:
        summary["overall"] = report["overall"]
        summary["per_source_auc"] = {k: v["auc"] for k, v in report["per_source"].items()}
    if "video" in report:
        video = report["video"]
        summary["video_auc"] = {k: v["all"]["auc"] for k, v in video["per_group"].items()}
        summary["video_contamination"] = video["contamination"]
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
