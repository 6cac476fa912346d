"""Detection metrics from scores and labels (no sklearn): AUC, rates at a threshold, ROC, calibration."""

from __future__ import annotations

import numpy as np


def roc_curve(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """False-positive rates, true-positive rates and thresholds, from the highest score down."""
    labels = np.asarray(labels, dtype=np.int64)
    scores = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-scores, kind="mergesort")
    s, y = scores[order], labels[order]
    distinct = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1] if len(s) else np.array([], dtype=np.int64)
    tps = np.cumsum(y)[distinct] if len(s) else np.array([])
    fps = (distinct + 1) - tps
    pos, neg = max(int(y.sum()), 1), max(int(len(y) - y.sum()), 1)
    fpr = np.r_[0.0, fps / neg]
    tpr = np.r_[0.0, tps / pos]
    thresholds = np.r_[np.inf, s[distinct]] if len(s) else np.array([np.inf])
    return fpr, tpr, thresholds


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float | None:
    """Area under the ROC curve (ties count half), or None when only one class is present."""
    labels = np.asarray(labels)
    if len(np.unique(labels)) < 2:
        return None
    fpr, tpr, _ = roc_curve(labels, scores)
    trapezoid = getattr(np, "trapezoid", None) or np.trapz  # numpy 1.26 has only trapz
    return float(trapezoid(tpr, fpr))


def tpr_at_fpr(labels: np.ndarray, scores: np.ndarray, max_fpr: float) -> float | None:
    """Highest true-positive rate whose false-positive rate is at most ``max_fpr``."""
    labels = np.asarray(labels)
    if len(np.unique(labels)) < 2:
        return None
    fpr, tpr, _ = roc_curve(labels, scores)
    return float(tpr[fpr <= max_fpr].max())


def youden_threshold(labels: np.ndarray, scores: np.ndarray) -> float:
    """Score threshold maximising TPR - FPR (balanced accuracy), the midpoint between neighbours."""
    fpr, tpr, thresholds = roc_curve(labels, scores)
    best = int(np.argmax(tpr - fpr))
    if best == 0:
        return float(np.max(scores)) + 1e-6
    upper = thresholds[best]
    lower = thresholds[best + 1] if best + 1 < len(thresholds) else upper
    return float((upper + lower) / 2.0)


def rates_at(labels: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, float | None]:
    """Accuracy, TPR (on fakes) and FPR (on reals) when ``score >= threshold`` means manipulated."""
    labels = np.asarray(labels, dtype=np.int64)
    predicted = np.asarray(scores) >= threshold
    fakes, reals = labels == 1, labels == 0
    return {
        "accuracy": float(np.mean(predicted == fakes)) if len(labels) else None,
        "tpr": float(predicted[fakes].mean()) if fakes.any() else None,
        "fpr": float(predicted[reals].mean()) if reals.any() else None,
    }


def calibration_bins(
    labels: np.ndarray, scores: np.ndarray, bins: int = 10, weights: np.ndarray | None = None
) -> list[dict[str, float]]:
    """Per probability bin: mean predicted probability, observed fake fraction, count (``weights``: per row)."""
    labels, scores = np.asarray(labels, dtype=np.float64), np.asarray(scores, dtype=np.float64)
    w = np.ones_like(scores) if weights is None else np.asarray(weights, dtype=np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(scores, edges) - 1, 0, bins - 1)
    out = []
    for b in range(bins):
        chosen = index == b
        if chosen.any():
            out.append(
                {
                    "mean_probability": float(np.average(scores[chosen], weights=w[chosen])),
                    "fake_fraction": float(np.average(labels[chosen], weights=w[chosen])),
                    "count": int(chosen.sum()),
                    "weight": float(w[chosen].sum()),
                }
            )
    return out


def prior_weights(labels: np.ndarray, prior: float) -> np.ndarray:
    """Row weights that make the fakes' share of the total weight ``prior`` (importance reweighting)."""
    labels = np.asarray(labels)
    fakes = labels == 1
    if fakes.all() or not fakes.any():
        return np.ones(len(labels))
    return np.where(fakes, prior / fakes.mean(), (1.0 - prior) / (1.0 - fakes.mean()))


