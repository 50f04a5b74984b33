"""RFC 6242 message framing, sans-IO: bytes in, whole NETCONF messages out.

Two framings share one byte stream. The hellos, and every message of a
base:1.0 session, end with the end-of-message marker ``]]>]]>`` (section
4.3). Once both peers' hellos carry base:1.1, every later message is chunked
(section 4.2)::

    \\n#<size>\\n<size bytes>  ... one or more chunks ...  \\n##\\n

The transport feeds what it reads (:meth:`Framer.feed`), takes messages one
at a time (:meth:`Framer.next_message`) and switches the framer to chunks
(:meth:`Framer.use_chunks`) right after it hands over the hello that agreed
on base:1.1, so a client that sends its hello and its first <rpc> in one
packet is read correctly. :func:`frame` does the other direction.

What real clients send and we accept: whitespace before a message (a
newline after ``]]>]]>``), extra newlines before a chunk header, and a hello
sent chunked before base:1.1 is agreed (ncclient has done both). Anything
else between chunks, a malformed chunk header (RFC 6242's chunk-size is
1*DIGIT1 0*DIGIT, at most 4294967295) or a message over the size limit is an
error that ends the session: RFC 6242 section 4.2 says a peer that sees a
framing error MUST terminate the session.
"""

from __future__ import annotations

import enum
import re

END_OF_MESSAGE = b"]]>]]>"
END_OF_CHUNKS = b"\n##\n"
# RFC 6242 section 4.2: chunk-size = 1*DIGIT1 0*DIGIT, at most 4294967295.
MAX_CHUNK_SIZE = 4294967295
_CHUNK_SIZE = re.compile(rb"[1-9][0-9]{0,9}\Z")
# The longest chunk header line, '#' and its size: ten digits.
_MAX_HEADER = 1 + 10
_WHITESPACE = b" \t\r\n"


class Framing(enum.Enum):
    END_OF_MESSAGE = "end-of-message"     # ]]>]]> (base:1.0, and every hello)
    CHUNKED = "chunked"                   # base:1.1 once both hellos have it


class FramingError(Exception):
    """The byte stream breaks RFC 6242; the message says how, in one line."""


class MessageTooBig(Exception):
    """A message is larger than the limit (the framer stops there)."""

    def __init__(self, limit: int):
        super().__init__(f"a message may hold at most {limit} bytes")
        self.limit = limit


def frame(message: bytes, framing: Framing) -> bytes:
    """One message as it goes on the wire: chunked as a single chunk, or
    followed by the end-of-message marker."""
    if framing is Framing.CHUNKED:
        return b"\n#%d\n%b\n##\n" % (len(message), message)
    return message + END_OF_MESSAGE


class Framer:
    """Reads one direction of a NETCONF-over-SSH byte stream.

    ``max_message_size`` bounds a message (its content, without framing); a
    chunk header that announces more is refused before its data is read.
    After an error the framer stays broken: every later call raises again.
    """

    def __init__(self, max_message_size: int, framing: Framing = Framing.END_OF_MESSAGE):
        self.limit = max_message_size
        self.framing = framing
        self._buffer = bytearray()
        self._scanned = 0                 # end-of-message mode: bytes already searched
        # chunked mode: the message so far, in one buffer (a list of chunks would
        # cost an object for each: 1-byte chunks would take 40 times the limit)
        self._message = bytearray()
        self._in_message = False          # a chunk of the current message has come
        self._size = 0                    # ... and the size its chunk headers announced
        self._remaining = 0               # bytes of the current chunk still to come
        self._error: Exception | None = None

    def use_chunks(self) -> None:
        """Both hellos carry base:1.1: every message from here on is chunked."""
        self.framing = Framing.CHUNKED

    def feed(self, data: bytes) -> None:
        if self._error is None:
            self._buffer += data

    def next_message(self) -> bytes | None:
        """The next whole message, or None until more bytes come. Raises
        FramingError or MessageTooBig (and again on every later call)."""
        if self._error is not None:
            raise self._error
        try:
            if self.framing is Framing.CHUNKED or self._remaining or self._in_message:
                return self._next_chunked()
            self._skip_whitespace()
            if self._buffer[:1] == b"#":
                return self._next_chunked()   # a hello sent chunked: tolerated
            return self._next_delimited()
        except (FramingError, MessageTooBig) as exc:
            self._error = exc
            self._buffer.clear()
            self._message.clear()
            raise

    # -- end-of-message framing (RFC 6242 section 4.3) -----------------------

    def _next_delimited(self) -> bytes | None:
        buffer = self._buffer
        start = max(0, self._scanned - len(END_OF_MESSAGE) + 1)
        end = buffer.find(END_OF_MESSAGE, start)
        if end < 0:
            self._scanned = len(buffer)
            if len(buffer) > self.limit:
                raise MessageTooBig(self.limit)
            return None
        if end > self.limit:
            raise MessageTooBig(self.limit)
        message = bytes(buffer[:end])
        del buffer[:end + len(END_OF_MESSAGE)]
        self._scanned = 0
        return message

    def _skip_whitespace(self) -> None:
        buffer = self._buffer
        n = 0
        while n < len(buffer) and buffer[n] in _WHITESPACE:
            n += 1
        if n:
            del buffer[:n]
            self._scanned = max(0, self._scanned - n)

    # -- chunked framing (RFC 6242 section 4.2) ------------------------------

    def _next_chunked(self) -> bytes | None:
        buffer = self._buffer
        while True:
            if self._remaining:
                take = min(self._remaining, len(buffer))
                if not take:
                    return None
                self._message += buffer[:take]
                del buffer[:take]
                self._remaining -= take
                continue
            # between chunks: the LF before '#' (and extra newlines) may come first
            n = 0
            while n < len(buffer) and buffer[n] in _WHITESPACE:
                n += 1
            if n == len(buffer):
                del buffer[:n]
                return None
            if buffer[n] != ord("#"):
                raise FramingError(f"expected a chunk header (\\n#SIZE\\n) or the end of "
                                   f"chunks (\\n##\\n), got {_show(buffer[n:n + 16])}")
            newline = buffer.find(b"\n", n, n + _MAX_HEADER + 1)
            if newline < 0:
                if len(buffer) - n > _MAX_HEADER:
                    raise FramingError(f"bad chunk header {_show(buffer[n:n + 16])}")
                return None
            header = bytes(buffer[n + 1:newline])
            del buffer[:newline + 1]
            if header == b"#":
                if not self._in_message:
                    raise FramingError("end of chunks (\\n##\\n) before any chunk")
                message = bytes(self._message)
                self._message.clear()
                self._in_message = False
                self._size = 0
                return message
            if not _CHUNK_SIZE.match(header) or int(header) > MAX_CHUNK_SIZE:
                shown = _show(b"#" + header + b"\n")
                raise FramingError(f"bad chunk header {shown}: the size "
                                   "must be a number from 1 to 4294967295 without leading zeros")
            size = int(header)
            if self._size + size > self.limit:
                raise MessageTooBig(self.limit)
            self._size += size
            self._remaining = size
            self._in_message = True


def _show(data: bytes | bytearray) -> str:
    return repr(bytes(data))
