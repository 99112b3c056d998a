"""Core tier (no engine): the read-ahead thread that overlaps `docker save` with indexing."""

import threading
import time

import pytest

from layerlab.core.tarstream import ChunkStream
from layerlab.engine.layers import Prefetch


def test_prefetch_hands_over_every_byte_in_order():
    chunks = [bytes([n % 256]) * (n * 997 % 40000 + 1) for n in range(300)]
    with Prefetch(iter(chunks), size=2) as prefetched:
        assert ChunkStream(prefetched).read() == b"".join(chunks)


def test_prefetch_raises_the_readers_error_in_the_consumer():
    def broken():
        yield b"x" * 10
        raise ConnectionError("engine went away")

    with Prefetch(broken()) as prefetched:
        with pytest.raises(ConnectionError, match="went away"):
            list(prefetched)


def test_close_stops_a_reader_the_consumer_abandoned():
    produced = []

    def endless():
        while True:
            produced.append(1)
            yield b"y" * 1024 * 1024

    prefetched = Prefetch(endless(), size=2)
    next(iter(prefetched))
    prefetched.close()
    count = len(produced)
    time.sleep(0.3)
    assert len(produced) == count  # bounded, and stopped
    assert not any(t.name == "layerlab-save-reader" and t.is_alive() for t in threading.enumerate())


def test_iterating_again_after_the_end_returns_at_once():
    with Prefetch(iter([b"a", b"b"])) as prefetched:
        assert b"".join(prefetched) == b"ab"
        assert list(prefetched) == []  # the end was seen: no wait for more


def test_draining_after_a_partial_read_reads_the_answer_to_its_end():
    source = iter([b"a" * 10] + [b"b" * 600_000] * 4 + [b"c" * 10])
    with Prefetch(source, size=1) as prefetched:
        stream = ChunkStream(prefetched)
        assert stream.read(5) == b"aaaaa"
        list(prefetched)  # what image_files does to read the archive's padding: it must not hang
        assert next(source, None) is None  # the whole answer was read from the engine
