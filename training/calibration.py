"""The operating point baked into an exported model: calibrated probability 0.5 = the chosen false-alarm rate.

On the validation split's image scores (an image's score is its most manipulated face), Platt
scaling ``sigmoid(a * logit + b)`` is fitted with both classes weighted equally; then ``b`` is shifted
(a change of prior) so that calibrated 0.5 is the lowest raw threshold whose FPR on validation reals
is at most ``target_fpr``. The probability is then calibrated for the prior that shift implies.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from training.metrics import apply_platt, fit_platt, threshold_for_fpr, youden_threshold


@dataclass(frozen=True)
class OperatingPoint:
    """Platt scale and bias of the served probability, and what they mean."""

    scale: float
    bias: float
    balanced_bias: float  # the bias of the fit with a 50% prior
    implied_fake_prior: float
    target_fpr: float
    raw_operating_threshold: float
    youden_threshold_calibrated: float  # the balanced-accuracy point, in served units

    def balanced(self, served: np.ndarray) -> np.ndarray:
        """Served probabilities moved back to a 50% prior."""
        return apply_platt(served, (1.0, self.balanced_bias - self.bias))

    def to_dict(self) -> dict[str, float]:
        """For the model card."""
        return asdict(self)


def fit_operating_point(labels: np.ndarray, raw_scores: np.ndarray, target_fpr: float) -> OperatingPoint:
    """The calibration whose 0.5 keeps validation FPR within ``target_fpr`` (raw scores: uncalibrated, float64)."""
    scale, balanced_bias = fit_platt(labels, raw_scores, balanced=True)
    operating_raw = threshold_for_fpr(labels, raw_scores, target_fpr)
    balanced_at_operating = float(apply_platt(np.array([operating_raw]), (scale, balanced_bias))[0])
    bias = balanced_bias - float(np.log(balanced_at_operating / (1.0 - balanced_at_operating)))
    youden = float(apply_platt(np.array([youden_threshold(labels, raw_scores)]), (scale, bias))[0])
    return OperatingPoint(
        scale=scale,
        bias=bias,
        balanced_bias=balanced_bias,
        implied_fake_prior=float(1.0 / (1.0 + np.exp(-(bias - balanced_bias)))),
        target_fpr=target_fpr,
        raw_operating_threshold=operating_raw,
        youden_threshold_calibrated=youden,
    )
