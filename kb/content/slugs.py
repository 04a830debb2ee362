"""The one slug function: heading anchors and URL pieces.

Anchors must be stable (links and search hits point at them) and readable in
every language, so letters of any script are kept as they are rather than
transliterated: "通勤手当の申請" stays "通勤手当の申請".
"""

from __future__ import annotations

import re
import unicodedata

_DROP = re.compile(r"[^\w\s-]", re.UNICODE)
_SPACES = re.compile(r"[\s_]+", re.UNICODE)
_DASHES = re.compile(r"-{2,}")


def slugify(text: str, separator: str = "-") -> str:
    """Lower-case, keep letters/digits of any script, join words with hyphens.

    >>> slugify("Receipts & approvals")
    'receipts-approvals'
    >>> slugify("育児休業の申請方法")
    '育児休業の申請方法'
    """
    text = unicodedata.normalize("NFKC", text).strip().lower()
    text = _DROP.sub("", text)
    text = _SPACES.sub(separator, text)
    text = _DASHES.sub(separator, text)
    return text.strip(separator)
