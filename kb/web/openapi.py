"""``GET /api/openapi.json``: the OpenAPI 3 document of every JSON endpoint, with the role each needs.

The document is data here, next to the list of routes that answer only HTML
(pages, redirects, CSV): tests/test_openapi.py checks that every route of the
app is in one of the two, so a new JSON route without a schema fails a test,
and a schemathesis run against a live server checks the answers against it.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, jsonify

from ..feedback import COMMENT_MAX, QUERY_MAX
from ..feedback.rules import REASONS, STATUSES

bp = Blueprint("openapi", __name__)

#: Endpoints that answer HTML pages, redirects, files or CSV, not JSON (classified, so none is forgotten).
NOT_JSON = frozenset({
    "static", "pages.home", "pages.department", "pages.article", "pages.set_language", "search.search_page",
    "feedback.dev_switch", "admin.flags", "admin.bulk", "admin.flag_detail", "admin.flag_action",
    "admin.outbox", "admin.outbox_retry", "me.requests", "me.request_action", "pages.favicon",
    "ops.metrics",  # Prometheus text format
    "insights.index", "insights.page", "insights.gap_flag", "insights.rate",  # pages, CSV/JSON downloads, forms
})

_STR = {"type": "string"}
_NULL_STR = {"type": ["string", "null"]}
#: Every error body: a translated message; the API's own checks add a stable ``error`` code.
_ERROR = {"type": "object", "required": ["message"],
          "properties": {"ok": {"const": False}, "error": _STR, "message": _STR}}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict:
    texts = {400: "Bad request (missing or invalid value, expired CSRF token, bad identity header)",
             403: "Not signed in, or not allowed (see x-kb-roles)", 404: "No such article",
             413: "Request body too large", 429: "Rate limit reached (Retry-After says when to retry)",
             503: "The search index is not built yet"}
    return {str(c): _json(_ERROR, texts[c]) for c in codes}


_HIT = {
    "type": "object",
    "required": ["article", "title", "url", "anchor", "heading", "department", "department_name", "lang", "snippet",
                 "score", "also_in"],
    "properties": {
        "article": _STR, "title": _STR, "url": _NULL_STR, "anchor": _NULL_STR, "heading": _NULL_STR,
        "department": _STR, "department_name": _STR, "lang": _STR,
        "snippet": {"type": "string", "description": "HTML: escaped text with <mark> around matched words"},
        "score": {"type": "number"},
        "also_in": {"type": "array", "items": {"type": "object", "required": ["article", "lang", "title", "url"],
                                               "properties": {"article": _STR, "lang": _STR, "title": _STR,
                                                              "url": _NULL_STR}}},
    },
}
_SEARCH = {
    "type": "object",
    "required": ["query", "truncated", "department", "did_you_mean", "corrected", "total", "took_ms", "results"],
    "properties": {
        "query": _STR, "truncated": {"type": "boolean"}, "department": _NULL_STR, "did_you_mean": _NULL_STR,
        "corrected": {"type": "boolean"}, "total": {"type": "integer", "minimum": 0},
        "took_ms": {"type": "number", "minimum": 0}, "results": {"type": "array", "items": _HIT},
    },
}
_SUGGEST = {
    "type": "object", "required": ["query", "suggestions"],
    "properties": {"query": _STR, "suggestions": {"type": "array", "items": {
        "type": "object", "required": ["label", "title", "url", "lang"],
        "properties": {"label": _STR, "title": _STR, "url": _STR, "lang": _STR}}}},
}
_RECEIPT = {
    "type": "object", "required": ["ok", "message", "flag", "department", "response_target"],
    "properties": {"ok": {"const": True}, "message": _STR, "flag": {"type": ["integer", "null"]},
                   "department": _NULL_STR, "response_target": _NULL_STR},
}
_FLAG = {
    "type": "object",
    "required": ["id", "kind", "department", "status", "created_at", "overdue", "article_changed", "reports"],
    "properties": {
        "id": {"type": "integer"}, "kind": {"enum": ["article", "gap"]}, "department": _STR,
        "status": {"enum": list(STATUSES)}, "reason": _NULL_STR, "article": _NULL_STR, "article_title": _NULL_STR,
        "section": _NULL_STR, "query": _NULL_STR, "comment": _NULL_STR, "assignee": _NULL_STR, "reporter": _NULL_STR,
        "created_at": {"type": "string", "format": "date-time"}, "due_at": {"type": ["string", "null"]},
        "overdue": {"type": "boolean"}, "resolution_note": _NULL_STR, "article_changed": {"type": "boolean"},
        "reports": {"type": "integer", "minimum": 1},
    },
}


def _query(name: str, schema: dict, description: str, required: bool = False) -> dict:
    return {"name": name, "in": "query", "required": required, "schema": schema, "description": description}


def _form(properties: dict, required: list[str]) -> dict:
    schema = {"type": "object", "required": ["csrf_token", *required],
              "properties": {"csrf_token": {"type": "string", "description": "From the page's form or <meta name=csrf-token>"},
                             **properties}}
    return {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": schema}}}


_ASK_JSON = ("Send `Accept: application/json` (or `X-Requested-With: fetch`) for JSON answers and errors; "
             "without it the form answers a browser with a redirect back and a flash message.")
_REDIRECT = {"302": {"description": "Without Accept: application/json: a redirect back to the page"}}
_FEEDBACK_ROLES = ["employee (signed in through the SSO proxy)", "anyone, when KB_ANONYMOUS_FEEDBACK is on"]
_FEEDBACK_ERRORS = {**_errors(400, 403, 413, 429), **_REDIRECT}


def _paths() -> dict[str, Any]:
    flag_filters = [
        _query("department", _STR, "Only this department"), _query("status", _STR, "open (default), all, or a status"),
        _query("reason", _STR, "Only this reason"), _query("article", _STR, "Only this article"),
        _query("age", _STR, "Older than this many days"), _query("q", _STR, "Text in comment or query"),
        _query("sort", _STR, "due (default), created, or department"),
    ]
    return {
        "/api/search": {"get": {
            "summary": "Search the articles (one hit per article family)", "x-kb-roles": ["anyone"],
            "parameters": [_query("q", {"type": "string"}, "The question or words", required=True),
                           _query("limit", {"type": "integer"}, "Results, 1 to 50 (clamped); default 10"),
                           _query("department", _STR, "Only this department's articles (unknown: ignored)")],
            "responses": {"200": _json(_SEARCH, "The results"), **_errors(400, 429, 503)},
        }},
        "/api/suggest": {"get": {
            "summary": "Typeahead suggestions (titles and headings)", "x-kb-roles": ["anyone"],
            "parameters": [_query("q", _STR, "What was typed so far (first 100 characters used)")],
            "responses": {"200": _json(_SUGGEST, "Up to 8 suggestions")},
        }},
        "/feedback/article": {"post": {
            "summary": "Vote on an article: helpful or not (a No opens a flag for its department)",
            "x-kb-roles": _FEEDBACK_ROLES, "description": _ASK_JSON,
            "requestBody": _form({
                "article": {"type": "string", "description": "Article id, e.g. people/parental-leave.md"},
                "helpful": {"enum": ["yes", "no"]}, "reason": {"enum": list(REASONS)},
                "comment": {"type": "string", "maxLength": COMMENT_MAX}, "section": _STR, "notify": {"enum": ["1"]},
            }, ["article", "helpful"]),
            "responses": {"200": _json(_RECEIPT, "Accepted, with the flag reference"), **_FEEDBACK_ERRORS,
                          **_errors(404)},
        }},
        "/feedback/gap": {"post": {
            "summary": "Report a search that found nothing useful", "x-kb-roles": _FEEDBACK_ROLES,
            "description": _ASK_JSON,
            "requestBody": _form({
                "query": {"type": "string", "maxLength": QUERY_MAX}, "department": _STR,
                "comment": {"type": "string", "maxLength": COMMENT_MAX}, "notify": {"enum": ["1"]},
                "from": {"type": "string", "maxLength": 20,
                         "description": "The search's reference (as on its result links): that search is no success"},
            }, ["department"]),
            "responses": {"200": _json(_RECEIPT, "Accepted, with the flag reference"), **_FEEDBACK_ERRORS},
        }},
        "/admin/flags.json": {"get": {
            "summary": "Export the feedback queue as JSON (the export is recorded in the audit log)",
            "x-kb-roles": ["department owner (their departments' flags)", "admin (all flags)"],
            "description": "Send `Accept: application/json` for JSON errors.", "parameters": flag_filters,
            "responses": {"200": _json({"type": "object", "required": ["flags"],
                                        "properties": {"flags": {"type": "array", "items": _FLAG}}}, "The flags"),
                          **_errors(400, 403)},
        }},
        "/api/openapi.json": {"get": {
            "summary": "This document", "x-kb-roles": ["anyone"],
            "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1")},
        }},
    }


def _ops_paths() -> dict[str, Any]:
    """Insights and the operations endpoints (health, readiness)."""
    return {
        "/api/insights/{section}": {"get": {
            "summary": "One insights report as JSON (search, helpfulness, service, content, gaps)",
            "x-kb-roles": ["department owner (their departments)", "admin (all)"],
            "parameters": [
                {"name": "section", "in": "path", "required": True,
                 "schema": {"enum": ["search", "helpfulness", "service", "content", "gaps"]}},
                _query("days", {"type": "integer", "minimum": 1}, "The last N days (7, 30, 90)"),
                _query("start", {"type": "string", "format": "date"}, "First day (UTC)"),
                _query("end", {"type": "string", "format": "date"}, "Last day (UTC)"),
                _query("department", _STR, "One department"),
            ],
            "responses": {"200": _json({"type": "object"}, "The report"), **_errors(400, 403, 404)},
        }},
        "/healthz": {"get": {
            "summary": "The process is alive", "x-kb-roles": ["anyone"],
            "responses": {"200": _json({"type": "object", "required": ["ok"], "properties": {"ok": {"const": True}}},
                                       "Alive")},
        }},
        "/readyz": {"get": {
            "summary": "Ready to serve: index loaded, database reachable, schema current", "x-kb-roles": ["anyone"],
            "responses": {code: _json({"type": "object", "required": ["ok", "reasons"],
                                       "properties": {"ok": {"type": "boolean"},
                                                      "reasons": {"type": "array", "items": _STR}}}, text)
                          for code, text in (("200", "Ready"), ("503", "Not ready, with the reasons"))},
        }},
    }


def document(app: Flask) -> dict[str, Any]:
    """The OpenAPI document; paths of routes this app does not have are left out."""
    adapter = app.url_map.bind("localhost")
    paths = {p: ops for p, ops in {**_paths(), **_ops_paths()}.items() if _routed(adapter, p, next(iter(ops)))}
    return {
        "openapi": "3.1.0",
        "info": {"title": f"{app.extensions['kb'].config.site_name} API", "version": "1",
                 "description": "JSON endpoints of kb. Identity comes from the SSO proxy's header (KB_IDENTITY_HEADER), "
                                "believed only from KB_TRUSTED_PROXIES; x-kb-roles says who may call each operation."},
        "paths": paths,
    }


def _routed(adapter: Any, path: str, method: str) -> bool:
    from werkzeug.exceptions import HTTPException

    try:
        adapter.match(path, method=method.upper())
    except HTTPException:
        return False
    return True


@bp.get("/api/openapi.json")
def openapi_json():  # noqa: ANN201
    from flask import current_app

    return jsonify(document(current_app))
