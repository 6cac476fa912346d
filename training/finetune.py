"""Fine-tune EfficientNet-Lite0 end to end, from cached augmented copies, with checkpoints and resume.

Each epoch trains on one augmented copy of the training faces (training.augment; a share of
the reals turned into self-blended fakes), made once and kept on disk as uint8 windows, so a
resumed or repeated run spends its time in the network, not in augmentation. Batches are drawn
with fixed shares per source, real and fake balanced inside each source. Every layer trains,
BatchNormalization included (batch statistics in training, moving averages at inference); the
learning rate warms up for one epoch and then follows a cosine. After every epoch the run
writes a checkpoint (network, optimiser state, history) and the per-source validation AUC, and
``--resume`` continues from the last one.

With ``family_heads`` the network has one more logit per manipulation family (swaps, re-enactment,
GAN, Photoshop; training.dataset.FAMILIES) beside the logit for "any manipulation": a family's
head learns its own fakes against every real face, the other families' fakes masked out of its loss.
The served model blends all logits with weights fitted on validation (training.ensemble).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from services.contract.crop_policy import CROP_POLICY
from training.crops import FaceCrops
from training.dataset import Item

# Share of each epoch's draws per source (renormalised over the sources present); real and fake
# split it equally. DFDC is the largest and most varied source; the small ones would be memorised
# if they were drawn as often as they are worth.
SOURCE_SHARES = {"faceswap_dfdc": 0.55, "photoshop_ciplab": 0.25, "gan_stylegan2": 0.10, "ffpp_c23": 0.10}
OTHER_SOURCE_SHARE = 0.05
CHECKPOINT = "last.keras"
BEST_WEIGHTS = "best.weights.h5"
STATE = "state.json"

Log = Callable[[str], None]


@dataclass
class FinetuneConfig:
    """What decides a run; a resumed run must have the same one."""

    window: int = 192  # central square of the 224 px policy crop the network sees
    net_size: int = 160  # the network resizes the window to this (inside the graph)
    epochs: int = 10
    epoch_images: int = 0  # draws per epoch (0: as many as there are training faces)
    batch_size: int = 32
    lr: float = 3e-4
    weight_decay: float = 0.01
    label_smoothing: float = 0.05
    dropout: float = 0.2
    sbi_rate: float = 0.3
    copies: int = 0  # distinct augmented copies cycled through (0: one per epoch)
    social_media: bool = False  # training.augment.social_media on both classes
    init_from: str = ""  # a finished run's directory name whose last checkpoint the network starts from
    family_heads: list[str] = field(default_factory=list)  # one extra logit per family (training.dataset.FAMILIES)
    seed: int = 1
    source_shares: dict[str, float] = field(default_factory=lambda: dict(SOURCE_SHARES))


def build_finetune_network(config: FinetuneConfig, weights: Path | None, backbone: str = "lite0"):  # noqa: ANN201
    """Float RGB window [0, 255] -> one logit; resizing to ``net_size`` happens inside the graph."""
    import keras
    from keras import layers

    from training.backbone import efficientnet_lite0_features, load_lite0_weights, tiny_features

    inputs = keras.Input((config.window, config.window, 3), name="crop")
    x = inputs
    if config.net_size != config.window:
        x = layers.Resizing(config.net_size, config.net_size, antialias=True, name="net_resize")(x)
    features = tiny_features(x) if backbone == "tiny" else efficientnet_lite0_features(x)
    x = layers.GlobalAveragePooling2D(name="pool")(features)
    x = layers.Dropout(config.dropout, name="dropout")(x)
    logit = layers.Dense(1, dtype="float32", name="logit")(x)
    if config.family_heads:
        family = layers.Dense(len(config.family_heads), dtype="float32", name="family_logits")(x)
        logit = layers.Concatenate(name="logits", dtype="float32")([logit, family])
    network = keras.Model(inputs, logit, name=f"fakeweb_{backbone}_finetune")
    if backbone == "lite0" and weights is not None:
        load_lite0_weights(network, weights)
    return network


def family_targets(made: np.ndarray, original: np.ndarray, families: list[str], heads: list[str]) -> np.ndarray:
    """[N, 1 + heads] targets: column 0 "any manipulation", then 1 / 0 per family head, -1 where masked.

    ``made`` are a copy's targets (reals turned into self-blended fakes are 1 there and count as
    swaps), ``original`` the labels before that, ``families`` each training face's family ("" = real).
    """
    out = np.full((len(made), 1 + len(heads)), -1.0, np.float32)
    out[:, 0] = made
    for column, head in enumerate(heads, start=1):
        out[made == 0, column] = 0.0
        own = np.array([f == head for f in families]) & (original == 1)
        if head == "swap":
            own |= (original == 0) & (made == 1)
        out[own, column] = 1.0
    return out


def masked_bce(label_smoothing: float):  # noqa: ANN201 - a Keras loss
    """Binary cross-entropy on logits averaged per column over its unmasked (>= 0) targets, columns summed
    with the first ("any") at weight 1 and the family heads sharing weight 1."""
    import keras
    import tensorflow as tf

    @keras.saving.register_keras_serializable(package="fakeweb", name="masked_bce")
    def loss(y_true, y_pred):  # noqa: ANN001, ANN202
        y_true = tf.cast(y_true, tf.float32)
        mask = tf.cast(y_true >= 0.0, tf.float32)
        target = tf.clip_by_value(y_true, 0.0, 1.0) * (1.0 - label_smoothing) + 0.5 * label_smoothing
        per = tf.nn.sigmoid_cross_entropy_with_logits(labels=target, logits=y_pred) * mask
        per_column = tf.reduce_sum(per, axis=0) / tf.maximum(tf.reduce_sum(mask, axis=0), 1.0)
        heads = tf.shape(y_pred)[1] - 1
        return per_column[0] + tf.reduce_sum(per_column[1:]) / tf.cast(tf.maximum(heads, 1), tf.float32)

    return loss


# The validation groups each family head is judged on (training.evaluate.report_groups' names).
HEAD_GROUPS = {
    "swap": ("faceswap_dfdc", "ffpp_c23:swaps"),
    "reenact": ("ffpp_c23:face2face",),
    "gan": ("gan_stylegan2",),
    "photoshop": ("photoshop_ciplab",),
}


def draw_shares(sources: list[str], targets: np.ndarray, shares: dict[str, float]) -> dict[tuple[str, int], float]:
    """Probability mass per (source, target) group: the source's share, halved between the labels."""
    present = sorted(set(zip(sources, targets.astype(int).tolist(), strict=True)))
    per_source = {s: shares.get(s, OTHER_SOURCE_SHARE) for s, _ in present}
    total = sum(per_source.values())
    labels_of = {s: sum(1 for s2, _ in present if s2 == s) for s in per_source}
    return {(s, t): per_source[s] / total / labels_of[s] for s, t in present}


