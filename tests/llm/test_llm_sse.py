"""The SSE decoder and the stream accumulator, against recorded streams and byte-level edge
cases. Pure functions: no server needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatbot.llm.accumulate import Snapshot, accumulate, accumulate_event, parse_event
from chatbot.llm.errors import StreamErrorEvent
from chatbot.llm.sse import SSEDecoder, SSEEvent

FIXTURES = Path(__file__).parent / "fixtures"


def decode(chunks: list[bytes]) -> list[SSEEvent]:
    decoder = SSEDecoder()
    events: list[SSEEvent] = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    events.extend(decoder.close())
    return events


def recorded(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_basic_stream_accumulates_text_usage_and_stop_reason():
    snapshot = accumulate(decode([recorded("basic.sse")]))
    assert snapshot.text == "Hello, Zoë! Your order ships today 📦."
    assert snapshot.stop_reason == "end_turn"
    assert snapshot.stopped and snapshot.started
    assert snapshot.model == "claude-sonnet-4-5"
    assert snapshot.message_id == "msg_01ABC"
    assert (snapshot.usage.input_tokens, snapshot.usage.output_tokens) == (25, 15)


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64])
def test_any_chunking_gives_the_same_events(size):
    raw = recorded("basic.sse")
    whole = decode([raw])
    chunks = [raw[i : i + size] for i in range(0, len(raw), size)]
    assert decode(chunks) == whole
    assert len(whole) == 9  # the ping included; the accumulator skips it


def test_utf8_character_split_across_chunks():
    raw = 'data: {"t":"caf\u00e9 \U0001f4e6"}\n\n'.encode()
    cut = raw.index("\U0001f4e6".encode()) + 2  # in the middle of the 4-byte emoji
    events = decode([raw[:cut], raw[cut:]])
    assert events == [SSEEvent("message", '{"t":"caf\u00e9 \U0001f4e6"}')]


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
def test_line_endings(newline):
    raw = recorded("basic.sse").replace(b"\n", newline)
    snapshot = accumulate(decode([raw]))
    assert snapshot.text.endswith("ships today 📦.")
    assert snapshot.stopped


def test_crlf_split_between_chunks_is_one_line_end():
    events = decode([b"event: a\r", b"\ndata: 1\r", b"\n\r", b"\n"])
    assert events == [SSEEvent("a", "1")]


def test_multi_line_data_is_joined_with_newlines():
    events = decode([b"event: x\ndata: first\ndata:second\ndata:  third\n\n"])
    assert events == [SSEEvent("x", "first\nsecond\n third")]


def test_comments_ids_and_events_without_data_are_skipped():
    events = decode([b": keep-alive\n\nid: 7\nretry: 100\n\nevent: lonely\n\ndata: ok\n\n"])
    assert events == [SSEEvent("message", "ok")]


def test_stream_ending_without_final_blank_line_still_delivers_last_event():
    raw = recorded("basic.sse").rstrip(b"\n")
    events = decode([raw])
    assert events[-1] == SSEEvent("message_stop", '{"type":"message_stop"}')
    # and with a trailing CR only
    events = decode([raw + b"\r"])
    assert events[-1].event == "message_stop"


def test_thinking_citations_and_unknown_events_are_ignored():
    snapshot = accumulate(decode([recorded("thinking_and_unknown.sse")]))
    assert snapshot.text == "I can help with that refund."
    assert snapshot.stop_reason == "max_tokens"
    # message_delta usage without input_tokens keeps the value from message_start
    assert snapshot.usage.input_tokens == 40
    assert snapshot.usage.cache_creation_input_tokens == 1200
    assert snapshot.usage.output_tokens == 9


def test_error_event_raises_with_its_type_and_keeps_the_partial_text():
    snapshot = Snapshot()
    with pytest.raises(StreamErrorEvent) as info:
        for sse in decode([recorded("error_midstream.sse")]):
            event = parse_event(sse)
            if event:
                accumulate_event(event, snapshot)
    assert info.value.error_type == "overloaded_error"
    assert info.value.retryable
    assert snapshot.text == "Partial ans"
    assert not snapshot.stopped


def test_accumulate_event_returns_only_text_deltas():
    snapshot = Snapshot()
    added = [
        accumulate_event(parse_event(sse), snapshot)
        for sse in decode([recorded("basic.sse")])
        if parse_event(sse)
    ]
    assert [a for a in added if a] == ["Hello", ", Zoë! Your order ", "ships today 📦."]


def test_non_json_data_is_ignored_not_fatal():
    assert parse_event(SSEEvent("content_block_delta", "{not json")) is None
    assert parse_event(SSEEvent("ping", "{}")) is None
