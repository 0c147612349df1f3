"""A small, safe Markdown subset for model descriptions: the HTML it writes is only its own tags.

Catalog descriptions (OpenRouter's style, or an operator's config) use a little Markdown:
paragraphs, links, `code`, **strong** and *emphasis*, bullet and numbered lists, the odd heading
or fenced code block. :func:`render_markdown` turns exactly that into HTML; everything else is
text. Safety comes from the shape of the code, not from cleaning afterwards: every piece of the
input reaches the output through ``html.escape`` (quotes included), the only tags are the ones
written here, and a link becomes an anchor only when its target is an absolute ``http(s)`` URL
(then with ``rel="noopener nofollow"``); any other target (``javascript:``, ``data:``, a
relative path) stays literal text. Raw HTML in the input is shown as text, images are not
loaded (the UI loads nothing from elsewhere).

Bounded: inline patterns scan at most a few hundred characters from any position, nesting
stops at :data:`MAX_DEPTH`, input beyond :data:`MAX_CHARS` is cut, and results are cached
(the catalog is immutable, so each description is rendered once).
"""

from __future__ import annotations

import html
import re
from functools import lru_cache

__all__ = ["MAX_CHARS", "markdown_text", "render_markdown"]

MAX_CHARS = 20_000
MAX_DEPTH = 4

_INLINE = re.compile(
    r"(?P<code_fence>`{1,2})(?P<code>[^`\n]{1,500}?)(?P=code_fence)(?!`)"
    r"|\[(?P<label>[^\[\]\n]{1,300})\]\((?P<url>[^\s()<>]{1,2000})(?:\s+\"[^\"\n]{0,200}\")?\)"
    r"|<(?P<autolink>https?://[^\s<>]{1,2000})>"
    r"|(?P<strong_mark>\*\*|__)(?P<strong>[^\s*_](?:[^\n]{0,500}?[^\s])??)(?P=strong_mark)"
    r"|(?<![\w*])\*(?P<em>[^\s*](?:[^*\n]{0,500}?[^\s*])??)\*(?![\w*])"
    r"|(?<![\w_])_(?P<em_u>[^\s_](?:[^_\n]{0,500}?[^\s_])??)_(?![\w_])"
)
_SAFE_URL = re.compile(r"https?://[^\s<>\"'`\\]+", re.IGNORECASE)
_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"^\s{0,3}[-*+]\s+(.*)$")
_NUMBERED = re.compile(r"^\s{0,3}\d{1,9}[.)]\s+(.*)$")


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _link(url: str, label_html: str) -> str | None:
    if not _SAFE_URL.fullmatch(url):
        return None
    return f'<a href="{_esc(url)}" rel="noopener nofollow">{label_html}</a>'


def _inline(text: str, depth: int = 0, *, links: bool = True) -> str:
    """Escaped text with code, links and emphasis made into tags."""
    if depth >= MAX_DEPTH:
        return _esc(text)
    out: list[str] = []
    last = 0
    for m in _INLINE.finditer(text):
        out.append(_esc(text[last : m.start()]))
        last = m.end()
        if m.group("code") is not None:
            out.append(f"<code>{_esc(m.group('code').strip() or m.group('code'))}</code>")
        elif m.group("url") is not None:
            anchor = _link(m.group("url"), _inline(m.group("label"), depth + 1, links=False)) if links else None
            out.append(anchor if anchor is not None else _esc(m.group(0)))
        elif m.group("autolink") is not None:
            url = m.group("autolink")
            anchor = _link(url, _esc(url)) if links else None
            out.append(anchor if anchor is not None else _esc(m.group(0)))
        elif m.group("strong") is not None:
            out.append(f"<strong>{_inline(m.group('strong'), depth + 1, links=links)}</strong>")
        else:
            body = m.group("em") if m.group("em") is not None else m.group("em_u")
            out.append(f"<em>{_inline(body, depth + 1, links=links)}</em>")
    out.append(_esc(text[last:]))
    return "".join(out)


@lru_cache(maxsize=512)
def render_markdown(text: str) -> str:
    """HTML for a description: ``<p>``, ``<ul>``/``<ol>``, ``<pre><code>``, and inline tags."""
    lines = text[:MAX_CHARS].replace("\r\n", "\n").replace("\r", "\n").split("\n")
    blocks: list[str] = []
    para: list[str] = []
    items: list[list[str]] = []
    kind = ""  # "ul" or "ol" while a list is open

    def close_paragraph() -> None:
        if para:
            blocks.append(f"<p>{_inline(' '.join(para))}</p>")
            para.clear()

    def close_list() -> None:
        nonlocal kind
        if items:
            lis = "".join(f"<li>{_inline(' '.join(item))}</li>" for item in items)
            blocks.append(f"<{kind}>{lis}</{kind}>")
            items.clear()
        kind = ""

    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        fence = _FENCE.match(line)
        if fence:
            close_paragraph()
            close_list()
            body: list[str] = []
            while i < len(lines) and not lines[i].strip().startswith(fence.group(1)):
                body.append(lines[i])
                i += 1
            i += 1  # the closing fence (or the end)
            blocks.append(f"<pre><code>{_esc(chr(10).join(body))}</code></pre>")
            continue
        if not line.strip():
            close_paragraph()
            close_list()
            continue
        heading = _HEADING.match(line)
        bullet = _BULLET.match(line)
        numbered = None if bullet else _NUMBERED.match(line)
        if heading:
            close_paragraph()
            close_list()
            blocks.append(f"<p><strong>{_inline(heading.group(1))}</strong></p>")
        elif bullet or numbered:
            close_paragraph()
            new_kind = "ul" if bullet else "ol"
            if kind != new_kind:
                close_list()
                kind = new_kind
            items.append([(bullet or numbered).group(1)])  # type: ignore[union-attr]
        elif items:
            items[-1].append(line.strip())  # a continuation line of the last item
        else:
            para.append(line.strip())
    close_paragraph()
    close_list()
    return "".join(blocks)


_PLAIN = re.compile(r"\[([^\[\]\n]{1,300})\]\([^\s()<>]{1,2000}\)|`{1,2}([^`\n]{1,500}?)`{1,2}|\*\*|__|(?<![\w*])\*(?!\s)|(?<!\s)\*(?![\w*])")


def markdown_text(text: str) -> str:
    """The description as plain text (for excerpts): link labels, code without backticks, no marks."""
    return _PLAIN.sub(lambda m: m.group(1) or m.group(2) or "", text[:MAX_CHARS])