def epoch_order(sources: list[str], targets: np.ndarray, shares: dict[str, float], n: int, seed: int) -> np.ndarray:
    """``n`` training indices for one epoch: each group drawn by its share, cycling through its members."""
    rng = np.random.default_rng(seed)
    mass = draw_shares(sources, targets, shares)
    keys = np.array([f"{s}\0{int(t)}" for s, t in zip(sources, targets, strict=True)])
    picks: list[np.ndarray] = []
    for (source, target), share in mass.items():
        members = np.flatnonzero(keys == f"{source}\0{target}")
        count = round(share * n)
        repeats = -(-count // len(members))
        cycled = np.concatenate([rng.permutation(members) for _ in range(max(1, repeats))])
        picks.append(cycled[:count])
    order = np.concatenate(picks)
    return order[rng.permutation(len(order))]


def window_of(crop: np.ndarray, window: int) -> np.ndarray:
    """The central ``window`` square of a policy crop (what training.export.input_window cuts)."""
    offset = (CROP_POLICY.size - window) // 2
    return crop[offset : offset + window, offset : offset + window]


class AugmentedCopies:
    """Augmented copies of the training faces as uint8 windows on disk (``copy_<k>.npy``, ``targets_<k>.npy``)."""

    def __init__(self, root: Path, crops: np.ndarray, targets: np.ndarray, landmarks, config: FinetuneConfig) -> None:  # noqa: ANN001
        self.root = Path(root)
        self.crops, self.targets, self.landmarks, self.config = crops, targets, landmarks, config

    def get(self, k: int, log: Log) -> tuple[np.ndarray, np.ndarray]:
        """Copy ``k`` (memory-mapped), made first if it is not on disk yet."""
        images, targets = self.root / f"copy_{k}.npy", self.root / f"targets_{k}.npy"
        if not (images.is_file() and targets.is_file()):
            started = time.monotonic()
            self._make(k, images, targets)
            log(f"augmented copy {k}: {len(self.crops)} faces in {time.monotonic() - started:.0f} s")
        return np.load(images, mmap_mode="r"), np.load(targets)

    def _make(self, k: int, images: Path, targets: Path) -> None:
        from training.augment import augment, self_blend

        self.root.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng([self.config.seed, 7919, k])
        w = self.config.window
        tmp = images.with_suffix(f".{os.getpid()}.tmp.npy")
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(len(self.crops), w, w, 3))
        made = self.targets.astype(np.float32).copy()
        for i, crop in enumerate(self.crops):
            image = crop
            if self.landmarks is not None and made[i] == 0.0 and rng.random() < self.config.sbi_rate:
                image, made[i] = self_blend(crop, self.landmarks[i], rng), 1.0
            out[i] = window_of(augment(image, rng, self.config.social_media), w)
        out.flush()
        del out
        tmp.replace(images)
        np.save(targets, made)


