"""QA search: the FTS5 index kept by triggers, safe queries from free text, and every filter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import inspect, select, text

from chatbot.store import (
    add_message,
    archive_conversation,
    create_conversation,
    delete_conversation,
    read_session,
    update_message,
    write_session,
)
from chatbot.store import qa as qa_store
from chatbot.store.search import (
    MARK_END,
    MARK_START,
    QueryError,
    SearchFilters,
    Term,
    fts_query,
    highlight_parts,
    parse_terms,
    search_conversations,
    search_ids,
)

DAY = timedelta(days=1)
T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


def make(engine, *turns, persona="support", version=1, owner="ana", day=0):
    """A conversation of (role, content[, status]) turns, active on T0 + `day` days."""
    with write_session(engine) as session:
        c = create_conversation(session=session, persona=persona, persona_version=version, owner=owner)
        ids = []
        for turn in turns:
            role, content, *status = turn
            m = add_message(session=session, conversation_id=c.id, role=role, content=content,
                            status=status[0] if status else "complete")
            ids.append(m.id)
        c.created_at = c.updated_at = T0 + day * DAY
        session.add(c)
    return c.id, ids


def find(engine, fulltext=None, **filters):
    with read_session(engine) as session:
        return search_conversations(session=session, filters=SearchFilters(**filters),
                                    limit=50, fulltext=fulltext)


def found(engine, **filters) -> set[int]:
    return {row.id for row in find(engine, **filters).rows}


def fts_count(engine, query: str) -> int:
    with read_session(engine) as session:
        return session.exec(
            text("SELECT count(*) FROM message_fts WHERE message_fts MATCH :q"), params={"q": query}
        ).one()[0]


def assert_index_consistent(engine):
    # FTS5's own check: with rank=1 it compares the index with the content table.
    with write_session(engine) as session:
        session.exec(text("INSERT INTO message_fts(message_fts, rank) VALUES ('integrity-check', 1)"))


# -- the index -----------------------------------------------------------------------------


@pytest.mark.sqlite_only  # FTS5
def test_triggers_index_inserts_streaming_updates_and_cascade_deletes(engine):
    cid, (user, reply) = make(engine, ("user", "Where is my parcel?"), ("assistant", "", "streaming"))
    assert fts_count(engine, '"parcel"') == 1 and fts_count(engine, '"courier"') == 0

    for partial in ("The courier", "The courier has it", "The courier has it; tracking soon."):
        with write_session(engine) as session:
            update_message(session=session, message_id=reply, content=partial)
    assert fts_count(engine, '"courier"') == 1
    assert fts_count(engine, '"tracking"') == 1
    with write_session(engine) as session:  # a rewrite removes words that are gone
        update_message(session=session, message_id=reply, content="Sent by post.", status="complete")
    assert fts_count(engine, '"courier"') == 0 and fts_count(engine, '"post"') == 1
    assert_index_consistent(engine)

    with write_session(engine) as session:
        assert delete_conversation(session=session, conversation_id=cid)
    assert fts_count(engine, '"parcel"') == 0 and fts_count(engine, '"post"') == 0
    assert_index_consistent(engine)


@pytest.mark.sqlite_only  # FTS5
def test_stemming_and_diacritics(engine):
    cid, _ = make(engine, ("user", "Two refunds for the Café Müller order"))
    assert found(engine, text="refund") == {cid}
    assert found(engine, text="cafe muller") == {cid}


def test_stemming_on_every_backend(engine):
    # FTS5's porter on SQLite, PostgreSQL's english snowball stemmer (no accent folding).
    cid, _ = make(engine, ("user", "Two refunds for the Café Müller order"), ("assistant", "Refunding now"))
    assert found(engine, text="refund") == {cid}
    assert found(engine, text="refunded orders") == {cid}
    assert found(engine, text="Café Müller") == {cid}
    assert find(engine, text="refunds").rows[0].matches == 2


# -- turning free text into a safe query ------------------------------------------------------


def test_terms_phrases_and_prefixes():
    assert parse_terms('refund "order  1042" ship* "late deliv"*') == [
        Term("refund"), Term("order 1042"), Term("ship", prefix=True), Term("late deliv", prefix=True)
    ]
    assert fts_query(parse_terms('say "hi"" there')) == '"say" "hi" "there"'
    assert fts_query([Term('a"b')]) == '"a""b"'
    assert parse_terms("* () -- \"\" **") == []
    assert parse_terms('"unclosed phrase') == [Term("unclosed phrase")]


def test_limits_are_clear_errors():
    with pytest.raises(QueryError, match="too long"):
        parse_terms("x" * 501)
    with pytest.raises(QueryError, match="too many"):
        parse_terms(" ".join(f"w{i}" for i in range(33)))


@pytest.mark.parametrize(
    "query",
    [
        '"', '""', '"""', "AND", "OR", "NOT", "refund AND", "OR refund", "NOT refund",
        "NEAR(refund order)", "NEAR(refund order, 2)", "(refund", "refund)", "{content}: refund",
        "content:refund", "^refund", "refund*", "refund **", "re*und", "-refund", "+refund",
        "refund\x00order", "col:", "'; DROP TABLE message; --", "ｒｅｆｕｎｄ", "退款", "🙂 refund",
        "refund \\", "\u200brefund", "a" * 200,
        # tsquery syntax on PostgreSQL
        "&", "|", "!", ":*", "<->", "refund & order", "refund | order", "!refund", "refund:*",
        "refund:A", "refund:*A", "(refund | order) & !x", "refund <-> order", "refund <2> order",
        "'refund'", "''", "'refund:*'", "\\", "refund\\", "\\'refund", "ref\\*", '"refund & order"*',
        "'; SELECT pg_sleep(10); --", "$$refund$$", "E'\\x27'", "%", "refund%", "_",
    ],
)
def test_hostile_queries_never_raise_fts_errors(engine, query):
    make(engine, ("user", "refund and order NOT shipped"))
    for fulltext in (True, False):
        if any(ch.isalnum() for ch in query):
            find(engine, fulltext=fulltext, text=query)  # no OperationalError
        else:  # at worst, the clear refusal
            with pytest.raises(QueryError):
                find(engine, fulltext=fulltext, text=query)


