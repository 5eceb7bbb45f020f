"""Short texts on the QA pages (titles, tags, notes, snippets) as inert Markdown, and the
formats for times and counts they share (money and durations: `usage_panels`).

Message bodies go through `safe_markdown`: a reply may hold Markdown worth rendering.
Titles, tags, notes and search snippets are plain text that ends up inside buttons, badges
and highlight directives (`:orange-background[...]`), where one stray `]`, `*` or `:`
would change what is shown. So every ASCII punctuation mark gets CommonMark's backslash
escape, which shows the character itself and can never open a link, a code span, HTML or
a Streamlit directive.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from chatbot.store.search import highlight_parts

_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")


def escape(text: str) -> str:
    """`text` as Markdown that renders exactly that text, with nothing live in it; line
    breaks are left as they are (`plain` turns them into hard breaks)."""
    return _PUNCTUATION.sub(r"\\\1", str(text))


def plain(text: str) -> str:
    """`text` shown as written: Markdown and directives in it stay literal. Line breaks
    are kept as hard breaks."""
    return "  \n".join(escape(line) for line in str(text).splitlines())


def one_line(text: str, limit: int | None = None) -> str:
    """`plain` on a single line (for button labels and captions), cut at `limit`."""
    flat = " ".join(str(text).split())
    if limit is not None and len(flat) > limit:
        flat = flat[: limit - 1].rstrip() + "…"
    return plain(flat)


def snippet_markdown(snippet: str) -> str:
    """A search snippet with its matches on an orange background. Each piece is escaped
    before it is wrapped, so the markers are the only highlights there can be."""
    out = []
    for text, highlighted in highlight_parts(" ".join(snippet.split())):
        piece = plain(text)
        out.append(f":orange-background[{piece}]" if highlighted and piece.strip() else piece)
    return "".join(out)


def badge(text: str, color: str = "blue", icon: str | None = None) -> str:
    """An inline Markdown badge around escaped `text`."""
    inner = (f"{icon} " if icon else "") + one_line(text)
    return f":{color}-badge[{inner}]"


def when(moment: datetime | None) -> str:
    if moment is None:
        return "—"
    return moment.astimezone(UTC).strftime("%d %b %Y %H:%M")


def span(first: datetime, last: datetime) -> str:
    """"03 Mar 2026 09:12 – 14:30 UTC", the date once when it is the same day."""
    first, last = first.astimezone(UTC), last.astimezone(UTC)
    if first.date() == last.date():
        return f"{first:%d %b %Y %H:%M} – {last:%H:%M} UTC"
    return f"{when(first)} – {when(last)} UTC"


def count(n: int, word: str, plural: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (plural or word + 's')}"
