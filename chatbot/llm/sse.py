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


# Not frozen: a frozen dataclass's __init__ goes through object.__setattr__, which made
# building the events a quarter of this decoder's time.
@dataclass(slots=True)
class SSEEvent:
    event: str
    data: str


class SSEDecoder:
    """Turns byte chunks into `SSEEvent`s (https://html.spec.whatwg.org/#event-stream-interpretation)."""

    __slots__ = ("_pending", "_event", "_data")

    def __init__(self) -> None:
        self._pending = b""
        self._event = ""
        self._data: str | None = None  # most events have one data line, so no list to join

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        buf = self._pending + chunk if self._pending else chunk
        if b"\r" in buf:
            if buf.endswith(b"\r"):
                # Might be the first half of a CRLF split across chunks: decide next time.
                self._pending = buf
                return []
            buf = buf.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        end = buf.rfind(b"\n")
        if end < 0:
            self._pending = buf
            return []
        self._pending = buf[end + 1 :]
        # Only whole lines are decoded, so no UTF-8 character is cut; one decode per chunk
        # instead of one per line is most of this decoder's speed.
        return self._lines(buf[:end].decode("utf-8", errors="replace").split("\n"))

    def close(self) -> list[SSEEvent]:
        """End of stream: a last event without its blank line is still delivered."""
        tail = self._pending.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        self._pending = b""
        lines = tail.decode("utf-8", errors="replace").split("\n") if tail else []
        lines.append("")
        return self._lines(lines)

    def _lines(self, lines: list[str]) -> list[SSEEvent]:
        events: list[SSEEvent] = []
        event, data = self._event, self._data  # locals: this loop runs three times per event
        for line in lines:
            if not line:
                if data is not None:
                    events.append(SSEEvent(event or "message", data))
                event, data = "", None
            # The two fields every API event has go first; the general rule below covers them too.
            elif line.startswith("data: "):
                data = line[6:] if data is None else f"{data}\n{line[6:]}"
            elif line.startswith("event: "):
                event = line[7:]
            elif line[0] != ":":  # a line starting with a colon is a comment
                name, sep, value = line.partition(":")
                if sep and value[:1] == " ":
                    value = value[1:]
                if name == "data":
                    data = value if data is None else f"{data}\n{value}"
                elif name == "event":
                    event = value
                # `id` and `retry` mean nothing for a one-shot API stream.
        self._event, self._data = event, data
        return events