@pytest.mark.parametrize("query", ["*", "()", '""', "🙂", "--", "  "[:1] + "*"])
def test_text_without_words_is_refused_clearly(engine, query):
    with pytest.raises(QueryError, match="at least one word"):
        find(engine, text=query)


def test_operators_are_plain_words(engine):
    words, _ = make(engine, ("user", "black AND white, near the door, or not"))
    make(engine, ("user", "black cat"))
    assert found(engine, text="black AND white") == {words}
    assert found(engine, text="NEAR(black white)") == set()  # the phrase "near black white"
    assert found(engine, text="black OR cat") == set()  # "or" is a word that must appear
    assert found(engine, text="NOT") == {words}


def test_phrase_and_prefix_match_what_they_say(engine):
    phrase, _ = make(engine, ("user", "the tracking number is wrong"))
    apart, _ = make(engine, ("user", "number one: tracking is wrong"))
    assert found(engine, text='"tracking number"') == {phrase}
    assert found(engine, text="tracking number") == {phrase, apart}
    assert found(engine, text="track*") == {phrase, apart}
    assert found(engine, text="track") == {phrase, apart}  # porter: tracking -> track
    assert found(engine, text="trac") == set()
    assert found(engine, text='"number tracking"') == set()
    assert found(engine, text='"tracking num"*') == {phrase}
    assert found(engine, text='"wrong tracking"*') == set()
    assert found(engine, text="numb* wro*") == {phrase, apart}


def test_tsquery_syntax_in_the_text_is_plain_words(engine):
    plain, _ = make(engine, ("user", "refund the order"))
    other, _ = make(engine, ("user", "order shipped"))
    assert found(engine, text="refund | shipped") == set()  # both words, not either
    assert found(engine, text="!refund") == {plain}  # not a negation
    assert found(engine, text="refund:*") == {plain}
    assert found(engine, text="refun:*") == {plain}  # a prefix, as `refun*`
    assert found(engine, text="order & !refund") == {plain}
    assert found(engine, text="(order)") == {plain, other}
    assert found(engine, text="ship <-> order") == {other}  # no phrase operator: both words, any order


# -- results -------------------------------------------------------------------------------


