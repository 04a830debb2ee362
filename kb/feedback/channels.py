"""The ways a notification leaves kb (email, webhook), behind one registry.

A department lists its targets per channel under ``notify:`` in
departments.yml (``notify: {email: [...], webhook: https://...}``). Adding a
channel, say Microsoft Teams, is one ``Channel`` subclass plus one line in
``CHANNEL_TYPES``: targets, outbox rows and delivery all go through here.
"""

from __future__ import annotations

import hashlib
import json
import smtplib
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any, ClassVar
from urllib.parse import urlsplit

from ..config import Config
from ..content.models import Department
from .models import KEY_MAX, OutboxMessage


@dataclass(frozen=True)
class Notice:
    """What to tell, before a channel gives it the shape its receiver expects."""

    key: str  # one per event ("flag-12-created"); with channel and target it dedupes the outbox
    subject: str
    body: str


class UnknownChannelError(LookupError):
    """An outbox row names a channel this process does not have (it stays queued and is retried)."""


class Channel:
    """One way out. Subclasses set ``name`` (the key under ``notify:``) and implement render and send."""

    name: ClassVar[str] = ""

    @classmethod
    def from_config(cls, config: Config) -> Channel:
        return cls()

    def refusal(self, target: str) -> str | None:
        """Why this channel does not send to ``target``; None when it does."""
        return None if target else "an empty target"

    def accepts(self, target: str) -> bool:
        return self.refusal(target) is None

    def targets(self, department: Department | None) -> list[str]:
        """The department's targets for this channel: ``notify[name]``, one value or a list."""
        return [v for v in notify_values(department, self.name) if isinstance(v, str) and self.accepts(v)]

    def render(self, notice: Notice) -> dict[str, Any]:
        """The payload stored in the outbox, exactly as it will be sent."""
        raise NotImplementedError

    def send(self, message: OutboxMessage) -> None:
        """Deliver one outbox row; raise on any failure (the outbox retries)."""
        raise NotImplementedError

    def messages(self, notice: Notice, targets: Iterable[str]) -> list[OutboxMessage]:
        return [
            OutboxMessage(kind=self.name, target=t, payload=self.render(notice), dedupe_key=self.dedupe_key(notice, t))
            for t in targets
        ]

    def dedupe_key(self, notice: Notice, target: str) -> str:
        key = f"{notice.key}-{self.name}-{target}"
        if len(key) <= KEY_MAX:
            return key
        # A long webhook URL would not fit the column: its digest is as unique.
        return f"{notice.key}-{self.name}-{hashlib.sha256(target.encode()).hexdigest()[:32]}"


def notify_values(department: Department | None, name: str) -> list[Any]:
    """What ``notify:`` lists under ``name``: one value or a list (None: nothing)."""
    value = department.notify.get(name) if department else None
    return [] if value is None else value if isinstance(value, list) else [value]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a redirect answers as an error: it could lead anywhere, an internal address included


_OPENER = urllib.request.build_opener(_NoRedirect)


def post_json(url: str, payload: dict[str, Any], timeout: float = 10.0) -> None:
    data = json.dumps(payload).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"}, method="POST")
    with _OPENER.open(req, timeout=timeout) as resp:  # URLs from departments.yml, checked by the channel
        if resp.status >= 300:
            raise OSError(f"webhook answered {resp.status}")


