"""Read ``departments.yml``: who owns what, how to reach them, what they promise."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import yaml

from .fields import BadValueError, FieldSpec, iso_date, mapping, positive_int, read_fields, str_list, text
from .files import ContentFiles
from .frontmatter import FrontMatterError, load_yaml_with_lines
from .models import Contact, Department, Problem, ResponseTarget

FILENAME = "departments.yml"
# Possessive: with plain ``\s*`` around the optional word, "1" + 20,000 spaces + "x" took 30 s.
_TARGET = re.compile(r"\s*+(\d++)\s*+(business|working)?\s*+(day|days|hour|hours|h|d)\s*+", re.I)


def parse_response_target(text: str) -> ResponseTarget | None:
    """``"3 business days"`` -> ResponseTarget(3, business_days); None if unreadable."""
    m = _TARGET.fullmatch(str(text))
    if not m:
        return None
    amount = int(m.group(1))
    unit_word = m.group(3).lower()
    if unit_word.startswith("h"):
        unit = "hours"
    elif m.group(2):
        unit = "business_days"
    else:
        unit = "days"
    return ResponseTarget(text=str(text).strip(), amount=amount, unit=unit)  # type: ignore[arg-type]


def parse_synonyms(value: Any) -> list[list[str]] | None:
    """Synonym groups: a list of lists, or of strings like "PTO = vacation = 休暇"."""
    if value is None:
        return []
    if not isinstance(value, list):
        return None
    groups: list[list[str]] = []
    for item in value:
        if isinstance(item, str):
            group = [t.strip() for t in item.split("=") if t.strip()]
        elif isinstance(item, list):
            group = [str(t).strip() for t in item if str(t).strip()]
        else:
            return None
        if len(group) >= 2:
            groups.append(group)
    return groups


def _target(value: Any) -> ResponseTarget:
    target = parse_response_target(value)
    if target is None:
        raise BadValueError
    return target


def _calendar(value: Any) -> str | None:
    # Which codes exist is the holidays package's business: kb check asks it (feedback layer).
    if value is None:
        return None
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z]{2,3}", value.strip()):
        raise BadValueError
    return value.strip().upper()


def _dates(value: Any) -> list[date]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadValueError
    return [iso_date(v) for v in value]


def _synonyms(value: Any) -> list[list[str]]:
    groups = parse_synonyms(value)
    if groups is None:
        raise BadValueError
    return groups


DEPARTMENT_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("name", text, "department-name", "'{id}': name must be text", ""),
    FieldSpec("description", text, "department-description", "'{id}': description must be text", ""),
    FieldSpec("owners", str_list, "department-owners", "'{id}': owners must be a list of email addresses", []),
    FieldSpec("contact", mapping, "department-contact", "'{id}': contact must have email, chat and/or phone keys", {}),
    FieldSpec("response_target", _target, "response-target",
              "'{id}': response_target {value!r} is not like '3 business days', '5 days' or '24 hours'"),
    FieldSpec("review_every", positive_int, "review-every", "'{id}': review_every must be a number of days, not {value!r}"),
    # Channel names (email, webhook, ...) belong to the feedback layer, which reads them.
    FieldSpec("notify", mapping, "department-notify", "'{id}': notify must map channel names to targets (email: [...])", {}),
    FieldSpec("holidays", _calendar, "department-holidays",
              "'{id}': holidays must be a country code of the holidays package (JP, US, DE...), not {value!r}"),
    FieldSpec("closed", _dates, "department-closed", "'{id}': closed must be a list of dates like 2026-12-29"),
    FieldSpec("synonyms", _synonyms, "synonyms", "'{id}': synonyms must be a list of lists of equivalent terms", []),
)
_KNOWN = {"id"} | {f.key for f in DEPARTMENT_FIELDS}


def _department(entry: Any, number: int, line: int | None, taken: dict[str, Department], problems: list[Problem]) -> Department | None:
    def err(code: str, message: str) -> None:
        problems.append(Problem(FILENAME, line, "error", code, message))

    if not isinstance(entry, dict):
        err("departments-format", f"entry {number} must be a mapping with at least 'id' and 'name'")
        return None
    dep_id = str(entry.get("id") or "").strip()
    if not dep_id:
        err("department-id", f"entry {number} has no 'id' (the folder name of its articles)")
        return None
    if dep_id in taken:
        err("duplicate-department", f"department id '{dep_id}' is defined twice")
        return None
    v = read_fields(entry, DEPARTMENT_FIELDS, lambda _key, _sev, code, message: err(code, message), id=dep_id)
    contact = v["contact"]
    return Department(
        id=dep_id, name=v["name"] or dep_id, description=v["description"], owners=v["owners"],
        contact=Contact(email=contact.get("email"), chat=contact.get("chat"), phone=contact.get("phone")),
        response_target=v["response_target"], review_every=v["review_every"], notify=v["notify"],
        synonyms=v["synonyms"], holidays=v["holidays"],
        closed=v["closed"] or [], extra={k: val for k, val in entry.items() if k not in _KNOWN}, line=line,
    )


def _read(text: str) -> tuple[Any, list[Problem]]:
    try:
        data, _ = load_yaml_with_lines(text)
    except FrontMatterError as exc:
        return None, [Problem(FILENAME, exc.line, "error", "yaml-error", exc.message)]
    entries = data.get("departments") if isinstance(data, dict) else data
    if not isinstance(entries, list):
        return None, [Problem(FILENAME, 1, "error", "departments-format", "expected a top-level 'departments:' list")]
    return entries, []


def load_departments(files: ContentFiles) -> tuple[dict[str, Department], list[Problem], bool]:
    """Return departments by id, problems found, and whether the file exists."""
    path = files.root / FILENAME
    if not path.is_symlink() and not path.exists():
        return {}, [], False
    problems: list[Problem] = []
    text = files.read_text(path, problems)  # read once: the file may be a link leading outside
    if text is None:
        return {}, problems, True
    entries, problems = _read(text)
    if entries is None:
        return {}, problems, True
    lines = _entry_lines(text)
    departments: dict[str, Department] = {}
    for i, entry in enumerate(entries):
        dep = _department(entry, i + 1, lines[i] if i < len(lines) else None, departments, problems)
        if dep is not None:
            departments[dep.id] = dep
    return departments, problems, True


def _entry_lines(text: str) -> list[int]:
    """File line of each list entry under ``departments:``, for error messages."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except (yaml.YAMLError, RecursionError):
        return []
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if getattr(k, "value", None) == "departments":
                node = v
                break
    if isinstance(node, yaml.SequenceNode):
        return [item.start_mark.line + 1 for item in node.value]
    return []
