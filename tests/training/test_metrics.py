"""Metrics against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from training.metrics import (
    expected_calibration_error,
    prior_weights,
    rates_at,
    roc_auc,
    summarise,
    tpr_at_fpr,
    youden_threshold,
)


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


def test_platt_fit_recovers_a_known_logistic_relation() -> None:
    from training.metrics import apply_platt, fit_platt

    rng = np.random.default_rng(0)
    z = rng.normal(0.0, 2.0, 20000)
    scores = 1.0 / (1.0 + np.exp(-z))
    labels = (rng.random(len(z)) < 1.0 / (1.0 + np.exp(-(0.5 * z - 1.0)))).astype(int)
    scale, bias = fit_platt(labels, scores, balanced=False)
    assert scale == pytest.approx(0.5, abs=0.05) and bias == pytest.approx(-1.0, abs=0.08)
    # balanced weighting removes the prior: the bias moves by -logit(fake share)
    share = labels.mean()
    _, balanced_bias = fit_platt(labels, scores, balanced=True)
    assert balanced_bias == pytest.approx(bias - np.log(share / (1 - share)), abs=0.05)
    assert apply_platt(np.array([0.5]), (scale, bias))[0] == pytest.approx(1.0 / (1.0 + np.exp(-bias)))
    # a backwards-ranking model never gets an inverting (negative) scale: a flat fit at the base rate
    flat_scale, flat_bias = fit_platt(1 - labels, scores, balanced=False)
    assert 0 < flat_scale <= 1e-3
    assert 1.0 / (1.0 + np.exp(-flat_bias)) == pytest.approx(1 - share, abs=0.02)


def test_threshold_for_fpr_keeps_false_positives_within_the_target() -> None:
    from training.metrics import threshold_for_fpr

    labels = np.array([0] * 10 + [1] * 4)
    scores = np.array([0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.35, 0.75, 0.85, 0.95])
    threshold = threshold_for_fpr(labels, scores, 0.10)
    assert threshold == pytest.approx(0.825)  # between the second-highest real (0.8) and the next score (0.85)
    assert rates_at(labels, scores, threshold)["fpr"] == pytest.approx(0.1)
    assert rates_at(labels, scores, threshold_for_fpr(labels, scores, 0.25))["fpr"] == pytest.approx(0.2)
    assert rates_at(labels, scores, threshold_for_fpr(labels, scores, 0.0))["fpr"] == 0.0


def test_exported_graph_applies_the_platt_calibration() -> None:
    import tensorflow as tf

    from training.export import FakeWebClassifier
    from training.metrics import apply_platt

    class ConstantLogit:
        weights: list = []

        def __call__(self, x: tf.Tensor, training: bool = False) -> tf.Tensor:
            return tf.reduce_mean(x, axis=(1, 2, 3))[:, None] / 100.0 - 1.0

    crops = tf.constant(np.random.default_rng(1).integers(0, 256, (4, 224, 224, 3), dtype=np.uint8))
    raw_module = FakeWebClassifier(ConstantLogit(), 192)
    calibrated_module = FakeWebClassifier(ConstantLogit(), 192, (0.6, -0.9))
    raw = raw_module.serve(crops)["manipulated_probability"].numpy()
    calibrated = calibrated_module.serve(crops)["manipulated_probability"].numpy()
    assert not np.allclose(raw, calibrated)
    np.testing.assert_allclose(calibrated, apply_platt(raw, (0.6, -0.9)), rtol=1e-4)


def test_balanced_weights_give_every_source_and_label_the_same_total() -> None:
    from training.probe_method import balanced_weights

    sources = ["a", "a", "a", "b", "a", "b"]
    targets = np.array([0, 0, 0, 0, 1, 1], np.float32)
    weights = balanced_weights(sources, targets)
    assert weights.mean() == pytest.approx(1.0)
    totals = {}
    for s, t, w in zip(sources, targets, weights, strict=True):
        totals[(s, t)] = totals.get((s, t), 0.0) + w
    assert max(totals.values()) == pytest.approx(min(totals.values()))


def test_ece_at_a_prior_reweights_the_classes() -> None:
    # Scores calibrated for a 20% prior: P(fake | score) = 0.2 in a population with 20% fakes.
    # Here both classes have a share of 50%, so unweighted the same scores look badly calibrated.
    labels = np.array([1] * 50 + [0] * 50)
    scores = np.full(100, 0.2)
    assert expected_calibration_error(labels, scores) == pytest.approx(0.3)
    assert expected_calibration_error(labels, scores, prior=0.2) == pytest.approx(0.0, abs=1e-12)
    weights = prior_weights(labels, 0.2)
    assert weights[labels == 1].sum() / weights.sum() == pytest.approx(0.2)


def test_top_losses_lists_the_worst_images_per_source_and_label() -> None:
    from training.dataset import Item
    from training.evaluate import top_losses

    items = [Item("s", "fake", f"f{i}") for i in range(4)] + [Item("s", "real", f"r{i}") for i in range(4)]
    per_face = [np.array([p]) for p in (0.9, 0.1, 0.5, 0.3)] + [np.array([0.2, p]) for p in (0.8, 0.1, 0.4, 0.6)]
    rows = top_losses(items, per_face, k=2)
    assert [(r["label"], r["path"]) for r in rows] == [("fake", "f1"), ("fake", "f3"), ("real", "r0"), ("real", "r3")]
    assert rows[2]["worst_face"] == 1 and rows[2]["faces"] == 2
