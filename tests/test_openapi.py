"""The OpenAPI document: every route is described or classified, and a schemathesis run against a live server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading

import pytest
from hypothesis import HealthCheck, given, settings

from kb.config import PROJECT_ROOT
from kb.web.openapi import NOT_JSON, document

from .conftest import seed_vector_cache, sqlite_url
from .test_hostile_copy import free_port

ADMIN = "admin@example.com"


def _endpoints_of_document(app) -> set[str]:
    adapter = app.url_map.bind("localhost")
    found = set()
    for path, ops in document(app)["paths"].items():
        for method in ops:
            endpoint, _ = adapter.match(path, method=method.upper())
            found.add(endpoint)
    return found


def test_every_route_is_described_or_classified_as_not_json(app):
    described = _endpoints_of_document(app)
    routed = {r.endpoint for r in app.url_map.iter_rules()}
    assert routed - described - NOT_JSON == set(), "a route with no OpenAPI entry: describe it in kb/web/openapi.py"
    assert described & NOT_JSON == set()
    # And no stale entries: every documented operation is a route of the app.
    assert NOT_JSON <= routed


def test_a_new_json_route_without_a_schema_fails_the_check(app):
    app.add_url_rule("/api/new-thing", "new_thing", lambda: {"ok": True})
    routed = {r.endpoint for r in app.url_map.iter_rules()}
    assert routed - _endpoints_of_document(app) - NOT_JSON == {"new_thing"}


def test_the_document_is_served_and_valid_openapi(client):
    from schemathesis.openapi import from_dict

    resp = client.get("/api/openapi.json")
    assert resp.status_code == 200 and resp.is_json
    doc = resp.get_json()
    assert doc["openapi"].startswith("3.") and "/api/search" in doc["paths"]
    assert doc["paths"]["/admin/flags.json"]["get"]["x-kb-roles"]  # who may call it is said
    schema = from_dict(doc)
    assert {op.ok().label for op in schema.get_all_operations()} >= {"GET /api/search", "POST /feedback/article"}


JSON = {"Accept": "application/json"}


def test_json_clients_get_json_errors_not_html_pages(client):
    # Found by schemathesis: a form post asking for JSON got an HTML 404 page (unknown article)
    # and an HTML 400 page (expired CSRF token), against the document's promise of a JSON body.
    page = client.get("/a/payroll/pay-schedule").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    missing = client.post("/feedback/article", headers=JSON, data={"csrf_token": token, "article": "", "helpful": "no"})
    assert missing.status_code == 404 and missing.is_json and missing.get_json()["message"]
    forged = client.post("/feedback/article", headers=JSON, data={"csrf_token": "forged", "article": "x", "helpful": "no"})
    assert forged.status_code == 400 and forged.is_json and "expired" in forged.get_json()["message"]
    # A browser still gets the pages.
    assert client.post("/feedback/article", data={"csrf_token": token, "article": ""}).mimetype == "text/html"


def test_the_api_answers_errors_in_json_whatever_the_client_accepts(bundled_config):
    from dataclasses import replace

    from kb import KB, create_app

    app = create_app(KB(replace(bundled_config, search_limit="1/minute")))
    c = app.test_client()
    c.get("/api/search?q=vpn")  # uses the budget (503 here: no index is built)
    limited = c.get("/api/search?q=vpn", headers={"Accept": "*/*"})
    assert limited.status_code == 429 and limited.is_json and limited.get_json()["message"]
    assert c.get("/api/nothing-here").is_json


# --- schemathesis against a live `kb serve` on the bundled articles ------------------------------------------------


@pytest.fixture(scope="module")
def live(tmp_path_factory, bundled_index):
    tmp = tmp_path_factory.mktemp("openapi-live")
    env = {**os.environ, "KB_ARTICLES_DIR": str(PROJECT_ROOT / "articles"), "KB_INDEX_DIR": str(tmp / "index"),
           "KB_DATABASE_URL": sqlite_url(tmp), "KB_EMBEDDERS": "use-m3", "KB_SECRET_KEY": "t", "KB_DEV": "0",
           "KB_SITE_URL": "http://127.0.0.1", "KB_TRUSTED_PROXIES": "127.0.0.1", "KB_ADMINS": ADMIN,
           "KB_SEARCH_LIMIT": "100000/minute", "KB_FEEDBACK_LIMIT_PERSON": "100000/minute",
           "KB_FEEDBACK_LIMIT_ADDRESS": "100000/minute", "PYTHONPATH": str(PROJECT_ROOT)}
    seed_vector_cache(tmp / "index", bundled_index)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "kb", "serve", "--port", str(port), "--no-watch"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=PROJECT_ROOT)
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "serving on" in line:
                break
        else:
            pytest.fail("kb serve stopped before serving:\n" + "".join(lines))
        threading.Thread(target=proc.stdout.read, daemon=True).start()
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def signed_in(live):
    """A session as the admin behind the SSO proxy, with its CSRF token (the forms' real path)."""
    import requests

    session = requests.Session()
    session.headers["X-Forwarded-Email"] = ADMIN
    session.headers["Accept"] = "application/json"  # the documented way to get JSON from the forms
    page = session.get(f"{live}/a/people/parental-leave", timeout=60)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    return session, token


@pytest.fixture(scope="module")
def api_schema(live):
    import schemathesis

    schema = schemathesis.openapi.from_url(f"{live}/api/openapi.json", wait_for_schema=60)
    schema.config.base_url = live
    return schema


EXAMPLES = int(os.environ.get("KB_SCHEMATHESIS_EXAMPLES", "25"))  # per operation; the run stays well under 2 min


def test_live_server_answers_by_the_schema(api_schema, signed_in, live):
    """No 500, and every status, content type, header and body as the document says (schemathesis checks)."""
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
              response_headers_conformance]
    session, token = signed_in
    failures: list[str] = []

    def check(case) -> None:
        if isinstance(case.body, dict) and "csrf_token" in case.body:
            case.body["csrf_token"] = token  # a generated token is (rightly) refused: send the session's
        try:
            case.call_and_validate(base_url=live, session=session, timeout=60, checks=checks)
        except AssertionError as exc:  # schemathesis' FailureGroup: keep going to report every operation's
            failures.append(str(exc)[:2000])
            raise

    operations = [op.ok() for op in api_schema.get_all_operations()]
    assert len(operations) >= 5
    for operation in operations:
        run = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                       suppress_health_check=list(HealthCheck))(given(case=operation.as_strategy())(check))
        try:
            run()
        except Exception:  # noqa: BLE001 - recorded above, the next operation still runs
            if not failures:
                raise
    assert not failures, "\n\n".join(failures)
