"""The classifier SavedModel the benchmark runs: the bundled real model if present, else a same-size one.

The bundled model is the newest version under ``deploy/models/fakeweb/``. Without one, the newest
export of ``training.train`` on this machine (``.fakeweb/train-runs/...``) is used; without that, the
stand-in is the architecture ``training.train`` exports by default (EfficientNet-Lite0
multi-level statistics + the probe's two-layer head, 192 px input window of the 224 px policy
crop) with random weights: the same graph and FLOPs, so the same cost; its scores mean nothing.
It is exported once with ``training.export`` into ``.fakeweb/bench/`` and reused.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fakeweb_cli.repository_layout import version_dirs
from services.contract.crop_policy import CROP_POLICY

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ROOT / "deploy" / "models" / "fakeweb"
TRAIN_RUNS = ROOT / ".fakeweb" / "train-runs"
STAND_IN = ROOT / ".fakeweb" / "bench" / "lite0-probe-192-random"
STAND_IN_INPUT = 192


@dataclass(frozen=True)
class BenchModel:
    """A SavedModel version folder and a sentence saying what it is."""

    path: Path
    description: str


def bench_model(
    bundled: Path = BUNDLED, train_runs: Path = TRAIN_RUNS, stand_in: Path = STAND_IN, chosen: Path | None = None
) -> BenchModel:
    """``chosen`` if given; else the newest bundled version; else the newest training export on this
    machine (``.fakeweb/train-runs/*/fakeweb/<version>``); else the (cached) random-weight Lite0 stand-in."""
    if chosen is not None:
        if not (chosen / "saved_model.pb").is_file():
            raise FileNotFoundError(f"{chosen} holds no saved_model.pb")
        return BenchModel(chosen, f"model chosen with --model: {chosen}")
    versions = version_dirs(bundled) if bundled.is_dir() else {}
    if versions:
        newest = max(versions)
        return BenchModel(versions[newest], f"bundled model {bundled.relative_to(ROOT)}/{newest}")
    exports = sorted(train_runs.glob("*/fakeweb/*/saved_model.pb"), key=lambda p: p.stat().st_mtime)
    if exports:
        path = exports[-1].parent
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        return BenchModel(path, f"newest training export {shown} (deploy/models/fakeweb/ had no version)")
    if not (stand_in / "saved_model.pb").is_file():
        export_stand_in(stand_in)
    return BenchModel(
        stand_in,
        f"stand-in: EfficientNet-Lite0 probe network ({STAND_IN_INPUT} px input, random weights, same size as "
        "training's default export) because deploy/models/fakeweb/ had no version",
    )


def export_stand_in(target: Path) -> Path:
    """Export the random-weight Lite0 probe network with FakeWeb's serving signature into ``target``."""
    import keras

    from training.backbone import lite0_multilevel_stats
    from training.export import export_saved_model

    keras.utils.set_random_seed(0)
    inputs = keras.Input((STAND_IN_INPUT, STAND_IN_INPUT, 3), name="crop")
    stats = lite0_multilevel_stats(inputs)
    x = keras.layers.Dense(256, activation="relu", name="head_hidden")(stats)
    logit = keras.layers.Dense(1, dtype="float32", name="logit")(x)
    network = keras.Model(inputs, logit, name="bench_lite0_probe")
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    warmup = np.random.default_rng(0).integers(0, 256, (4, CROP_POLICY.size, CROP_POLICY.size, 3), dtype=np.uint8)
    export_saved_model(network, STAND_IN_INPUT, tmp, warmup)
    tmp.replace(target)
    return target


def model_repository(model: BenchModel, base: Path) -> Path:
    """A TF Serving model base path ``base`` holding the model as ``fakeweb/1`` (a copy)."""
    version_dir = base / "fakeweb" / "1"
    if not version_dir.exists():
        shutil.copytree(model.path, version_dir)
    return base
