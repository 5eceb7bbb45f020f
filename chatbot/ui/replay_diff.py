"""A word diff as Markdown: inserted words on green, deleted ones struck through on red.

    st.markdown(diff_markdown([("equal", "Ships "), ("delete", "today"), ("insert", "now")]))

The segments are model output, cut at arbitrary word boundaries, so Markdown formatting
inside them cannot be trusted to pair up (a `**` or a backtick in one segment and its
partner in the next). Each segment is therefore shown as plain text: every character
Markdown, Streamlit's directives (`:green[...]`), math (`$`) or HTML could act on is
backslash-escaped (`qa_text.escape`), which is stricter than `safe_markdown` (no live
HTML, no links at all) and cannot be undone by a neighbouring segment. The replies themselves are shown beside
the diff with `safe_markdown`, formatting and all.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from chatbot.services.word_diff import Segment

from .qa_text import escape

_COLOURS = {"insert": ":green-background[{}]", "delete": ":red-background[~~{}~~]"}


def _line_breaks(newlines: str) -> str:
    # A blank line is a paragraph break; a single newline becomes a hard break.
    return "\n\n" if newlines.count("\n") > 1 else "  \n"


def _mark(op: str, text: str) -> str:
    """One line's worth of a segment, coloured; whitespace at its ends stays outside the
    directive (a strikethrough cannot end on a space)."""
    core = text.strip()
    if not core or op not in _COLOURS:
        return escape(text)
    lead = text[: len(text) - len(text.lstrip())]
    trail = text[len(text.rstrip()) :]
    return lead + _COLOURS[op].format(escape(core)) + trail


def diff_markdown(segments: Sequence[Segment]) -> str:
    """The whole diff in reading order. A coloured span never crosses a line: each line of
    a segment is coloured on its own."""
    out: list[str] = []
    for op, text in segments:
        for piece in re.split(r"(\s*\n\s*)", text):
            if "\n" in piece:
                out.append(_line_breaks(piece))
            elif piece:
                out.append(_mark(op, piece))
    return "".join(out)
