"""QA search on PostgreSQL: its own full-text search, with the result shape of FTS5's.

`chatbot/store/search.py` calls these when the database is PostgreSQL. A message matches
when `to_tsvector('chatbot_english', content) @@ query`, the expression migration
0007_message_search_pg indexes (GIN), so a search reads the index, not every message.

The tsquery is built from the parsed terms with bound parameters only; nothing the user
typed is parsed as tsquery syntax (`&`, `|`, `!`, `:*`, `<->`, quotes are plain text):

- a word or an "exact phrase" is `phraseto_tsquery(config, :text)`: one word gives one
  lexeme; text the parser splits (`order-1042`, `NEAR(black`) must appear in that order,
  as FTS5 reads a quoted string;
- a `prefix*` keeps only its letters and digits and goes to `to_tsquery` as a quoted
  lexeme with `:*` appended, after the rest of its phrase (`"late deliv"*`);
- terms are ANDed with `&&`.

Relevance is ts_rank normalised by document length (1), negated so that lower is better
as with bm25; the snippet is ts_headline around the best message's matches.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, literal, literal_column, select
from sqlmodel import Session, col

from chatbot.store.models import Message
from chatbot.store.search import ELLIPSIS, MARK_END, MARK_START, SNIPPET_TOKENS, Term

CONFIG = "chatbot_english"  # migration 0007_message_search_pg: english, no stop words
# Rank divided by 1 + log(length): a short message that is all match beats a long one
# that mentions it once, as bm25 would have it.
RANK_NORMALIZATION = 1
HEADLINE_OPTIONS = (
    f"StartSel={MARK_START}, StopSel={MARK_END}, "
    f"MaxWords={SNIPPET_TOKENS}, MinWords={SNIPPET_TOKENS // 2}, ShortWord=0"
)

_WORDS = re.compile(r"[^\W_]+")


def tsquery(terms: list[Term]) -> Any:
    """The terms as one tsquery expression, every piece of user text a bound parameter."""
    config = _config()
    query = None
    for term in terms:
        words = _WORDS.findall(term.text) if term.prefix else []
        if words:
            piece = func.to_tsquery(config, "'" + literal(words[-1]) + "':*")
            if len(words) > 1:
                before = func.phraseto_tsquery(config, " ".join(words[:-1]))
                piece = func.tsquery_phrase(before, piece)
        else:
            piece = func.phraseto_tsquery(config, term.text)
        query = piece if query is None else query.op("&&")(piece)
    return query


def document() -> Any:
    """The indexed expression; matching on any other would scan the table."""
    return func.to_tsvector(_config(), col(Message.content))


def hits(terms: list[Term], ranked: bool) -> Any:
    """Per conversation: matching messages, the best rank (negated: lower is better) and
    that message's id; the latest matching message when not `ranked`."""
    query = tsquery(terms)
    if ranked:
        rank = func.ts_rank(document(), query, RANK_NORMALIZATION)
        best, order = -rank, (rank.desc(), col(Message.id))
    else:
        best, order = literal_column("0"), (col(Message.id).desc(),)
    per_conversation = {"partition_by": Message.conversation_id}
    matched = (
        select(
            Message.conversation_id.label("cid"),
            Message.id.label("mid"),
            func.count().over(**per_conversation).label("matches"),
            func.row_number().over(**per_conversation, order_by=order).label("n"),
            best.label("best"),
        )
        .where(document().op("@@")(query))
        .subquery("matched")
    )
    return (
        select(
            matched.c.cid,
            matched.c.matches,
            matched.c.best,
            matched.c.mid.label("best_id"),
        )
        .where(matched.c.n == 1)
        .subquery("hits")
    )


def snippets(session: Session, terms: list[Term], message_ids: list[int]) -> dict[int, str]:
    """ts_headline of each message, with ELLIPSIS where the content goes on.

    The marker characters are cut out of the content first, so no message text can fake
    a highlight."""
    content = func.translate(col(Message.content), MARK_START + MARK_END, "")
    headline = func.ts_headline(_config(), content, tsquery(terms), HEADLINE_OPTIONS)
    rows = session.execute(
        select(Message.id, content, headline).where(col(Message.id).in_(message_ids))
    ).all()
    return {message_id: _ellipsised(text, marked) for message_id, text, marked in rows}


def _ellipsised(content: str, headline: str) -> str:
    plain = headline.replace(MARK_START, "").replace(MARK_END, "")
    start = content.find(plain)
    if start < 0:  # ts_headline rewrote some whitespace: no ellipses rather than wrong ones
        return headline
    end = start + len(plain)
    return (ELLIPSIS if start else "") + headline + (ELLIPSIS if end < len(content) else "")


def _config() -> Any:
    # A regconfig literal, not a parameter: the planner matches the index expression
    # only against the same constant.
    return literal_column(f"'{CONFIG}'::regconfig")
