"""Read ``departments.yml``: who owns what, how to reach them, what they promise."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .frontmatter import FrontMatterError, load_yaml_with_lines
from .models import Contact, Department, Problem, ResponseTarget

FILENAME = "departments.yml"
_TARGET = re.compile(r"^\s*(\d+)\s*(business|working)?\s*(day|days|hour|hours|h|d)\s*$", re.I)


def parse_response_target(text: str) -> ResponseTarget | None:
    """``"3 business days"`` -> ResponseTarget(3, business_days); None if unreadable."""
    m = _TARGET.match(str(text))
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


def _str_list(value: Any) -> list[str] | None:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
        return [str(v) for v in value]
    return None


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


def load_departments(root: Path) -> tuple[dict[str, Department], list[Problem], bool]:
    """Return departments by id, problems found, and whether the file exists."""
    path = root / FILENAME
    problems: list[Problem] = []
    if not path.exists():
        return {}, problems, False
    try:
        data, _ = load_yaml_with_lines(path.read_text(encoding="utf-8"))
    except FrontMatterError as exc:
        return {}, [Problem(FILENAME, exc.line, "error", "yaml-error", exc.message)], True
    except UnicodeDecodeError:
        return {}, [Problem(FILENAME, None, "error", "encoding", "not valid UTF-8")], True
    entries = data.get("departments") if isinstance(data, dict) else data
    if not isinstance(entries, list):
        msg = "expected a top-level 'departments:' list"
        return {}, [Problem(FILENAME, 1, "error", "departments-format", msg)], True
    lines = _entry_lines(path)
    departments: dict[str, Department] = {}
    for i, entry in enumerate(entries):
        line = lines[i] if i < len(lines) else None

        def err(code: str, message: str, line: int | None = line) -> None:
            problems.append(Problem(FILENAME, line, "error", code, message))

        if not isinstance(entry, dict):
            err("departments-format", f"entry {i + 1} must be a mapping with at least 'id' and 'name'")
            continue
        dep_id = str(entry.get("id") or "").strip()
        if not dep_id:
            err("department-id", f"entry {i + 1} has no 'id' (the folder name of its articles)")
            continue
        if dep_id in departments:
            err("duplicate-department", f"department id '{dep_id}' is defined twice")
            continue
        known = {"id", "name", "description", "owners", "contact", "response_target", "review_every", "notify", "synonyms"}
        contact = entry.get("contact") or {}
        if not isinstance(contact, dict):
            err("department-contact", f"'{dep_id}': contact must have email, chat and/or phone keys")
            contact = {}
        target = None
        if entry.get("response_target") is not None:
            target = parse_response_target(entry["response_target"])
            if target is None:
                err(
                    "response-target",
                    f"'{dep_id}': response_target {entry['response_target']!r} is not like "
                    "'3 business days', '5 days' or '24 hours'",
                )
        review_every = entry.get("review_every")
        if review_every is not None and (not isinstance(review_every, int) or review_every <= 0):
            err("review-every", f"'{dep_id}': review_every must be a number of days, not {review_every!r}")
            review_every = None
        owners = _str_list(entry.get("owners"))
        if owners is None:
            err("department-owners", f"'{dep_id}': owners must be a list of email addresses")
            owners = []
        synonyms = parse_synonyms(entry.get("synonyms"))
        if synonyms is None:
            err("synonyms", f"'{dep_id}': synonyms must be a list of lists of equivalent terms")
            synonyms = []
        notify = entry.get("notify") or {}
        if not isinstance(notify, dict):
            err("department-notify", f"'{dep_id}': notify must be a mapping (email, webhook)")
            notify = {}
        departments[dep_id] = Department(
            id=dep_id,
            name=str(entry.get("name") or dep_id),
            description=str(entry.get("description") or ""),
            owners=owners,
            contact=Contact(
                email=contact.get("email"), chat=contact.get("chat"), phone=contact.get("phone")
            ),
            response_target=target,
            review_every=review_every,
            notify=notify,
            synonyms=synonyms,
            extra={k: v for k, v in entry.items() if k not in known},
        )
    return departments, problems, True


def _entry_lines(path: Path) -> list[int]:
    """File line of each list entry under ``departments:``, for error messages."""
    import yaml

    try:
        node = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return []
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if getattr(k, "value", None) == "departments":
                node = v
                break
    if isinstance(node, yaml.SequenceNode):
        return [item.start_mark.line + 1 for item in node.value]
    return []
