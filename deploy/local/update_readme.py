"""Rewrite the generated tables of the docs: the README's settings, docs/architecture.md's pipeline and record.

Run after adding a setting, a pipeline stage or a job record field; tests fail until the docs match.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from services.contract.pipeline import markdown_table  # noqa: E402
from services.contract.record import record_table_markdown  # noqa: E402
from services.contract.settings import settings_table_markdown  # noqa: E402

TABLES = {
    ("README.md", "settings-table"): settings_table_markdown,
    ("docs/architecture.md", "pipeline-table"): markdown_table,
    ("docs/architecture.md", "record-table"): record_table_markdown,
}


def main() -> None:
    """Replace the text between each pair of table markers."""
    for (name, marker), make in TABLES.items():
        path = ROOT / name
        text = path.read_text()
        table = make()
        new = re.sub(
            rf"<!-- {marker}:start -->\n.*?<!-- {marker}:end -->",
            lambda _, table=table, marker=marker: f"<!-- {marker}:start -->\n{table}\n<!-- {marker}:end -->",
            text,
            flags=re.S,
        )
        if new != text:
            path.write_text(new)


if __name__ == "__main__":
    main()
