"""Recover an exported version's fine-tuned network as a training run, so that ``--init-from`` continues it.

``python -m training.recover --model deploy/models/fakeweb/4 --run-dir .fakeweb/train-runs/v4-finetuned``

A run directory (``last.keras`` + ``state.json``) is what a later stage starts from, but run
directories live under ``.fakeweb/`` and are lost with the machine. The SavedModel keeps every
variable of its network: a blend tracks its members' weights in member order (the fine-tuned
network first), so the fine-tuned Lite0 is rebuilt from the model card's configuration and its
weights are assigned in that order. The recovered network is checked against the SavedModel's
own ``finetuned_probability`` output before the run directory is written.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from training.backbone import DEFAULT_WEIGHTS
from training.finetune import CHECKPOINT, STATE, FinetuneConfig, build_finetune_network


def finetune_config_of(card: dict) -> FinetuneConfig:
    """The fine-tuned member's configuration as the model card records it."""
    variant = next(v for v in card["training"]["variants"] if v.get("method") == "finetune")
    fields = set(asdict(FinetuneConfig()))
    return FinetuneConfig(**{k: v for k, v in variant["config"].items() if k in fields})


def recover(model_dir: Path, run_dir: Path, tolerance: float = 1e-4) -> dict[str, object]:
    """Write ``run_dir`` from the version in ``model_dir``; returns what was written and the check's error."""
    import tensorflow as tf

    card = json.loads((Path(model_dir) / "model_card.json").read_text())
    config = finetune_config_of(card)
    network = build_finetune_network(config, None, card["network"]["backbone"])
    restored = tf.saved_model.load(str(model_dir))
    saved = list(restored.weights)
    if len(saved) < len(network.weights):
        raise SystemExit(f"{model_dir} has {len(saved)} variables, fewer than the network's {len(network.weights)}")
    for target, source in zip(network.weights, saved, strict=False):
        if tuple(target.shape) != tuple(source.shape):
            raise SystemExit(f"variable {target.path}: shape {target.shape} != saved {source.shape}")
        target.assign(source)

    rng = np.random.default_rng(0)
    crops = rng.integers(0, 256, (4, 224, 224, 3), dtype=np.uint8)
    outputs = restored.signatures["serving_default"](image=tf.constant(crops))
    if "finetuned_probability" not in outputs:
        raise SystemExit(f"{model_dir} has no finetuned_probability output: not a blend with a fine-tuned member")
    from training.export import input_window

    logits = network(input_window(tf.constant(crops), config.window), training=False)
    mine = tf.sigmoid(tf.reshape(logits, [len(crops), -1])[:, 0])  # the "any manipulation" logit
    error = float(np.max(np.abs(mine.numpy() - outputs["finetuned_probability"].numpy())))
    if error > tolerance:
        raise SystemExit(f"recovered network differs from the SavedModel by {error:.2e} (> {tolerance})")

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    network.save(run_dir / CHECKPOINT)
    epochs = int(config.epochs)
    state = {
        "config": asdict(config),
        "epoch": epochs,
        "history": [],
        "best": None,
        "recovered_from": {"model": str(model_dir), "version": card["version"], "max_abs_error": error},
    }
    (run_dir / STATE).write_text(json.dumps(state, indent=2) + "\n")
    return {"run_dir": str(run_dir), "version": card["version"], "epoch": epochs, "max_abs_error": error}


def recover_probe(model_dir: Path, tolerance: float = 1e-4) -> object:
    """The exported blend's probe member (frozen trunk statistics + SRM residuals -> head) as a network,
    checked against the SavedModel's ``probe_probability``: a later stage can blend with it unchanged."""
    import tensorflow as tf

    from training.export import input_window
    from training.probe import build_feature_model, build_head, combine

    card = json.loads((Path(model_dir) / "model_card.json").read_text())
    config = finetune_config_of(card)
    backbone, window = card["network"]["backbone"], int(card["network"]["input_size"])
    skip = len(build_finetune_network(config, None, backbone).weights)
    # the trunk is built as training builds it (ImageNet weights loaded), then overwritten by the saved ones
    feature_model = build_feature_model(backbone, window, DEFAULT_WEIGHTS if backbone == "lite0" else None)
    restored = tf.saved_model.load(str(model_dir))
    saved = list(restored.weights)[skip:]
    width = int(feature_model.output.shape[-1]) + 54  # trunk statistics + the SRM residual statistics
    head = build_head(np.zeros((2, width), np.float32))
    probe = combine(feature_model, head, window, residual=True)
    if len(saved) != len(probe.weights):
        raise SystemExit(f"{model_dir}: {len(saved)} variables after the fine-tuned one's; probe: {len(probe.weights)}")
    for target, source in zip(probe.weights, saved, strict=True):
        if tuple(target.shape) != tuple(source.shape):
            raise SystemExit(f"probe variable {target.path}: shape {target.shape} != saved {source.shape}")
        target.assign(source)
    for layer in head.layers:  # Normalization reads its adapted statistics into constants: read them again
        if hasattr(layer, "finalize_state"):
            layer.finalize_state()
    crops = np.random.default_rng(1).integers(0, 256, (4, 224, 224, 3), dtype=np.uint8)
    expected = restored.signatures["serving_default"](image=tf.constant(crops))["probe_probability"].numpy()
    mine = tf.sigmoid(tf.reshape(probe(input_window(tf.constant(crops), window)), [-1])).numpy()
    error = float(np.max(np.abs(mine - expected)))
    if error > tolerance:
        raise SystemExit(f"recovered probe differs from the SavedModel by {error:.2e} (> {tolerance})")
    probe.recovered = {"model": str(model_dir), "version": card["version"], "max_abs_error": error}
    return probe


def main(argv: list[str] | None = None) -> int:
    """CLI entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True, help="an exported version directory")
    parser.add_argument("--run-dir", type=Path, required=True, help="the run directory to write")
    args = parser.parse_args(argv)
    print(json.dumps(recover(args.model, args.run_dir)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
