"""One loaded GGUF model, served in-process through xllamacpp (llama.cpp), off the event loop.

Runtime: ``xllamacpp`` exposes llama.cpp's own server engine (slots, continuous batching,
prompt cache, LLGuidance grammars) to Python; each ``handle_completions`` call blocks its
thread with the GIL released, and a streaming callback receives every piece of text.

Safety: xllamacpp always starts llama.cpp's HTTP front end as well (it answers without a
key and with ``Access-Control-Allow-Origin`` echoing any origin by default). The engine
never lets it listen on TCP: it binds it to a Unix socket inside a fresh ``0700``
temporary directory (owner only, removed on close) *and* sets a random API key, so no
other user, browser or host can reach it. turnout itself never talks to that socket.

Concurrency: ``parallel`` generations run at once (llama.cpp slots; default 1, which gives
the best per-request speed on 2 cores), each in a worker thread. Up to ``max_queue`` more
wait, each at most ``queue_timeout`` seconds; past that :class:`LocalCapacityError`
carries a ``retry_after`` estimate (the gateway turns it into 429/503 + ``Retry-After``).
Admission is thread-safe and independent of any one event loop.

Cancellation: when the consumer of :meth:`LocalEngine.stream` goes away (client
disconnect, task cancelled, generator closed), the next streaming callback returns
``True``, which makes llama.cpp cancel the task and free the slot (measured: < 0.1 s).

Loading: :meth:`LocalEngine.load` (or ``await start()``) loads once; :meth:`stream` loads
lazily if nobody did. xllamacpp's constructor holds the GIL for the ~2 s load, so a gateway
that needs the model should load it at start-up rather than on a first request.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import importlib
import json
import logging
import math
import os
import secrets
import shutil
import tempfile
import threading
import time
import weakref
from collections.abc import AsyncGenerator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .errors import (
    LOCAL_INSTALL_HINT,
    LocalBadRequestError,
    LocalCapacityError,
    LocalGenerationError,
    LocalNotInstalledError,
)
from .grammar import Constraint

__all__ = [
    "EngineConfig",
    "Finished",
    "GenerationRequest",
    "GenerationResult",
    "LocalEngine",
    "SamplingParams",
    "TextDelta",
    "default_threads",
    "import_xllamacpp",
    "rss_bytes",
]

FinishReason = Literal["stop", "length", "cancelled"]
log = logging.getLogger("turnout.local")


def import_xllamacpp() -> Any:
    """Import the runtime binding, or raise :class:`LocalNotInstalledError` with the install command."""
    try:
        return importlib.import_module("xllamacpp")
    except ImportError as exc:
        raise LocalNotInstalledError("xllamacpp", LOCAL_INSTALL_HINT) from exc


def rss_bytes() -> int:
    """Resident set size of this process in bytes (0 where /proc is unavailable)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def default_threads() -> int:
    """Every core but one, at least one.

    llama.cpp's threads meet at a barrier after every graph step, so one of them being
    descheduled stalls them all. Leaving a core to the gateway's event loop keeps both the
    decode speed and the latency of other requests steady; on this project's 2-core machines,
    under load from other processes, 1 thread decoded 2-6x faster than 2.
    """
    return max(1, (os.cpu_count() or 1) - 1)


@dataclass(frozen=True)
class EngineConfig:
    """How to load and serve one model.

    ``n_threads`` defaults to every core but one (see :func:`default_threads`); ``poll`` is
    ggml's busy-wait level for its worker threads (0 = sleep between graph steps, which
    degrades far less when the CPU is shared). ``n_ctx`` is the total context shared by
    the ``parallel`` slots (each slot gets ``n_ctx // parallel`` tokens).
    """

    model_path: Path
    n_ctx: int = 4096
    n_threads: int | None = None
    poll: int = 0
    parallel: int = 1
    max_queue: int = 8
    queue_timeout: float = 30.0
    default_max_tokens: int = 512
    verbose: bool = False