def test_match_counts_snippets_and_relevance(engine):
    once, _ = make(engine, ("user", "my refund please"), ("assistant", "Let me look at the account."))
    twice, _ = make(engine, ("user", "refund"), ("assistant", "The refund is sent."), day=-5)
    page = find(engine, text="refund", order="relevance")
    assert [r.id for r in page.rows] == [twice, once] and page.total == 2
    best = page.rows[0]
    assert best.matches == 2 and best.message_count == 2
    assert MARK_START + "refund" + MARK_END in best.snippet
    assert ("refund", True) in highlight_parts(best.snippet)
    assert [r.id for r in find(engine, text="refund", order="recent").rows] == [once, twice]


def test_paging_counts_every_match(engine):
    ids = [make(engine, ("user", f"refund number {i}"), day=i)[0] for i in range(7)]
    with read_session(engine) as session:
        first = search_conversations(session=session, filters=SearchFilters(text="refund", order="recent"),
                                     limit=3, offset=0)
        last = search_conversations(session=session, filters=SearchFilters(text="refund", order="recent"),
                                    limit=3, offset=6)
        every = search_ids(session=session, filters=SearchFilters(order="recent"), limit=100)
    assert first.total == last.total == 7
    assert [r.id for r in first.rows] == ids[::-1][:3] and [r.id for r in last.rows] == [ids[0]]
    assert every == ids[::-1]


def test_snippet_text_cannot_fake_a_highlight(engine):
    make(engine, ("user", "refund \x02not\x03 highlighted"))
    (row,) = find(engine, text="refund").rows
    assert [p for p, marked in highlight_parts(row.snippet) if marked] == ["refund"]


# -- filters -------------------------------------------------------------------------------


def test_persona_version_owner_and_dates(engine):
    a, _ = make(engine, ("user", "hello"), persona="billing", version=2, owner="bo", day=0)
    b, _ = make(engine, ("user", "hello"), persona="billing", version=3, owner="ana", day=10)
    c, _ = make(engine, ("user", "hello"), persona="support", version=2, owner="bo", day=20)
    assert found(engine, persona="billing") == {a, b}
    assert found(engine, persona="billing", persona_version=2) == {a}
    assert found(engine, owner="bo") == {a, c}
    assert found(engine, since=T0 + 5 * DAY) == {b, c}
    assert found(engine, until=T0 + 15 * DAY) == {a, b}
    assert found(engine, since=T0 + 5 * DAY, until=T0 + 15 * DAY, text="hello") == {b}


def test_status_filter(engine):
    error, _ = make(engine, ("user", "hi"), ("assistant", "", "error"))
    partial, _ = make(engine, ("user", "hi"), ("assistant", "half", "partial"))
    make(engine, ("user", "hi"), ("assistant", "fine"))
    assert found(engine, status="errors") == {error}
    assert found(engine, status="partial") == {partial}


def test_feedback_filter(engine):
    up, (_, up_reply) = make(engine, ("user", "hi"), ("assistant", "good"))
    down, (_, down_reply) = make(engine, ("user", "hi"), ("assistant", "bad"))
    make(engine, ("user", "hi"), ("assistant", "unrated"))
    with write_session(engine) as session:
        qa_store.set_feedback(session=session, message_id=up_reply, owner="ana", rating=1)
        qa_store.set_feedback(session=session, message_id=down_reply, owner="ana", rating=-1)
    assert found(engine, feedback="up") == {up}
    assert found(engine, feedback="down") == {down}
    assert found(engine, feedback="any") == {up, down}


def test_tags_must_all_match_and_reply_tags_count(engine):
    both, (_, reply) = make(engine, ("user", "hi"), ("assistant", "x"))
    one, _ = make(engine, ("user", "hi"))
    with write_session(engine) as session:
        qa_store.add_annotation(session=session, conversation_id=both, kind="tag", text="billing", created_by="q")
        qa_store.add_annotation(session=session, conversation_id=both, message_id=reply, kind="tag",
                                text="tone", created_by="q")
        qa_store.add_annotation(session=session, conversation_id=one, kind="tag", text="billing", created_by="q")
    assert found(engine, tags=("billing",)) == {both, one}
    assert found(engine, tags=("billing", "tone")) == {both}
    assert found(engine, tags=("billing", "nope")) == set()
    assert find(engine, tags=("tone",)).rows[0].tags == ("billing", "tone")


