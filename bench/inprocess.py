"""The in-process bound: FakeWeb's own stage code called directly in one Python process.

Per photo: decode (``decode_rgb``), detect + judgeability + crop policy (the detector's
``analyse_photo``), one batched call of the SavedModel's serving signature loaded in this
process (``prepare_batch`` as the classifier does it), mesh and drawing (the annotator's
``annotate_photo``) and the JPEG encode. No queue, no storage, no network, no PNG crops.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fakeweb_cli.repository_layout import DEFAULT_SIGNATURE, read_signature_defs
from services.annotator.result import AnnotateOptions, annotate_photo
from services.classifier.scoring import prepare_batch
from services.classifier.serving_client import signature_from_def
from services.contract.imaging import decode_rgb, encode_jpeg
from services.contract.settings import Settings
from services.detector.faces import analyse_photo


@dataclass
class PhotoRun:
    """Seconds per step of one photo, and what was found."""

    steps: dict[str, float] = field(default_factory=dict)
    faces: int = 0
    faces_scored: int = 0
    meshes: int = 0

    @property
    def total(self) -> float:
        """Seconds for the whole photo."""
        return sum(self.steps.values())


class InProcessPipeline:
    """Detector, crop policy, SavedModel and annotator in this process (models load on construction)."""

    def __init__(self, model_dir: Path, settings: Settings) -> None:
        import tensorflow as tf

        self._tf = tf
        self.settings = settings
        signature_def = read_signature_defs(model_dir)[DEFAULT_SIGNATURE]
        self.signature = signature_from_def(signature_def, "fakeweb", 1, DEFAULT_SIGNATURE)
        self._function = tf.saved_model.load(str(model_dir)).signatures[DEFAULT_SIGNATURE]

    def score(self, crops: list[np.ndarray]) -> list[float]:
        """Manipulated probability per crop, in batches of ``classify_max_batch``."""
        size = self.settings.classify_max_batch
        scores: list[float] = []
        for start in range(0, len(crops), size):
            batch = prepare_batch(crops[start : start + size], self.signature)
            outputs = self._function(**{self.signature.input_name: self._tf.constant(batch)})
            scores += [float(p) for p in np.asarray(outputs[self.signature.output_name]).reshape(-1)]
        return scores

    def run(self, data: bytes, threshold: float) -> PhotoRun:
        """Process one photo end to end; return the time of each step."""
        run = PhotoRun()
        clock = time.perf_counter
        t0 = clock()
        image = decode_rgb(data, self.settings.max_pixels, self.settings.max_side)
        t1 = clock()
        output = analyse_photo(image, "inprocess", self.settings)
        t2 = clock()
        indices = sorted(output.crops)
        probabilities = self.score([output.crops[i] for i in indices])
        scores = {
            i: {"p": p, "model": {"name": "fakeweb", "version": 1}} for i, p in zip(indices, probabilities, strict=True)
        }
        t3 = clock()
        options = AnnotateOptions(threshold=threshold, include_landmarks=False)
        annotation = annotate_photo(image, output.result, scores, options)
        encode_jpeg(annotation.image, self.settings.jpeg_quality)
        t4 = clock()
        run.steps = {"decode": t1 - t0, "detect": t2 - t1, "classify": t3 - t2, "annotate": t4 - t3}
        run.faces = len(output.result.faces)
        run.faces_scored = len(indices)
        run.meshes = sum(1 for face in annotation.result.faces if face.mesh)
        return run