@dataclass(frozen=True)
class SamplingParams:
    """Sampler settings; ``None`` keeps llama.cpp's default.

    ``temperature=0`` samples greedily (deterministic); a fixed ``seed`` makes sampling at
    any temperature repeatable (with ``parallel=1``). Both hold from the first request on:
    such requests never reuse an earlier request's prompt cache (see ``_payload``).
    """

    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    min_p: float | None = None
    repetition_penalty: float | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    seed: int | None = None
    stop: Sequence[str] = ()

    @property
    def reproducible(self) -> bool:
        """True when the caller asked for a repeatable answer: greedy (``temperature=0``) or a fixed seed."""
        return self.temperature == 0 or self.seed is not None

    def validate(self) -> None:
        """Raise :class:`LocalBadRequestError` for out-of-range values."""
        checks: list[tuple[bool, str]] = [
            (self.max_tokens is None or self.max_tokens >= 1, "max_tokens must be >= 1"),
            (self.temperature is None or self.temperature >= 0, "temperature must be >= 0"),
            (self.top_p is None or 0 < self.top_p <= 1, "top_p must be in (0, 1]"),
            (self.top_k is None or self.top_k >= 0, "top_k must be >= 0"),
            (self.min_p is None or 0 <= self.min_p <= 1, "min_p must be in [0, 1]"),
            (self.repetition_penalty is None or self.repetition_penalty > 0, "repetition_penalty must be > 0"),
            (self.seed is None or self.seed >= 0, "seed must be >= 0"),
            (all(isinstance(s, str) and s for s in self.stop), "stop sequences must be non-empty strings"),
        ]
        for ok, message in checks:
            if not ok:
                raise LocalBadRequestError(message)


@dataclass(frozen=True)
class GenerationRequest:
    """A raw completion: the rendered prompt, its sampler and an optional grammar."""

    prompt: str
    sampling: SamplingParams = field(default_factory=SamplingParams)
    constraint: Constraint | None = None


@dataclass(frozen=True)
class TextDelta:
    """A piece of generated text (stop sequences are never included)."""

    text: str


@dataclass(frozen=True)
class Finished:
    """The last event of a stream: why it ended and the real token counts from llama.cpp."""

    finish_reason: FinishReason
    prompt_tokens: int
    completion_tokens: int
    text: str
    cached_tokens: int = 0
    prompt_ms: float = 0.0
    generation_ms: float = 0.0

    @property
    def tokens_per_second(self) -> float:
        """Decode speed measured by llama.cpp (completion tokens over generation time)."""
        return self.completion_tokens / (self.generation_ms / 1000.0) if self.generation_ms > 0 else 0.0


@dataclass(frozen=True)
class GenerationResult:
    """A whole (non-streamed) generation."""

    text: str
    finished: Finished


class _End:
    pass


_END = _End()


@dataclass
class _Ticket:
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[None]
    granted: bool = False


