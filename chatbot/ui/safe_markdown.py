"""Making model output safe to hand to `st.markdown`.

Streamlit already refuses raw HTML without `unsafe_allow_html`; this makes it inert in the
Markdown source itself, so no renderer can differ: `<` outside code becomes the CommonMark
escape `\\<` (shown as a plain "<"), and links whose scheme is not http(s), mailto or tel
(`javascript:`, `data:`, `vbscript:`, entity-obfuscated variants...) lose their target and
keep their text. Code spans and fenced blocks are left alone: they are shown verbatim.
"""

from __future__ import annotations

import html
import re

_FENCE = re.compile(r"(^[ \t]*(```|~~~)[^\n]*\n.*?(?:^[ \t]*\2[ \t]*$|\Z))", re.S | re.M)
_CODE_SPAN = re.compile(r"(`+)(?:.+?)\1", re.S)
_INLINE_LINK = re.compile(
    r"(!?)\[((?:[^\[\]]|\[[^\]]*\])*)\]\(\s*<?((?:[^()\s<>]|\([^()\s]*\))*)>?"
    r"(?:\s+[\"'(][^)]*[\"')])?\s*\)"
)
_REFERENCE = re.compile(r"^([ \t]{0,3}\[[^\]]+\]:)[ \t]*(\S+)(.*)$", re.M)
_SCHEME = re.compile(r"^([a-z][a-z0-9+.\-]*):", re.I)
_SAFE_SCHEMES = {"http", "https", "mailto", "tel"}


def is_safe_url(url: str) -> bool:
    # Browsers ignore whitespace and control characters inside a scheme; so do we.
    cleaned = re.sub(r"[\x00-\x20\x7f]+", "", html.unescape(url)).lower()
    match = _SCHEME.match(cleaned)
    return match is None or match.group(1) in _SAFE_SCHEMES


def _neutralise_links(text: str) -> str:
    def inline(match: re.Match[str]) -> str:
        return match.group(0) if is_safe_url(match.group(3)) else match.group(2)

    def reference(match: re.Match[str]) -> str:
        return match.group(0) if is_safe_url(match.group(2)) else f"{match.group(1)} #{match.group(3)}"

    return _REFERENCE.sub(reference, _INLINE_LINK.sub(inline, text))


def _escape_prose(text: str) -> str:
    """Escape `<` in prose, leaving inline code spans untouched."""
    out: list[str] = []
    last = 0
    for match in _CODE_SPAN.finditer(text):
        out.append(_neutralise_links(text[last : match.start()]).replace("<", "\\<"))
        out.append(match.group(0))
        last = match.end()
    out.append(_neutralise_links(text[last:]).replace("<", "\\<"))
    return "".join(out)


def safe_markdown(text: str) -> str:
    """Markdown that renders the same text, with no live HTML and no dangerous links."""
    out: list[str] = []
    last = 0
    for match in _FENCE.finditer(text):
        out.append(_escape_prose(text[last : match.start()]))
        out.append(match.group(0))
        last = match.end()
    out.append(_escape_prose(text[last:]))
    return "".join(out)
