"""The outbox against a real SMTP server (aiosmtpd) and a real HTTP receiver on loopback."""

from __future__ import annotations

import json
import socket
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from kb.config import Config
from kb.content.models import Department
from kb.feedback import Channels, WebhookChannel
from kb.feedback import channels as channels_module
from kb.feedback.models import KEY_MAX, OutboxMessage
from kb.feedback.outbox import backoff, deliver_due

from .test_feedback_service import DEPARTMENTS, Clock, article, library, service


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's API)
        self.messages.append(envelope)
        return "250 OK"


class SMTPServer:
    """A real SMTP server on a fixed loopback port that can be started late (mail server down)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.inbox = Inbox()
        self.controller = None

    def start(self) -> None:
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller:
            self.controller.stop()


class Hooks(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Hooks.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook():
    Hooks.received = []
    server = HTTPServer(("127.0.0.1", 0), Hooks)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", Hooks.received
    server.shutdown()


@pytest.fixture
def smtp():
    server = SMTPServer(free_port())
    yield server
    server.stop()


def test_mail_server_down_then_up_delivers_exactly_once(db, smtp, webhook):
    url, received = webhook
    deps = dict(DEPARTMENTS)
    deps["payroll"] = type(deps["payroll"])(**{**deps["payroll"].__dict__, "notify": {"email": ["payroll-kb@x.example"], "webhook": url}})
    clock = Clock()
    mail = Channels.from_config(Config(smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_from="kb@x.example", webhook_allow="127.0.0.1"))
    svc = service(db, library(departments=deps), clock, mail)
    svc.vote(voter="e", reporter="e@x.example", article=article(), helpful=False, reason="outdated", comment="Old", notify=True)

    # The mail server is down: the email waits, the webhook goes out.
    first = deliver_due(db, mail, now=clock)
    assert (first.sent, first.failed) == (1, 1)
    assert len(received) == 1 and "Feedback #1" in received[0]["text"]
    with db.session() as s:
        email = s.scalar(select(OutboxMessage).where(OutboxMessage.kind == "email"))
        assert email.status == "pending" and email.attempts == 1 and "Connection" in email.last_error
        retry_at = email.next_attempt_at

    # Still down, and not yet due: nothing is tried.
    assert deliver_due(db, mail, now=clock).sent == 0
    # Hours later the server is up; the retry delivers it, once.
    smtp.start()
    clock.t += timedelta(hours=5)
    assert clock.t.replace(tzinfo=None) >= retry_at.replace(tzinfo=None)
    assert deliver_due(db, mail, now=clock).sent == 1
    assert deliver_due(db, mail, now=clock).sent == 0
    clock.t += timedelta(days=3)
    assert deliver_due(db, mail, now=clock).sent == 0
    assert len(smtp.inbox.messages) == 1
    msg = smtp.inbox.messages[0]
    assert msg.rcpt_tos == ["payroll-kb@x.example"]
    assert b"Subject: [kb] Feedback #1" in msg.content and b"Message-ID:" in msg.content
    assert len(received) == 1  # the webhook was not sent again either


def test_backoff_grows_and_is_capped():
    assert backoff(1) == timedelta(seconds=30)
    assert backoff(2) == timedelta(seconds=60)
    assert backoff(30) == timedelta(hours=3)


class Teams(WebhookChannel):
    """A Microsoft Teams incoming webhook: the whole of what a new channel takes."""

    name = "teams"

    def render(self, notice):
        return {"@type": "MessageCard", "title": notice.subject, "text": notice.body}


def test_a_new_channel_is_one_class_and_one_registry_line(db, webhook, monkeypatch):
    url, received = webhook
    monkeypatch.setattr(channels_module, "CHANNEL_TYPES", (*channels_module.CHANNEL_TYPES, Teams))  # the registry line
    channels = Channels.from_config(Config(webhook_allow="127.0.0.1"))
    assert channels.names == ("email", "webhook", "teams") and Channels.known() == channels.names
    deps = {"it": Department("it", "IT", notify={"teams": url})}
    svc = service(db, library(article("it/vpn.md", dept="it"), departments=deps), channels=channels)
    svc.vote(voter="e", reporter=None, article=article("it/vpn.md", dept="it"), helpful=False, reason="unclear")
    assert deliver_due(db, channels).sent == 1
    [card] = received
    assert card["@type"] == "MessageCard" and card["title"].startswith("[kb] Feedback #1")
    assert "Triage it: http://kb.test/admin/flags/1" in card["text"]


def test_a_message_for_a_channel_this_process_lacks_waits(db):
    svc = service(db)  # payroll: email and a webhook
    svc.vote(voter="e", reporter=None, article=article(), helpful=False, reason="unclear")
    report = deliver_due(db, Channels([]), now=Clock())
    assert (report.sent, report.failed) == (0, 2)
    with db.session() as s:
        assert {m.last_error.split(":")[0] for m in s.scalars(select(OutboxMessage))} == {"UnknownChannelError"}


def test_a_long_webhook_url_still_fits_the_dedupe_key(db):
    long_url = "https://hooks.example/" + "x" * 400
    deps = {"it": Department("it", "IT", notify={"webhook": long_url, "email": ["not-an-address", "it@x.example"]})}
    svc = service(db, library(article("it/vpn.md", dept="it"), departments=deps))
    svc.vote(voter="e", reporter=None, article=article("it/vpn.md", dept="it"), helpful=False, reason="unclear")
    with db.session() as s:
        rows = {m.kind: m for m in s.scalars(select(OutboxMessage))}
    assert set(rows) == {"email", "webhook"} and rows["email"].target == "it@x.example"
    assert rows["webhook"].target == long_url and len(rows["webhook"].dedupe_key) <= KEY_MAX
