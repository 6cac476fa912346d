"""A tiny real training run exports a SavedModel that loads and answers FakeWeb's serving signature;
evaluate writes every field of its report on a folder without MANIFEST.tsv."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from services.contract.crop_policy import CROP_POLICY
from tests.support.tiny_model import export_tiny_model
from training import evaluate, train
from training.export import WARMUP_FILE
from training.metrics import MIN_PLATT_SCALE

pytestmark = pytest.mark.slow

GROUP_FIELDS = {
    "images",
    "images_scored",
    "no_face",
    "auc",
    "accuracy",
    "tpr",
    "fpr",
    "tpr_at_5pct_fpr",
    "fakes",
    "reals",
}


def test_tiny_training_run_exports_a_servable_model(shared_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "models"
    code = train.main(
        [
            "--device",
            "cpu",
            "--data",
            str(shared_data),
            "--out",
            str(out),
            "--backbone",
            "tiny",
            "--probe-epochs",
            "2",
            "--max-per-source-label",
            "5",
            "--sbi",
            "compare",
            "--residual",
            "compare",
            "--cache-dir",
            str(tmp_path / "cache"),
        ]
    )
    assert code == 0
    version_dir = out / "fakeweb" / "1"
    assert (version_dir / "saved_model.pb").is_file()

    loaded = tf.saved_model.load(str(version_dir))
    serve = loaded.signatures["serving_default"]
    image_spec = serve.structured_input_signature[1]["image"]
    assert image_spec.dtype == tf.uint8 and image_spec.shape.as_list() == [None, 224, 224, 3]
    crops = np.random.default_rng(0).integers(0, 256, (3, 224, 224, 3), dtype=np.uint8)
    probs = serve(image=tf.constant(crops))["manipulated_probability"].numpy()
    assert probs.shape == (3,) and probs.dtype == np.float32
    assert np.all((probs >= 0) & (probs <= 1))

    card = json.loads((version_dir / "model_card.json").read_text())
    assert card["crop_policy"] == CROP_POLICY.to_dict()
    assert len(card["data"]["manifest_sha256"]) == 64
    assert 0.0 <= card["threshold"] <= 1.0
    assert card["training"]["device"] == "cpu" and card["training"]["seconds"] > 0
    variants = card["training"]["variants"]
    assert [(v["sbi"], v["residual"]) for v in variants] == [(False, False), (False, True), (True, False), (True, True)]
    # 0.5 on the calibrated output is the operating point: FPR on validation reals within the target
    assert card["threshold"] == 0.5
    calibration = card["calibration"]
    assert calibration["scale"] > 0 and calibration["target_fpr"] == 0.05
    if calibration["scale"] > MIN_PLATT_SCALE:  # a random tiny net may rank validation backwards: flat fit
        assert card["metrics"]["validation"]["overall"]["fpr"] <= 0.05, calibration
    assert set(card["split"]["counts"]) == {"train", "val", "test"}
    assert set(card["metrics"]["test"]["overall"]) >= GROUP_FIELDS
    assert "Threshold" in (version_dir / "model_card.md").read_text()
    assert (version_dir / "evaluation_test_top_losses.png").read_bytes()[:4] == b"\x89PNG"
    tsv = (version_dir / "evaluation_test_top_losses.tsv").read_text().splitlines()
    assert tsv[0].split("\t") == ["source", "label", "path", "score", "faces", "worst_face"] and len(tsv) > 1
    assert calibration["test_ece_at_implied_prior"] is not None

    from tensorflow_serving.apis import prediction_log_pb2

    records = list(tf.data.TFRecordDataset(str(version_dir / WARMUP_FILE)))
    log = prediction_log_pb2.PredictionLog.FromString(records[0].numpy())
    warm = tf.make_ndarray(log.predict_log.request.inputs["image"])
    assert warm.dtype == np.uint8 and warm.shape[1:] == (224, 224, 3)
    assert log.predict_log.request.model_spec.signature_name == "serving_default"

    # a second run without --version takes the next number and never overwrites
    assert train.next_version(out / "fakeweb") == 2


def test_finetune_method_trains_end_to_end(shared_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "models"
    args = ["--device", "cpu", "--data", str(shared_data), "--out", str(out), "--backbone", "tiny"]
    args += [
        "--method",
        "finetune",
        "--epochs",
        "2",
        "--stop-after-epoch",
        "1",
        "--batch-size",
        "8",
        "--net-size",
        "96",
    ]
    args += ["--max-per-source-label", "3", "--sbi", "on", "--version", "7", "--cache-dir", str(tmp_path / "c")]
    # a first stage stops after its checkpoints; the second starts from them with its own schedule
    stage1 = tmp_path / "runs" / "stage1"
    assert train.main([*args, "--run-dir", str(stage1), "--finetune-only"]) == 0
    assert (stage1 / "last.keras").is_file() and not (out / "fakeweb" / "7").exists()
    args += ["--init-from", str(stage1), "--run-dir", str(tmp_path / "runs" / "stage2"), "--social-media", "on"]
    args += ["--tta", "compare", "--with-probe", "on", "--probe-epochs", "2"]
    assert train.main(args) == 0
    card = json.loads((out / "fakeweb" / "7" / "model_card.json").read_text())
    assert card["training"]["variants"][0]["init_from"] == {"run": "stage1", "epoch": 1}
    assert card["training"]["variants"][0]["config"]["social_media"] is True
    assert card["training"]["method"] == "finetune" and card["training"]["sbi_chosen"] is True
    assert card["training"]["tta"] in ("off", "flip")
    history = card["training"]["variants"][0]["history"]
    assert [r["epoch"] for r in history] == [1] and "faceswap_dfdc" in history[0]["val_auc_per_source"]
    assert card["training"]["variants"][0]["stopped_after"] == 1 == card["training"]["variants"][0]["kept_epoch"]
    serve = tf.saved_model.load(str(out / "fakeweb" / "7")).signatures["serving_default"]
    outputs = serve(image=tf.zeros([2, 224, 224, 3], tf.uint8))
    assert outputs["manipulated_probability"].shape == (2,)
    if card["training"]["blend"]:  # the blend won on validation: each member's probability is an extra output
        assert set(card["training"]["blend"]) == {"finetuned", "probe"}
        assert outputs["finetuned_probability"].shape == (2,) and outputs["probe_probability"].shape == (2,)
    assert card["training"]["variants"][-1]["method"] == "probe (blend member)"


def test_evaluate_cli_writes_all_fields(small_folder: Path, tmp_path: Path) -> None:
    model_dir = export_tiny_model(tmp_path / "model" / "1")
    (model_dir / "model_card.json").write_text(json.dumps({"threshold": 0.4}))
    out = tmp_path / "report" / "report.json"
    evaluate.main(
        [
            "--model",
            str(model_dir),
            "--data",
            str(small_folder),
            "--out",
            str(out),
            "--cache-dir",
            str(tmp_path / "cache"),
        ]
    )
    report = json.loads(out.read_text())
    assert report["threshold"] == 0.4
    assert set(report["overall"]) >= GROUP_FIELDS
    assert report["overall"]["images"] == sum(1 for p in small_folder.rglob("*") if p.suffix == ".jpg")
    for source in (
        "photoshop_ciplab",
        "gan_stylegan2",
        "faceswap_dfdc",
        "ffpp_c23",
        "ffpp_c23:face2face",
        "ffpp_c23:swaps",
        "wild_press_photos",
    ):
        assert set(report["per_source"][source]) >= GROUP_FIELDS, source
    assert report["per_source"]["wild_press_photos"]["fpr"] is not None
    assert report["per_source"]["wild_press_photos"]["auc"] is None  # reals only
    press = report["per_source"]["wild_press_photos"]
    assert press["real_faces"] >= press["images_scored"] and 0.0 <= press["real_face_fpr"] <= 1.0
    assert Path(report["top_losses"]["png"]).read_bytes()[:4] == b"\x89PNG"
    rows = Path(report["top_losses"]["tsv"]).read_text().splitlines()[1:]
    assert {r.split("\t")[1] for r in rows} == {"real", "fake"}
    for plot in report["plots"].values():
        assert Path(plot).is_file() and Path(plot).read_bytes()[:4] == b"\x89PNG"


def test_a_blend_exports_one_probability_and_each_members(tmp_path: Path) -> None:
    import keras

    from training.ensemble import LogitBlend
    from training.export import export_saved_model

    def member(scale: float) -> keras.Model:
        inputs = keras.Input((192, 192, 3))
        mean = keras.layers.GlobalAveragePooling2D()(inputs)
        logit = keras.layers.Dense(1, kernel_initializer=keras.initializers.Constant(scale / 3 / 255.0))(mean)
        return keras.Model(inputs, logit)

    blend = LogitBlend({"a": member(2.0), "b": member(-1.0)}, {"a": 1.0, "b": 0.5}, bias=-0.25)
    crops = np.full((2, 224, 224, 3), 255, np.uint8)
    export_saved_model(blend, 192, tmp_path / "1", crops)
    outputs = tf.saved_model.load(str(tmp_path / "1")).signatures["serving_default"](image=tf.constant(crops))
    # member logits on a white crop: a = 2, b = -1; blend = 2 - 0.5 - 0.25
    assert outputs["a_probability"].numpy() == pytest.approx([1 / (1 + np.exp(-2.0))] * 2, rel=1e-5)
    assert outputs["b_probability"].numpy() == pytest.approx([1 / (1 + np.exp(1.0))] * 2, rel=1e-5)
    assert outputs["manipulated_probability"].numpy() == pytest.approx([1 / (1 + np.exp(-1.25))] * 2, rel=1e-5)


def test_family_heads_train_blend_and_recover(shared_data: Path, tmp_path: Path) -> None:
    from training import recover
    from training.dataset import FAMILIES

    out = tmp_path / "models"
    args = ["--device", "cpu", "--data", str(shared_data), "--out", str(out), "--backbone", "tiny"]
    args += ["--method", "finetune", "--epochs", "1", "--batch-size", "8", "--net-size", "96"]
    args += ["--max-per-source-label", "4", "--sbi", "on", "--version", "3", "--cache-dir", str(tmp_path / "c")]
    args += ["--run-dir", str(tmp_path / "runs" / "heads"), "--family-heads", "on"]
    assert train.main([*args, "--tta", "compare", "--with-probe", "on"]) == 2  # heads need the blend, no mirror
    assert train.main([*args, "--with-probe", "on", "--probe-epochs", "2"]) == 0
    card = json.loads((out / "fakeweb" / "3" / "model_card.json").read_text())
    variant = card["training"]["variants"][0]
    assert variant["config"]["family_heads"] == list(FAMILIES)
    assert set(variant["history"][0]["head_auc"]) == set(FAMILIES)
    blend_record = card["training"]["variants"][-1]
    assert set(blend_record["selection"]) == {"finetuned", "blend", "blend_heads"}
    heads = [f"finetuned_{f}" for f in FAMILIES]
    assert set(blend_record["blend_candidates"]["blend_heads"]) == {"finetuned", "probe", *heads}
    assert set(blend_record["blend_candidates"]["blend"]) == {"finetuned", "probe"}
    outputs = tf.saved_model.load(str(out / "fakeweb" / "3")).signatures["serving_default"](
        image=tf.zeros([2, 224, 224, 3], tf.uint8)
    )
    assert outputs["manipulated_probability"].shape == (2,)
    if blend_record["chosen"] == "blend_heads":  # each family head's probability is an extra output
        assert {f"{h}_probability" for h in heads} <= set(outputs)
    if blend_record["chosen"] != "finetuned":
        # the exported fine-tuned network comes back as a run a later stage can start from (checked inside)
        written = recover.recover(out / "fakeweb" / "3", tmp_path / "runs" / "recovered")
        assert written["max_abs_error"] <= 1e-4 and (tmp_path / "runs" / "recovered" / "last.keras").is_file()
        # ... and its probe is blended again unchanged by a stage that continues the network
        stage = [*args[:-4], "--run-dir", str(tmp_path / "runs" / "next"), "--family-heads", "on"]
        stage += ["--init-from", str(tmp_path / "runs" / "recovered"), "--with-probe", "on"]
        stage += ["--probe-from", str(out / "fakeweb" / "3"), "--version", "4"]
        assert train.main(stage) == 0
        card = json.loads((out / "fakeweb" / "4" / "model_card.json").read_text())
        assert card["training"]["variants"][-1]["recovered_from"]["max_abs_error"] <= 1e-4
        assert card["training"]["variants"][0]["init_from"]["run"] == "recovered"


def test_family_targets_mask_other_families() -> None:
    from training.finetune import family_targets

    made = np.array([0, 1, 1, 1, 1], np.float32)  # a real, a DFDC swap, a GAN face, a CIPLAB fake, a self-blend
    original = np.array([0, 1, 1, 1, 0], np.float32)
    families = ["", "swap", "gan", "photoshop", ""]
    targets = family_targets(made, original, families, ["swap", "gan", "photoshop"])
    assert targets.tolist() == [
        [0, 0, 0, 0],
        [1, 1, -1, -1],
        [1, -1, 1, -1],
        [1, -1, -1, 1],
        [1, 1, -1, -1],  # self-blended fakes count as swaps
    ]


def test_masked_loss_ignores_masked_targets() -> None:
    from training.finetune import masked_bce

    loss = masked_bce(0.0)
    y_true = tf.constant([[1.0, 1.0, -1.0], [0.0, 0.0, 0.0]])
    confident = tf.constant([[20.0, 20.0, 20.0], [-20.0, -20.0, -20.0]])
    # the masked entry predicts "fake" for a target of -1: it must cost nothing
    assert float(loss(y_true, confident)) == pytest.approx(0.0, abs=1e-6)
    wrong = tf.constant([[20.0, 20.0, 20.0], [-20.0, -20.0, 20.0]])  # the real's second head is wrong
    # column 2 has one unmasked target (the real), wrong by ~20 nats; heads share weight 1 -> ~10
    assert float(loss(y_true, wrong)) == pytest.approx(10.0, rel=1e-3)


def test_recover_rebuilds_both_members_of_an_exported_blend(tmp_path: Path) -> None:
    from dataclasses import asdict

    from training import recover
    from training.ensemble import LogitBlend
    from training.export import export_saved_model
    from training.finetune import FinetuneConfig, build_finetune_network
    from training.probe import build_feature_model, build_head, combine

    config = FinetuneConfig(window=192, net_size=96, family_heads=["swap", "gan"])
    finetuned = build_finetune_network(config, None, "tiny")
    feature_model = build_feature_model("tiny", 192, None)
    rng = np.random.default_rng(3)
    width = int(feature_model.output.shape[-1]) + 54
    probe = combine(feature_model, build_head(rng.normal(2.0, 3.0, (16, width)).astype(np.float32)), 192, True)
    from training.ensemble import NamedColumns

    members = {"finetuned": NamedColumns(finetuned, ["finetuned", "finetuned_swap", "finetuned_gan"]), "probe": probe}
    weights = {"finetuned": 0.5, "finetuned_swap": 0.2, "finetuned_gan": 0.1, "probe": 0.7}
    version = tmp_path / "fakeweb" / "5"
    crops = rng.integers(0, 256, (2, 224, 224, 3), dtype=np.uint8)
    export_saved_model(LogitBlend(members, weights, 0.1), 192, version, crops)
    card = {
        "version": 5,
        "network": {"backbone": "tiny", "input_size": 192},
        "training": {
            "variants": [{"method": "finetune", "config": asdict(config)}, {"method": "probe (blend member)"}]
        },
    }
    (version / "model_card.json").write_text(json.dumps(card))

    written = recover.recover(version, tmp_path / "run")  # raises when its output differs from the SavedModel's
    assert written["max_abs_error"] <= 1e-4 and written["epoch"] == config.epochs
    state = json.loads((tmp_path / "run" / "state.json").read_text())
    assert state["config"]["family_heads"] == ["swap", "gan"] and state["recovered_from"]["version"] == 5
    assert recover.recover_probe(version).recovered["max_abs_error"] <= 1e-4
    # a different network in the same place is refused, not silently recovered
    other = tmp_path / "fakeweb" / "6"
    export_saved_model(
        LogitBlend(
            {
                "finetuned": build_finetune_network(FinetuneConfig(window=192, net_size=96), None, "tiny"),
                "probe": probe,
            },
            {"finetuned": 1.0, "probe": 1.0},
            0.0,
        ),
        192,
        other,
        crops,
    )
    (other / "model_card.json").write_text(json.dumps(card))
    with pytest.raises(SystemExit):
        recover.recover(other, tmp_path / "run2")


def test_face_columns_keeps_images_without_a_face() -> None:
    from training.crops import FaceCrops
    from training.finetune import face_columns

    def faces(n: int) -> FaceCrops:
        crops = np.full((n, 224, 224, 3), 7, np.uint8)
        return FaceCrops(crops=crops, boxes=np.zeros((n, 4), np.int32), scores=np.ones(n, np.float32))

    columns = face_columns([faces(2), faces(0), faces(1)], lambda crops: np.tile([[0.1, 0.9, 0.5]], (len(crops), 1)))
    assert [c.shape for c in columns] == [(2, 3), (0, 3), (1, 3)]
