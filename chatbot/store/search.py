"""Finding conversations for QA: filters plus full-text search over message content.

    filters = SearchFilters(text='refund "order 1042" ship*', persona="support", tags=("billing",))
    page = search_conversations(session=session, filters=filters, limit=50, offset=0)
    for row in page.rows:  # ConversationHit: the conversation, its match count and a snippet
        ...

On SQLite the text goes through the FTS5 table `message_fts` (migration 0005_qa, kept in
step by triggers), ranked by bm25. User text never reaches FTS5's query syntax: every word
is quoted (`fts_query`), so AND, NEAR, parentheses and stray quotes are plain words.
Supported: words (all must appear in one message), "exact phrases", and a trailing `*`
for a prefix. Stemming is FTS5's porter tokenizer: "refunds" finds "refund".

On PostgreSQL the same terms become a tsquery (built from bound parameters only) matched
against the GIN-indexed `to_tsvector` of migration 0007_message_search_pg, ranked by
ts_rank and highlighted by ts_headline: see `chatbot/store/search_pg.py`. Any other
database gets an ILIKE substring match per word (no stemming, no ranking beyond the match
count, a scan of the message table).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import and_, column, exists, func, literal_column, table, text
from sqlmodel import Session, col, select

from chatbot.store.conversations import escape_like
from chatbot.store.models import Conversation, Message, MessageStatus
from chatbot.store.qa_models import Annotation, Feedback, GoldenCase
from chatbot.store.qa_records import page_extras

MAX_QUERY_LENGTH = 500
MAX_TERMS = 32
SNIPPET_TOKENS = 16
SNIPPET_CHARS = 120  # the ILIKE fallback's window
# Around a highlighted match in `ConversationHit.snippet`. Control characters, so no
# message text can fake a highlight; `highlight_parts` splits on them for display.
MARK_START = "\x02"
MARK_END = "\x03"
ELLIPSIS = "…"

Status = Literal["errors", "partial"]
FeedbackFilter = Literal["up", "down", "any"]
Order = Literal["relevance", "recent"]
Mode = Literal["fts5", "tsearch", "like"]
STATUS_FILTERS: dict[str, str] = {
    "errors": MessageStatus.ERROR.value,
    "partial": MessageStatus.PARTIAL.value,
}
FEEDBACK_FILTERS = ("up", "down", "any")

_TOKEN = re.compile(r'"([^"]*)(?:"|$)(\*?)|([^\s"]+)')
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_UNMARK = re.compile(f"[{MARK_START}{MARK_END}]")


class QueryError(ValueError):
    """Search text that cannot become a query; the message says why, for a person."""


@dataclass(frozen=True)
class Term:
    text: str
    prefix: bool = False  # `ship*`: any word starting with it


@dataclass(frozen=True)
class SearchFilters:
    """What the QA page filters on; every field is optional and they combine with AND.

    Dates compare with the conversation's activity: it matches when it was active in
    [since, until), i.e. created before `until` and last updated at or after `since`.
    `tags` must all be on the conversation (or on one of its replies).
    """

    text: str = ""
    persona: str | None = None
    persona_version: int | None = None
    owner: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    status: Status | None = None  # has an error reply / a partial reply
    feedback: FeedbackFilter | None = None  # has a thumbs up / down / any rating
    tags: tuple[str, ...] = ()
    golden: bool = False
    include_archived: bool = False
    order: Order = "relevance"  # without text, always most recent first


@dataclass(frozen=True)
class ConversationHit:
    id: int
    title: str
    persona: str
    persona_version: int | None
    owner: str
    created_at: datetime
    updated_at: datetime
    archived: bool
    message_count: int
    matches: int  # messages matching the text; 0 without text
    snippet: str | None  # the best match, highlighted with MARK_START/MARK_END
    golden: bool
    tags: tuple[str, ...]


_CONVERSATION_FIELDS = (
    "id", "title", "persona", "persona_version", "owner", "created_at", "updated_at", "archived"
)


@dataclass(frozen=True)
class SearchPage:
    rows: list[ConversationHit]
    total: int  # conversations matching, all pages
    limit: int
    offset: int


def parse_terms(text: str) -> list[Term]:
    """Words, "phrases" and `prefix*` terms of the user's text, in order.

    Terms with no letter or digit (`*`, `()`, `--`) are dropped: the tokenizer would
    turn them into nothing, and an empty phrase matches no row at all.
    """
    if len(text) > MAX_QUERY_LENGTH:
        raise QueryError(f"The search is too long: at most {MAX_QUERY_LENGTH} characters.")
    text = unicodedata.normalize("NFC", _CONTROL.sub(" ", text))
    terms = []
    for match in _TOKEN.finditer(text):
        phrase, phrase_star, word = match.groups()
        if word is not None:
            term = Term(word.rstrip("*"), prefix=word.endswith("*"))
        else:
            term = Term(" ".join(phrase.split()), prefix=bool(phrase_star))
        if any(ch.isalnum() for ch in term.text):
            terms.append(term)
    if len(terms) > MAX_TERMS:
        raise QueryError(f"The search has too many words: at most {MAX_TERMS}.")
    return terms


def fts_query(terms: list[Term]) -> str:
    """An FTS5 MATCH expression in which every term is a quoted string, so nothing the
    user typed is read as an operator. Terms are ANDed (FTS5's implicit AND)."""
    return " ".join('"' + t.text.replace('"', '""') + '"' + ("*" if t.prefix else "") for t in terms)


def highlight_parts(snippet: str) -> list[tuple[str, bool]]:
    """A snippet as (text, highlighted) pieces, for a page to render as it likes."""
    parts: list[tuple[str, bool]] = []
    for i, piece in enumerate(_UNMARK.split(snippet)):
        if piece:
            parts.append((piece, i % 2 == 1))
    return parts


def search_conversations(
    *,
    session: Session,
    filters: SearchFilters,
    limit: int = 50,
    offset: int = 0,
    fulltext: bool | None = None,
) -> SearchPage:
    """One page of conversations matching `filters`; see the module docstring.

    `fulltext=None` uses the database's full-text search (FTS5 on SQLite, tsvector on
    PostgreSQL) where it has one; False forces the substring scan (the fallback for other
    databases, also what the benchmark compares against).
    """
    if limit < 1 or offset < 0:
        raise ValueError("limit must be positive and offset not negative")
    terms, mode = _terms(session, filters, fulltext)
    query, hits = _query(filters, terms, mode)
    total = func.count().over().label("total")
    columns = (Conversation, total) + ((hits.c.matches, hits.c.best_id) if hits is not None else ())
    # execute, not exec: SQLModel's exec would return only the first column.
    found = session.execute(query.with_only_columns(*columns).limit(limit).offset(offset)).all()
    if not found:
        return SearchPage([], 0, limit, offset)

    best_ids = [row[3] for row in found] if hits is not None else []
    if hits is None:
        snippets: dict[int, str] = {}
    elif mode == "fts5":
        snippets = _fts_snippets(session, terms, best_ids)
    elif mode == "tsearch":
        snippets = _search_pg().snippets(session, terms, best_ids)
    else:
        snippets = _like_snippets(session, terms, best_ids)
    counts, tags, golden = page_extras(session=session, conversation_ids=[row[0].id for row in found])
    rows = [
        ConversationHit(
            **{name: getattr(c, name) for name in _CONVERSATION_FIELDS},
            message_count=counts.get(c.id, 0),
            matches=row[2] if hits is not None else 0,
            snippet=snippets.get(row[3]) if hits is not None else None,
            golden=c.id in golden,
            tags=tuple(tags.get(c.id, ())),
        )
        for row in found
        for c in (row[0],)
    ]
    return SearchPage(rows, found[0][1], limit, offset)


def search_ids(
    *, session: Session, filters: SearchFilters, limit: int, fulltext: bool | None = None
) -> list[int]:
    """The ids of the conversations matching, in page order, up to `limit` (for exports)."""
    terms, mode = _terms(session, filters, fulltext)
    query, _ = _query(filters, terms, mode)
    return list(session.exec(query.with_only_columns(Conversation.id).limit(limit)).all())


_FULLTEXT = {"sqlite": "fts5", "postgresql": "tsearch"}


def _terms(session: Session, filters: SearchFilters, fulltext: bool | None) -> tuple[list[Term], Mode]:
    """The parsed terms and how to match them: "fts5", "tsearch" or "like"."""
    terms = parse_terms(filters.text) if filters.text.strip() else []
    if filters.text.strip() and not terms:
        raise QueryError("Type at least one word (letters or digits) to search for.")
    native = _FULLTEXT.get(session.get_bind().dialect.name, "like")
    return terms, native if fulltext is not False else "like"


def _search_pg() -> Any:
    # Imported on use: search_pg builds on this module's terms and markers.
    from chatbot.store import search_pg

    return search_pg


def _query(filters: SearchFilters, terms: list[Term], mode: Mode) -> tuple[Any, Any]:
    """The filtered, ordered conversations (columns chosen by the caller) and the hits
    subquery it joins, None without text."""
    recency = (col(Conversation.updated_at).desc(), col(Conversation.id).desc())
    query = select(Conversation).where(*_conditions(filters))
    if not terms:
        return query.order_by(*recency), None
    ranked = filters.order == "relevance"
    if mode == "fts5":
        hits = _fts_hits(terms, ranked)
    elif mode == "tsearch":
        hits = _search_pg().hits(terms, ranked)
    else:
        hits = _like_hits(terms)
    query = query.join(hits, hits.c.cid == Conversation.id)
    if filters.order == "relevance":
        return query.order_by(hits.c.best, *recency), hits
    return query.order_by(*recency), hits


# -- building blocks -----------------------------------------------------------------------

_FTS = table("message_fts", column("rowid"), column("rank"))
_FTS_NAME = literal_column("message_fts")


def _fts_hits(terms: list[Term], ranked: bool) -> Any:
    """Per conversation: matching messages, the best bm25 (lower is better) and that
    message's id. The bare `message.id` beside min() is SQLite's documented rule: it comes
    from the row holding the minimum, which is exactly the snippet we want. `rank` is
    FTS5's column for bm25(): the function itself is refused inside an aggregate.

    bm25 is most of the cost when a word is in most messages (it reads every hit's
    positions), so the recency order skips it and shows the latest matching message."""
    if ranked:
        best, best_id = func.min(_FTS.c.rank), col(Message.id)
    else:
        best, best_id = literal_column("0"), func.max(Message.id)
    return (
        select(
            Message.conversation_id.label("cid"),
            func.count().label("matches"),
            best.label("best"),
            best_id.label("best_id"),
        )
        .select_from(_FTS.join(Message, col(Message.id) == _FTS.c.rowid))
        .where(_FTS_NAME.op("MATCH")(fts_query(terms)))
        .group_by(Message.conversation_id)
        .subquery("hits")
    )


def _like_hits(terms: list[Term]) -> Any:
    # A message matches when it contains every term; "relevance" is the match count.
    # Prefix and word both become substrings: `ship*` and `ship` match the same here.
    conditions = [col(Message.content).ilike(f"%{escape_like(t.text)}%", escape="\\") for t in terms]
    return (
        select(
            Message.conversation_id.label("cid"),
            func.count().label("matches"),
            (-func.count()).label("best"),
            func.min(Message.id).label("best_id"),
        )
        .where(and_(*conditions))
        .group_by(Message.conversation_id)
        .subquery("hits")
    )


def _conditions(filters: SearchFilters) -> list[Any]:
    cid = Conversation.id
    where: list[Any] = []
    if not filters.include_archived:
        where.append(col(Conversation.archived).is_(False))
    if filters.persona is not None:
        where.append(Conversation.persona == filters.persona)
    if filters.persona_version is not None:
        where.append(Conversation.persona_version == filters.persona_version)
    if filters.owner is not None:
        where.append(Conversation.owner == filters.owner)
    if filters.since is not None:
        where.append(col(Conversation.updated_at) >= filters.since)
    if filters.until is not None:
        where.append(col(Conversation.created_at) < filters.until)
    if filters.status is not None:
        if filters.status not in STATUS_FILTERS:
            raise ValueError(f"status must be one of {', '.join(STATUS_FILTERS)}")
        where.append(
            exists().where(
                Message.conversation_id == cid, Message.status == STATUS_FILTERS[filters.status]
            )
        )
    if filters.feedback is not None:
        if filters.feedback not in FEEDBACK_FILTERS:
            raise ValueError(f"feedback must be one of {', '.join(FEEDBACK_FILTERS)}")
        rated = [Message.conversation_id == cid, Feedback.message_id == Message.id]
        if filters.feedback != "any":
            rated.append(Feedback.rating == (1 if filters.feedback == "up" else -1))
        where.append(exists().where(*rated))
    for tag in dict.fromkeys(filters.tags):  # each must be there: one EXISTS per tag
        where.append(
            exists().where(
                Annotation.conversation_id == cid, Annotation.kind == "tag", Annotation.text == tag
            )
        )
    if filters.golden:
        where.append(exists().where(GoldenCase.conversation_id == cid))
    return where


def _fts_snippets(session: Session, terms: list[Term], message_ids: list[int]) -> dict[int, str]:
    statement = text(
        "SELECT rowid, snippet(message_fts, 0, :start, :end, :ellipsis, :tokens), "
        "instr(content, :start) + instr(content, :end) "
        "FROM message_fts WHERE message_fts MATCH :query AND rowid = :id"
    )
    snippets, marked = {}, []
    # One lookup per row (a page is 50): FTS5 seeks a single rowid, but scans on IN.
    for message_id in message_ids:
        row = session.exec(  # type: ignore[call-overload]
            statement,
            params=dict(start=MARK_START, end=MARK_END, ellipsis=ELLIPSIS,
                        tokens=SNIPPET_TOKENS, query=fts_query(terms), id=message_id),
        ).first()
        if row is not None:
            snippets[row[0]] = row[1]
            if row[2]:
                marked.append(row[0])
    # Text that itself holds a marker character would fake a highlight: cut those
    # characters out and build the snippet in Python instead.
    snippets.update(_like_snippets(session, terms, marked))
    return snippets


def _like_snippets(session: Session, terms: list[Term], message_ids: list[int]) -> dict[int, str]:
    rows = session.exec(
        select(Message.id, Message.content).where(col(Message.id).in_(message_ids))
    ).all()
    return {message_id: _window(_UNMARK.sub("", content), terms) for message_id, content in rows}


def _window(content: str, terms: list[Term]) -> str:
    lowered = content.lower()
    spans = sorted(
        (m.start(), m.end())
        for t in terms
        for m in re.finditer(re.escape(t.text.lower()), lowered)
    )
    first = spans[0][0] if spans else 0
    start = max(0, first - SNIPPET_CHARS // 3)
    end = min(len(content), start + SNIPPET_CHARS)
    out, cursor = [], start
    for s, e in spans:
        if s < cursor or e > end:
            continue
        out += [content[cursor:s], MARK_START, content[s:e], MARK_END]
        cursor = e
    out.append(content[cursor:end])
    return (ELLIPSIS if start else "") + "".join(out) + (ELLIPSIS if end < len(content) else "")
