"""The connection guard of a real `turnout serve`: header size and count, header/body/idle/send
deadlines, the connection cap, and the bound on a body discarded after an early answer.

The process runs with one-second deadlines so each attack is seen through in a second or two.
"""

from __future__ import annotations

import resource
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import orjson
import pytest

from tests.conftest import PROMPT_PRICE, Upstream
from tests.frontdoor.conftest import Process, closed_within, connect, head, read_answer, running

CAP = 60
MAX_BODY = 2_000_000
WIDE = {"test/wide": {"context_length": 1_000_000, "endpoints": [
    {"provider": "fake", "model": "echo", "pricing": {"prompt": PROMPT_PRICE, "completion": PROMPT_PRICE}}]}}


@pytest.fixture(scope="module")
def gw(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    with running(upstream, tmp_path_factory.mktemp("connections"), models=WIDE,
                 TURNOUT_HEADER_TIMEOUT="1", TURNOUT_BODY_TIMEOUT="1", TURNOUT_BODY_MIN_RATE="100000",
                 TURNOUT_IDLE_TIMEOUT="1", TURNOUT_SEND_TIMEOUT="1", TURNOUT_MAX_CONNECTIONS=str(CAP),
                 TURNOUT_MAX_BODY_BYTES=str(MAX_BODY)) as p:
        yield p


def trickle(s: socket.socket, data: bytes, every: float, seconds: float) -> bool:
    """Send `data` a byte at a time; False once the server has closed the connection."""
    deadline = time.monotonic() + seconds
    for byte in data:
        if time.monotonic() > deadline:
            return True
        try:
            s.sendall(bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            return False
        time.sleep(every)
    return True


def test_a_connection_that_sends_nothing_is_closed(gw: Process) -> None:
    with connect(gw.port) as s:
        started = time.monotonic()
        closed, got = closed_within(s, 4)
        assert closed and got == b""
        assert time.monotonic() - started > 0.8


def test_headers_sent_a_byte_at_a_time_time_out(gw: Process) -> None:
    with connect(gw.port) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        trickle(s, b"X-Slow: " + b"a" * 100, every=0.1, seconds=5)
        answer = read_answer(s)
    assert answer.status == 408
    assert "headers took longer than 1 s" in answer.json()["error"]["message"]


def test_a_body_sent_a_byte_at_a_time_times_out(gw: Process) -> None:
    headers = {"Authorization": f"Bearer {gw.key}", "Content-Type": "application/json", "Content-Length": "1000"}
    with connect(gw.port) as s:
        s.sendall(head("POST", "/api/v1/chat/completions", headers))
        started = time.monotonic()
        still_open = trickle(s, b'{"model": "test/echo", "messages": []' + b" " * 900 + b"}", every=0.1, seconds=6)
        answer = read_answer(s)
        assert not still_open or answer.status == 408
    assert answer.status == 408, answer.body
    assert "body took longer than 1 s" in answer.json()["error"]["message"]
    assert time.monotonic() - started < 4


def test_an_idle_keep_alive_connection_is_closed(gw: Process) -> None:
    with connect(gw.port) as s:
        s.sendall(head("GET", "/health"))
        assert read_answer(s).status == 200
        s.sendall(head("GET", "/health"))  # still open right after an answer
        assert read_answer(s).status == 200
        started = time.monotonic()
        closed, _ = closed_within(s, 4)
        assert closed and 0.8 < time.monotonic() - started < 3


@pytest.mark.parametrize("pieces", [1, 70])
def test_headers_over_64_kib_get_431(gw: Process, pieces: int) -> None:
    big = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * (70 * 1024) + b"\r\n\r\n"
    step = len(big) // pieces + 1
    with connect(gw.port) as s:
        try:
            for i in range(0, len(big), step):
                s.sendall(big[i:i + step])
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = read_answer(s)
    assert answer.status == 431
    assert "exceed 65536 bytes" in answer.json()["error"]["message"]


def test_a_long_url_counts_as_header_bytes(gw: Process) -> None:
    with connect(gw.port) as s:
        s.sendall(b"GET /health?" + b"q" * (70 * 1024) + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert read_answer(s).status == 431


def test_more_than_100_headers_get_431(gw: Process) -> None:
    def request(n: int) -> bytes:
        return head("GET", "/health", {f"X-H{i}": "v" for i in range(n - 1)})  # plus Host

    with connect(gw.port) as s:
        s.sendall(request(100))
        assert read_answer(s).status == 200
    with connect(gw.port) as s:
        s.sendall(request(101))
        answer = read_answer(s)
    assert answer.status == 431 and "more than 100 headers" in answer.json()["error"]["message"]


def test_connections_past_the_cap_get_503_and_are_closed(gw: Process) -> None:
    baseline = gw.open_fds()
    held = [connect(gw.port) for _ in range(CAP + 10)]  # in a burst, well within the header deadline
    try:
        time.sleep(0.3)  # a refused connection is answered at once; the others wait for headers
        readable, _, _ = select.select(held, [], [], 0)
        answered = [s.recv(4096) if s in readable else b"" for s in held]
        refused = [a for a in answered if a]
        assert refused, "no connection was refused"
        assert all(a.startswith(b"HTTP/1.1 503 ") and b"connection: close" in a for a in refused)
        assert CAP - 2 <= len(held) - len(refused) <= CAP  # the test's own keep-alives may count
        assert answered.index(refused[0]) >= CAP - 2  # the first ones were served, the last refused
    finally:
        for s in held:
            s.close()
    # Every descriptor comes back: the held connections are closed by their header deadline too.
    deadline = time.monotonic() + 5
    while gw.open_fds() > baseline + 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert gw.open_fds() <= baseline + 2
    assert httpx.get(f"{gw.url}/health", timeout=5).status_code == 200


def test_a_body_discarded_after_an_early_answer_is_bounded(gw: Process) -> None:
    """A keyless upload is answered 401 from its headers; the gateway then discards what follows only
    up to max_body_bytes before it closes the connection."""
    headers = {"Content-Type": "application/json", "Content-Length": str(50 * MAX_BODY)}
    with connect(gw.port) as s:
        s.sendall(head("POST", "/api/v1/chat/completions", headers))
        assert read_answer(s).status == 401
        sent = 0
        chunk = b"[{}," * 16384
        try:
            while sent < 10 * MAX_BODY:
                s.sendall(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert sent < 10 * MAX_BODY, "the gateway kept reading a body nobody will use"


@pytest.mark.slow
def test_a_client_that_takes_none_of_its_answer_is_disconnected(gw: Process) -> None:
    """A stream of ~25 MB to a client that reads nothing: the gateway's writes stall, and after the
    send timeout it closes the connection instead of holding it (and the upstream) forever."""
    body = orjson.dumps({"model": "test/wide", "stream": True, "max_tokens": 10,
                         "messages": [{"role": "user", "content": "a " * 100_000}]})
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    s.settimeout(10)
    try:
        s.connect(("127.0.0.1", gw.port))
        s.sendall(head("POST", "/api/v1/chat/completions", {
            "Authorization": f"Bearer {gw.key}", "Content-Type": "application/json",
            "Content-Length": str(len(body))}) + body)
        time.sleep(3)  # read nothing
        closed, got = closed_within(s, 10)
    finally:
        s.close()
    assert closed
    assert b"data: [DONE]" not in got


def fit_in_subprocess(soft: int, hard: int, cap: int) -> tuple[int, int]:
    code = (f"import resource; resource.setrlimit(resource.RLIMIT_NOFILE, ({soft}, {hard}));"
            f"from turnout.protocol import fit_descriptors; fitted = fit_descriptors({cap});"
            "print(fitted, resource.getrlimit(resource.RLIMIT_NOFILE)[0])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True)
    fitted, limit = out.stdout.split()
    return int(fitted), int(limit)


def test_the_open_file_limit_is_raised_to_fit_the_connection_cap() -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and hard < 2 * 2048 + 256:
        pytest.skip(f"the hard open-file limit here is {hard}")
    assert fit_in_subprocess(1024, hard, 2048) == (2048, 2 * 2048 + 256)  # raised to fit
    # A hard limit too low: the cap shrinks to what fits, never past the descriptors.
    assert fit_in_subprocess(1024, 1024, 2048) == ((1024 - 256) // 2, 1024)
