"""Scoring face crops through TF Serving: which model to call, and what a serving error means for a job.

Error policy (decided here, documented in the README paragraph):

- UNAVAILABLE / DEADLINE_EXCEEDED / RESOURCE_EXHAUSTED: ``ServingUnavailable`` (transient; the
  stage retries with backoff and the job fails with ``serving_unavailable`` after the budget).
- NOT_FOUND / FAILED_PRECONDITION (model or version not loaded): ``ModelUnavailable``, also
  transient, because during a deploy or a serving restart a version is briefly not loaded; after
  the retry budget the job fails with ``model_unavailable``. A version that disappears between
  GetModelMetadata and Predict (a rollback) is re-resolved at once, within the task.
- INVALID_ARGUMENT for a label ("Unrecognized servable version label"): a configuration error,
  ``JobFailed("model_unavailable")`` at once (and the worker refuses to start with it). The
  ``canary`` route instead falls back to the main route, so removing the canary label during a
  rollback never fails a job.
- INVALID_ARGUMENT for Predict, or a signature FakeWeb cannot call: ``JobFailed("model_incompatible")``.
"""

from __future__ import annotations

import hashlib
import logging

import cv2
import grpc
import numpy as np

from services.classifier.serving_client import (
    ModelIncompatible,
    ModelRoute,
    ModelSignature,
    ServingCallError,
    ServingClient,
)
from services.contract.settings import Settings
from services.contract.tasks import JobFailed, ServingUnavailable

log = logging.getLogger(__name__)

CANARY_LABEL = "canary"
STABLE_LABEL = "stable"
_NOT_LOADED = frozenset({grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION})
_SERVER_FAULTS = frozenset({grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.ABORTED})
_RESOLVE_ATTEMPTS = 3


class ModelUnavailable(ServingUnavailable):
    """Serving is up but the requested model version is not loaded (yet): retried, then ``model_unavailable``."""

    reason = "model_unavailable"


class ModelConfigurationError(Exception):
    """The settings name a model route serving does not have (unknown label) or contradict each other."""


