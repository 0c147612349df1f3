"""Run any ASGI app with uvicorn on 127.0.0.1 in a background thread (httpx's conftest idea).

The server binds port 0 and reports the real port, so tests never collide on ports.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn


class ThreadServer(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the main thread owns signals
        pass


@contextmanager
def serve(app: Any, *, lifespan: str = "auto", port: int = 0, host: str = "127.0.0.1", http: Any = "auto") -> Iterator[str]:
    """Serve `app` on a free loopback port; yields its base URL, e.g. http://127.0.0.1:41234
    (`host="::1"`: IPv6 loopback, http://[::1]:41234). `http`: uvicorn's protocol class; by default
    turnout's own app runs in turnout's own protocol (protocol.GuardedProtocol), as `turnout serve`
    runs it, and any other app (a fake upstream) in uvicorn's.

    The protocol matters for keep-alive: uvicorn closes a connection idle for 5 s, exactly when
    httpx's pool gives up on it (its `keepalive_expiry` is also 5 s), so a client whose event loop
    stalled for 5 s can send its next request on a connection the server is closing, and get a
    `ReadError` (the likely cause of one in CI, under load). turnout keeps an idle connection
    `idle_timeout` (30 s), longer than any client's pool keeps one by default."""
    if http == "auto":
        from turnout.protocol import GuardedProtocol, app_settings

        if app_settings(app) is not None:
            http = GuardedProtocol
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan=lifespan, loop="asyncio", timeout_graceful_shutdown=3,
                            http=http)
    server = ThreadServer(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
