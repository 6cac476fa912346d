"""models.config parsing, version policies and the repository layout, as the stand-in reads them."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.local.serving.config import (
    ConfigError,
    config_from_base_path,
    parse_config_text,
    read_config_file,
    wanted_versions,
)
from fakeweb_cli.model_repository import ModelRepository
from fakeweb_cli.repository_layout import version_dirs

ROOT = Path(__file__).resolve().parents[2]


def _version(base: Path, name: str, version: str) -> None:
    (base / name / version).mkdir(parents=True)
    (base / name / version / "saved_model.pb").write_bytes(b"")


def test_version_folders_are_numbered_complete_savedmodels(tmp_path):
    for version in ("1", "2", "10", ".tmp-3", "notes"):
        _version(tmp_path, "m", version)
    (tmp_path / "m" / "4").mkdir()  # no saved_model.pb yet
    assert sorted(version_dirs(tmp_path / "m")) == [1, 2, 10]


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("", {10}),
        ("model_version_policy { latest { num_versions: 2 } }", {2, 10}),
        ("model_version_policy { all {} }", {1, 2, 10}),
        ("model_version_policy { specific { versions: 1 versions: 7 } }", {1}),
    ],
)
def test_version_policies_choose_what_to_load(policy, expected):
    config = parse_config_text(f'model_config_list {{ config {{ name: "m" base_path: "/x" {policy} }} }}')
    assert wanted_versions(config.model_config_list.config[0], {1, 2, 10}) == expected


def test_relative_base_paths_resolve_against_the_config_folder(tmp_path):
    (tmp_path / "models.config").write_text('model_config_list { config { name: "m" base_path: "m" } }')
    config = read_config_file(tmp_path / "models.config")
    assert config.model_config_list.config[0].base_path == str((tmp_path / "m").resolve())


def test_without_a_config_every_model_folder_is_served(tmp_path):
    _version(tmp_path, "fakeweb", "1")
    _version(tmp_path, "other", "3")
    config = config_from_base_path(tmp_path)
    assert [(m.name, m.base_path) for m in config.model_config_list.config] == [
        ("fakeweb", str(tmp_path / "fakeweb")),
        ("other", str(tmp_path / "other")),
    ]


def test_a_broken_config_is_a_config_error():
    with pytest.raises(ConfigError):
        parse_config_text("model_config_list { config { nme: 'x' } }")


def test_compose_config_parses_and_keeps_its_base_path_when_the_cli_edits_it(tmp_path):
    source = ROOT / "deploy" / "tfserving" / "models.config"
    config = parse_config_text(source.read_text())
    (entry,) = config.model_config_list.config
    assert (entry.name, entry.base_path, dict(entry.version_labels)) == (
        "fakeweb",
        "/models/fakeweb",
        {"stable": 4, "previous": 3},
    )
    copy = tmp_path / "models.config"
    copy.write_text(source.read_text())
    _version(tmp_path, "fakeweb", "1")
    _version(tmp_path, "fakeweb", "2")
    ModelRepository(tmp_path, copy, "fakeweb").write((1, 2), {"stable": 1, "canary": 2})
    (edited,) = parse_config_text(copy.read_text()).model_config_list.config
    assert edited.base_path == "/models/fakeweb"
    assert list(edited.model_version_policy.specific.versions) == [1, 2]
    assert dict(edited.version_labels) == {"stable": 1, "canary": 2}
