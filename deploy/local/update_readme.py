"""Rewrite the README's settings table from the Settings class (run after adding a setting)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from services.contract.settings import settings_table_markdown  # noqa: E402


def main() -> None:
    """Replace the text between the settings-table markers."""
    readme = ROOT / "README.md"
    text = readme.read_text()
    table = settings_table_markdown()
    new = re.sub(
        r"<!-- settings-table:start -->\n.*?<!-- settings-table:end -->",
        lambda _: f"<!-- settings-table:start -->\n{table}\n<!-- settings-table:end -->",
        text,
        flags=re.S,
    )
    readme.write_text(new)


if __name__ == "__main__":
    main()
