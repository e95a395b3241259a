"""The house rules a machine can check: small rooms, imports at the top.

The import graph itself (layers, no cycles, no Flask in the domain) is import-linter's job: its
contracts are in pyproject.toml and `make test` runs them before the suite.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCT_PACKAGES = ("terugbel", "webhooks", "console", "privacy", "ivr", "routing", "callbacks", "telephony")
MAX_LINES = 500


def product_modules() -> list[Path]:
    return sorted(path for package in PRODUCT_PACKAGES for path in (ROOT / package).rglob("*.py"))


def imports_inside_definitions(tree: ast.Module) -> list[tuple[int, str]]:
    """First-party imports made inside a function or class body: (line, module)."""
    found: list[tuple[int, str]] = []
    for definition in ast.walk(tree):
        if not isinstance(definition, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        for node in ast.walk(definition):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            found += [(node.lineno, name) for name in names if name.split(".")[0] in PRODUCT_PACKAGES]
    return found


def test_the_product_has_modules_to_check() -> None:
    assert len(product_modules()) > 50


@pytest.mark.parametrize("path", product_modules(), ids=lambda path: str(path.relative_to(ROOT)))
def test_no_module_is_over_500_lines(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines: cut it by responsibility"


@pytest.mark.parametrize("path", product_modules(), ids=lambda path: str(path.relative_to(ROOT)))
def test_first_party_imports_are_at_the_top(path: Path) -> None:
    """An import inside a function hides a cycle from the graph; import-linter would not see it
    as one, and nor would a newcomer."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    assert imports_inside_definitions(tree) == []


def test_the_import_check_sees_an_import_inside_a_function() -> None:
    tree = ast.parse("import os\n\ndef f():\n    from callbacks.models import CallbackPromise\n    import json\n")
    assert imports_inside_definitions(tree) == [(4, "callbacks.models")]
