"""The README tells the truth about the settings and the commands."""

from __future__ import annotations

import re
from pathlib import Path

from services.contract.settings import Settings, settings_table_markdown

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_readme_settings_table_is_generated_from_the_settings_class():
    match = re.search(r"<!-- settings-table:start -->\n(.*?)\n<!-- settings-table:end -->", README, re.S)
    assert match, "README lacks the settings-table markers"
    assert match.group(1) == settings_table_markdown(), "regenerate: python deploy/local/update_readme.py"


def test_every_setting_uses_the_one_prefix():
    assert Settings.model_config["env_prefix"] == "FAKEWEB_"
    for name in Settings.model_fields:
        assert f"`FAKEWEB_{name.upper()}`" in README


def test_readme_names_the_two_commands_and_ci_runs_the_test_one():
    assert "make run" in README and "make test" in README
    ci = (ROOT / ".ci" / "run").read_text()
    assert ci.strip().splitlines()[-1] == "exec make test"
