"""What notifications say: Notices for a new flag and a resolution. Channels shape and send them."""

from __future__ import annotations

from ..content.models import Department
from ..content.urls import SiteUrls
from .channels import Notice
from .models import Flag, FlagEntry
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
        if flag.article:
            lines.append(f"Article: {urls.article(flag.article, flag.section)}")
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
    lines = _resolved(dep.name if dep else flag.department, _about(flag), "", flag.resolution_note, flag.article, urls)
    if rate_url:
        lines += ["", "How well did we handle it? One click rates it (1 = poorly, 5 = very well):"]
        lines += [f"  {n}: {rate_url}?score={n}" for n in range(1, 6)]
    lines += ["", "Thank you for telling us."]
    # One per resolution (the event count), even if it is reopened and resolved again later.
    return Notice(f"flag-{flag.id}-resolved-{len(flag.events)}", f"[kb] Fixed: {_about(flag)}", "\n".join(lines))


#: Where a reporter follows their requests (the web route ``me.requests``).
MY_REQUESTS_PATH = "/me/requests"


def _resolved(name: str, what: str, aside: str, note: str | None, article: str | None, urls: SiteUrls) -> list[str]:
    """The opening of a "we fixed it" email: who resolved what, their note, the article."""
    lines = [f"{name} has resolved {what}{aside}."]
    if note:
        lines += ["", note]
    if article:
        lines += ["", urls.article(article)]
    return lines


def _about(flag: Flag) -> str:
    return f"your question “{flag.query}”" if flag.kind == "gap" else "the article you flagged"


def reply_notice(flag: Flag, entry: FlagEntry, dep: Department | None, urls: SiteUrls) -> Notice:
    """Tell the reporter what an owner replied (internal notes never come here)."""
    name = dep.name if dep else flag.department
    lines = [f"{name} replied about {_about(flag)} (reference #{flag.id}):", "", entry.text or ""]
    lines += ["", f"Follow it and answer: {urls.absolute(MY_REQUESTS_PATH)}#request-{flag.id}"]
    return Notice(f"flag-{flag.id}-reply-{entry.id}", f"[kb] Reply about #{flag.id}", "\n".join(lines))


def comment_notice(flag: Flag, entry: FlagEntry, urls: SiteUrls) -> Notice:
    """Tell the owning department that the reporter added to their request."""
    lines = [f"The reporter of #{flag.id} added a comment:", "", entry.text or "", "", f"Triage it: {urls.flag(flag.id)}"]
    return Notice(f"flag-{flag.id}-comment-{entry.id}", f"[kb] New comment on #{flag.id}", "\n".join(lines))


def assignment_notice(flag: Flag, dep: Department | None, title: str, by: str | None, urls: SiteUrls, seq: int) -> Notice:
    """Tell the person a flag was just assigned to (``seq``: the flag's event count, one notice per assignment)."""
    name = dep.name if dep else flag.department
    what = f"the content gap “{flag.query}”" if flag.kind == "gap" else f"feedback on “{title}”"
    lines = [f"{by or 'Someone'} assigned {what} ({name}, #{flag.id}) to you."]
    if flag.comment:
        lines += ["", "Comment:", flag.comment]
    if flag.due_at:
        lines += ["", f"Due {flag.due_at:%Y-%m-%d}."]
    lines += ["", f"Triage it: {urls.flag(flag.id)}"]
    return Notice(f"flag-{flag.id}-assigned-{seq}", f"[kb] Assigned to you: #{flag.id} “{title[:80]}”", "\n".join(lines))


def merged_resolution_notice(merged: Flag, target: Flag, dep: Department | None, urls: SiteUrls) -> Notice | None:
    """Tell the reporter of a duplicate that the flag it was merged into is resolved (None: they did not ask)."""
    if not (merged.reporter and merged.notify_reporter):
        return None
    lines = _resolved(dep.name if dep else target.department, _about(merged),
                      f" (it was handled together with #{target.id})", target.resolution_note,
                      merged.article or target.article, urls)
    lines += ["", "Thank you for telling us."]
    key = f"flag-{merged.id}-resolved-via-{target.id}-{len(target.events)}"
    return Notice(key, f"[kb] Fixed: {_about(merged)}", "\n".join(lines))


def digest_notice(dep: Department, day: str, overdue: list[Flag], new: list[Flag], urls: SiteUrls) -> Notice:
    """The daily email to a department's owners: its overdue flags and those raised since yesterday."""
    def line(f: Flag) -> str:
        what = f"gap “{f.query}”" if f.kind == "gap" else (f.article or "")
        due = f", due {f.due_at:%Y-%m-%d}" if f.due_at else ""
        return f"  #{f.id} {what} ({f.status}{due}) {urls.flag(f.id)}"

    lines = [f"{dep.name}: {len(overdue)} overdue, {len(new)} new flag(s) on {day}."]
    if overdue:
        lines += ["", "Overdue:"] + [line(f) for f in overdue]
    if new:
        lines += ["", "New since yesterday:"] + [line(f) for f in new]
    lines += ["", f"The queue: {urls.absolute(f'/admin/flags?department={dep.id}')}"]
    subject = f"[kb] {dep.name}: {len(overdue)} overdue, {len(new)} new ({day})"
    return Notice(f"digest-{dep.id}-{day}", subject, "\n".join(lines))