def _batches(images: np.ndarray, targets: np.ndarray, order: np.ndarray, batch: int) -> Iterator[tuple]:
    # ``targets`` is [N] or [N, 1 + heads] (family_targets)
    for start in range(0, len(order) - batch + 1, batch):
        idx = np.sort(order[start : start + batch])  # sorted reads from the memory map; order inside a batch is moot
        yield np.asarray(images[idx]), targets[idx]


def _atomic_json(path: Path, value: object) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(value, indent=2) + "\n")
    tmp.replace(path)


def face_columns(faces: list[FaceCrops], predict_columns: Callable[[np.ndarray], np.ndarray]) -> list[np.ndarray]:
    """Every face's probabilities [count, columns] per image, the network run once over all faces."""
    flat = [crop for f in faces for crop in f.crops]
    rows = [predict_columns(np.stack(flat[s : s + 64])) for s in range(0, len(flat), 64)]
    probs = np.concatenate(rows) if rows else np.zeros((0, 1), np.float32)
    out, at = [], 0
    for f in faces:  # an image without a face gets [0, columns]
        out.append(probs[at : at + f.count].reshape(f.count, probs.shape[1]))
        at += f.count
    return out


def head_aucs(items: list[Item], columns: list[np.ndarray], heads: list[str]) -> dict[str, dict[str, float | None]]:
    """Each family head's validation AUC on the groups it is meant for."""
    from training.evaluate import report_from_face_scores

    out = {}
    for column, head in enumerate(heads, start=1):
        report, _, _ = report_from_face_scores(items, [c[:, column] for c in columns], threshold=0.5)
        out[head] = {g: report["per_source"].get(g, {}).get("auc") for g in HEAD_GROUPS[head]}
    return out


def selection_score(per_source: dict[str, float | None], sources: list[str]) -> float:
    """The validation figure a checkpoint is chosen by: the mean AUC over the training sources."""
    values = [per_source.get(s) for s in sources]
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else 0.0


