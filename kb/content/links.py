"""Find the article a link in an article points to.

Handbooks link in many styles: ``../finance/expenses.md#receipts`` (files),
``informal-communication/`` (pretty URLs relative to the page),
``/handbook/values/`` (site-absolute, maybe under a prefix the site was
served at). All of them are resolved against the set of article paths.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

_INDEX_NAMES = ("index.md", "_index.md", "README.md", "readme.md")


def article_slug(path: str) -> str:
    """URL slug of an article path: no ``.md``; an index file stands for its folder."""
    stem = path[:-3] if path.endswith(".md") else path
    head, _, name = stem.rpartition("/")
    if name in ("index", "_index", "README", "readme"):
        return head or "index"
    return stem


@dataclass(frozen=True)
class Target:
    internal: bool  # points inside the site (not http:, mailto:, a bare #anchor...)
    path: str | None  # the article found, if any
    anchor: str | None
    explicit_md: bool  # written as a .md file: if not found, surely broken
    is_file: bool  # a non-Markdown file (image, PDF...)
    outside: bool = False  # a relative path that climbs out of the articles dir


class LinkResolver:
    def __init__(self, paths: set[str], url_aliases: dict[str, str] | None = None) -> None:
        """``url_aliases``: old or fixed URLs (``redirect_from``, ``permalink``) to article paths."""
        self.paths = paths
        self._lower = {p.lower(): p for p in paths}
        self._aliases = {a.strip("/").lower(): p for a, p in (url_aliases or {}).items()}
        #: Same value for resolvers that resolve every link alike.
        self.fingerprint = hashlib.sha256(
            json.dumps([sorted(paths), sorted(self._aliases.items())], ensure_ascii=False).encode("utf-8")
        ).hexdigest()
        stems: dict[str, list[str]] = {}
        for p in paths:
            stems.setdefault(article_slug(p).rsplit("/", 1)[-1].lower(), []).append(p)
        # Some generators link by page name alone ({% page "/travel-101/" %}).
        self._stems = {k: v[0] for k, v in stems.items() if len(v) == 1}

    def _lookup(self, candidate: str) -> str | None:
        candidate = candidate.strip("/")
        tries = [candidate] if candidate.endswith(".md") else []
        if candidate.endswith(".html"):
            tries.append(candidate[:-5] + ".md")
        if candidate.endswith("/index.md") or candidate == "index.md":
            # Hugo section pages are _index.md; links often say index.md.
            tries.append(candidate[: -len("index.md")] + "_index.md")
        tries += [candidate + ".md"] + [posixpath.join(candidate, n) for n in _INDEX_NAMES]
        for t in tries:
            t = posixpath.normpath(t) if t else t
            if t in self.paths:
                return t
            if t.lower() in self._lower:
                return self._lower[t.lower()]
        return None

    def resolve(self, href: str, from_path: str) -> Target:
        if "\x02" in href:  # an obfuscated mailto: Markdown has not decoded yet
            return Target(False, None, None, False, False)
        parts = urlsplit(href)
        if parts.scheme or parts.netloc or not parts.path:
            return Target(False, None, parts.fragment or None, False, False)
        path = unquote(parts.path)
        anchor = unquote(parts.fragment) or None
        explicit = path.endswith(".md")
        ext = posixpath.splitext(path.rstrip("/"))[1].lower()
        if ext and ext not in (".md", ".html", ".htm"):
            return Target(True, None, anchor, False, True)
        here = posixpath.dirname(from_path)
        if path.startswith("/"):
            bases = []
            segs = path.strip("/").split("/")
            # Site-absolute: the handbook may have been served under a prefix
            # (/handbook/...); try the path as given, then without leading parts.
            for i in range(len(segs)):
                bases.append("/".join(segs[i:]))
        else:
            bases = [posixpath.join(here, path)]
            if not explicit:
                # Pretty URLs: "x/" written in a/b.md is relative to the page URL /a/b/.
                page_dir = article_slug(from_path)
                if page_dir != "index":
                    bases.append(posixpath.join(page_dir, path))
        for base in bases:
            norm = posixpath.normpath(base) if base else ""
            if norm.startswith(".."):
                continue
            found = self._lookup(norm) or self._aliases.get(norm.lower())
            if found:
                return Target(True, found, anchor, explicit, False)
        if path.startswith("/") or not explicit:
            name = path.strip("/").rsplit("/", 1)[-1].lower()
            name = name[:-3] if name.endswith(".md") else name
            found = self._aliases.get(path.strip("/").lower()) or self._stems.get(name)
            if found:
                return Target(True, found, anchor, explicit, False)
        outside = not path.startswith("/") and posixpath.normpath(posixpath.join(here, path)).startswith("..")
        return Target(True, None, anchor, explicit and not outside and not path.startswith("/"), False, outside)
