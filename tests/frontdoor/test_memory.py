"""Peak memory of a real `turnout serve` (its default limits) through the front-door attacks: the
process's VmHWM (peak resident set) must stay under 300 MB through each of them.

Before the front door was bounded, the first two attacks alone took the process past 1 GB.
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterator

import pytest

from tests.conftest import Upstream
from tests.frontdoor.conftest import Process, connect, head, read_answer, running

CEILING_KB = 300 * 1024
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def gw(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    with running(upstream, tmp_path_factory.mktemp("memory")) as p:
        yield p


def peak_kb(gw: Process) -> int:
    peak = gw.status("VmHWM")
    assert peak < CEILING_KB, f"peak RSS {peak // 1024} MB"
    return peak


def send_body(gw: Process, headers: dict[str, str], body: bytes) -> int:
    """POST `body` whole (as an attacker would, whatever the gateway answers first); the status."""
    with connect(gw.port, timeout=30) as s:
        s.sendall(head("POST", "/api/v1/chat/completions", {**headers, "Content-Length": str(len(body))}))
        try:
            s.sendall(body)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return read_answer(s).status


def tiny_objects(prefix: bytes, size: int) -> bytes:
    n = (size - len(prefix) - 4) // 3
    return prefix + b"{}," * n + b"{}]}"


def test_peak_memory_through_the_attacks(gw: Process) -> None:
    baseline = peak_kb(gw)
    # 1. A keyless 32 MiB body of empty objects: refused from the headers, never parsed.
    body = b"[" + b"{}," * ((32 * MIB - 4) // 3) + b"{}]"
    assert send_body(gw, {"Content-Type": "application/json"}, body) == 401
    after_keyless = peak_kb(gw)
    # 2. The same with a key, as a chat request: refused while it arrives (JSON value bound).
    auth = {"Authorization": f"Bearer {gw.key}", "Content-Type": "application/json"}
    assert send_body(gw, auth, tiny_objects(b'{"model":"test/echo","messages":[', 32 * MIB)) == 413
    after_refused = peak_kb(gw)
    # ... and one just under the bound, parsed and answered: 41,250 messages of three text blocks
    # (495,000 values; the messages stay under the 50,000 a request may hold).
    block = b'{"type":"text","text":"a"}'
    under = b'{"model":"test/echo","max_tokens":5,"messages":[' + b",".join(
        [b'{"role":"user","content":[' + b",".join([block] * 3) + b"]}"] * 41_250) + b"]}"
    with connect(gw.port, timeout=60) as s:
        s.sendall(head("POST", "/api/v1/messages/count_tokens", {**auth, "Content-Length": str(len(under))}) + under)
        assert read_answer(s).status == 200
    after_values = peak_kb(gw)
    # 3. A header as long as the client can send (up to 512 MiB): refused at 64 KiB.
    with connect(gw.port, timeout=10) as s:
        s.sendall(b"GET /api/v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ")
        sent = 0
        piece = b"a" * MIB
        try:
            while sent < 512 * MIB:
                s.sendall(piece)
                sent += len(piece)
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert sent < 16 * MIB
        assert read_answer(s).status == 431
    after_header = peak_kb(gw)
    # 4. Many slow connections at once: 1,000 with 60 KiB of unfinished headers, and 200 uploads of
    #    an announced 1 MiB that stop at 512 KiB.
    held: list[socket.socket] = []
    try:
        for _ in range(1000):
            s = connect(gw.port, timeout=10)
            s.sendall(b"GET /api/v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * (60 * 1024))
            held.append(s)
        upload = head("POST", "/api/v1/chat/completions", {**auth, "Content-Length": str(MIB)})
        for _ in range(200):
            s = connect(gw.port, timeout=10)
            s.sendall(upload + b'{"model":"test/echo","messages":[{"role":"user","content":"' + b"a" * (512 * 1024))
            held.append(s)
        time.sleep(1.0)  # let the gateway take it all in
        poll = select.poll()
        for s in held:
            poll.register(s, select.POLLIN)
        assert not poll.poll(0), "the slow connections are still waiting, not refused"
        after_slow = peak_kb(gw)
    finally:
        for s in held:
            s.close()
    print(f"VmHWM MB: start {baseline // 1024}, keyless {after_keyless // 1024}, refused {after_refused // 1024}, "
          f"under the value bound {after_values // 1024}, "
          f"header {after_header // 1024}, slow connections {after_slow // 1024}")
