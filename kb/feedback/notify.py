"""What notifications say and where they go: outbox messages, not sending."""

from __future__ import annotations

from ..content.models import Department
from .models import Flag, OutboxMessage

REASON_TEXT = {
    "outdated": "outdated",
    "incorrect": "incorrect",
    "unclear": "unclear",
    "missing": "missing information",
    "broken_link": "broken link",
    "other": "other",
}


def _targets(dep: Department | None) -> tuple[list[str], str | None]:
    notify = dep.notify if dep else {}
    emails = notify.get("email") or []
    if isinstance(emails, str):
        emails = [emails]
    webhook = notify.get("webhook") or None
    return [e for e in emails if isinstance(e, str) and "@" in e], webhook if isinstance(webhook, str) else None


def flag_messages(flag: Flag, dep: Department | None, title: str, site_url: str) -> list[OutboxMessage]:
    """Tell the owning department about a new flag (email and/or Slack-compatible webhook)."""
    emails, webhook = _targets(dep)
    link = f"{site_url}/admin/flags/{flag.id}"
    if flag.kind == "gap":
        subject = f"[kb] Content gap #{flag.id}: “{title[:80]}”"
        lines = [f"An employee could not find an answer for: {flag.query}"]
    else:
        subject = f"[kb] Feedback #{flag.id} on “{title[:80]}”: {REASON_TEXT.get(flag.reason or '', flag.reason)}"
        lines = [f"An employee marked “{title}” as not helpful ({REASON_TEXT.get(flag.reason or '', flag.reason)})."]
        if flag.section:
            lines.append(f"Section: #{flag.section}")
    if flag.comment:
        lines += ["", "Comment:", flag.comment]
    if flag.due_at and dep and dep.response_target:
        lines += ["", f"Due {flag.due_at:%Y-%m-%d} ({dep.response_target.text})."]
    lines += ["", f"Triage it: {link}"]
    body = "\n".join(lines)
    out = [
        OutboxMessage(kind="email", target=to, payload={"subject": subject, "body": body}, dedupe_key=f"flag-{flag.id}-created-email-{to}")
        for to in emails
    ]
    if webhook:
        out.append(
            OutboxMessage(
                kind="webhook", target=webhook, payload={"text": f"{subject}\n{body}"}, dedupe_key=f"flag-{flag.id}-created-webhook"
            )
        )
    return out


def resolution_messages(flag: Flag, dep: Department | None, site_url: str) -> list[OutboxMessage]:
    """Tell the employee who asked that their flag was resolved."""
    if not (flag.reporter and flag.notify_reporter):
        return []
    name = dep.name if dep else flag.department
    what = f"your question “{flag.query}”" if flag.kind == "gap" else "the article you flagged"
    lines = [f"{name} has resolved {what}."]
    if flag.resolution_note:
        lines += ["", flag.resolution_note]
    if flag.article:
        slug = flag.article[:-3] if flag.article.endswith(".md") else flag.article
        lines += ["", f"{site_url}/a/{slug}"]
    lines += ["", "Thank you for telling us."]
    return [
        OutboxMessage(
            kind="email",
            target=flag.reporter,
            payload={"subject": f"[kb] Fixed: {what}", "body": "\n".join(lines)},
            # One per resolution, even if it is reopened and resolved again later.
            dedupe_key=f"flag-{flag.id}-resolved-{len(flag.events)}-{flag.reporter}",
        )
    ]
