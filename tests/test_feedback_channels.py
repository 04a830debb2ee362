"""Where notifications may go: webhooks only to https (or allowed http hosts), no redirects, kb check says so."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from click.testing import CliRunner

from kb.cli import main
from kb.content.models import Department
from kb.feedback.channels import Channels, WebhookChannel
from kb.feedback.models import OutboxMessage


def test_webhook_targets_are_https_or_allowed_http_hosts():
    channel = WebhookChannel(frozenset({"hooks.internal"}))
    assert channel.accepts("https://hooks.slack.com/services/T/B/x")
    assert channel.accepts("http://hooks.internal:8080/kb")
    for refused in ("http://169.254.169.254/latest/meta-data/", "http://localhost:5432/", "file:///etc/passwd",
                    "gopher://x/", "ftp://hooks.internal/", "https:///no-host", "not a url", ""):
        assert not channel.accepts(refused), refused


def test_refused_targets_get_no_outbox_rows_and_are_not_sent(tmp_path):
    channels = Channels([WebhookChannel()])
    dep = Department("it", "IT", notify={"webhook": ["http://169.254.169.254/x", "https://hooks.example/kb"]})
    assert channels.get("webhook").targets(dep) == ["https://hooks.example/kb"]
    queued = OutboxMessage(kind="webhook", target="http://10.0.0.1/admin", payload={"text": "x"}, dedupe_key="k")
    with pytest.raises(ValueError, match="refused"):
        channels.send(queued)  # a row written before the rule changed is refused at sending too


class Redirecting(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_POST(self):  # noqa: N802
        Redirecting.hits.append(self.path)
        self.send_response(307)
        self.send_header("Location", "/internal-admin")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_webhook_that_redirects_is_not_followed():
    Redirecting.hits = []
    server = HTTPServer(("127.0.0.1", 0), Redirecting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        channel = WebhookChannel(frozenset({"127.0.0.1"}))
        url = f"http://127.0.0.1:{server.server_port}/hook"
        with pytest.raises(OSError):
            channel.send(OutboxMessage(kind="webhook", target=url, payload={"text": "x"}, dedupe_key="k"))
        assert Redirecting.hits == ["/hook"]  # never /internal-admin
    finally:
        server.shutdown()


def test_kb_check_reports_refused_targets_and_unknown_channels(make_articles):
    root = make_articles({
        "departments.yml": """
            departments:
              - id: it
                name: IT
                notify: {webhook: "http://169.254.169.254/latest", email: [it@x.example]}
              - id: hr
                name: HR
                notify: {pager: "+1 555 0100", webhook: "https://hooks.example/hr"}
            """,
        "it/vpn.md": "---\ntitle: VPN\n---\nConnect.\n",
        "hr/leave.md": "---\ntitle: Leave\n---\n20 days.\n",
    })
    result = CliRunner().invoke(main, ["check", "--articles", str(root)])
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if "[notify-target]" in line]
    assert len(lines) == 2, result.output
    assert lines[0].endswith("departments.yml:2: error: 'it': webhook target 'http://169.254.169.254/latest' is not used: "
                             "only https:// webhooks are called (http:// only to hosts listed in KB_WEBHOOK_ALLOW) [notify-target]")
    assert "departments.yml:5: error: 'hr': notify lists 'pager', which is not a channel (channels: email, webhook)" in lines[1]
    allowed = CliRunner(env={"KB_WEBHOOK_ALLOW": "169.254.169.254"}).invoke(main, ["check", "--articles", str(root)])
    assert allowed.output.count("[notify-target]") == 1
