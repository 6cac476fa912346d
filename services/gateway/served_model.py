"""Which model version would score a job submitted now: the version part of the result cache's key.

Serving resolves the route (a pinned version, a label such as ``stable``, or the newest loaded
version) on every Predict. After ``fakeweb model promote`` or ``rollback`` the answer changes, so
the gateway asks serving (GetModelMetadata, the same resolution Predict uses) instead of trusting
what scored the last job, and remembers the answer for a second.
"""

from __future__ import annotations

import logging
import threading
import time

import grpc

from services.contract.settings import Settings
from tfserving_protos.versions import VersionLookupError, resolve_version

log = logging.getLogger(__name__)

REMEMBER_S = 1.0  # serving itself only notices a moved label on its next config poll
LOOKUP_TIMEOUT_S = 1.0


class ServedModel:
    """``name:version`` that serving answers with for this gateway's route; None when it cannot say."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._channel: grpc.Channel | None = None
        self._answer: tuple[str | None, float] = (None, 0.0)

    def current(self) -> str | None:
        """The version a job routed by the settings would be scored by now (asked at most once a second)."""
        settings = self.settings
        if settings.model_version is not None:
            return f"{settings.model_name}:{settings.model_version}"
        with self._lock:
            value, expires = self._answer
            if time.monotonic() < expires:
                return value
            if self._channel is None:
                self._channel = grpc.insecure_channel(settings.serving_address)
            try:
                version = resolve_version(
                    self._channel, settings.model_name, settings.model_label or None, timeout_s=LOOKUP_TIMEOUT_S
                )
                value = f"{settings.model_name}:{version}"
            except VersionLookupError as exc:
                log.info("serving named no version (%s): results scored by a model are not reused", exc.code.name)
                value = None
            self._answer = (value, time.monotonic() + REMEMBER_S)
            return value

    def close(self) -> None:
        """Close the channel to serving."""
        with self._lock:
            if self._channel is not None:
                self._channel.close()
                self._channel = None
