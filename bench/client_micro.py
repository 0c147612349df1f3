"""Upstream HTTP client microbenchmark: turnout's own client (core/upstream/http.py) vs aiohttp vs httpx.

One process, one loopback server (a raw asyncio protocol answering a fixed chat completion),
3,000 POSTs at concurrency 10 after 200 warm-up requests; prints CPU microseconds per request
(client and server together: the server's share is the same for every client) and requests/s.

    PYTHONPATH=src python bench/client_micro.py turnout|aiohttp|httpx

aiohttp and httpx are not dependencies of turnout: install them to compare.
"""
import asyncio
import sys
import time

BODY = b'{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hello there"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}'
RESP = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(BODY) + BODY
class S(asyncio.Protocol):
    def connection_made(self, t): self.t = t; self.buf = b""
    def data_received(self, d):
        self.buf += d
        while b"\r\n\r\n" in self.buf:
            head, _, rest = self.buf.partition(b"\r\n\r\n")
            n = int([l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")][0].split(b":")[1])
            if len(rest) < n: return
            self.buf = rest[n:]; self.t.write(RESP)
REQ = b'{"model":"m","messages":[{"role":"user","content":"hi"}]}'
H = {"authorization": "Bearer k", "content-type": "application/json"}
async def main(which, n=3000, conc=10):
    loop = asyncio.get_running_loop()
    srv = await loop.create_server(S, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{srv.sockets[0].getsockname()[1]}/v1/chat/completions"
    if which == "turnout":
        from turnout.core.upstream.http import HTTPClient
        c = HTTPClient(5, 30)
        async def one():
            r = await c.request("POST", url, H, REQ); b = await r.read(); r.release(); return b
    elif which == "aiohttp":
        import aiohttp
        s = aiohttp.ClientSession()
        async def one():
            async with s.post(url, data=REQ, headers=H) as r: return await r.read()
    else:
        import httpx
        s = httpx.AsyncClient()
        async def one():
            r = await s.post(url, content=REQ, headers=H); return r.content
    for _ in range(200): await one()
    async def worker(k):
        for _ in range(k): await one()
    t0, c0 = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker(n // conc) for _ in range(conc)))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"{which:8s} {n} req conc {conc}: {cpu/n*1e6:7.1f} us CPU/req (client+server in one process), {n/wall:7.0f} req/s")
import uvloop; uvloop.install()
asyncio.run(main(sys.argv[1]))
