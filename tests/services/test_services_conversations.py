"""Grouping the sidebar's conversations by how recent they are (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chatbot.services.conversations import group_by_recency
from chatbot.store import Conversation

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)


def conversation(title: str, age: timedelta) -> Conversation:
    return Conversation(title=title, persona="support", updated_at=NOW - age)


def test_sections_in_order_and_empty_ones_left_out():
    items = [
        conversation("now", timedelta(minutes=5)),
        conversation("early today", timedelta(hours=9, minutes=29)),
        conversation("yesterday", timedelta(hours=10)),
        conversation("last week", timedelta(days=6)),
        conversation("ancient", timedelta(days=40)),
    ]
    groups = group_by_recency(items, NOW)
    assert [(label, [c.title for c in group]) for label, group in groups] == [
        ("Today", ["now", "early today"]),
        ("Yesterday", ["yesterday"]),
        ("Previous 7 days", ["last week"]),
        ("Older", ["ancient"]),
    ]
    assert group_by_recency(items[3:], NOW)[0][0] == "Previous 7 days"
    assert group_by_recency([], NOW) == []
