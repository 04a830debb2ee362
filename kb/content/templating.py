"""Remove Liquid (Jekyll/Eleventy) and Hugo template tags from Markdown.

Handbooks written for static site generators carry tags such as
``{% alert %}``, ``{{% details %}}``, ``{{< ref "x" >}}`` and ``{{ site.x }}``.
They mean nothing here: the text inside block tags is kept, the tags go.
Tags that name another page (``{% page "x/" %}``, ``{{< ref "x" >}}``) become
that path so the link still works. Fenced code blocks are left alone.
"""

from __future__ import annotations

import re

_PAGE_REF = re.compile(
    r"""\{%-?\s*(?:page|link|post_url)\s+["']?([^"'%}\s]+)["']?\s*-?%\}"""
    r"""|\{\{[<%]\s*(?:rel)?ref\s+["']?([^"'>%}\s]+)["']?\s*[>%]\}\}"""
)
_COMMENT_BLOCK = re.compile(r"\{%-?\s*comment\s*-?%\}.*?\{%-?\s*endcomment\s*-?%\}", re.S)
_HUGO_COMMENT = re.compile(r"\{\{<?/\*.*?\*/>?\}\}", re.S)
_TAGS = re.compile(
    r"\{%.*?%\}"  # Liquid tags, and Hugo {{% %}} is caught by the next one first
    r"|\{\{%.*?%\}\}"
    r"|\{\{<.*?>\}\}"
    r"|\{\{.*?\}\}",
    re.S,
)
_FENCE = re.compile(r"^(`{3,}|~{3,})")  # as Python-Markdown: fences start at column 0


def _strip(text: str) -> str:
    text = _COMMENT_BLOCK.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    text = _HUGO_COMMENT.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    text = _PAGE_REF.sub(lambda m: m.group(1) or m.group(2), text)
    # Keep line count so problems found later still point at the right line.
    text = re.sub(r"\{\{%.*?%\}\}", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    return _TAGS.sub(lambda m: "\n" * m.group(0).count("\n"), text)


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