def test_golden_and_archived(engine):
    gold, _ = make(engine, ("user", "hi"))
    hidden, _ = make(engine, ("user", "hi"))
    with write_session(engine) as session:
        qa_store.add_golden(session=session, conversation_id=gold, added_by="q")
        archive_conversation(session=session, conversation_id=hidden)
    assert found(engine, golden=True) == {gold}
    assert found(engine) == {gold}
    assert found(engine, include_archived=True) == {gold, hidden}
    assert find(engine, golden=True).rows[0].golden is True


@pytest.mark.sqlite_only  # FTS5
def test_the_substring_fallback_finds_the_same_conversations(engine):
    make(engine, ("user", "refund for order 1042"), ("assistant", "refund sent", "partial"))
    make(engine, ("user", "Where is order 77?"), persona="billing")
    make(engine, ("user", "nothing here"))
    for filters in ({"text": "refund"}, {"text": '"order 1042"'}, {"text": "order", "persona": "billing"},
                    {"text": "order", "status": "partial"}):
        fts = {r.id for r in find(engine, fulltext=True, **filters).rows}
        like = find(engine, fulltext=False, **filters)
        assert {r.id for r in like.rows} == fts and fts
        assert all(MARK_START in r.snippet for r in like.rows)


def test_bad_arguments_are_refused(engine):
    with pytest.raises(ValueError):
        find(engine, status="broken")
    with pytest.raises(ValueError):
        find(engine, feedback="sideways")
    with read_session(engine) as session, pytest.raises(ValueError):
        search_conversations(session=session, filters=SearchFilters(), limit=0)


def test_empty_database(engine):
    page = find(engine, text="refund")
    assert page.rows == [] and page.total == 0


def test_postgresql_finds_the_conversations_sqlite_finds(tmp_path, postgres_server):
    # The same data on both backends: FTS5 on SQLite, tsvector and tsquery on PostgreSQL.
    from chatbot.store import make_engine, migrate

    searches = [
        {"text": "refund"}, {"text": '"order 1042"'}, {"text": "ORDER", "persona": "billing"},
        {"text": "order", "status": "partial"}, {"text": "Café"}, {"text": "ship*"},
        {"text": "refund", "order": "recent"}, {"text": "refunds"}, {"text": "shipping"},
        {"text": '"order shipped"'}, {"text": "is"}, {"text": "nowhere"},
    ]
    results = []
    with postgres_server.database(template="migrated") as url:
        for engine in (make_engine(f"sqlite:///{tmp_path / 'search.db'}"), make_engine(url)):
            try:
                migrate(engine)
                make(engine, ("user", "refund for order 1042"), ("assistant", "refund sent", "partial"))
                make(engine, ("user", "Where is order 77?"), persona="billing", day=1)
                make(engine, ("user", "The Café order shipped"), ("assistant", "shipping is free"))
                make(engine, ("user", "nothing here"), day=2)
                pages = [find(engine, **filters).rows for filters in searches]
                results.append([[(r.id, r.matches > 0, bool(r.snippet)) for r in rows] for rows in pages])
            finally:
                engine.dispose()
    sqlite, postgresql = results
    assert postgresql == sqlite
    assert all(sqlite[:-1]) and sqlite[-1] == []


def test_postgresql_match_uses_the_gin_index(postgres_server):
    from chatbot.store import make_engine
    from chatbot.store.search_pg import hits

    with postgres_server.database(template="migrated") as url:
        engine = make_engine(url)
        try:
            with engine.connect() as connection:
                indexes = {i["name"]: i for i in inspect(connection).get_indexes("message")}
            assert "to_tsvector('chatbot_english'" in indexes["ix_message_content_fts"]["expressions"][0]

            cid, _ = make(engine, ("user", "refund please"))
            with write_session(engine) as session:
                session.exec(text(
                    "INSERT INTO message (conversation_id, position, role, content, status,"
                    " created_at, updated_at) SELECT :cid, g, 'user', 'filler text ' || g,"
                    " 'complete', now(), now() FROM generate_series(10, 5009) g"
                ), params={"cid": cid})
                session.exec(text("ANALYZE message"))
            statement = select(hits(parse_terms("refunds"), ranked=True)).compile(engine)
            with engine.begin() as connection:
                # Whether the planner *can* use it: a seq scan is never "cheaper" now.
                connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
                plan = connection.exec_driver_sql("EXPLAIN " + statement.string, statement.params).all()
            assert "ix_message_content_fts" in "\n".join(row[0] for row in plan)
            assert found(engine, text="refunds") == {cid}
        finally:
            engine.dispose()
