"""Site URLs made outside a request: article links in rendered Markdown, emails,
webhooks and the CLI. Inside the web layer, ``url_for`` names the same routes;
``tests/test_urls.py`` checks the two agree.
"""

from __future__ import annotations

import re

from .links import article_slug

ARTICLE_PREFIX = "/a/"
#: ASCII that cannot stand in a URL path or fragment; letters of any script stay
#: readable ("/a/people/育児休業#申請方法"), as browsers show them.
_UNSAFE = re.compile(r'[\x00-\x20"#%<>?\\^`{|}\x7f]')


def _quote(text: str) -> str:
    return _UNSAFE.sub(lambda m: f"%{ord(m.group()):02X}", text)


def article_path(path_or_slug: str, anchor: str | None = None) -> str:
    """``/a/<slug>#anchor`` for an article path (``people/onboarding/index.md``) or slug."""
    slug = article_slug(path_or_slug) if path_or_slug.endswith(".md") else path_or_slug
    return ARTICLE_PREFIX + _quote(slug) + (f"#{_quote(anchor)}" if anchor else "")


class SiteUrls:
    """Absolute URLs of the site at ``site_url`` (KB_SITE_URL)."""

    def __init__(self, site_url: str, diff_url: str | None = None) -> None:
        self.site_url = site_url.rstrip("/")
        self.diff_template = diff_url

    def absolute(self, path: str) -> str:
        return self.site_url + path

    def article(self, path_or_slug: str, anchor: str | None = None) -> str:
        return self.absolute(article_path(path_or_slug, anchor))

    def flag(self, flag_id: int) -> str:
        """The flag's page in the triage queue."""
        return self.absolute(f"/admin/flags/{flag_id}")

    def diff(self, old: str, new: str, path: str) -> str | None:
        """The repository's compare view between two commits (KB_DIFF_URL), if configured."""
        if not self.diff_template:
            return None
        return self.diff_template.format(old=old, new=new, path=path)
