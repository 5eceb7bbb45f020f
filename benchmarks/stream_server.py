"""A loopback server that replays one long, pre-built Messages API stream.

It is deliberately dumb: the response bytes (already split into chunked-transfer frames) are
built once, and each request only reads its body and `sendall`s the frames. `sendall`
releases the GIL while it blocks, so in the benchmark the clients, not the server, pay for
the Python work.

    stream = build_stream(deltas=20_000)
    with StreamServer(stream) as server:
        httpx.post(server.base_url + "/v1/messages", ...)
"""

from __future__ import annotations

import json
import random
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODEL = "claude-sonnet-4-5"

# Short tokens as the API sends them: mostly one word with its leading space, some
# punctuation, and enough non-ASCII (accents, CJK, emoji) that a decoder which splits a UTF-8
# character across chunks, or mis-handles `\u` escapes, shows up as a text mismatch.
WORDS = (
    " the", " order", " ships", " today", " your", " refund", " was", " processed", " and",
    " should", " arrive", " within", " 3", "–", "5", " business", " days", ".", ",", " Zoë",
    " café", " naïve", " über", " 注文", "は", "発送", "されました", " 📦", " ✅", " —",
    "\n\n", " **Note:**", " \"quoted\"", " back\\slash", " Ελλάδα", " résumé", " we're",
)


@dataclass(frozen=True)
class RecordedStream:
    """One response body: the exact text it carries, and its bytes framed for HTTP/1.1."""

    text: str
    deltas: int
    body_size: int
    frames: tuple[bytes, ...]  # chunked transfer-encoding frames, terminator included


def _sse(event: str, payload: dict) -> str:
    # Compact separators and raw UTF-8, as the API writes them.
    return f"event: {event}\ndata: {json.dumps(payload, separators=(',', ':'), ensure_ascii=False)}\n\n"


def build_stream(
    deltas: int = 20_000, *, seed: int = 1042, min_chunk: int = 4096, max_chunk: int = 16384
) -> RecordedStream:
    """A complete text reply of `deltas` text_delta events, cut into 4–16 KiB writes."""
    rng = random.Random(seed)
    words = [rng.choice(WORDS) for _ in range(deltas)]
    usage = {"input_tokens": 1234, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
    events = [
        _sse("message_start", {"type": "message_start", "message": {
            "id": "msg_01BenchStream", "type": "message", "role": "assistant", "model": MODEL,
            "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": {**usage, "output_tokens": 1},
        }}),
        _sse("content_block_start", {"type": "content_block_start", "index": 0,
                                     "content_block": {"type": "text", "text": ""}}),
        # The API really sends its ping with a space after the colon.
        'event: ping\ndata: {"type": "ping"}\n\n',
    ]
    events += [
        _sse("content_block_delta", {"type": "content_block_delta", "index": 0,
                                     "delta": {"type": "text_delta", "text": w}})
        for w in words
    ]
    events += [
        _sse("content_block_stop", {"type": "content_block_stop", "index": 0}),
        _sse("message_delta", {"type": "message_delta",
                               "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                               "usage": {**usage, "output_tokens": deltas}}),
        _sse("message_stop", {"type": "message_stop"}),
    ]
    body = "".join(events).encode("utf-8")

    # Cut at arbitrary byte offsets, like TCP does: chunks split events, lines and UTF-8
    # characters alike.
    frames = []
    pos = 0
    while pos < len(body):
        piece = body[pos : pos + rng.randint(min_chunk, max_chunk)]
        frames.append(b"%x\r\n%s\r\n" % (len(piece), piece))
        pos += len(piece)
    frames.append(b"0\r\n\r\n")
    return RecordedStream("".join(words), deltas, len(body), tuple(frames))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so each client reuses its pooled connection
    disable_nagle_algorithm = True  # the last small frame must not wait for an ACK
    server: _Server

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        if self.path.split("?", 1)[0] != "/v1/messages":
            self.send_error(404)
            return
        self.server.requests += 1
        head = (
            "HTTP/1.1 200 OK\r\n"
            "content-type: text/event-stream; charset=utf-8\r\n"
            "cache-control: no-cache\r\n"
            f"request-id: req_bench{self.server.requests:06d}\r\n"
            "transfer-encoding: chunked\r\n"
            "\r\n"
        ).encode("ascii")
        self.wfile.write(head)
        for frame in self.server.stream.frames:
            self.wfile.write(frame)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # one line per request would only add noise to the benchmark output


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, stream: RecordedStream) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.stream = stream
        self.requests = 0


class StreamServer:
    """Serves `stream` on a free port of 127.0.0.1 from a daemon thread."""

    def __init__(self, stream: RecordedStream) -> None:
        self.stream = stream
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("StreamServer is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def requests(self) -> int:
        return self._server.requests if self._server else 0

    def start(self) -> StreamServer:
        self._server = _Server(self.stream)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
            name="bench-stream-server", daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> StreamServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
