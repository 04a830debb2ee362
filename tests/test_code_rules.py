"""The project's size rules for the application and the search library: modules of at most
400 lines, functions of at most 60 (migrations aside: an upgrade lists a schema)."""

from __future__ import annotations

import ast
from pathlib import Path

from kb.config import PROJECT_ROOT

MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def _modules() -> list[Path]:
    return sorted(p for d in ("kb", "search") for p in (PROJECT_ROOT / d).rglob("*.py") if "migrations" not in p.parts)


def test_modules_stay_under_the_line_limit():
    long = {str(p.relative_to(PROJECT_ROOT)): n for p in _modules()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert long == {}


def test_functions_stay_under_the_line_limit():
    long = {}
    for p in _modules():
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long[f"{p.relative_to(PROJECT_ROOT)}:{node.lineno} {node.name}"] = n
    assert long == {}
