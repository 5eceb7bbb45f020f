"""Refusing regular expressions that could freeze the process. Pure.

Python's `re` has no timeout and holds the GIL while it matches, so a runaway pattern in
a QA check would stall every thread of the app. Instead of a timeout, a pattern must be
short, must not have the shapes that backtrack exponentially (a repeat inside a variable
repeat, a variable repeat of an alternation), and may have only a few open-ended repeats;
the caller also caps the text searched. Atomic groups `(?>...)` and possessive repeats
`a++` cannot backtrack into themselves, so they are accepted and suggested as the fix.
QA are trusted staff and replies are prose, which keeps the remaining polynomial cases
(like `.*a.*b` on one very long line) harmless in practice.

The check reads the pattern's parse tree from `re._parser`, a private module (stable
since Python 3.11, where it replaced `sre_parse`); without it only the length cap applies.
"""

from __future__ import annotations

from typing import Any

try:
    from re import _constants as sre_constants
    from re import _parser as sre_parser
except ImportError:  # pragma: no cover - the module moved; fall back to the length cap
    sre_constants = sre_parser = None  # type: ignore[assignment]

MAX_PATTERN_CHARS = 300
MAX_UNBOUNDED_REPEATS = 3


class RegexRefused(ValueError):
    """A pattern that could take exponential time; the message says how to fix it."""


def refuse_slow(pattern: str) -> None:
    """Refuse the shapes that make a backtracking engine take exponential time:
    a repeat inside a variable repeat (`(a+)+`, `(\\w+\\s?)*`) and a variable repeat of an
    alternation (`(foo|fo)+`), plus too many unbounded repeats in all. Atomic groups and
    possessive repeats cannot backtrack into themselves, so they are the suggested fix."""
    if sre_parser is None:  # pragma: no cover
        return
    parsed = sre_parser.parse(pattern)
    unbounded = _walk(list(parsed), inside_repeat=False)
    if unbounded > MAX_UNBOUNDED_REPEATS:
        raise RegexRefused(
            f"The pattern has {unbounded} open-ended repeats (+, *, {{n,}}); at most "
            f"{MAX_UNBOUNDED_REPEATS} are allowed, so it cannot take minutes on a long reply."
        )


def _walk(items: list[Any], *, inside_repeat: bool) -> int:
    c = sre_constants
    unbounded = 0
    for op, av in items:
        if op in (c.MAX_REPEAT, c.MIN_REPEAT):
            low, high, body = av
            variable = low != high
            if inside_repeat and variable:
                raise RegexRefused(
                    "The pattern repeats a group that itself repeats (like (a+)+), which can take "
                    "forever on some replies. Simplify it, or make the inner part atomic: (?>...) "
                    "or a possessive repeat such as a++."
                )
            if variable and high > 1 and _has_branch(list(body)):
                raise RegexRefused(
                    "The pattern repeats an alternation (like (foo|fo)+), which can take forever on "
                    "some replies. Make it atomic, e.g. (?>foo|fo)+, or repeat a character class."
                )
            unbounded += high == c.MAXREPEAT
            unbounded += _walk(list(body), inside_repeat=inside_repeat or (variable and high > 1))
        elif op in (c.POSSESSIVE_REPEAT, c.ATOMIC_GROUP):
            continue  # no backtracking into these
        elif op == c.SUBPATTERN:
            unbounded += _walk(list(av[3]), inside_repeat=inside_repeat)
        elif op == c.BRANCH:
            unbounded += sum(_walk(list(b), inside_repeat=inside_repeat) for b in av[1])
        elif op in (c.ASSERT, c.ASSERT_NOT):
            unbounded += _walk(list(av[1]), inside_repeat=inside_repeat)
        elif op == c.GROUPREF_EXISTS:
            for branch in av[1:]:
                if branch is not None:
                    unbounded += _walk(list(branch), inside_repeat=inside_repeat)
    return unbounded


def _has_branch(items: list[Any]) -> bool:
    c = sre_constants
    for op, av in items:
        if op == c.BRANCH:
            return True
        if op == c.SUBPATTERN and _has_branch(list(av[3])):
            return True
    return False
