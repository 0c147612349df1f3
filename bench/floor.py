"""The floor under any Python gateway on this machine: servers that do almost nothing.

What a hop costs before a gateway does any work of its own, measured with the same load and
placement as turnout (`hotpath.py --floor canned,proxy` runs them beside the builds):

* ``raw``: an asyncio protocol with httptools that answers every request with a fixed body (no
  ASGI, no limits): the event loop, the parser and two socket calls;
* ``canned``: uvicorn with turnout's bounded protocol (protocol.py) and an ASGI app that reads
  the body and answers a fixed body: the server turnout runs in;
* ``proxy``: the same, but the app sends the request to the fake upstream with turnout's own HTTP
  client (core/upstream/http.py) and answers what it got: a gateway that does nothing else.

    python bench/floor.py serve KIND PORT UPSTREAM_PORT     # one server (what hotpath.py starts)
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import systems
from loadgen import Target

KINDS = ("raw", "canned", "proxy")
# The size of the fake upstream's answer for model "mock" (64 words), so every server sends alike.
ANSWER = (b'{"id":"chatcmpl-floor","object":"chat.completion","created":1,"model":"bench/mock","choices":[{"index":0,'
          b'"message":{"role":"assistant","content":"' + b"word " * 64 + b'"},"finish_reason":"stop"}],'
          b'"usage":{"prompt_tokens":24,"completion_tokens":64,"total_tokens":88}}')
UPSTREAM_BODY = (b'{"model":"mock","messages":[{"role":"system","content":"You are a terse assistant."},'
                 b'{"role":"user","content":"Say hello and name three colours."}],"max_tokens":128,"temperature":0.2}')


def serve_raw(port: int) -> None:
    import httptools
    import uvloop

    head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(ANSWER)

    class Protocol(asyncio.Protocol):
        def connection_made(self, transport: Any) -> None:
            self.transport = transport
            self.parser = httptools.HttpRequestParser(self)

        def data_received(self, data: bytes) -> None:
            self.parser.feed_data(data)

        def on_message_complete(self) -> None:
            self.transport.write(head + ANSWER)

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(Protocol, "127.0.0.1", port)
        await server.serve_forever()

    uvloop.run(main())


def serve_asgi(kind: str, port: int, upstream: int) -> None:
    import uvicorn

    from turnout.core.upstream.http import HTTPClient
    from turnout.protocol import server_options
    from turnout.settings import Settings

    client: HTTPClient | None = None
    url = f"http://127.0.0.1:{upstream}/v1/chat/completions"
    headers = {"authorization": f"Bearer {systems.UPSTREAM_KEY}", "content-type": "application/json"}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        nonlocal client
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                await send({"type": message["type"] + ".complete"})
                if message["type"] == "lifespan.shutdown":
                    return
        more = True
        while more:
            message = await receive()
            more = message.get("more_body", False)
        answer = ANSWER
        if kind == "proxy":
            if client is None:
                client = HTTPClient(5, 60)
            response = await client.request("POST", url, headers, UPSTREAM_BODY)
            answer = await response.read()
            response.release()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(answer))]})
        await send({"type": "http.response.body", "body": answer})

    options = server_options(Settings(host="127.0.0.1", port=port))
    options["log_level"] = "warning"
    uvicorn.run(app, **options)


def start(kind: str, upstream_port: int, cpus: str) -> systems.System:
    """Start one floor server pinned to `cpus`, as hotpath.py starts turnout."""
    if kind not in KINDS:
        raise ValueError(f"unknown floor server {kind!r} (one of {', '.join(KINDS)})")
    port = systems.free_port()
    log = systems.WORK / "logs" / f"floor-{kind}.log"
    proc = systems._spawn([sys.executable, __file__, "serve", kind, str(port), str(upstream_port)], cpus, log)
    deadline = time.monotonic() + 30
    while True:  # no GET route to poll: wait for the port to accept
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"floor server {kind} did not start (see {log})") from None
            time.sleep(0.1)
    target = Target(f"floor-{kind}", "127.0.0.1", port, "/v1/chat/completions", {"Authorization": "Bearer floor"})
    return systems.System(f"floor-{kind}", target, proc, log)


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "serve":
        kind, port, upstream = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
        serve_raw(port) if kind == "raw" else serve_asgi(kind, port, upstream)
        return
    subprocess.run([sys.executable, str(Path(__file__).with_name("hotpath.py")), "--floor", ",".join(KINDS),
                    "--build", "turnout=.", *sys.argv[1:]], check=True)


if __name__ == "__main__":
    main()
