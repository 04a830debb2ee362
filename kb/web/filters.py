"""Template helpers: dates in the reader's locale, safe 'next' URLs."""

from __future__ import annotations

from datetime import date, datetime
from urllib.parse import urlsplit

from flask import Flask
from flask_babel import format_date


def safe_next(target: str | None, default: str = "/") -> str:
    """Only local paths: never redirect off-site (no open redirects)."""
    if not target or any(ord(c) < 32 or ord(c) == 127 for c in target):
        return default  # a control character (CR, LF) in a Location header is a server error
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def init_app(app: Flask) -> None:
    @app.template_filter("date")
    def date_filter(value: date | datetime | None, fmt: str = "medium") -> str:
        if value is None:
            return ""
        return format_date(value.date() if isinstance(value, datetime) else value, fmt)
