"""``fakeweb model`` against a running TF Serving: validation, atomic copy, warmup, labels, promote, rollback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fakeweb_cli.main import main
from fakeweb_cli.model_repository import ModelView, plan_deploy, plan_promote, plan_rollback
from fakeweb_cli.repository_layout import WARMUP_FILE
from services.classifier.serving_client import ModelRoute, ServingCallError
from tests.serving.harness import ServingHarness


def _cli(serving: ServingHarness, name: str, *args: str) -> int:
    common = ["--model", name, "--base", str(serving.base), "--config", str(serving.config_file)]
    common += ["--server-base-path", f"{serving.server_root}/{name}", "--serving", serving.address, "--timeout", "120"]
    return main(["model", *args, *common])


def _label_version(serving: ServingHarness, name: str, label: str) -> int | None:
    try:
        return serving.client().metadata(ModelRoute(name, label=label)).version
    except ServingCallError:
        return None


def test_deploy_canary_promote_and_rollback_reach_serving_without_restart(serving, tiny_exports, capsys):
    name = serving.new_model_name("cli")
    assert _cli(serving, name, "deploy", str(tiny_exports[0.0])) == 0
    serving.wait_until("stable=1", lambda: _label_version(serving, name, "stable") == 1)

    assert _cli(serving, name, "deploy", str(tiny_exports[3.0]), "--label", "canary") == 0
    serving.wait_until("canary=2", lambda: _label_version(serving, name, "canary") == 2)
    assert _label_version(serving, name, "stable") == 1
    version_dir = serving.base / name / "2"
    assert (version_dir / WARMUP_FILE).is_file(), "warmup requests were written into the copy"
    assert not (tiny_exports[3.0] / WARMUP_FILE).exists(), "the export itself is left untouched"
    assert [p.name for p in (serving.base / name).iterdir() if p.name.startswith(".tmp")] == []
    if not serving.real:
        assert f"model {name} version 2: replayed 1 warmup requests" in serving.log_tail(400)

    assert _cli(serving, name, "promote") == 0
    serving.wait_until("stable=2", lambda: _label_version(serving, name, "stable") == 2)
    assert _label_version(serving, name, "canary") is None
    assert serving.statuses(name)[1] == "AVAILABLE", "the old stable stays loaded for a quick rollback"

    assert _cli(serving, name, "rollback") == 0
    serving.wait_until("stable=1 and version 2 unloaded", lambda: _label_version(serving, name, "stable") == 1)
    serving.wait_until("version 2 unloaded", lambda: serving.statuses(name).get(2) == "END")

    capsys.readouterr()
    assert _cli(serving, name, "list") == 0
    lines = capsys.readouterr().out.splitlines()
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:] if line.strip() and line.split()[0].isdigit()}
    assert rows["1"] == ["stable", "load", "AVAILABLE"]
    assert rows["2"] == ["-", "-", "END"]


def test_deploy_refuses_a_model_with_the_wrong_signature(serving, tmp_path, capsys):
    import tensorflow as tf

    class FloatInput(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 224, 224, 3], tf.float32, name="image")])
        def serve(self, image):
            return {"manipulated_probability": tf.reduce_mean(image, axis=[1, 2, 3])}

    module = FloatInput()
    tf.saved_model.save(module, str(tmp_path / "float"), signatures={"serving_default": module.serve})
    name = serving.new_model_name("cli")
    assert _cli(serving, name, "deploy", str(tmp_path / "float")) == 1
    assert "must be uint8" in capsys.readouterr().err
    assert not (serving.base / name).exists()


def test_deploy_refuses_a_model_whose_smoke_prediction_is_not_a_probability(serving, tmp_path, capsys):
    import tensorflow as tf

    class Logits(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 224, 224, 3], tf.uint8, name="image")])
        def serve(self, image):
            return {"manipulated_probability": tf.reduce_sum(tf.cast(image, tf.float32), axis=[1, 2, 3])}

    module = Logits()
    tf.saved_model.save(module, str(tmp_path / "logits"), signatures={"serving_default": module.serve})
    name = serving.new_model_name("cli")
    assert _cli(serving, name, "deploy", str(tmp_path / "logits")) == 1
    assert "not one probability" in capsys.readouterr().err
    assert not (serving.base / name).exists()


def test_an_existing_version_is_never_overwritten(serving, tiny_exports, capsys):
    name = serving.new_model_name("cli")
    assert _cli(serving, name, "deploy", str(tiny_exports[0.0]), "--version", "5") == 0
    before = sorted(p.name for p in (serving.base / name / "5").rglob("*"))
    assert _cli(serving, name, "deploy", str(tiny_exports[3.0]), "--version", "5") == 1
    assert "already exists" in capsys.readouterr().err
    assert sorted(p.name for p in (serving.base / name / "5").rglob("*")) == before
    scores, _, version = serving.client().predict(
        serving.client().metadata(ModelRoute(name, label="stable")), np.zeros((1, 224, 224, 3), np.uint8)
    )
    assert version == 5 and scores[0] == pytest.approx(0.5, rel=1e-5)


def test_plans_follow_the_label_rules():
    first = plan_deploy(ModelView((), (), {}), 1, "stable")
    assert (first.policy, first.labels) == ((1,), {"stable": 1})
    canary = plan_deploy(ModelView((1,), (1,), {"stable": 1}), 2, "canary")
    assert (canary.staging, canary.wait_for, canary.policy) == ((1, 2), (2,), (1, 2))
    assert canary.labels == {"stable": 1, "canary": 2}
    promoted = plan_promote(ModelView((1, 2), (1, 2), {"stable": 1, "canary": 2}))
    assert (promoted.policy, promoted.labels) == ((1, 2), {"stable": 2})
    withdrawn = plan_rollback(ModelView((1, 2), (1, 2), {"stable": 1, "canary": 2}))
    assert (withdrawn.policy, withdrawn.labels, withdrawn.wait_for) == ((1,), {"stable": 1}, ())
    back = plan_rollback(ModelView((1, 2, 3), (3,), {"stable": 3}))
    assert (back.staging, back.wait_for, back.policy, back.labels) == ((2, 3), (2,), (2,), {"stable": 2})
    direct = plan_deploy(ModelView((1, 2), (1, 2), {"stable": 1, "canary": 2}), 3, "stable")
    assert (direct.policy, direct.labels) == ((1, 3), {"stable": 3})


def test_unlabelled_repository_without_config_treats_the_newest_version_as_stable(tmp_path: Path):
    from fakeweb_cli.model_repository import ModelRepository

    repo = ModelRepository(tmp_path, tmp_path / "models.config", "fakeweb")
    for version in (1, 3):
        (tmp_path / "fakeweb" / str(version)).mkdir(parents=True)
        (tmp_path / "fakeweb" / str(version) / "saved_model.pb").write_bytes(b"")
    view = repo.view()
    assert (view.on_disk, view.policy, view.stable) == ((1, 3), (3,), 3)
    repo.write((1, 3), {"stable": 3, "canary": 1})
    assert 'base_path: "fakeweb"' in (tmp_path / "models.config").read_text()
    assert repo.view().labels == {"stable": 3, "canary": 1}
