"""The built-in `local` provider: turnout.local's engine behind the in-process provider Protocol.

Chat (`google/gemma-3-270m`, upstream model ``gemma-3-270m-q4_k_m``): a canonical
`ChatRequest` becomes a base-model transcript, sampler settings and, for tools and
``response_format``, an LLGuidance grammar (turnout.local.chat); the engine's pieces become
canonical stream events (`TextDelta`, `ToolCallDelta`, `UsageReport`, `Finish`).
Embeddings (`sentence-transformers/all-minilm-l6-v2`, upstream ``all-minilm-l6-v2``): NumPy.

The model is loaded once, at start-up when the runtime calls :meth:`LocalProvider.start`,
otherwise on the first request (the load holds the GIL for ~2 s, but the model holds ~350 MB:
`turnout serve` preloads it only when no other chat model can answer, see runtime.local_model_plan).
Engine settings come from the ``local`` provider's ``options`` in the catalog/config
(``threads``, ``poll``, ``n_ctx``, ``parallel``, ``max_queue``, ``queue_timeout``,
``default_max_tokens``), else from ``TURNOUT_LOCAL_<NAME>`` environment variables.

Errors map to the canonical vocabulary: a bad request is a 400 caller fault (no retry), a
full queue is a 503 with ``Retry-After`` (rate-limit class: the router cools the endpoint
down for that long and may fall back), a missing extra says which command installs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import uuid
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from turnout.local import (
    LOCAL_EMBEDDINGS_INSTALL_HINT,
    LOCAL_INSTALL_HINT,
    LocalBadRequestError,
    LocalCapacityError,
    LocalError,
    LocalNotInstalledError,
    missing_for_chat,
    missing_for_embeddings,
)
from turnout.model.chat import ChatRequest, ImagePart, Message, NamedToolChoice, TextPart, ToolCall
from turnout.model.embeddings import EmbeddingRequest, EmbeddingResult
from turnout.model.errors import ErrorKind, FailureClass, UpstreamError
from turnout.model.result import ChatResult, Usage
from turnout.model.stream import Finish, StreamEvent, StreamFailure, TextDelta, ToolCallDelta, UsageReport
from turnout.providers.base import Target

if TYPE_CHECKING:
    from turnout.local.embeddings import MiniLMEmbedder
    from turnout.local.engine import LocalEngine
    from turnout.settings import Settings

__all__ = ["CHAT_UPSTREAM_MODEL", "EMBEDDING_UPSTREAM_MODEL", "LocalProvider", "create_provider"]

CHAT_UPSTREAM_MODEL = "gemma-3-270m-q4_k_m"
EMBEDDING_UPSTREAM_MODEL = "all-minilm-l6-v2"
PROVIDER_NAME = "Local (in-process)"
MAX_EMBEDDING_INPUTS = 2048
_ENGINE_OPTIONS: dict[str, type] = {
    "threads": int,
    "poll": int,
    "n_ctx": int,
    "parallel": int,
    "max_queue": int,
    "queue_timeout": float,
    "default_max_tokens": int,
}


def _upstream_error(exc: LocalError, target: Target | None = None) -> UpstreamError:
    provider = target.provider_name if target is not None else PROVIDER_NAME
    if isinstance(exc, LocalBadRequestError):
        return UpstreamError(
            ErrorKind.PROVIDER_INVALID_REQUEST,
            str(exc),
            provider=provider,
            failure=FailureClass.CALLER_FAULT,
            upstream_status=400,
            raw={"code": exc.code},
        )
    if isinstance(exc, LocalCapacityError):
        return UpstreamError(
            ErrorKind.PROVIDER_OVERLOADED,
            str(exc),
            provider=provider,
            failure=FailureClass.RATE_LIMIT,
            upstream_status=503,
            retry_after=float(exc.retry_after),
        )
    if isinstance(exc, LocalNotInstalledError):
        return UpstreamError(ErrorKind.ROUTING_UNAVAILABLE, str(exc), provider=provider, failure=FailureClass.TRANSIENT)
    return UpstreamError(ErrorKind.PROVIDER_SERVER_ERROR, str(exc), provider=provider, failure=FailureClass.TRANSIENT)


def _message_dict(msg: Message, call_names: Mapping[str, str]) -> dict[str, Any]:
    content: Any
    if isinstance(msg.content, list):
        parts: list[dict[str, Any]] = []
        for p in msg.content:
            if isinstance(p, TextPart):
                parts.append({"type": "text", "text": p.text})
            elif isinstance(p, ImagePart):
                parts.append({"type": "image_url"})
            else:
                parts.append({"type": type(p).__name__.removesuffix("Part").lower()})
        content = parts
    else:
        content = msg.content
    out: dict[str, Any] = {"role": msg.role, "content": content}
    if msg.tool_calls:
        out["tool_calls"] = [{"function": {"name": c.name, "arguments": c.arguments}} for c in msg.tool_calls]
    if msg.role == "tool":
        out["name"] = msg.name or (call_names.get(msg.tool_call_id) if msg.tool_call_id else None)
    return out


def _chat_fields(request: ChatRequest) -> dict[str, Any]:
    """The OpenAI-shaped fields turnout.local.chat.prepare_chat takes, from a canonical request."""
    call_names = {c.id: c.name for m in request.messages for c in (m.tool_calls or ())}
    messages = [_message_dict(m, call_names) for m in request.messages]
    tools = [{"name": t.name, "description": t.description, "parameters": t.parameters} for t in request.tools or ()]
    choice: Any = request.tool_choice
    if isinstance(choice, NamedToolChoice):
        choice = {"type": "function", "function": {"name": choice.name}}
    rf: dict[str, Any] | None = None
    if request.response_format is not None:
        f = request.response_format
        if f.type == "json_schema":
            rf = {"type": "json_schema", "json_schema": {"name": f.name, "schema": f.schema}}
        elif f.type == "json_object":
            rf = {"type": "json_object", "schema": f.schema} if f.schema else {"type": "json_object"}
    return {"messages": messages, "tools": tools or None, "tool_choice": choice, "response_format": rf}


class LocalProvider:
    """In-process provider for the built-in models; one engine, loaded once."""

    dialect: ClassVar[str] = "local"

    def __init__(self, data_dir: Path, *, options: Mapping[str, Any] | None = None) -> None:
        self.data_dir = Path(data_dir)
        self._options = dict(options or {})
        self._engine: LocalEngine | None = None
        self._embedder: MiniLMEmbedder | None = None
        self._lock = threading.Lock()
        self._embed_slots = threading.BoundedSemaphore(2)

    # -- availability and lifecycle -------------------------------------------------------------

    def available(self, upstream_model: str | None = None) -> tuple[bool, str | None]:
        """Whether the chat model (or, given its upstream id, the embeddings model) can serve."""
        if upstream_model == EMBEDDING_UPSTREAM_MODEL:
            missing = missing_for_embeddings()
            if missing:
                return False, (
                    f"the local embeddings model needs {', '.join(missing)}; install it with: "
                    f"{LOCAL_EMBEDDINGS_INSTALL_HINT}"
                )
            return True, None
        missing = missing_for_chat()
        if missing:
            return False, f"the local model needs {', '.join(missing)}; install it with: {LOCAL_INSTALL_HINT}"
        return True, None

    def _engine_config_values(self, target: Target | None) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for name, kind in _ENGINE_OPTIONS.items():
            candidates = (
                target.options.get(name) if target is not None else None,
                self._options.get(name),
                os.environ.get(f"TURNOUT_LOCAL_{name.upper()}") or None,
            )
            value = next((v for v in candidates if v is not None), None)
            if value is not None:
                merged[name] = kind(value)
        if "threads" in merged:
            merged["n_threads"] = merged.pop("threads")
        return merged

    def _ensure_engine(self, target: Target | None = None) -> LocalEngine:
        if self._engine is not None:
            return self._engine
        with self._lock:
            if self._engine is None:
                from turnout.local.engine import EngineConfig, LocalEngine, import_xllamacpp
                from turnout.local.weights import ensure_gemma_gguf

                import_xllamacpp()  # fail with the install hint before touching the weights
                path = ensure_gemma_gguf(self.data_dir)
                engine = LocalEngine(EngineConfig(model_path=path, **self._engine_config_values(target)))
                engine.load()
                self._engine = engine
            return self._engine

    async def start(self) -> None:
        """Assemble the weights (first run only) and load the chat model, if the extra is installed."""
        if self.available()[0]:
            await asyncio.to_thread(self._ensure_engine)

    async def close(self) -> None:
        """Stop running generations and unload the model."""
        engine, self._engine = self._engine, None
        if engine is not None:
            await asyncio.to_thread(engine.close)

    def info(self) -> dict[str, Any]:
        """Load state, memory and queue of the chat engine (for /health or logs)."""
        if self._engine is None:
            return {"loaded": False}
        return self._engine.info()

    # -- chat -------------------------------------------------------------------------------------

    def _check_chat_target(self, target: Target) -> None:
        if target.upstream_model != CHAT_UPSTREAM_MODEL:
            raise UpstreamError(
                ErrorKind.PROVIDER_INVALID_REQUEST,
                f"the local provider serves chat with {CHAT_UPSTREAM_MODEL}, not {target.upstream_model}",
                provider=target.provider_name,
                failure=FailureClass.CALLER_FAULT,
                upstream_status=404,
            )

    async def _prepare(self, request: ChatRequest, target: Target) -> tuple[LocalEngine, Any]:
        from turnout.local.chat import prepare_chat
        from turnout.local.engine import SamplingParams

        self._check_chat_target(target)
        sampling = SamplingParams(
            max_tokens=request.max_tokens,
            temperature=request.temperature,
            top_p=request.top_p,
            top_k=request.top_k,
            min_p=request.min_p,
            repetition_penalty=request.repetition_penalty,
            frequency_penalty=request.frequency_penalty,
            presence_penalty=request.presence_penalty,
            seed=request.seed,
            stop=tuple(request.stop or ()),
        )
        prepared = prepare_chat(sampling=sampling, **_chat_fields(request))
        engine = self._engine
        if engine is None:
            engine = await asyncio.to_thread(self._ensure_engine, target)
        return engine, prepared

    async def complete(self, request: ChatRequest, target: Target) -> ChatResult:
        from turnout.local.chat import complete_chat

        try:
            engine, prepared = await self._prepare(request, target)
            done = await complete_chat(engine, prepared)
        except LocalError as exc:
            raise _upstream_error(exc, target) from exc
        calls = [ToolCall(id=_call_id(), name=c.name, arguments=c.arguments_json()) for c in done.tool_calls]
        reason = "stop" if done.finish_reason == "cancelled" else done.finish_reason
        return ChatResult(
            content=done.content,
            finish_reason=reason,
            native_finish_reason=done.finish_reason,
            tool_calls=calls or None,
            usage=Usage(
                prompt_tokens=done.prompt_tokens,
                completion_tokens=done.completion_tokens,
                cached_tokens=done.cached_tokens,
            ),
            upstream_id=f"local-{uuid.uuid4().hex}",
        )

    async def stream(self, request: ChatRequest, target: Target) -> AsyncIterator[StreamEvent]:
        from turnout.local.chat import ChatDone, ContentDelta, ToolCallEvent, stream_chat

        started = False
        try:
            engine, prepared = await self._prepare(request, target)
            async with contextlib.aclosing(stream_chat(engine, prepared)) as events:
                async for ev in events:
                    if isinstance(ev, ContentDelta):
                        started = True
                        yield TextDelta(ev.text)
                    elif isinstance(ev, ToolCallEvent):
                        started = True
                        yield ToolCallDelta(
                            index=ev.index, id=_call_id(), name=ev.call.name, arguments=ev.call.arguments_json()
                        )
                    elif isinstance(ev, ChatDone):
                        usage = Usage(
                            prompt_tokens=ev.prompt_tokens,
                            completion_tokens=ev.completion_tokens,
                            cached_tokens=ev.cached_tokens,
                        )
                        yield UsageReport(usage)
                        reason = "stop" if ev.finish_reason == "cancelled" else ev.finish_reason
                        yield Finish(reason, ev.finish_reason)
                        return
        except LocalError as exc:
            err = _upstream_error(exc, target)
            if not started:
                raise err from exc
            yield StreamFailure(err)

    # -- embeddings -------------------------------------------------------------------------------

    def _ensure_embedder(self) -> MiniLMEmbedder:
        with self._lock:
            if self._embedder is None:
                from turnout.local.embeddings import MiniLMEmbedder

                embedder = MiniLMEmbedder()
                embedder.load()
                self._embedder = embedder
            return self._embedder

    def _embed_sync(self, texts: list[str]) -> Any:
        with self._embed_slots:  # at most two batches in NumPy at once
            return self._ensure_embedder().embed(texts)

    async def embed(self, request: EmbeddingRequest, target: Target) -> EmbeddingResult:
        try:
            if target.upstream_model != EMBEDDING_UPSTREAM_MODEL:
                raise LocalBadRequestError(
                    f"the local provider serves embeddings with {EMBEDDING_UPSTREAM_MODEL}, not {target.upstream_model}"
                )
            texts = request.texts()
            if len(texts) != len(request.inputs):
                raise LocalBadRequestError("the local embeddings model takes text inputs, not token arrays")
            if not texts or len(texts) > MAX_EMBEDDING_INPUTS:
                raise LocalBadRequestError(f"input must hold between 1 and {MAX_EMBEDDING_INPUTS} texts")
            if request.dimensions is not None and request.dimensions != 384:
                raise LocalBadRequestError("all-minilm-l6-v2 has 384 dimensions; other values are not supported")
            missing = missing_for_embeddings()
            if missing:
                raise LocalNotInstalledError(
                    ", ".join(missing), LOCAL_EMBEDDINGS_INSTALL_HINT, "the local embeddings model all-minilm-l6-v2"
                )
            res = await asyncio.to_thread(self._embed_sync, texts)
        except LocalError as exc:
            raise _upstream_error(exc, target) from exc
        return EmbeddingResult(
            vectors=res.vectors, usage=Usage(prompt_tokens=res.prompt_tokens), upstream_model=EMBEDDING_UPSTREAM_MODEL
        )


def _call_id() -> str:
    return "call_" + uuid.uuid4().hex[:24]


def create_provider(settings: Settings) -> LocalProvider:
    """The registry's factory (providers/registry.py): the provider lives under ``settings.data_dir``.

    Engine options may also be set in the config file, ``providers: {local: {options: {...}}}``.
    """
    raw = (settings.providers or {}).get("local") or {}
    options = raw.get("options") if isinstance(raw, Mapping) else None
    return LocalProvider(settings.data_dir, options=options if isinstance(options, Mapping) else None)
