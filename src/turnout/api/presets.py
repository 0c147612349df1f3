"""Presets (OpenRouter's): named, versioned request configurations, and the `/presets` API.

A preset holds request fields in the wire form of the route it was made from (chat completions,
Anthropic Messages or Responses). It is used by `model: "@preset/slug"`,
`model: "author/model@preset/slug"` or the body field `preset: "slug"`, in any inbound dialect:
its fields are parsed once, by that dialect's own parser, into a canonical request template, and
merged into the caller's canonical request. Request fields win; tools are merged by name; the
preset's system prompt is used when the request has none.

Presets live in the store. Every process keeps them all in memory (there are few) and refreshes
them with the keys, once a second, so the request path never reads the database; a preset saved
through this process is in its cache at once.
"""

from __future__ import annotations

import copy
import re
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from turnout.api.auth import require_admin
from turnout.api.body import read_json
from turnout.core.response_cache import DEFAULT_TTL, ttl_of
from turnout.model.chat import ChatRequest, Message
from turnout.model.errors import ErrorKind, GatewayError, invalid
from turnout.store.base import PresetRecord, Store

SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
MAX_CONFIG_BYTES = 256 * 1024
MAX_PRESETS = 10_000
# Fields a preset carries over (canonical names); everything else of the request is its own.
FIELDS = ("max_tokens", "temperature", "top_p", "top_k", "min_p", "top_a", "frequency_penalty", "presence_penalty",
          "repetition_penalty", "seed", "stop", "logit_bias", "logprobs", "top_logprobs", "response_format",
          "tool_choice", "parallel_tool_calls", "reasoning", "plugins", "provider", "models")
# Wire fields that describe one request, not a configuration: never stored in a preset.
TRANSIENT = frozenset({"messages", "input", "prompt", "stream", "stream_options", "user", "session_id", "metadata",
                       "trace", "debug", "previous_response_id", "background", "store", "preset", "safety_identifier",
                       "prompt_cache_key"})
PLACEHOLDER_MODEL = "preset/none"


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def split_reference(model: str) -> tuple[str | None, str | None]:
    """(model, preset slug) from `@preset/slug` or `author/model@preset/slug`; (model, None) otherwise."""
    if "@preset/" not in model:
        return model, None
    head, _, slug = model.partition("@preset/")
    return (head or None), slug


@dataclass(slots=True)
class Preset:
    record: PresetRecord
    template: ChatRequest | None = None  # parsed on first use


def template_of(record: PresetRecord) -> ChatRequest:
    """The preset's fields as a canonical request, parsed by its own dialect's parser."""
    from turnout.api.anthropic.protocol import to_chat_request as anthropic_request
    from turnout.api.openai.protocol import to_chat_request as openai_request
    from turnout.api.responses.protocol import to_responses_request

    body = {k: v for k, v in record.config.items() if k not in ("cache_enabled", "cache_ttl_seconds")}
    body.setdefault("model", PLACEHOLDER_MODEL)
    if record.dialect == "anthropic":
        body["messages"] = [{"role": "user", "content": "."}]
        body.setdefault("max_tokens", 1)
        chat = anthropic_request(body)
        if "max_tokens" not in record.config:
            chat.max_tokens = None
        return chat
    if record.dialect == "responses":
        body["input"] = "."
        return to_responses_request(body).chat
    body["messages"] = [{"role": "user", "content": "."}]
    return openai_request(body)


