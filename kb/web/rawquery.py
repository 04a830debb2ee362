"""Query strings as curl sends them to ``kb serve --dev``: raw UTF-8 instead of percent-escapes.

A browser percent-encodes ``?q=ノート``; curl sends the bytes as they are. gunicorn (the
production server) refuses such a request line with a 400, as RFC 9112 allows; Werkzeug's
development server (``make run``) passes it on, as Latin-1 characters encoded as UTF-8 and
decoded as Latin-1 once more (its ``_wsgi_encoding_dance``), and only percent-escapes are
decoded as UTF-8 after that: the search saw mojibake ("ã\x83\x8e…"), found nothing and said
so. Escaping the original bytes first makes both spellings one query (bytes that are not
UTF-8 stay a query of odd characters, never an error).
"""

from __future__ import annotations

import string
from collections.abc import Callable, Iterable
from urllib.parse import quote

_KEEP = string.punctuation  # every ASCII separator and escape stays as it is


def original_bytes(qs: str) -> bytes:
    """The bytes a client sent for ``qs``: one Latin-1 character per byte (PEP 3333), undoing
    the development server's extra UTF-8 round when that is what happened."""
    raw = qs.encode("latin-1", "replace")
    try:
        inner = raw.decode("utf-8").encode("latin-1")
        inner.decode("utf-8")  # the extra round is undone only when it leaves UTF-8
    except (UnicodeDecodeError, UnicodeEncodeError):
        return raw
    return inner


class RawUTF8Query:
    """WSGI middleware: percent-encode the non-ASCII bytes of ``QUERY_STRING``."""

    def __init__(self, app: Callable) -> None:
        self.app = app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        qs = environ.get("QUERY_STRING", "")
        if not qs.isascii():
            environ["QUERY_STRING"] = quote(original_bytes(qs), safe=_KEEP)
        return self.app(environ, start_response)
