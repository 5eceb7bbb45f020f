"""A word-level diff of two replies, as segments a page can colour.

    word_diff("Your order ships today.", "Your order ships tomorrow.")
    # [("equal", "Your order ships "), ("delete", "today."), ("insert", "tomorrow.")]

Pure: difflib over words, with the whitespace between them kept as tokens of their own,
so joining the "equal" and "delete" segments gives back the original text exactly, and
"equal" and "insert" the new one (Markdown line breaks survive the round trip).
"""

from __future__ import annotations

import difflib
import re
from typing import Literal

Op = Literal["equal", "insert", "delete"]
Segment = tuple[Op, str]

_TOKENS = re.compile(r"\s+|\S+")


def tokens(text: str) -> list[str]:
    return _TOKENS.findall(text)


def word_diff(original: str, new: str) -> list[Segment]:
    """Segments in reading order; a replaced run shows its deletion before its insertion."""
    a, b = tokens(original), tokens(new)
    # autojunk off: with it, frequent tokens (every single space in a long reply) are
    # ignored as anchors and the diff of two similar replies turns into one big swap.
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    segments: list[Segment] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op in ("delete", "replace"):
            _append(segments, "delete", "".join(a[i1:i2]))
        if op in ("insert", "replace"):
            _append(segments, "insert", "".join(b[j1:j2]))
        if op == "equal":
            _append(segments, "equal", "".join(a[i1:i2]))
    return segments


def _append(segments: list[Segment], op: Op, text: str) -> None:
    if not text:
        return
    if segments and segments[-1][0] == op:
        segments[-1] = (op, segments[-1][1] + text)
    else:
        segments.append((op, text))


def side(segments: list[Segment], which: Literal["original", "new"]) -> str:
    """One side's text back from the segments."""
    skip = "insert" if which == "original" else "delete"
    return "".join(text for op, text in segments if op != skip)


def changed_words(segments: list[Segment]) -> tuple[int, int]:
    """(words inserted, words deleted): a size of the change that ignores whitespace."""
    inserted = sum(len(text.split()) for op, text in segments if op == "insert")
    deleted = sum(len(text.split()) for op, text in segments if op == "delete")
    return inserted, deleted
