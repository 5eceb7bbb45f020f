"""Server-sent events from raw bytes: a pure, incremental decoder.

Works on bytes and decodes one whole line at a time, so a UTF-8 character split across
network chunks is never cut; handles LF, CRLF and lone CR line ends (a CR at the end of a
chunk waits for the next one, which may start with the LF of the same line end), multi-line
`data:` fields, comments, and a stream that ends without its final blank line.

    decoder = SSEDecoder()
    for chunk in chunks:
        for event in decoder.feed(chunk):
            ...
    for event in decoder.close():
        ...
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SSEEvent:
    event: str
    data: str


class SSEDecoder:
    """Turns byte chunks into `SSEEvent`s (https://html.spec.whatwg.org/#event-stream-interpretation)."""

    __slots__ = ("_pending", "_event", "_data")

    def __init__(self) -> None:
        self._pending = b""
        self._event = ""
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        buf = self._pending + chunk if self._pending else chunk
        if b"\r" in buf:
            if buf.endswith(b"\r"):
                # Might be the first half of a CRLF split across chunks: decide next time.
                self._pending = buf
                return []
            buf = buf.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = buf.split(b"\n")
        self._pending = lines.pop()
        return self._lines(lines)

    def close(self) -> list[SSEEvent]:
        """End of stream: a last event without its blank line is still delivered."""
        tail = self._pending.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        self._pending = b""
        lines = tail.split(b"\n") if tail else []
        lines.append(b"")
        return self._lines(lines)

    def _lines(self, lines: list[bytes]) -> list[SSEEvent]:
        events: list[SSEEvent] = []
        for raw in lines:
            if not raw:
                if self._data:
                    events.append(SSEEvent(self._event or "message", "\n".join(self._data)))
                self._event = ""
                self._data = []
                continue
            if raw[0] == 58:  # b":" starts a comment
                continue
            line = raw.decode("utf-8", errors="replace")
            name, sep, value = line.partition(":")
            if sep and value[:1] == " ":
                value = value[1:]
            if name == "data":
                self._data.append(value)
            elif name == "event":
                self._event = value
            # `id` and `retry` mean nothing for a one-shot API stream.
        return events
