"""The layering rules of docs/architecture.md, read from the source: db/ speaks the domain (no HTTP
status codes or request paths in what it raises), schema/ imports nothing from api/, and test modules
import helpers, never one another.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REQUEST_PATH = re.compile(r"^(path|body|query|header|cookie)\.")


def modules(folder: str, pattern: str = "*.py") -> list[Path]:
    return sorted((ROOT / folder).rglob(pattern))


def parsed(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def imported(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """Every module an ``import`` or ``from … import`` names, with its line, late imports included."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            yield node.lineno, "." * node.level + node.module
            yield from ((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)


def http_words(raised: ast.AST) -> Iterator[str]:
    """Status codes and request-path strings inside what a ``raise`` builds."""
    for node in ast.walk(raised):
        if isinstance(node, ast.Constant) and type(node.value) is int and 100 <= node.value <= 599:
            yield f"status code {node.value}"
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and REQUEST_PATH.match(node.value):
            yield f"request path {node.value!r}"


def test_the_rules_see_the_files_they_govern() -> None:
    assert len(modules("db")) > 10 and len(modules("schema")) > 5 and len(modules("tests", "test_*.py")) > 20


@pytest.mark.parametrize("path", modules("db"), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_db_raises_domain_errors_without_http_status_codes_or_request_paths(path: Path) -> None:
    found = [
        f"{path.name}:{node.lineno}: {word}"
        for node in ast.walk(parsed(path))
        if isinstance(node, ast.Raise) and node.exc is not None
        for word in http_words(node.exc)
    ]
    paths = [
        f"{path.name}:{node.lineno}: {node.value!r}"
        for node in ast.walk(parsed(path))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and REQUEST_PATH.match(node.value)
    ]
    assert found + paths == []


@pytest.mark.parametrize("path", modules("schema"), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_schema_imports_nothing_from_api(path: Path) -> None:
    assert [f"{path.name}:{line}: {name}" for line, name in imported(parsed(path)) if name.split(".")[0] == "api"] == []


@pytest.mark.parametrize("path", modules("tests", "test_*.py"), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_a_test_module_imports_no_other_test_module_nor_conftest(path: Path) -> None:
    def is_test_module(name: str) -> bool:
        last = name.lstrip(".").split(".")
        return any(part.startswith("test_") or part == "conftest" for part in last)

    assert [f"{path.name}:{line}: {name}" for line, name in imported(parsed(path)) if is_test_module(name)] == []


def test_the_checks_catch_what_they_are_for() -> None:
    tree = ast.parse(
        "raise MergeError(404, 'path.entity_id', 'gone')\n"
        "from tests.test_auth import serve\n"
        "def f():\n    from api import auth\n"
    )
    raised = next(node for node in ast.walk(tree) if isinstance(node, ast.Raise))
    assert raised.exc is not None
    assert list(http_words(raised.exc)) == ["status code 404", "request path 'path.entity_id'"]
    assert [name for _, name in imported(tree)] == ["tests.test_auth", "tests.test_auth.serve", "api", "api.auth"]
