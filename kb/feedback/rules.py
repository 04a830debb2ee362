"""The rules of votes and flags: what input is accepted, which actions a flag allows.

Plain functions and data, so the service enforces them and the web layer can
ask them (which buttons to show, how long a comment may be) without copies.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import InvalidInputError, InvalidTransitionError

COMMENT_MAX = 2000  # characters of a comment; the forms show and enforce the same number
QUERY_MAX = 500  # characters of a search query kept (the column's size)
SECTION_MAX = 300
NOTE_MAX = 2000  # characters of a triage note (resolve, decline)
EMAIL_MAX = 320  # characters of an email address: reporters, assignees, identities (the columns' size)
ID_MAX = 2**31 - 1  # the largest flag id the databases store (INTEGER)
AGE_MAX_DAYS = 36500  # an "older than" filter beyond a century means "any age"

#: The statuses a department still has to act on, and the ones it is done with.
OPEN_STATUSES = ("new", "acknowledged")
#: "withdrawn": the reporter said on My requests that they no longer need an answer;
#: "merged": a duplicate, closed into another flag.
CLOSED_STATUSES = ("resolved", "declined", "withdrawn", "merged")
STATUSES = OPEN_STATUSES + CLOSED_STATUSES

#: What a flag entry can be. Every entry is added, never edited: "report" (a reader's report: reason and
#: comment), "comment" (the reporter's follow-up), "helpful" (the reader later found the article helpful),
#: "withdrawn" (the reporter withdrew it), "reply" (an owner to the reporter, emailed), "note" (internal).
ENTRY_KINDS = ("report", "comment", "helpful", "withdrawn", "reply", "note")
#: The entries the reporter sees on My requests: everything but the owners' internal notes.
REPORTER_VISIBLE = tuple(k for k in ENTRY_KINDS if k != "note")


def N_(text: str) -> str:  # noqa: N802 (the gettext convention Babel extracts)
    """Mark a UI string for translation without translating it here (no Flask in kb.feedback)."""
    return text


#: Why an article did not help, in the order the form offers them; labels are msgids.
REASON_LABELS: dict[str, str] = {
    "outdated": N_("Outdated"),
    "incorrect": N_("Incorrect"),
    "unclear": N_("Unclear"),
    "missing": N_("Missing information"),
    "broken_link": N_("Broken link"),
    "other": N_("Other"),
}
REASONS = tuple(REASON_LABELS)

#: What each stored status is called on screen (msgids).
STATUS_LABELS: dict[str, str] = {
    "new": N_("New"),
    "acknowledged": N_("Acknowledged"),
    "resolved": N_("Resolved"),
    "declined": N_("Declined"),
    "merged": N_("Merged"),
    "withdrawn": N_("Withdrawn"),
}

#: What each history entry (FlagEvent.action) is called on screen (msgids).
EVENT_LABELS: dict[str, str] = {
    "created": N_("Created"),
    "reported": N_("Reported again"),
    "updated": N_("Updated by the reporter"),
    "acknowledge": N_("Acknowledged"),
    "resolve": N_("Resolved"),
    "decline": N_("Declined"),
    "reopen": N_("Reopened"),
    "assigned": N_("Assigned"),
    "merged": N_("Merged into another flag"),
    "merged_in": N_("A duplicate was merged in"),
    "withdraw": N_("Withdrawn by the reporter"),
    "found_helpful": N_("The reader later found it helpful"),
    "commented": N_("The reporter added a comment"),
    "replied": N_("Replied to the reporter"),
    "noted": N_("Internal note added"),
}


@dataclass(frozen=True)
class Action:
    """One step of the flag life cycle. ``label`` is a msgid: the template translates it."""

    name: str
    label: str
    sources: tuple[str, ...]  # the statuses it may start from
    target: str  # the status it leads to
    needs_note: bool


#: The flag state machine, in the order its buttons are shown.
ACTIONS: dict[str, Action] = {
    a.name: a
    for a in (
        Action("acknowledge", N_("Acknowledge"), ("new",), "acknowledged", False),
        Action("resolve", N_("Resolve"), OPEN_STATUSES, "resolved", True),
        Action("decline", N_("Decline"), OPEN_STATUSES, "declined", True),
        # A merged flag stays merged: its reporters follow the flag it was merged into.
        Action("reopen", N_("Reopen"), ("resolved", "declined", "withdrawn"), "acknowledged", False),
    )
}
#: The reporter's own step (My requests), not an owner's button.
WITHDRAW = Action("withdraw", N_("Withdraw"), OPEN_STATUSES, "withdrawn", False)


def allowed_actions(status: str) -> tuple[Action, ...]:
    """The actions a flag in ``status`` allows."""
    return tuple(a for a in ACTIONS.values() if status in a.sources)


def check_action(action: str, status: str, note: str | None) -> Action:
    """The Action for moving a ``status`` flag by ``action`` with ``note``, or a typed error."""
    step = ACTIONS.get(action)
    if step is None:
        raise InvalidTransitionError("unknown_action", f"unknown action {action!r}", action=action)
    if step.needs_note and not note:
        raise InvalidInputError("note_required", f"to {action} a flag, say why in a note", action=action)
    if status not in step.sources:
        raise InvalidTransitionError(
            "bad_transition", f"a {status} flag cannot be {action}d", action=action, status=status
        )
    return step


def clean_text(value: str | None) -> str:
    """Text as the databases can store it: no NUL characters (PostgreSQL refuses them), trimmed."""
    return (value or "").replace("\x00", "").strip()


def clean_comment(comment: str | None) -> str | None:
    comment = clean_text(comment)
    if len(comment) > COMMENT_MAX:
        raise InvalidInputError("comment_too_long", f"comments are at most {COMMENT_MAX} characters", max=COMMENT_MAX)
    return comment or None


def clean_note(note: str | None) -> str | None:
    """A triage note: at most NOTE_MAX characters."""
    note = clean_text(note)
    if len(note) > NOTE_MAX:
        raise InvalidInputError("too_long", f"notes are at most {NOTE_MAX} characters", max=NOTE_MAX)
    return note or None


def clean_assignee(assignee: str | None) -> str | None:
    """Who a flag is assigned to: an email address (lower case), or None to unassign."""
    assignee = clean_text(assignee).lower()
    if len(assignee) > EMAIL_MAX:
        raise InvalidInputError("too_long", f"an assignee is at most {EMAIL_MAX} characters", max=EMAIL_MAX)
    return assignee or None


def clean_query(query: str | None) -> str:
    """A search query as stored: whitespace collapsed, at most QUERY_MAX characters."""
    return " ".join(clean_text(query).split())[:QUERY_MAX]


def clean_section(section: str | None, anchors: frozenset[str] | set[str] | None = None) -> str | None:
    """The section a reader came to: kept only when it is one of the article's heading ``anchors``
    (when given), so a stale or made-up fragment records no section rather than a wrong one."""
    section = clean_text(section).lstrip("#")[:SECTION_MAX] or None
    if section is not None and anchors is not None and section not in anchors:
        return None
    return section


def valid_id(flag_id: int) -> bool:
    """Whether ``flag_id`` can name a stored flag (ids past the column's range cannot)."""
    return 0 < flag_id <= ID_MAX


def clean_age(days: int | None) -> int | None:
    """An "older than N days" filter the clock can compute: at most AGE_MAX_DAYS (0 or None: any age)."""
    return min(days, AGE_MAX_DAYS) if days and days > 0 else None


def check_vote(helpful: bool, reason: str | None) -> None:
    """A "No" needs one of the known reasons: it becomes a flag a department must act on."""
    if helpful:
        return
    if not reason:
        raise InvalidInputError("reason_required", "a 'not helpful' vote needs a reason")
    if reason not in REASONS:
        raise InvalidInputError("bad_reason", f"reason must be one of {', '.join(REASONS)}", reason=reason)