def chat_escape(text: str) -> str:
    """Text shown as written in Slack-compatible markup: only &, < and > are escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def message_id(dedupe_key: str) -> str:
    """One Message-ID per outbox message, the same on every attempt (no time, no randomness):
    a copy sent again after a crash is recognisable as the same message."""
    return f"<{hashlib.sha256(dedupe_key.encode()).hexdigest()[:40]}@kb.local>"


class EmailChannel(Channel):
    """SMTP, with the server from the Config (KB_SMTP_*)."""

    name = "email"

    def __init__(self, config: Config, timeout: float = 10.0) -> None:
        self.config = config
        self.timeout = timeout

    @classmethod
    def from_config(cls, config: Config) -> EmailChannel:
        return cls(config, timeout=config.smtp_timeout)

    def refusal(self, target: str) -> str | None:
        return None if "@" in target else "not an email address"

    def render(self, notice: Notice) -> dict[str, Any]:
        return {"subject": notice.subject, "body": notice.body}

    def send(self, message: OutboxMessage) -> None:
        cfg = self.config
        email = EmailMessage()
        email["From"] = cfg.smtp_from
        email["To"] = message.target
        email["Subject"] = message.payload.get("subject", "")
        email["Message-ID"] = message_id(message.dedupe_key)
        email.set_content(message.payload.get("body", ""))
        with smtplib.SMTP(cfg.smtp_host, cfg.smtp_port, timeout=self.timeout) as smtp:
            if cfg.smtp_starttls:
                smtp.starttls()
            if cfg.smtp_user:
                smtp.login(cfg.smtp_user, cfg.smtp_password or "")
            smtp.send_message(email)


class WebhookChannel(Channel):
    """A Slack-compatible incoming webhook: ``{"text": ...}`` POSTed as JSON."""

    name = "webhook"

    def __init__(self, allow_http: frozenset[str] = frozenset(), timeout: float = 10.0) -> None:
        """``allow_http``: hosts that may be called over plain http (KB_WEBHOOK_ALLOW)."""
        self.allow_http = allow_http
        self.timeout = timeout

    @classmethod
    def from_config(cls, config: Config) -> WebhookChannel:
        return cls(frozenset(config.webhook_allow_hosts), timeout=config.webhook_timeout)

    def refusal(self, target: str) -> str | None:
        # departments.yml is written by many people: it must not make the server call
        # internal services (metadata endpoints, admin ports) on their behalf.
        parts = urlsplit(target)
        host = (parts.hostname or "").lower()
        if not host:
            return "not a URL"
        if parts.scheme == "https" or (parts.scheme == "http" and host in self.allow_http):
            return None
        return "only https:// webhooks are called (http:// only to hosts listed in KB_WEBHOOK_ALLOW)"

    def render(self, notice: Notice) -> dict[str, Any]:
        # Comments, queries, titles and sections are the users': none of their text may be chat markup
        # (<!channel> pings everyone, <https://evil|Click here> disguises a link). Slack's escaping.
        return {"text": chat_escape(f"{notice.subject}\n{notice.body}")}

    def send(self, message: OutboxMessage) -> None:
        why = self.refusal(message.target)  # rows queued before the rules changed are refused too
        if why:
            raise ValueError(f"webhook target refused: {why}")
        post_json(message.target, message.payload, self.timeout)


#: The registry: every channel kb can use, in the order their messages are written.
CHANNEL_TYPES: tuple[type[Channel], ...] = (EmailChannel, WebhookChannel)


class Channels:
    """The channels of one process, by name; outbox rows name theirs in ``kind``."""

    def __init__(self, channels: Iterable[Channel]) -> None:
        self._by_name = {c.name: c for c in channels}

    @classmethod
    def from_config(cls, config: Config) -> Channels:
        return cls(kind.from_config(config) for kind in CHANNEL_TYPES)

    @staticmethod
    def known() -> tuple[str, ...]:
        """The channel names kb has, without a Config (for validating ``notify:`` keys)."""
        return tuple(kind.name for kind in CHANNEL_TYPES)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._by_name)

    def __iter__(self) -> Iterator[Channel]:
        return iter(self._by_name.values())

    def get(self, name: str) -> Channel | None:
        return self._by_name.get(name)

    def for_department(self, notice: Notice, department: Department | None) -> list[OutboxMessage]:
        """The outbox rows telling ``department`` through every channel it lists."""
        return [m for c in self for m in c.messages(notice, c.targets(department))]

    def for_person(self, notice: Notice, email: str) -> list[OutboxMessage]:
        """The outbox rows telling one person: by email, the address kb knows people by."""
        mail = self.get(EmailChannel.name)
        return mail.messages(notice, [email]) if mail and mail.accepts(email) else []

    def problems(self, departments: Iterable[Department]) -> list[tuple[Department, str]]:
        """What ``kb check`` says about ``notify:``: channels kb does not have, targets refused."""
        out = []
        for dep in departments:
            for name in dep.notify:
                channel = self.get(str(name))
                if channel is None:
                    out.append((dep, f"'{dep.id}': notify lists '{name}', which is not a channel (channels: {', '.join(self.names)})"))
                    continue
                for value in notify_values(dep, str(name)):
                    why = channel.refusal(value) if isinstance(value, str) else "not text"
                    if why:
                        out.append((dep, f"'{dep.id}': {name} target {value!r} is not used: {why}"))
        return out

    def send(self, message: OutboxMessage) -> None:
        channel = self.get(message.kind)
        if channel is None:
            raise UnknownChannelError(f"unknown outbox kind {message.kind!r} (channels: {', '.join(self.names)})")
        channel.send(message)
