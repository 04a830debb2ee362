"""What notifications say: Notices for a new flag and a resolution. Channels shape and send them."""

from __future__ import annotations

from ..content.models import Department
from ..content.urls import SiteUrls
from .channels import Notice
from .models import Flag
from .rules import REASON_LABELS


def flag_notice(flag: Flag, dep: Department | None, title: str, urls: SiteUrls) -> Notice:
    """Tell the owning department about a new flag."""
    reason = REASON_LABELS[flag.reason].lower() if flag.reason in REASON_LABELS else flag.reason
    if flag.kind == "gap":
        subject = f"[kb] Content gap #{flag.id}: “{title[:80]}”"
        lines = [f"An employee could not find an answer for: {flag.query}"]
    else:
        subject = f"[kb] Feedback #{flag.id} on “{title[:80]}”: {reason}"
        lines = [f"An employee marked “{title}” as not helpful ({reason})."]
        if flag.section:
            lines.append(f"Section: #{flag.section}")
    if flag.comment:
        lines += ["", "Comment:", flag.comment]
    if flag.due_at and dep and dep.response_target:
        lines += ["", f"Due {flag.due_at:%Y-%m-%d} ({dep.response_target.text})."]
    lines += ["", f"Triage it: {urls.flag(flag.id)}"]
    return Notice(f"flag-{flag.id}-created", subject, "\n".join(lines))


def resolution_notice(flag: Flag, dep: Department | None, urls: SiteUrls, rate_url: str | None = None) -> Notice | None:
    """Tell the employee who asked that their flag was resolved (None: they did not ask);
    ``rate_url``: their signed link to rate the handling (one click per score)."""
    if not (flag.reporter and flag.notify_reporter):
        return None
    name = dep.name if dep else flag.department
    what = f"your question “{flag.query}”" if flag.kind == "gap" else "the article you flagged"
    lines = [f"{name} has resolved {what}."]
    if flag.resolution_note:
        lines += ["", flag.resolution_note]
    if flag.article:
        lines += ["", urls.article(flag.article)]
    if rate_url:
        lines += ["", "How well did we handle it? One click rates it (1 = poorly, 5 = very well):"]
        lines += [f"  {n}: {rate_url}?score={n}" for n in range(1, 6)]
    lines += ["", "Thank you for telling us."]
    # One per resolution (the event count), even if it is reopened and resolved again later.
    return Notice(f"flag-{flag.id}-resolved-{len(flag.events)}", f"[kb] Fixed: {what}", "\n".join(lines))