def _settle(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class LocalEngine:
    """One model loaded once, many concurrent requests through a bounded queue."""

    def __init__(self, config: EngineConfig, *, server: Any = None) -> None:
        """``server`` may be an already-built object with xllamacpp's ``handle_completions(dict, callback)``
        (tests pass a fake); normally it is ``None`` and :meth:`load` builds the real one."""
        if config.parallel < 1 or config.max_queue < 0 or config.n_ctx < 64:
            raise ValueError("parallel must be >= 1, max_queue >= 0 and n_ctx >= 64")
        self.config = config
        self._server: Any = server
        self._sock_dir: str | None = None
        self._load_lock = threading.Lock()
        self._lock = threading.Lock()
        self._active = 0
        self._waiters: collections.deque[_Ticket] = collections.deque()
        self._cancels: set[threading.Event] = set()
        self._executor = ThreadPoolExecutor(max_workers=config.parallel, thread_name_prefix="turnout-local")
        self._avg_seconds = 5.0
        self.load_seconds: float | None = None
        self.memory_bytes: int | None = None
        self.closed = False

    # -- loading ---------------------------------------------------------------------------

    @property
    def loaded(self) -> bool:
        """True once the model is in memory."""
        return self._server is not None

    def load(self) -> None:
        """Load the model (blocking, ~2 s for 270M); later calls return at once."""
        if self._server is not None:
            return
        with self._load_lock:
            if self._server is not None:
                return
            if self.closed:
                raise LocalGenerationError("the local engine is closed")
            xlc = import_xllamacpp()
            if not Path(self.config.model_path).is_file():
                raise LocalGenerationError(f"model file not found: {self.config.model_path}")
            sock_dir = tempfile.mkdtemp(prefix="turnout-llama-")  # mode 0700
            params = xlc.CommonParams()
            params.model.path = str(self.config.model_path)
            params.n_ctx = self.config.n_ctx
            params.n_parallel = self.config.parallel
            threads = self.config.n_threads or default_threads()
            params.cpuparams.n_threads = threads
            params.cpuparams_batch.n_threads = threads
            params.cpuparams.poll = self.config.poll
            params.cpuparams_batch.poll = self.config.poll
            params.hostnames = [os.path.join(sock_dir, "llama.sock")]
            params.api_keys = [secrets.token_urlsafe(32)]
            params.cors_origins = ""
            params.ui = False
            params.endpoint_metrics = False
            params.endpoint_slots = False
            params.endpoint_props = False
            params.n_threads_http = 1
            params.verbosity = 3 if self.config.verbose else -1
            before = rss_bytes()
            started = time.perf_counter()
            try:
                server = xlc.Server(params)
            except Exception as exc:
                shutil.rmtree(sock_dir, ignore_errors=True)
                raise LocalGenerationError(f"could not load {self.config.model_path}: {exc}") from exc
            address = str(server.listening_address)
            if not address.startswith("unix://"):
                del server
                shutil.rmtree(sock_dir, ignore_errors=True)
                raise LocalGenerationError(f"refusing to run: the runtime listens on {address}, not a private socket")
            self.load_seconds = time.perf_counter() - started
            self.memory_bytes = max(0, rss_bytes() - before)
            self._sock_dir = sock_dir
            self._server = server
            # Remove the socket folder even if close() is never called (the process just exits).
            weakref.finalize(self, shutil.rmtree, sock_dir, True)
            log.info(
                "local model %s loaded in %.1f s: +%d MiB resident (process %d MiB), %d threads, n_ctx %d, %d slot(s)",
                Path(self.config.model_path).name,
                self.load_seconds,
                self.memory_bytes // 2**20,
                rss_bytes() // 2**20,
                threads,
                self.config.n_ctx,
                self.config.parallel,
            )

    async def start(self) -> None:
        """Load the model from a worker thread (see the module note about the GIL)."""
        await asyncio.to_thread(self.load)

    def info(self) -> dict[str, Any]:
        """What the engine reports about itself: load state, memory, capacity and queue."""
        model_bytes = 0
        with contextlib.suppress(OSError):
            model_bytes = Path(self.config.model_path).stat().st_size
        with self._lock:
            active, waiting = self._active, len(self._waiters)
        return {
            "loaded": self.loaded,
            "load_seconds": self.load_seconds,
            "memory_bytes": self.memory_bytes,
            "process_rss_bytes": rss_bytes(),
            "model_file_bytes": model_bytes,
            "n_ctx": self.config.n_ctx,
            "threads": self.config.n_threads or default_threads(),
            "parallel": self.config.parallel,
            "max_queue": self.config.max_queue,
            "active": active,
            "waiting": waiting,
        }

    def close(self) -> None:
        """Cancel running generations, unload the model and remove the private socket folder."""
        self.closed = True
        with self._lock:
            for ev in self._cancels:
                ev.set()
            waiters = list(self._waiters)
            self._waiters.clear()
        for t in waiters:
            with contextlib.suppress(RuntimeError):
                t.loop.call_soon_threadsafe(_settle, t.future)
        self._executor.shutdown(wait=True)
        with self._load_lock:
            server, self._server = self._server, None
            del server  # the destructor stops llama.cpp's loop and joins its threads
            if self._sock_dir:
                shutil.rmtree(self._sock_dir, ignore_errors=True)
                self._sock_dir = None

    # -- admission ---------------------------------------------------------------------------

    def _retry_after(self) -> int:
        with self._lock:
            ahead = self._active + len(self._waiters)
        return max(1, min(120, math.ceil(self._avg_seconds * max(1, ahead) / self.config.parallel)))

    async def _acquire(self) -> None:
        loop = asyncio.get_running_loop()
        with self._lock:
            if self.closed:
                raise LocalGenerationError("the local engine is closed")
            if self._active < self.config.parallel and not self._waiters:
                self._active += 1
                return
            full = len(self._waiters) >= self.config.max_queue
            if not full:
                ticket = _Ticket(loop, loop.create_future())
                self._waiters.append(ticket)
        if full:
            raise LocalCapacityError(
                f"the local model is busy ({self.config.parallel} generating, {self.config.max_queue} waiting)",
                retry_after=self._retry_after(),
            )
        try:
            async with asyncio.timeout(self.config.queue_timeout):
                await asyncio.shield(ticket.future)
        except BaseException as exc:
            with self._lock:
                granted = ticket.granted
                if not granted:
                    with contextlib.suppress(ValueError):
                        self._waiters.remove(ticket)
            if granted:
                self._release()  # the slot arrived as we gave up: pass it on
            if isinstance(exc, TimeoutError):
                raise LocalCapacityError(
                    f"waited {self.config.queue_timeout:g} s for the local model", retry_after=self._retry_after()
                ) from None
            raise
        if self.closed:
            self._release()
            raise LocalGenerationError("the local engine is closed")

    def _release(self) -> None:
        with self._lock:
            while self._waiters:
                ticket = self._waiters.popleft()
                ticket.granted = True
                try:
                    ticket.loop.call_soon_threadsafe(_settle, ticket.future)
                except RuntimeError:  # that waiter's loop is gone: try the next one
                    continue
                return  # the slot passes to the waiter; _active is unchanged
            self._active -= 1

    # -- generation ----------------------------------------------------------------------------

    def _payload(self, req: GenerationRequest) -> dict[str, Any]:
        s = req.sampling
        s.validate()
        payload: dict[str, Any] = {
            "prompt": req.prompt,
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": s.max_tokens or self.config.default_max_tokens,
            # A reproducible request (greedy, or a fixed seed) never reuses the KV cache an earlier
            # request left in the slot: llama.cpp's matrix kernels round differently for a batch of
            # 5 tokens than for the same tokens inside a batch of 119, so a partly cached prompt
            # gives slightly different logits, and a near tie flips the greedy choice. The first
            # answer after start-up (nothing cached) then differed from every later one. Processing
            # the whole prompt every time makes the answer depend on the request alone; random
            # sampling keeps the cache (its ~10x faster prompt step).
            "cache_prompt": not s.reproducible,
        }
        optional = {
            "temperature": s.temperature,
            "top_p": s.top_p,
            "top_k": s.top_k,
            "min_p": s.min_p,
            "repeat_penalty": s.repetition_penalty,
            "frequency_penalty": s.frequency_penalty,
            "presence_penalty": s.presence_penalty,
            "seed": None if s.seed is None else s.seed % (2**32 - 1),
        }
        payload.update({k: v for k, v in optional.items() if v is not None})
        if s.stop:
            payload["stop"] = list(dict.fromkeys(s.stop))
        c = req.constraint
        if c is not None:
            payload["json_schema" if c.kind == "json_schema" else "grammar"] = c.value
        return payload

    async def stream(self, req: GenerationRequest) -> AsyncGenerator[TextDelta | Finished, None]:
        """Generate, yielding :class:`TextDelta` pieces and one final :class:`Finished`.

        Closing the iterator early (or cancelling its task) stops the generation.
        """
        payload = self._payload(req)
        if self._server is None:
            await self.start()
        await self._acquire()
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        cancel = threading.Event()
        with self._lock:
            self._cancels.add(cancel)
        server = self._server
        started = time.perf_counter()

        def post(item: Any) -> None:
            with contextlib.suppress(RuntimeError):  # the consumer's loop has closed
                loop.call_soon_threadsafe(queue.put_nowait, item)

        def on_chunk(chunk: Any) -> bool:
            if cancel.is_set():
                return True
            post(chunk)
            return False

        def run() -> None:
            try:
                if server is None:
                    raise LocalGenerationError("the local engine is closed")
                server.handle_completions(payload, on_chunk)
            except BaseException as exc:
                post(exc)
            finally:
                with self._lock:
                    self._cancels.discard(cancel)
                elapsed = time.perf_counter() - started
                self._avg_seconds = 0.8 * self._avg_seconds + 0.2 * elapsed
                self._release()
                post(_END)

        try:
            self._executor.submit(run)
        except RuntimeError as exc:  # executor shut down by close()
            with self._lock:
                self._cancels.discard(cancel)
            self._release()
            raise LocalGenerationError("the local engine is closed") from exc

        pieces: list[str] = []
        finish: str | None = None
        usage: dict[str, Any] = {}
        timings: dict[str, Any] = {}
        try:
            while True:
                item = await queue.get()
                if item is _END:
                    break
                if isinstance(item, BaseException):
                    raise LocalGenerationError(f"local generation failed: {item}") from item
                _raise_if_error(item)
                if "timings" in item:
                    timings = item["timings"]
                if item.get("usage"):
                    usage = item["usage"]
                for choice in item.get("choices") or ():
                    text = choice.get("text") or ""
                    if text:
                        pieces.append(text)
                        yield TextDelta(text)
                    if choice.get("finish_reason"):
                        finish = choice["finish_reason"]
            text = "".join(pieces)
            reason: FinishReason = "length" if finish == "length" else "stop" if finish else "cancelled"
            if req.constraint is not None and req.constraint.mode == "json" and reason == "stop":
                try:
                    json.loads(text)
                except ValueError as exc:
                    raise LocalGenerationError("the runtime could not apply the JSON grammar to this request") from exc
            yield Finished(
                finish_reason=reason,
                prompt_tokens=int(usage.get("prompt_tokens", timings.get("prompt_n", 0)) or 0),
                completion_tokens=int(usage.get("completion_tokens", timings.get("predicted_n", 0)) or 0),
                text=text,
                cached_tokens=int((usage.get("prompt_tokens_details") or {}).get("cached_tokens", 0) or 0),
                prompt_ms=float(timings.get("prompt_ms", 0.0) or 0.0),
                generation_ms=float(timings.get("predicted_ms", 0.0) or 0.0),
            )
        finally:
            cancel.set()

    async def generate(self, req: GenerationRequest) -> GenerationResult:
        """Generate to the end and return the whole text with its :class:`Finished` record."""
        agen = self.stream(req)
        try:
            async for event in agen:
                if isinstance(event, Finished):
                    return GenerationResult(text=event.text, finished=event)
        finally:
            await agen.aclose()
        raise LocalGenerationError("the generation ended without a final record")


def _raise_if_error(item: Any) -> None:
    if not isinstance(item, dict):
        raise LocalGenerationError(f"unexpected chunk from the runtime: {item!r}")
    err = item.get("error")
    if err is None and "choices" not in item and "message" in item:
        err = item  # the binding's own {"code", "type", "message"} shape
    if err is None:
        return
    if isinstance(err, dict):
        code = int(err.get("code", 500) or 500)
        kind = str(err.get("type", ""))
        message = str(err.get("message", err))
    else:
        code, kind, message = 500, "", str(err)
    if kind == "exceed_context_size_error":
        raise LocalBadRequestError(message, code="context_length_exceeded")
    if 400 <= code < 500:
        raise LocalBadRequestError(message)
    raise LocalGenerationError(message)