def summarise(labels: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, object]:
    """All per-group numbers of the evaluation report."""
    labels = np.asarray(labels, dtype=np.int64)
    return {
        "images_scored": len(labels),
        "fakes": int(labels.sum()),
        "reals": int(len(labels) - labels.sum()),
        "auc": roc_auc(labels, scores),
        **rates_at(labels, scores, threshold),
        "tpr_at_5pct_fpr": tpr_at_fpr(labels, scores, 0.05),
    }


def _logit(scores: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(scores, dtype=np.float64), 1e-12, 1.0 - 1e-12)
    return np.log(p / (1.0 - p))


def fit_platt(labels: np.ndarray, scores: np.ndarray, balanced: bool = True) -> tuple[float, float]:
    """Platt scaling on the logit of ``scores``: (scale, bias) minimising the log loss of
    ``sigmoid(scale * logit(score) + bias)``; ``balanced`` weights both classes equally (a 50% prior).
    The scale is kept >= ``MIN_PLATT_SCALE`` so calibration never reorders scores (a model that ranks
    validation backwards gets a flat, bias-only fit instead of a silently inverted one)."""
    y = np.asarray(labels, dtype=np.float64)
    z = _logit(scores)
    w = np.ones_like(y)
    if balanced and 0 < y.sum() < len(y):
        w = np.where(y == 1, 0.5 / y.mean(), 0.5 / (1.0 - y.mean()))
    a, b = _newton_platt(z, y, w, fit_scale=True, a=1.0)
    if a < MIN_PLATT_SCALE:
        a, b = _newton_platt(z, y, w, fit_scale=False, a=MIN_PLATT_SCALE)
    return float(a), float(b)


MIN_PLATT_SCALE = 1e-3


def _newton_platt(z: np.ndarray, y: np.ndarray, w: np.ndarray, fit_scale: bool, a: float) -> tuple[float, float]:
    """Newton steps on the convex weighted log loss (scale and bias, or the bias alone)."""
    b = 0.0
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-(a * z + b)))
        h = w * p * (1.0 - p)
        if fit_scale:
            g = np.array([np.sum(w * (p - y) * z), np.sum(w * (p - y))])
            hess = np.array([[np.sum(h * z * z), np.sum(h * z)], [np.sum(h * z), np.sum(h)]]) + 1e-9 * np.eye(2)
            step = np.linalg.solve(hess, g)
        else:
            step = np.array([0.0, np.sum(w * (p - y)) / (np.sum(h) + 1e-9)])
        a, b = a - step[0], b - step[1]
        if np.abs(step).max() < 1e-10:
            break
    return float(a), float(b)


def apply_platt(scores: np.ndarray, calibration: tuple[float, float]) -> np.ndarray:
    """``sigmoid(scale * logit(score) + bias)`` (what the exported graph computes)."""
    return 1.0 / (1.0 + np.exp(-(calibration[0] * _logit(scores) + calibration[1])))


def threshold_for_fpr(labels: np.ndarray, scores: np.ndarray, max_fpr: float) -> float:
    """Lowest score threshold (``score >= t`` is manipulated) whose FPR on the reals is <= ``max_fpr``."""
    labels, scores = np.asarray(labels), np.asarray(scores, dtype=np.float64)
    reals = np.sort(scores[labels == 0])[::-1]
    allowed = int(np.floor(max_fpr * len(reals)))  # reals that may score at or above the threshold
    if allowed >= len(reals):
        return float(reals.min())
    above = reals[allowed]  # the highest real that must stay below the threshold
    higher = scores[scores > above]
    return float((above + higher.min()) / 2.0) if len(higher) else float(above) + 1e-6


def expected_calibration_error(
    labels: np.ndarray, scores: np.ndarray, bins: int = 10, prior: float | None = None
) -> float | None:
    """Weighted mean |mean probability - fake fraction| over equal-width probability bins.

    With ``prior``, the rows are reweighted so that fakes make up that share: the calibration error of
    probabilities that claim to be calibrated for that prior, measured on data with another mix.
    """
    weights = None if prior is None else prior_weights(labels, prior)
    rows = calibration_bins(labels, scores, bins, weights)
    total = sum(r["weight"] for r in rows)
    if not total:
        return None
    return float(sum(r["weight"] * abs(r["mean_probability"] - r["fake_fraction"]) for r in rows) / total)
