"""Static facts about a service's code: the modules it reaches and the third-party imports in them.

A service image carries ``services/contract``, ``services/runtime`` and ``services/<service>``; what
the service actually uses is every module of its own package plus the shared modules those import
(transitively). Imports are read with ``ast`` (including imports inside functions, which is how
the workers load TensorFlow and MediaPipe lazily); imports under ``if TYPE_CHECKING:`` are skipped.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LOCAL_PACKAGES = {"services", "fakeweb_cli", "tfserving_protos", "training", "deploy", "tests"}
SERVICES = ("gateway", "provenance", "detector", "classifier", "annotator", "webhooks", "sweeper")
# The programs the deployment runs: the code each one starts from, and the image it runs in.
PACKAGES = {
    **{service: f"services/{service}" for service in SERVICES},
    "modelctl": "fakeweb_cli",
}
IMAGE_OF = {**{service: service for service in SERVICES}, "modelctl": "modelctl"}


@dataclass(frozen=True)
class ExternalImport:
    """A non-``services`` import: the dotted module and where it was written."""

    module: str
    path: Path
    line: int

    @property
    def top(self) -> str:
        return self.module.split(".")[0]

    def where(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line}"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _module_file(module: str) -> Path | None:
    base = REPO.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node of the tree except the bodies of ``if TYPE_CHECKING:`` blocks."""
    nodes: list[ast.AST] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        nodes.append(node)
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                stack.extend(child.orelse)
                continue
            stack.append(child)
    return nodes


def imported_modules(path: Path) -> list[tuple[str, int]]:
    """Absolute dotted names imported by one file, with line numbers (``from a import b`` gives
    ``a.b`` when ``a/b`` is a module in this repository, else ``a``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    found: list[tuple[str, int]] = []
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, node.module] if node.module else anchor)
            else:
                base = node.module or ""
            if base == "__future__":
                continue
            found.append((base, node.lineno))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if _module_file(sub) is not None:
                    found.append((sub, node.lineno))
    return found


@cache
def reachable_files(image: str) -> tuple[Path, ...]:
    """The image's own package files plus every repository module they reach, transitively."""
    root = REPO / PACKAGES[image]
    todo = [root] if root.is_file() else sorted(root.rglob("*.py"))
    seen: set[Path] = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for module, _line in imported_modules(path):
            if module.split(".")[0] not in LOCAL_PACKAGES:
                continue
            parts = module.split(".")
            for depth in range(2, len(parts) + 1):  # the packages on the way are imported too
                target = _module_file(".".join(parts[:depth]))
                if target is not None and target not in seen:
                    todo.append(target)
    return tuple(sorted(seen))


def external_imports(image: str) -> list[ExternalImport]:
    """Third-party imports (not stdlib, not this repository's) in the files the image's code reaches."""
    result = []
    for path in reachable_files(image):
        for module, line in imported_modules(path):
            top = module.split(".")[0]
            if not top or top in LOCAL_PACKAGES or top in sys.stdlib_module_names:
                continue
            result.append(ExternalImport(module, path, line))
    return result


@cache
def attribute_names(image: str) -> frozenset[str]:
    """Every ``x.name`` attribute name used in the files the image's code reaches."""
    names: set[str] = set()
    for path in reachable_files(image):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        names.update(node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute))
    return frozenset(names)