def canary_fraction(job_id: str) -> float:
    """A stable number in [0, 1) per job, so every chunk of a job takes the same route."""
    digest = hashlib.sha256(job_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def main_route(settings: Settings) -> ModelRoute:
    """The route for jobs not sent to the canary.

    A pinned version wins; otherwise the configured label; with a canary share and no label the
    rest of the traffic goes to ``stable``; with neither, serving's latest version answers.
    """
    if settings.model_version is not None:
        return ModelRoute(settings.model_name, version=settings.model_version)
    label = settings.model_label or (STABLE_LABEL if settings.canary_share > 0 else None)
    return ModelRoute(settings.model_name, label=label)


def configured_routes(settings: Settings) -> list[ModelRoute]:
    """Every route the settings can send a job to; raise ModelConfigurationError if they contradict."""
    if settings.model_version is not None and settings.model_label:
        raise ModelConfigurationError("set FAKEWEB_MODEL_VERSION or FAKEWEB_MODEL_LABEL, not both")
    if settings.model_version is not None and settings.canary_share > 0:
        raise ModelConfigurationError("FAKEWEB_CANARY_SHARE needs label routing, not a pinned FAKEWEB_MODEL_VERSION")
    routes = [main_route(settings)]
    if settings.canary_share > 0:
        routes.append(ModelRoute(settings.model_name, label=CANARY_LABEL))
    return routes


def route_for_job(settings: Settings, job_id: str) -> ModelRoute:
    """Canary for ``canary_share`` of jobs (chosen from the job id), the main route for the rest."""
    if settings.canary_share > 0 and canary_fraction(job_id) < settings.canary_share:
        return ModelRoute(settings.model_name, label=CANARY_LABEL)
    return main_route(settings)


def check_routes(settings: Settings, client: ServingClient) -> list[ModelSignature]:
    """Resolve every configured route once; raise ModelConfigurationError for an unknown label.

    Serving being down or a version still loading is not a configuration error: tasks retry.
    """
    found = []
    for route in configured_routes(settings):
        try:
            found.append(client.metadata(route))
        except ServingCallError as exc:
            if exc.code == grpc.StatusCode.INVALID_ARGUMENT and route.label:
                raise ModelConfigurationError(
                    f"TF Serving at {client.address} has no version label {route.label!r} for model "
                    f"{route.name!r} ({exc.details}). Fix FAKEWEB_MODEL_LABEL / FAKEWEB_CANARY_SHARE or the "
                    f"version_labels in models.config."
                ) from exc
            if exc.code not in _NOT_LOADED:
                raise ModelConfigurationError(f"{route}: {exc}") from exc
            log.warning("%s is not loaded yet: %s", route, exc.details)
        except ModelIncompatible as exc:
            raise ModelConfigurationError(f"{route}: {exc}") from exc
    return found


def prepare_batch(crops: list[np.ndarray], signature: ModelSignature) -> np.ndarray:
    """Stack RGB uint8 crops at the model's input size and dtype."""
    size = (signature.width, signature.height)
    resized = [
        crop
        if crop.shape[:2] == (signature.height, signature.width)
        else cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
        for crop in crops
    ]
    return np.stack(resized).astype(signature.dtype, copy=False)


class Classifier:
    """Scores crops for a job on one model version; the metadata of each version is cached."""

    def __init__(self, settings: Settings, client: ServingClient | None = None) -> None:
        self.settings = settings
        self.client = client or ServingClient(settings.serving_address, settings.serving_timeout_s)
        self._signatures: dict[tuple[str, int], ModelSignature] = {}

    def resolve(self, route: ModelRoute) -> ModelSignature:
        """The version behind ``route`` and its signature (a pinned version is answered from cache)."""
        if route.version is not None and (route.name, route.version) in self._signatures:
            return self._signatures[(route.name, route.version)]
        signature = self.client.metadata(route)
        return self._signatures.setdefault((signature.name, signature.version), signature)

    def batch_size(self, signature: ModelSignature) -> int:
        """Largest batch to send: the setting, lowered to a fixed batch dimension of the model."""
        limit = self.settings.classify_max_batch
        return min(limit, signature.batch_limit) if signature.batch_limit else limit

    def score(self, job_id: str, crops: list[np.ndarray]) -> list[tuple[float, str, int]]:
        """``(probability, model name, model version)`` per crop, all from one version when possible."""
        if not crops:
            return []
        route = route_for_job(self.settings, job_id)
        for attempt in range(1, _RESOLVE_ATTEMPTS + 1):
            try:
                signature = self._resolve_or_fall_back(route)
                return self._score_on(signature, crops)
            except ServingCallError as exc:
                if exc.code in _NOT_LOADED and attempt < _RESOLVE_ATTEMPTS:
                    log.info("job %s: %s went away (%s); resolving again", job_id, route, exc.details)
                    continue
                raise self._job_error(route, exc) from exc
            except ModelIncompatible as exc:
                raise JobFailed("model_incompatible", f"{route}: {exc}") from exc
        raise AssertionError("unreachable")

    def _resolve_or_fall_back(self, route: ModelRoute) -> ModelSignature:
        try:
            return self.resolve(route)
        except ServingCallError as exc:
            if route.label != CANARY_LABEL or exc.code not in (grpc.StatusCode.INVALID_ARGUMENT, *_NOT_LOADED):
                raise
            fallback = main_route(self.settings)
            log.warning("canary route unavailable (%s); using %s", exc.details, fallback)
            return self.resolve(fallback)

    def _score_on(self, signature: ModelSignature, crops: list[np.ndarray]) -> list[tuple[float, str, int]]:
        size = self.batch_size(signature)
        results: list[tuple[float, str, int]] = []
        for start in range(0, len(crops), size):
            batch = prepare_batch(crops[start : start + size], signature)
            scores, name, version = self.client.predict(signature, batch)
            if len(scores) != len(batch) or not np.all((scores >= 0.0) & (scores <= 1.0)):
                raise ModelIncompatible(f"{name} version {version} did not return one probability in [0, 1] per face")
            results += [(float(p), name, version) for p in scores]
        return results

    @staticmethod
    def _job_error(route: ModelRoute, exc: ServingCallError) -> Exception:
        if exc.code in _NOT_LOADED:
            return ModelUnavailable(f"{route} is not loaded in TF Serving: {exc.details}")
        if exc.code in _SERVER_FAULTS:
            return ServingUnavailable(f"TF Serving failed on {route}: {exc}")
        if exc.code == grpc.StatusCode.INVALID_ARGUMENT and "label" in exc.details.lower():
            return JobFailed("model_unavailable", f"TF Serving has no such label for {route}: {exc.details}")
        if exc.code == grpc.StatusCode.INVALID_ARGUMENT:
            return JobFailed("model_incompatible", f"{route} rejected the face crops: {exc.details}")
        return JobFailed("model_unavailable", f"{route}: {exc}")
