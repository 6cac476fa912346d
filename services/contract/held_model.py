"""A model, or another costly resource, that a worker process holds: made once, used by every task.

In the manner of immich's ``InferenceModel``: nothing is made at import; ``load()`` makes the
thing once per process under a lock (and logs what it is and how long it took); ``warm_up()``
loads it and makes one throw-away call, so the first job does not pay for set-up; ``predict()``
loads it if need be and calls it under the same lock (MediaPipe graphs and LiteRT interpreters
must not be called from two threads at once); ``describe()`` says what it is.

Workers warm their models up at Celery's ``worker_init`` through
``services.contract.tasks.load_at_start_up``, which skips a prefork parent: MediaPipe or
TensorFlow loaded before a fork hangs the children, so there each child loads on first use.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class HeldModel(ABC, Generic[T]):
    """One model (or client, or other resource) of a worker process; subclasses say how to make and call it."""

    def __init__(self, model_name: str) -> None:
        self.model_name = model_name
        self.version = ""  # set by _load: the model file, the package version
        self.load_seconds: float | None = None
        self._model: T | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        """True once this process has made the model."""
        return self._model is not None

    def load(self) -> T:
        """The model, made on the first call (one thread makes it; the others wait for it)."""
        model = self._model
        if model is not None:
            return model
        with self._lock:
            if self._model is None:
                started = time.monotonic()
                made = self._load()
                self.load_seconds = time.monotonic() - started
                self._model = made
                log.info("%s loaded in %.2f s (%s)", self.model_name, self.load_seconds, self.version or "-")
            return self._model

    def warm_up(self) -> None:
        """Load the model and make one throw-away call, so the first real call costs what later ones do."""
        model = self.load()
        with self._lock:
            self._warm_up(model)

    def predict(self, *args: Any, **kwargs: Any) -> Any:
        """Call the model (loading it first if need be), one call at a time."""
        model = self.load()
        with self._lock:
            return self._predict(model, *args, **kwargs)

    def describe(self) -> dict[str, Any]:
        """What this is: name, version or file, whether it is loaded and how long loading took."""
        return {
            "name": self.model_name,
            "version": self.version,
            "loaded": self.loaded,
            "load_seconds": self.load_seconds,
        }

    @abstractmethod
    def _load(self) -> T:
        """Make the model; may set ``self.version``. Called once, under the lock."""

    def _warm_up(self, model: T) -> None:
        """One throw-away call; called under the lock. Nothing by default."""

    def _predict(self, model: T, *args: Any, **kwargs: Any) -> Any:
        """One call of the model; called under the lock. Resources that are not called use ``load()`` only."""
        raise NotImplementedError(f"{self.model_name} is not called: use load()")


def warm_up_all(models: Iterable[HeldModel[Any]]) -> None:
    """Warm up each model in turn (for ``load_at_start_up``)."""
    for model in models:
        model.warm_up()