def initialise_from(network: object, run_dir: Path) -> int:
    """Copy another run's last checkpoint into ``network`` layer by layer (by name; layers it lacks, such
    as new family heads, keep their fresh initialisation); returns the epoch it was written after."""
    import keras

    run_dir = Path(run_dir)
    if not (run_dir / CHECKPOINT).is_file() or not (run_dir / STATE).is_file():
        raise SystemExit(f"--init-from: {run_dir} has no {CHECKPOINT}; train that run first")
    epoch = int(json.loads((run_dir / STATE).read_text())["epoch"])
    source = {layer.name: layer for layer in keras.models.load_model(run_dir / CHECKPOINT, compile=False).layers}
    for layer in network.layers:
        if layer.name in source and layer.weights:
            layer.set_weights(source[layer.name].get_weights())
    return epoch


def finetune(
    config: FinetuneConfig,
    run_dir: Path,
    copies_dir: Path,
    train_crops: np.ndarray,
    train_targets: np.ndarray,
    train_sources: list[str],
    landmarks: list[np.ndarray | None] | None,
    val_items: list[Item],
    val_faces: list[FaceCrops],
    weights: Path | None,
    log: Log,
    resume: bool = False,
    backbone: str = "lite0",
    stop_after: int | None = None,
    keep: str = "last",
    init_dir: Path | None = None,
    train_families: list[str] | None = None,
) -> tuple[object, dict[str, object]]:
    """Train (or continue) a run in ``run_dir``; return the network with its best validation weights.

    ``stop_after`` ends the run after that epoch, keeping the schedule it was started with. ``keep``:
    ``last`` returns the weights of the last epoch trained (the end of the schedule), ``best`` those of
    the epoch with the highest mean validation AUC over the sources (noisy where a source has few
    validation images). ``init_dir`` (named by ``config.init_from``) starts a new run from another run's
    last checkpoint, with a schedule of its own: a second stage that continues the first.
    ``train_families`` (each training face's family, "" for reals) is needed with ``config.family_heads``.
    """
    import keras
    import tensorflow as tf

    from training.evaluate import report_from_face_scores
    from training.export import input_window

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    state_file = run_dir / STATE
    epoch_images = config.epoch_images or len(train_crops)
    steps = epoch_images // config.batch_size
    state: dict[str, object] = {"config": asdict(config), "epoch": 0, "history": [], "best": None}
    if resume and state_file.is_file() and (run_dir / CHECKPOINT).is_file():
        state = json.loads(state_file.read_text())
        state["config"] = {**asdict(FinetuneConfig()), **state["config"]}  # fields added since take their default
        if state["config"] != asdict(config):
            raise SystemExit(f"--resume: {run_dir} was trained with another configuration: {state['config']}")
        if config.family_heads:
            masked_bce(config.label_smoothing)  # registers the loss the checkpoint was compiled with
        network = keras.models.load_model(run_dir / CHECKPOINT)
        log(f"resumed {run_dir} after epoch {state['epoch']}")
    else:
        keras.utils.set_random_seed(config.seed)
        network = build_finetune_network(config, weights, backbone)
        if init_dir is not None:
            after = initialise_from(network, init_dir)
            state["init_from"] = {"run": Path(init_dir).name, "epoch": after}
            log(f"starting from {init_dir} after epoch {after}")
        warmup = steps
        schedule = keras.optimizers.schedules.CosineDecay(
            config.lr / 20,
            decay_steps=max(1, steps * config.epochs - warmup),
            alpha=0.02,
            warmup_target=config.lr,
            warmup_steps=warmup,
        )
        optimizer = keras.optimizers.AdamW(learning_rate=schedule, weight_decay=config.weight_decay)
        optimizer.exclude_from_weight_decay(var_names=["bn", "bias", "gamma", "beta"])
        loss = (
            masked_bce(config.label_smoothing)
            if config.family_heads
            else keras.losses.BinaryCrossentropy(from_logits=True, label_smoothing=config.label_smoothing)
        )
        network.compile(optimizer=optimizer, loss=loss)

    @tf.function(reduce_retracing=True)
    def logits_of(batch: tf.Tensor) -> tf.Tensor:
        return network(input_window(batch, config.window), training=False)

    def predict_columns(crops: np.ndarray) -> np.ndarray:
        return tf.sigmoid(tf.reshape(logits_of(tf.constant(crops)), [len(crops), -1])).numpy()

    heads = list(config.family_heads)
    if heads and train_families is None:
        raise ValueError("family heads need each training face's family")

    copies = AugmentedCopies(copies_dir, train_crops, train_targets, landmarks, config)
    n_copies = config.copies or config.epochs
    spec = (
        tf.TensorSpec([config.batch_size, config.window, config.window, 3], tf.uint8),
        tf.TensorSpec([config.batch_size, 1 + len(heads)] if heads else [config.batch_size], tf.float32),
    )
    sources_present = sorted(set(train_sources))
    last_epoch = config.epochs if stop_after is None else min(config.epochs, stop_after)
    while state["epoch"] < last_epoch:
        epoch = int(state["epoch"]) + 1
        images, targets = copies.get((epoch - 1) % n_copies, log)
        order = epoch_order(train_sources, targets, config.source_shares, epoch_images, config.seed * 1000 + epoch)
        if heads:
            targets = family_targets(targets, train_targets, train_families, heads)
        ds = tf.data.Dataset.from_generator(
            lambda images=images, targets=targets, order=order: _batches(images, targets, order, config.batch_size),
            output_signature=spec,
        ).prefetch(2)
        started = time.monotonic()
        fit = network.fit(ds, epochs=1, verbose=0)
        train_s = time.monotonic() - started
        columns = face_columns(val_faces, predict_columns)
        report, _, _ = report_from_face_scores(val_items, [c[:, 0] for c in columns], threshold=0.5)
        per_source = {k: v["auc"] for k, v in report["per_source"].items()}
        record = {
            "epoch": epoch,
            "loss": round(float(fit.history["loss"][-1]), 4),
            "val_auc": report["overall"]["auc"],
            "val_auc_per_source": per_source,
            "selection": round(selection_score(per_source, sources_present), 4),
            **({"head_auc": head_aucs(val_items, columns, heads)} if heads else {}),
            "images_per_s": round(steps * config.batch_size / train_s, 1),
            "seconds": round(time.monotonic() - started, 1),
        }
        state["history"].append(record)
        log(f"finetune {json.dumps(record)}")
        best = state["best"]
        if best is None or record["selection"] > best["selection"]:
            network.save_weights(run_dir / f"{BEST_WEIGHTS}.tmp.weights.h5")
            (run_dir / f"{BEST_WEIGHTS}.tmp.weights.h5").replace(run_dir / BEST_WEIGHTS)
            state["best"] = {"epoch": epoch, "selection": record["selection"], "val_auc": record["val_auc"]}
        tmp = run_dir / f"tmp-{CHECKPOINT}"
        network.save(tmp)
        tmp.replace(run_dir / CHECKPOINT)
        state["epoch"] = epoch
        _atomic_json(state_file, state)
    if keep == "best" and (run_dir / BEST_WEIGHTS).is_file():
        network.load_weights(run_dir / BEST_WEIGHTS)
    record = {"method": "finetune", "config": asdict(config), "best": state["best"], "history": state["history"]}
    if "init_from" in state:
        record["init_from"] = state["init_from"]
    kept = state["epoch"] if keep == "last" or state["best"] is None else state["best"]["epoch"]
    return network, {**record, "stopped_after": state["epoch"], "kept": keep, "kept_epoch": kept}
