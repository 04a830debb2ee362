"""Split a Markdown file into YAML front matter and body, keeping line numbers.

Errors carry the line in the *file* (not in the YAML block), since that is
where an editor will jump.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

_OPEN = re.compile(r"\A(?:\ufeff)?---[ \t]*\r?\n")
_CLOSE = re.compile(r"^(?:---|\.\.\.)[ \t]*\r?$", re.M)


class FrontMatterError(ValueError):
    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


@dataclass
class Parsed:
    meta: dict[str, Any]
    body: str
    body_line: int  # 1-based file line where the body starts
    key_lines: dict[str, int] = field(default_factory=dict)
    #: (top-level key, file line) where an unquoted " #" ended a value: YAML read the rest as a comment.
    comment_cuts: list[tuple[str, int]] = field(default_factory=list)


class _Loader(yaml.SafeLoader):
    """SafeLoader that leaves dates as text: we validate them ourselves."""


# Strings like "2026-13-01" must reach our own check (with a clear message),
# not be silently turned into something else, so timestamps stay strings.
_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _plain_scalars(node: yaml.Node, depth: int = 0) -> Iterator[yaml.ScalarNode]:
    """Every unquoted scalar under ``node`` (the nesting depth is already capped by the parse)."""
    if isinstance(node, yaml.ScalarNode):
        if node.style is None:
            yield node
    elif isinstance(node, yaml.SequenceNode) and depth < 50:
        for child in node.value:
            yield from _plain_scalars(child, depth + 1)
    elif isinstance(node, yaml.MappingNode) and depth < 50:
        for key, child in node.value:
            yield from _plain_scalars(key, depth + 1)
            yield from _plain_scalars(child, depth + 1)


def comment_cuts(text: str, node: yaml.Node | None, first_line: int = 1) -> list[tuple[str, int]]:
    """Where a value ends at " #" on its line: everything after was silently read as a YAML comment
    ("summary: ask in #it-help" keeps only "ask in"). (top-level key, file line) for each."""
    if not isinstance(node, yaml.MappingNode):
        return []
    lines = text.splitlines()
    cuts: list[tuple[str, int]] = []
    for key_node, value in node.value:
        for scalar in _plain_scalars(value):
            end = scalar.end_mark
            rest = lines[end.line][end.column:] if end.line < len(lines) else ""
            if rest[:1] in (" ", "\t") and rest.lstrip(" \t").startswith("#"):
                cuts.append((str(key_node.value), first_line + end.line))
    return cuts


def load_yaml_with_lines(text: str, first_line: int = 1) -> tuple[Any, dict[str, int]]:
    """Parse YAML; return the data and, for a top-level mapping, each key's file line.

    Raises FrontMatterError with the file line of the problem.
    """
    data, node = _compose(text, first_line)
    return data, _key_lines(node, first_line)


def _compose(text: str, first_line: int) -> tuple[Any, yaml.Node | None]:
    """The YAML's data and its node tree; FrontMatterError with the file line of a problem."""
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = first_line + mark.line if mark is not None else None
        problem = exc.problem or str(exc)
        context = ""
        if exc.context:
            context = f" ({exc.context}"
            if exc.context_mark is not None and mark is not exc.context_mark:
                context += f" started on line {first_line + exc.context_mark.line}"
            context += ")"
        raise FrontMatterError(f"YAML syntax error: {problem}{context}", line) from None
    except yaml.YAMLError as exc:
        raise FrontMatterError(f"YAML error: {exc}", first_line) from None
    except RecursionError:  # PyYAML recurses per level: "[[[[..." thousands deep
        raise FrontMatterError("YAML nested too deeply", first_line) from None
    return data, node


def _key_lines(node: yaml.Node | None, first_line: int) -> dict[str, int]:
    lines: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                lines[str(key_node.value)] = first_line + key_node.start_mark.line
    return lines


def split_front_matter(text: str) -> Parsed:
    """Return front matter (possibly empty) and the body after it."""
    m = _OPEN.match(text)
    if not m:
        return Parsed(meta={}, body=text.lstrip("\ufeff"), body_line=1)
    close = _CLOSE.search(text, m.end())
    if not close:
        raise FrontMatterError("front matter starts with '---' but never ends (add a closing '---' line)", 1)
    yaml_text = text[m.end() : close.start()]
    data, node = _compose(yaml_text, first_line=2)
    key_lines = _key_lines(node, 2)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise FrontMatterError(
            f"front matter must be a mapping of keys to values, not a {type(data).__name__}", 2
        )
    body_start = close.end()
    if text[body_start : body_start + 1] == "\n":
        body_start += 1
    body_line = text.count("\n", 0, body_start) + 1
    return Parsed(meta={str(k): v for k, v in data.items()}, body=text[body_start:], body_line=body_line,
                  key_lines=key_lines, comment_cuts=comment_cuts(yaml_text, node, 2))
