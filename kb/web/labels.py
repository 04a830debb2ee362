"""What a person reads for a stored value: statuses, reasons, history entries, delivery
states, response targets, due dates and ages, all through the catalogs.

Templates get these as globals; nothing shows ``acknowledged`` or ``broken_link`` as stored.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from ..content.models import ResponseTarget
from ..feedback.rules import EVENT_LABELS, REASON_LABELS, STATUS_LABELS

DELIVERY_LABELS = {
    "pending": _l("Waiting to be sent"),
    "retrying": _l("Retrying"),
    "sent": _l("Sent"),
    "given_up": _l("Given up"),
}
CHANNEL_LABELS = {"email": _l("Email"), "webhook": _l("Chat webhook")}


def _label(table: dict, value: str | None) -> str:
    # An unknown value (a status added later, an old row) is shown as stored rather than hidden.
    if value is None:
        return ""
    return str(_(table[value])) if value in table else value


def status_label(status: str | None) -> str:
    return _label(STATUS_LABELS, status)


def reason_label(reason: str | None) -> str:
    return _label(REASON_LABELS, reason)


def event_label(action: str | None) -> str:
    return _label(EVENT_LABELS, action)


def delivery_label(state: str | None) -> str:
    return str(DELIVERY_LABELS[state]) if state in DELIVERY_LABELS else (state or "")


def channel_label(kind: str | None) -> str:
    return str(CHANNEL_LABELS[kind]) if kind in CHANNEL_LABELS else (kind or "")


def target_text(target: ResponseTarget | None) -> str:
    """A response target in the reader's language ("3 business days", "3 営業日")."""
    if target is None:
        return ""
    n = target.amount
    if target.unit == "business_days":
        return ngettext("%(num)d business day", "%(num)d business days", n)
    if target.unit == "hours":
        return ngettext("%(num)d hour", "%(num)d hours", n)
    return ngettext("%(num)d day", "%(num)d days", n)


def _aware(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt


def due_relative(due: datetime | None, now: datetime | None = None) -> str:
    """"due in 2 days", "3 days overdue", in the reader's language (calendar days, as people count)."""
    if due is None:
        return ""
    now = now or datetime.now(UTC)
    delta = _aware(due) - now
    if delta.total_seconds() >= 0:
        if delta.days >= 1:
            return ngettext("due in %(num)d day", "due in %(num)d days", delta.days)
        hours = delta.seconds // 3600
        return ngettext("due in %(num)d hour", "due in %(num)d hours", hours) if hours else _("due within the hour")
    late = -delta
    if late.days >= 1:
        return ngettext("%(num)d day overdue", "%(num)d days overdue", late.days)
    return ngettext("%(num)d hour overdue", "%(num)d hours overdue", max(1, late.seconds // 3600))


def age(created: datetime | None, now: datetime | None = None) -> str:
    """How long a flag has been open: "opened 3 days ago"."""
    if created is None:
        return ""
    delta = (now or datetime.now(UTC)) - _aware(created)
    if delta.days >= 1:
        return ngettext("opened %(num)d day ago", "opened %(num)d days ago", delta.days)
    hours = delta.seconds // 3600
    return ngettext("opened %(num)d hour ago", "opened %(num)d hours ago", hours) if hours else _("opened just now")


def department_name(dep_id: str) -> str:
    """A department as people know it ("People Team"), not its folder id."""
    from . import library

    dep = library().departments.get(dep_id)
    return dep.name if dep else dep_id


def init_app(app: Flask) -> None:
    app.jinja_env.filters["department_name"] = department_name
    app.jinja_env.globals.update(
        status_label=status_label, reason_label=reason_label, event_label=event_label, target_text=target_text,
        delivery_label=delivery_label, channel_label=channel_label, due_relative=due_relative, age=age,
    )
