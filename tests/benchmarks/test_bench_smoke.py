"""The stream benchmark runs end to end on a tiny stream: every client reads the same text
and the result has the shape `benchmarks/results/` records. Timings are not asserted."""

from __future__ import annotations

import json

import pytest

from benchmarks import stream_overhead
from benchmarks.stream_server import build_stream

CLIENT_KEYS = {"label", "median_s", "min_s", "runs_s", "deltas_per_s", "ratio_to_baseline"}


def test_recorded_stream_is_chunked_and_carries_the_text():
    stream = build_stream(200)
    body = b"".join(frame.split(b"\r\n", 1)[1][:-2] for frame in stream.frames[:-1])
    assert len(body) == stream.body_size and stream.frames[-1] == b"0\r\n\r\n"
    assert body.count(b"event: content_block_delta\n") == 200
    assert body.endswith(b'event: message_stop\ndata: {"type":"message_stop"}\n\n')
    assert not stream.text.isascii()  # so a UTF-8 split across chunks would be caught


# SDK 2.13 warns on every call that claude-sonnet-4-5 is deprecated; irrelevant here.
@pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning")
def test_every_client_reads_the_whole_stream():
    # `run` asserts inside that each client received exactly the recorded text.
    result = stream_overhead.run(deltas=200, rounds=1)

    assert set(result) == {"benchmark", "config", "baseline", "clients", "ours_vs_sdk_stream"}
    assert result["config"]["deltas"] == 200 and result["config"]["rounds"] == 1
    assert set(result["clients"]) == set(stream_overhead.FACTORIES)
    for figures in result["clients"].values():
        assert set(figures) == CLIENT_KEYS and len(figures["runs_s"]) == 1
    assert result["clients"][result["baseline"]]["ratio_to_baseline"] == 1.0
    json.dumps(result)  # what __main__ writes must serialise


def test_batch_benchmark_runs_and_reports_against_the_ideal():
    from benchmarks import batch

    result = batch.run(n=20, concurrency=5, latency=0.01, rounds=1)
    assert result["ideal_s"] == pytest.approx(0.04)
    assert set(result["clients"]) == {"ours: run_batch", "plain httpx + threads"}
    assert all(row["median_s"] > 0 for row in result["clients"].values())
    assert "ideal" in batch.format_table(result)


def test_first_token_benchmark_times_the_app_beside_the_direct_call():
    from benchmarks import first_token

    result = first_token.run(turns=4, history=2)
    assert result["config"]["turns"] == 4
    for side in ("direct_client", "app_send_to_first_text", "send_returns"):
        assert result[side]["median_ms"] > 0
    # The app's time includes the same call, so it cannot be shorter than send() alone.
    assert result["app_send_to_first_text"]["median_ms"] >= result["send_returns"]["median_ms"]
    assert "app adds" in first_token.format_table(result)
