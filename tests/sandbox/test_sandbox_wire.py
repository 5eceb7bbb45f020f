"""The wire builders and the playback scripts, without a socket."""

from __future__ import annotations

import pytest
from sandbox_helpers import parse_sse, streamed_text

from chatbot.sandbox import faults, playback, wire
from chatbot.sandbox.replies import Completion

COMPLETION = Completion("Hello there, how can I help?", "end_turn", None, 8)


def events() -> wire.StreamEvents:
    return wire.stream_events("msg_1", "claude-haiku-4-5", COMPLETION, 12)


def played(script: list) -> str:
    return b"".join(action.data for action in script if isinstance(action, playback.Send)).decode()


def test_split_deltas_keeps_trailing_space_and_joins_back():
    assert wire.split_deltas("Hello there,\n\n1. Go") == ["Hello ", "there,\n\n", "1. ", "Go"]
    assert "".join(wire.split_deltas(" lead  and trail ")) == " lead  and trail "


def test_stream_has_the_real_event_sequence():
    sse = parse_sse(played(playback.stream_script(events(), None)))
    names = [name for name, _ in sse]
    assert names == ["message_start", "content_block_start", "ping"] + ["content_block_delta"] * 6 + [
        "content_block_stop", "message_delta", "message_stop"]
    assert all(data["type"] == name for name, data in sse)
    start = sse[0][1]["message"]
    assert (start["content"], start["stop_reason"], start["stop_sequence"]) == ([], None, None)
    assert start["usage"] == wire.usage(12, 1)
    assert sse[-2][1] == {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": wire.usage(12, 8),
    }
    assert streamed_text(sse) == COMPLETION.text


def test_message_body_shape():
    assert wire.message_body("msg_1", "m", COMPLETION, 3) == {
        "id": "msg_1", "type": "message", "role": "assistant", "model": "m",
        "content": [{"type": "text", "text": COMPLETION.text}],
        "stop_reason": "end_turn", "stop_sequence": None,
        "usage": {"input_tokens": 3, "output_tokens": 8,
                  "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
    }


def test_delay_pauses_between_deltas_only():
    script = playback.stream_script(events(), None, delay_seconds=0.01)
    assert script.count(playback.Pause(0.01)) == 5


def test_error_event_replaces_the_rest_after_n_deltas():
    fault = faults.ErrorEventFault(after=2, error_type="overloaded_error", message="Overloaded")
    sse = parse_sse(played(playback.stream_script(events(), fault)))
    assert [name for name, _ in sse][-3:] == ["content_block_delta", "content_block_delta", "error"]
    assert sse[-1][1] == {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}


def test_drop_aborts_after_n_deltas():
    script = playback.stream_script(events(), faults.DropFault(after=1))
    assert script[-1] == playback.Abort()
    assert len(parse_sse(played(script))) == 4


def test_truncate_ends_without_closing_events():
    sse = parse_sse(played(playback.stream_script(events(), faults.TruncateFault(after=3))))
    assert [name for name, _ in sse][-1] == "content_block_delta" and len(sse) == 6


def test_stall_pauses_after_n_deltas_then_finishes():
    script = playback.stream_script(events(), faults.StallFault(after=2, seconds=0.5))
    pause_at = script.index(playback.Pause(0.5))
    assert played(script[:pause_at]).count("event: content_block_delta") == 2
    assert played(script).endswith('{"type":"message_stop"}\n\n')


@pytest.mark.parametrize("fault", [faults.DropFault(after=99), faults.TruncateFault(after=99)])
def test_after_beyond_the_reply_fires_before_the_closing_events(fault):
    text = played(playback.stream_script(events(), fault))
    assert "content_block_stop" not in text and text.count("event: content_block_delta") == 6


def test_json_script_under_faults():
    assert playback.json_script(b"abcd", None) == [playback.Send(b"abcd")]
    assert playback.json_script(b"abcd", faults.DropFault()) == [playback.Send(b"ab"), playback.Abort()]
    assert playback.json_script(b"abcd", faults.StallFault(0, 1.0)) == [playback.Pause(1.0), playback.Send(b"abcd")]
