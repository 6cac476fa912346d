"""Metrics against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from training.metrics import rates_at, roc_auc, summarise, tpr_at_fpr, youden_threshold


def test_auc_counts_pairs_and_ties() -> None:
    labels = np.array([0, 0, 1, 1])
    assert roc_auc(labels, np.array([0.1, 0.4, 0.35, 0.8])) == pytest.approx(0.75)
    assert roc_auc(labels, np.array([0.5, 0.5, 0.5, 0.5])) == pytest.approx(0.5)
    assert roc_auc(np.array([1, 1]), np.array([0.2, 0.3])) is None


def test_rates_threshold_and_tpr_at_fpr() -> None:
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    scores = np.array([0.1, 0.2, 0.3, 0.7, 0.6, 0.8, 0.9, 0.95])
    assert rates_at(labels, scores, 0.5) == {"accuracy": 0.875, "tpr": 1.0, "fpr": 0.25}
    assert tpr_at_fpr(labels, scores, 0.05) == pytest.approx(0.75)
    threshold = youden_threshold(labels, scores)
    # J = TPR - FPR is 0.75 both above 0.7 and above 0.3; the first (stricter) one wins, at the midpoint
    assert threshold == pytest.approx(0.75)
    rates = rates_at(labels, scores, threshold)
    assert rates["tpr"] - rates["fpr"] == pytest.approx(0.75)
    report = summarise(labels, scores, threshold)
    assert report["auc"] == pytest.approx(0.9375)
    assert (report["fakes"], report["reals"]) == (4, 4)
