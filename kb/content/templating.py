"""Remove Liquid (Jekyll/Eleventy) and Hugo template tags from Markdown.

Handbooks written for static site generators carry tags such as
``{% alert %}``, ``{{% details %}}``, ``{{< ref "x" >}}`` and ``{{ site.x }}``.
They mean nothing here: the text inside block tags is kept, the tags go.
Tags that name another page (``{% page "x/" %}``, ``{{< ref "x" >}}``) become
that path so the link still works. Fenced code blocks are left alone.
"""

from __future__ import annotations

import re

from .scan import blank_blocks, blank_tags

_PAGE_REF = re.compile(
    r"""\{%-?\s*(?:page|link|post_url)\s+["']?([^"'%}\s]+)["']?\s*-?%\}"""
    r"""|\{\{[<%]\s*(?:rel)?ref\s+["']?([^"'>%}\s]+)["']?\s*[>%]\}\}"""
)
# Block comments ({% comment %}...{% endcomment %}, {{/* */}}) as start and end:
# ``start.*?end`` as one regex was quadratic on many unclosed starts (see scan.py).
_COMMENT_START = re.compile(r"\{%-?\s*comment\s*-?%\}")
_COMMENT_END = re.compile(r"\{%-?\s*endcomment\s*-?%\}")
_HUGO_COMMENT_START = re.compile(r"\{\{<?/\*")
_HUGO_COMMENT_END = re.compile(r"\*/>?\}\}")
# Was ``\{%.*?%\}|\{\{%.*?%\}\}|\{\{<.*?>\}\}|\{\{.*?\}\}`` (re.S), in that order.
_HUGO_SHORTCODE = (("{{%", "%}}"),)
_TAGS = (("{%", "%}"), ("{{%", "%}}"), ("{{<", ">}}"), ("{{", "}}"))
_FENCE = re.compile(r"^(`{3,}|~{3,})")  # as Python-Markdown: fences start at column 0


def _strip(text: str) -> str:
    # Removed tags keep their line breaks (scan.py) so problems found later point at the right line.
    text = blank_blocks(text, _COMMENT_START, _COMMENT_END)
    text = blank_blocks(text, _HUGO_COMMENT_START, _HUGO_COMMENT_END)
    text = _PAGE_REF.sub(lambda m: m.group(1) or m.group(2), text)
    text = blank_tags(text, _HUGO_SHORTCODE)
    return blank_tags(text, _TAGS)


def strip_template_tags(markdown: str) -> str:
    """Return ``markdown`` without template tags, outside fenced code only."""
    if "{%" not in markdown and "{{" not in markdown:
        return markdown
    segments: list[tuple[bool, list[str]]] = [(False, [])]
    fence: str | None = None
    for line in markdown.splitlines(keepends=True):
        m = _FENCE.match(line)
        if fence is None and m:
            fence = m.group(1)[0] * 3
            segments.append((True, [line]))
        elif fence is not None:
            segments[-1][1].append(line)
            if line.strip().startswith(fence) and line.strip().strip(fence[0]) == "":
                fence = None
                segments.append((False, []))
        else:
            segments[-1][1].append(line)
    if fence is not None:
        # A fence that never closes is not code to Markdown either.
        segments[-1] = (False, segments[-1][1])
    return "".join("".join(lines) if code else _strip("".join(lines)) for code, lines in segments)
