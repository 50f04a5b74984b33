"""RFC 6242 framing on raw bytes, without a socket."""

from __future__ import annotations

import pytest

from emulator.transports.framing import Framer, Framing, FramingError, MessageTooBig, frame


def messages(framer: Framer, *pieces: bytes) -> list[bytes]:
    out = []
    for piece in pieces:
        framer.feed(piece)
        while (message := framer.next_message()) is not None:
            out.append(message)
    return out


def chunked(limit: int = 1000) -> Framer:
    return Framer(limit, Framing.CHUNKED)


# -- end-of-message -----------------------------------------------------------


def test_end_of_message_splits_messages():
    assert messages(Framer(100), b"<a/>]]>]]><b/>]]>]]>") == [b"<a/>", b"<b/>"]


def test_end_of_message_across_reads_byte_by_byte():
    data = b"<hello/>]]>]]>\n<rpc/>]]>]]>"
    assert messages(Framer(100), *(data[i:i + 1] for i in range(len(data)))) \
        == [b"<hello/>", b"<rpc/>"]


def test_whitespace_before_a_message_is_dropped():
    # an XML declaration must come first, and clients put a newline after ]]>]]>
    assert messages(Framer(100), b"\n  <?xml version='1.0'?><a/>]]>]]>\n") == [b"<?xml version='1.0'?><a/>"]


def test_end_of_message_too_big():
    framer = Framer(10)
    framer.feed(b"x" * 11)
    with pytest.raises(MessageTooBig):
        framer.next_message()
    with pytest.raises(MessageTooBig):   # and it stays broken
        framer.next_message()


def test_end_of_message_at_the_limit_is_accepted():
    assert messages(Framer(10), b"x" * 10 + b"]]>]]>") == [b"x" * 10]


def test_end_of_message_too_big_with_marker_in_one_read():
    framer = Framer(10)
    framer.feed(b"x" * 11 + b"]]>]]>")
    with pytest.raises(MessageTooBig):
        framer.next_message()


def test_chunked_hello_is_tolerated_before_base11():
    # ncclient has sent its hello chunked
    framer = Framer(100)
    assert messages(framer, b"\n#8\n<hello/>\n##\n") == [b"<hello/>"]
    assert framer.framing is Framing.END_OF_MESSAGE


def test_hello_and_first_rpc_in_one_read():
    framer = Framer(100)
    framer.feed(b"<hello/>]]>]]>\n#6\n<rpc/>\n##\n")
    assert framer.next_message() == b"<hello/>"
    framer.use_chunks()
    assert framer.next_message() == b"<rpc/>"
    assert framer.next_message() is None


# -- chunked -------------------------------------------------------------------


def test_one_chunk():
    assert messages(chunked(), b"\n#4\n<a/>\n##\n") == [b"<a/>"]


def test_many_chunks_make_one_message():
    assert messages(chunked(), b"\n#4\n<rpc\n#5\n/><x>\n#5\n</x>x\n##\n") == [b"<rpc/><x></x>x"]


def test_rfc6242_example():
    data = (b"\n#4\n<rpc\n#18\n message-id=\"102\"\n\n#79\n     xmlns=\"urn:ietf:params:xml:ns:"
            b"netconf:base:1.0\">\n  <close-session/>\n</rpc>\n##\n")
    [message] = messages(chunked(), data)
    assert message.startswith(b'<rpc message-id="102"') and message.endswith(b"</rpc>")


def test_chunked_byte_by_byte():
    data = frame(b"<rpc>\n##\n]]>]]></rpc>", Framing.CHUNKED) * 2
    assert messages(chunked(), *(data[i:i + 1] for i in range(len(data)))) \
        == [b"<rpc>\n##\n]]>]]></rpc>"] * 2


def test_chunk_data_may_hold_anything():
    body = b"\n#3\n##\n]]>]]>\x00"
    assert messages(chunked(), frame(body, Framing.CHUNKED)) == [body]


def test_newlines_before_a_chunk_are_tolerated():
    assert messages(chunked(), b"\n\n\r\n#4\n<a/>\n\n#2\nxy\n\n##\n\n") == [b"<a/>xy"]


@pytest.mark.parametrize("data, says", [
    (b"\n#0\n", "bad chunk header"),
    (b"\n#007\nabcdefg\n##\n", "bad chunk header"),
    (b"\n#abc\n", "bad chunk header"),
    (b"\n#-1\n", "bad chunk header"),
    (b"\n# 4\n", "bad chunk header"),
    (b"\n#4 \n", "bad chunk header"),
    (b"\n#4294967296\n", "bad chunk header"),
    (b"\n#12345678901", "bad chunk header"),     # too long, even before its newline
    (b"\n#\n", "bad chunk header"),
    (b"\n##\n", "before any chunk"),
    (b"<rpc/>]]>]]>", "expected a chunk header"),   # end-of-message after base:1.1
    (b"\n#4\n<a/>garbage\n##\n", "expected a chunk header"),
    (b"\n#4\n<a/>\n##\nx", "expected a chunk header"),
])
def test_framing_errors(data, says):
    framer = chunked()
    with pytest.raises(FramingError, match=says):
        messages(framer, data)
    with pytest.raises(FramingError):   # and it stays broken
        framer.next_message()


def test_a_chunk_over_the_limit_is_refused_before_its_data():
    framer = chunked(limit=100)
    framer.feed(b"\n#101\n")
    with pytest.raises(MessageTooBig):
        framer.next_message()


def test_chunks_adding_up_over_the_limit():
    framer = chunked(limit=10)
    with pytest.raises(MessageTooBig):
        messages(framer, b"\n#6\nabcdef\n#5\n")


def test_chunks_adding_up_to_the_limit():
    assert messages(chunked(limit=10), b"\n#6\nabcdef\n#4\nghij\n##\n") == [b"abcdefghij"]


def test_the_largest_chunk_size_is_not_a_header_error():
    with pytest.raises(MessageTooBig):
        messages(chunked(), b"\n#4294967295\n")


def test_frame():
    assert frame(b"<a/>", Framing.END_OF_MESSAGE) == b"<a/>]]>]]>"
    assert frame(b"<a/>", Framing.CHUNKED) == b"\n#4\n<a/>\n##\n"
    assert messages(chunked(), frame("é".encode(), Framing.CHUNKED)) == ["é".encode()]