def merge(request: ChatRequest, preset: Preset, model: str | None) -> None:
    """Apply a preset to a request in place: request fields win, tools merge by name."""
    if preset.template is None:
        preset.template = template_of(preset.record)
    tpl = preset.template
    if model:
        request.model = model
    elif tpl.model != PLACEHOLDER_MODEL:
        request.model = tpl.model
    else:
        raise invalid("model", f"preset {preset.record.slug!r} names no model: use author/model@preset/{preset.record.slug}")
    for name in FIELDS:
        if getattr(request, name) is None and getattr(tpl, name) is not None:
            setattr(request, name, copy.deepcopy(getattr(tpl, name)))
    if tpl.tools:
        own = {t.name for t in request.tools or ()}
        request.tools = [*(request.tools or ()), *(copy.deepcopy(t) for t in tpl.tools if t.name not in own)]
    config = preset.record.config
    if config.get("cache_enabled") is True and request.cache_ttl is None:
        request.cache_ttl = ttl_of(config.get("cache_ttl_seconds", DEFAULT_TTL))
    system = preset.record.system_prompt
    if system and not any(m.role in ("system", "developer") for m in request.messages):
        request.messages.insert(0, Message(role="system", content=system))


class PresetBook:
    """Every preset's active version, in memory; refreshed from the store with the keys."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._presets: dict[str, Preset] = {}
        self._seen = 0.0
        self._lock = threading.Lock()
        self.refresh()

    def refresh(self) -> None:
        """Called from a worker thread once a second (runtime) and after each save here."""
        changed = self.store.presets_changed_since(self._seen)
        with self._lock:
            for record in changed:
                self._seen = max(self._seen, record.updated_at)
                if record.archived:
                    self._presets.pop(record.slug, None)
                else:
                    self._presets[record.slug] = Preset(record)

    def get(self, slug: str) -> Preset | None:
        return self._presets.get(slug)

    def all(self) -> list[Preset]:
        return sorted(self._presets.values(), key=lambda p: p.record.slug)

    def apply(self, request: ChatRequest, slug: str | None = None) -> ChatRequest:
        """Resolve `@preset/...` in `model` (or the body's `preset`) and merge that preset in."""
        model, from_model = split_reference(request.model)
        slug = from_model or slug
        if slug is None:
            return request
        preset = self._presets.get(slug)
        if preset is None:
            raise GatewayError(ErrorKind.CALLER_INVALID_REQUEST, f"preset {slug[:64]!r} does not exist", param="preset",
                               metadata={"param": "preset"})
        merge(request, preset, model)
        return request

    def save(self, slug: str, dialect: str, body: dict[str, Any], name: str | None) -> PresetRecord:
        if not SLUG.match(slug):
            raise invalid("slug", "a preset slug is 1-64 lower-case letters, digits, '-' or '_'")
        if slug not in self._presets and len(self._presets) >= MAX_PRESETS:
            raise invalid("slug", f"this gateway already has {MAX_PRESETS} presets")
        config = {k: v for k, v in body.items() if k not in TRANSIENT}
        system = _system_prompt(dialect, body)
        config.pop("system", None)
        config.pop("instructions", None)
        if len(orjson.dumps(config)) > MAX_CONFIG_BYTES:
            raise invalid("body", f"a preset's configuration is limited to {MAX_CONFIG_BYTES} bytes")
        candidate = Preset(PresetRecord(slug, 0, name or slug, dialect, config, system, False, 0.0, 0.0))
        merge(ChatRequest(model="x/y", messages=[]), candidate, "x/y")  # parses: a broken preset is refused now
        record = self.store.save_preset(slug, name or slug, dialect, config, system, time.time())
        self.refresh()
        return record


def _system_prompt(dialect: str, body: dict[str, Any]) -> str | None:
    if dialect == "anthropic":
        system = body.get("system")
        if isinstance(system, list):
            return "\n".join(b.get("text", "") for b in system if isinstance(b, dict)) or None
        return system if isinstance(system, str) else None
    if dialect == "responses":
        instructions = body.get("instructions")
        return instructions if isinstance(instructions, str) else None
    texts = []
    for m in body.get("messages") or ():
        if isinstance(m, dict) and m.get("role") in ("system", "developer") and isinstance(m.get("content"), str):
            texts.append(m["content"])
    return "\n".join(texts) or None


# -- the /presets API (admin key) ----------------------------------------------------------------

def _wire_version(r: PresetRecord) -> dict[str, Any]:
    return {"id": f"{r.slug}@{r.version}", "preset_id": r.slug, "version": r.version, "config": r.config,
            "system_prompt": r.system_prompt, "creator_id": "admin", "created_at": _iso(r.updated_at),
            "updated_at": _iso(r.updated_at)}


def _wire_preset(r: PresetRecord, designated: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": r.slug, "slug": r.slug, "name": r.name, "description": None, "status": "archived" if r.archived else "active",
        "status_updated_at": _iso(r.updated_at), "created_at": _iso(r.created_at), "updated_at": _iso(r.updated_at),
        "creator_user_id": None, "workspace_id": None, "designated_version_id": f"{r.slug}@{r.version}",
    }
    if designated:
        out["designated_version"] = _wire_version(r)
    return out


def _json(obj: object, status: int = 200) -> Response:
    return Response(orjson.dumps(obj), status_code=status, media_type="application/json")


def _paging(request: Request) -> tuple[int, int]:
    try:
        offset = max(int(request.query_params.get("offset") or 0), 0)
        limit = min(max(int(request.query_params.get("limit") or 50), 1), 500)
    except ValueError:
        raise invalid("limit", "offset and limit are integers") from None
    return offset, limit


async def _runtime(request: Request) -> Any:
    rt = request.app.state.runtime
    await require_admin(request.headers, rt.keys, rt.admin)
    return rt


async def list_presets(request: Request) -> Response:
    rt = await _runtime(request)
    offset, limit = _paging(request)
    presets = rt.presets.all()
    return _json({"data": [_wire_preset(p.record, False) for p in presets[offset:offset + limit]],
                  "total_count": len(presets)})


def _versions(rt: Any, slug: str) -> list[PresetRecord]:
    versions: list[PresetRecord] = rt.store.preset_versions(slug)
    if not versions or versions[0].archived:
        raise GatewayError(ErrorKind.ROUTING_NO_ENDPOINT, f"preset {slug[:64]!r} not found", status=404)
    return versions


async def get_preset(request: Request) -> Response:
    rt = await _runtime(request)
    return _json({"data": _wire_preset(_versions(rt, request.path_params["slug"])[0])})


async def list_versions(request: Request) -> Response:
    rt = await _runtime(request)
    offset, limit = _paging(request)
    versions = _versions(rt, request.path_params["slug"])
    return _json({"data": [_wire_version(v) for v in versions[offset:offset + limit]], "total_count": len(versions)})


async def get_version(request: Request) -> Response:
    rt = await _runtime(request)
    wanted = request.path_params["version"]
    for v in _versions(rt, request.path_params["slug"]):
        if str(v.version) == wanted or f"{v.slug}@{v.version}" == wanted:
            return _json({"data": _wire_version(v)})
    raise GatewayError(ErrorKind.ROUTING_NO_ENDPOINT, "preset version not found", status=404)


async def delete_preset(request: Request) -> Response:
    rt = await _runtime(request)
    if not rt.store.archive_preset(request.path_params["slug"], time.time()):
        raise GatewayError(ErrorKind.ROUTING_NO_ENDPOINT, "preset not found", status=404)
    rt.presets.refresh()
    return _json({"deleted": True})


def _creator(dialect: str) -> Any:
    async def create(request: Request) -> Response:
        rt = await _runtime(request)
        body = await read_json(request, 1024 * 1024, rt.settings.body_timeout)
        if not isinstance(body, dict):
            raise invalid("body", "a preset is made from a JSON object request body")
        record = rt.presets.save(request.path_params["slug"], dialect, body, request.query_params.get("name"))
        return _json({"data": _wire_preset(record)})
    return create


create_from_chat = _creator("openai")
create_from_messages = _creator("anthropic")
create_from_responses = _creator("responses")
