"""Settings: built-in defaults, then the YAML config file, then `TURNOUT_*` environment variables.

`load_settings()` returns a value; nothing reads the environment at import time.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import platformdirs
import yaml


class ConfigError(ValueError):
    """The config file or an environment variable is invalid; the message names the setting."""


MIN_ADMIN_KEY = 32  # characters: an admin key manages every key and credit


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"  # the address `turnout serve` listens on
    port: int = 8080  # the port `turnout serve` listens on
    workers: int = 1  # server processes; each accounts on its own, sharing the store and the metrics
    data_dir: Path = field(default_factory=lambda: Path(platformdirs.user_data_dir("turnout")))  # the SQLite database, key secret, journal
    database_url: str | None = None  # default: sqlite:///<data_dir>/turnout.db
    connect_timeout: float = 10.0  # seconds to connect to an upstream
    read_timeout: float = 300.0  # longest upstream silence tolerated
    keepalive_interval: float = 15.0  # SSE comment while the upstream is silent
    log_level: str = "info"  # turnout's own log (one line per request at info); uvicorn's too
    # Money: budgets and holds (docs/security.md)
    request_timeout: float = 600.0  # seconds a whole request may take, streams included
    # Built-in local model (docs/local.md): loaded at start-up (true) or on first use (false). Unset:
    # `turnout serve` loads it at start-up only when it is the only chat model that can answer
    # (runtime.local_model_plan); an embedded app (tests) loads it on first use.
    preload_local: bool | None = None  # load the local model at start-up; unset: only when it alone can answer
    # Accounts, keys and rate limits (docs/accounts.md)
    admin_key: str | None = field(default=None, repr=False)  # TURNOUT_ADMIN_KEY; also `turnout admin-key`
    require_credits: bool = False  # refuse (402) requests an account's credit balance cannot cover
    rate_limit_rpm: int | None = None  # per key, requests per minute; a key's own limit overrides it
    rate_limit_tpm: int | None = None  # per key, tokens per minute
    redis_url: str | None = None  # replicas share limits, holds, health, key pushes (the `redis` extra; docs/deploy.md)
    # Catalog: the field's models (models.dev + genai-prices) beside the built-in ones
    catalog_dataset: bool = True  # TURNOUT_CATALOG_DATASET=0 keeps only the built-in and configured models
    list_all_models: bool = False  # GET /models lists models with no available endpoint too
    # Response caching (X-OpenRouter-Cache): in memory (bounded) or in Redis when redis_url is set
    response_cache_ttl: int = 300  # seconds, 1-86400, when the request does not say
    response_cache_max_bytes: int = 64 * 1024 * 1024  # the in-memory cache's bound
    response_cache_keys: str = ""  # comma-separated key names whose requests are always cached
    # Prompt-cache sticky routing (docs/routing.md)
    sticky_sessions_max: int = 100_000  # conversations remembered, least recently used out; 0 turns it off
    # BYOK (docs/accounts.md): the share of the list price charged for a request on an account's own key
    byok_fee_percent: str = "0"  # a decimal string (exact, and shown as is by `turnout config`)
    # Upstream limits (docs/security.md, "Upstream limits"): what one upstream answer may make us hold.
    upstream_max_answer_bytes: int = 64 << 20  # a non-streamed answer's body, after decompression
    upstream_max_error_bytes: int = 1 << 20  # an error answer's body (status >= 400)
    upstream_max_headers: int = 256  # header lines of one answer (trailers included)
    upstream_max_header_bytes: int = 64 << 10  # all headers of one answer
    # Networking (docs/networking.md): connections per upstream host, streams that open at once
    upstream_max_connections: int = 100  # open at once per upstream host (a provider's max_connections overrides)
    upstream_max_idle_connections: int = 32  # kept idle per upstream host
    upstream_idle_timeout: float = 30.0  # seconds an idle connection is kept
    upstream_pool_timeout: float | None = None  # seconds a request waits for a free connection (None: connect_timeout)
    stream_open_grace: float = 1.0  # a stream whose upstream is silent this long opens with ": TURNOUT PROCESSING"
    upstream_max_sse_line_bytes: int = 16 << 20  # one line of an event stream
    upstream_max_sse_event_bytes: int = 16 << 20  # one event's data lines together
    # Web UI (docs/security.md): the base URL the model pages' code samples show. `public_url` when
    # set; else the request's Host when it is on `public_hosts` ("host" for any port, or
    # "host:port"); else this server's own address. Never an arbitrary Host header.
    public_url: str | None = None  # the base URL the web UI's code samples show
    public_hosts: tuple[str, ...] = ("127.0.0.1", "localhost", "[::1]")  # Host headers the samples may echo
    # Stored data (docs/security.md): responses kept for previous_response_id, per key and in all
    responses_per_key: int = 1_000  # stored responses per key
    responses_bytes_per_key: int = 32 * 1024 * 1024  # their bytes per key
    responses_max: int = 10_000  # stored responses in all
    responses_max_bytes: int = 256 * 1024 * 1024  # their bytes in all
    # Plugins (docs/plugins.md): defaults, web search engines, PDF parsing and URL fetching
    plugins: list[dict[str, Any]] = field(default_factory=list)  # on for every request unless it says enabled: false
    web_search: dict[str, Any] = field(default_factory=dict)  # {engine: name, engines: {name: {url, api_key, price}}}
    url_fetch: bool = False  # fetch `file`/`image_url` URLs that must be inlined (never private addresses)
    url_fetch_allow: list[str] = field(default_factory=list)  # CIDR networks exempt from the address checks
    url_fetch_max_bytes: int = 20 * 1024 * 1024  # the largest file or image fetched
    url_fetch_timeout: float = 10.0  # seconds a fetch may take, redirects included
    pdf_max_chars: int = 200_000  # extracted text kept per PDF
    # Operations (docs/operations.md): metrics, traces, logs, shutdown
    metrics: bool = True  # Prometheus metrics at GET /metrics (admin key), or on metrics_port
    metrics_port: int | None = None  # serve /metrics without a key on this port of `host` instead
    log_format: str = "text"  # text, or json: one JSON object per line (generation id, trace id)
    shutdown_grace: float = 30.0  # seconds running requests get after SIGTERM before an in-band error
    tracing: bool | None = None  # OpenTelemetry traces over OTLP/HTTP; None: on when OTEL_EXPORTER_OTLP_*ENDPOINT is set
    tracing_endpoint: str | None = None  # OTLP/HTTP traces URL (default: the OTEL_* environment variables)
    tracing_capture_content: bool = False  # export prompts and completions in spans (off: never exported)
    config_path: Path | None = None  # the YAML file read (`--config`, or TURNOUT_CONFIG)
    # Front door: request limits, client timeouts, connections and CORS (docs/security.md).
    max_body_bytes: int = 32 * 1024 * 1024  # inference routes (chat, messages, responses carry images)
    max_small_body_bytes: int = 64 * 1024  # key management and credits
    max_json_values: int = 500_000  # separators and containers in one JSON body (~150 bytes each parsed)
    body_budget_bytes: int = 128 * 1024 * 1024  # request bodies held at once, per process
    max_header_bytes: int = 64 * 1024  # request line and headers together
    max_headers: int = 100  # request header lines
    header_timeout: float = 10.0  # from connecting (or the request's first byte) to complete headers
    body_timeout: float = 30.0  # a body must arrive within this ...
    body_min_rate: int = 32 * 1024  # ... plus one second per this many bytes of it
    idle_timeout: float = 30.0  # an idle keep-alive connection is closed after this
    send_timeout: float = 60.0  # a client that takes none of its answer for this long is disconnected
    max_connections: int = 2048  # per process; past it a connection is answered 503 and closed
    cors_origins: tuple[str, ...] = ("*",)  # origins allowed to call the API from a browser; () for none
    providers: dict[str, Any] = field(default_factory=dict)  # upstream providers (the file only; see "Providers")
    models: dict[str, Any] = field(default_factory=dict)  # catalog models (the file only; see "Models")

    def __post_init__(self) -> None:
        if self.admin_key is not None and len(self.admin_key) < MIN_ADMIN_KEY:
            # a short admin key can be guessed; the key itself is never echoed
            raise ConfigError(f"admin_key must be at least {MIN_ADMIN_KEY} characters (`turnout admin-key` mints one)")

    @property
    def sqlite_path(self) -> Path:
        url = self.database_url
        if url is None:
            return self.data_dir / "turnout.db"
        if url.startswith("sqlite:///"):
            return Path(url.removeprefix("sqlite:///"))
        raise ConfigError(f"database_url: unsupported database {url.split(':', 1)[0]!r}")


# Settings given as a YAML mapping or list rather than a scalar (never from the environment).
_STRUCTURED: dict[str, type] = {"providers": dict, "models": dict, "plugins": list, "web_search": dict,
                                "url_fetch_allow": list}
_SCALARS = {f.name: f for f in fields(Settings) if f.name not in (*_STRUCTURED, "config_path")}
_TOP_LEVEL = (*_SCALARS, *_STRUCTURED, "server")  # what a config file's top level may hold


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(value)


def _names(value: Any) -> str:
    """A list of names, from YAML (a list) or the environment (comma-separated)."""
    if isinstance(value, list | tuple):
        return ",".join(str(v).strip() for v in value)
    return ",".join(v.strip() for v in str(value).split(",") if v.strip())


def _positive(value: Any) -> int:
    number = int(value)
    if number < 1:
        raise ValueError(value)
    return number


def _percent(value: Any) -> str:
    """A percentage from 0 to 100, kept exact as a decimal string."""
    try:
        number = Decimal(str(value).strip())
    except ArithmeticError:
        raise ValueError(value) from None
    if not number.is_finite() or not 0 <= number <= 100:
        raise ValueError(value)
    return str(number)


def _log_level(value: Any) -> str:
    from turnout.logs import level_of

    level_of(str(value))  # raises ValueError for a name logging does not know
    return str(value).strip().lower()


def _url(value: Any) -> str:
    """An http(s) base URL without a query or fragment, kept without its trailing slash."""
    text = str(value).strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(value)
    return text.rstrip("/")


def _hosts(value: Any) -> tuple[str, ...]:
    """Host names (or host:port) from a YAML list or a comma-separated string, lower-cased."""
    items = value if isinstance(value, list | tuple) else str(value).split(",")
    hosts = tuple(str(h).strip().lower() for h in items if str(h).strip())
    if any(not h.isprintable() or " " in h or "/" in h for h in hosts):
        raise ValueError(value)
    return hosts


def _origins(value: Any) -> tuple[str, ...]:
    """A list of origins, or one string of them separated by commas; "none" (or empty) for none."""
    items = value if isinstance(value, list | tuple) else str(value).split(",")
    origins = tuple(str(o).strip().rstrip("/") for o in items if str(o).strip())
    if origins in ((), ("none",)):
        return ()
    for o in origins:
        if o != "*" and not o.startswith(("http://", "https://")):
            raise ValueError(o)
    return origins


def _positive_of(kind: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        v = kind(value)
        if not v > 0:
            raise ValueError(value)
        return v

    check.__name__ = f"a positive {kind.__name__}"
    return check


def _port(value: Any) -> int:
    number = int(value)
    if not 1 <= number <= 65535:
        raise ValueError(value)
    return number


def _seconds(value: Any) -> float:
    number = float(value)
    if not 0 <= number <= 86400:
        raise ValueError(value)
    return number


def _log_format(value: Any) -> str:
    text = str(value).strip().lower()
    if text not in ("text", "json"):
        raise ValueError(value)
    return text


def _coerce(name: str, value: Any, where: str) -> Any:
    kinds: dict[str, Callable[[Any], Any]] = {"host": str, "port": int, "workers": int, "data_dir": Path, "database_url": str,
            "connect_timeout": float, "read_timeout": float, "keepalive_interval": float,
            "max_body_bytes": _positive_of(int), "log_level": _log_level, "admin_key": str, "require_credits": _bool,
            "rate_limit_rpm": int, "rate_limit_tpm": int, "redis_url": str,
            "preload_local": _bool, "catalog_dataset": _bool, "list_all_models": _bool,
            # Money: budgets and holds
            "request_timeout": float,
            "response_cache_ttl": int, "response_cache_max_bytes": int, "response_cache_keys": _names,
            # Prompt-cache sticky routing
            "sticky_sessions_max": int,
            # BYOK
            "byok_fee_percent": _percent,
            # Upstream limits
            "upstream_max_answer_bytes": _positive, "upstream_max_error_bytes": _positive,
            "upstream_max_headers": _positive, "upstream_max_header_bytes": _positive,
            "upstream_max_sse_line_bytes": _positive, "upstream_max_sse_event_bytes": _positive,
            # Networking
            "upstream_max_connections": _positive, "upstream_max_idle_connections": int,
            "upstream_idle_timeout": float, "upstream_pool_timeout": float, "stream_open_grace": float,
            # web UI
            "public_url": _url, "public_hosts": _hosts,
            # stored data
            "responses_per_key": int, "responses_bytes_per_key": int, "responses_max": int,
            "responses_max_bytes": int,
            # Plugins
            "url_fetch": _bool, "url_fetch_max_bytes": int, "url_fetch_timeout": float, "pdf_max_chars": int,
            # Front door (docs/security.md)
            "max_small_body_bytes": _positive_of(int), "max_json_values": _positive_of(int),
            "body_budget_bytes": _positive_of(int), "max_header_bytes": _positive_of(int), "max_headers": _positive_of(int),
            "header_timeout": _positive_of(float), "body_timeout": _positive_of(float), "body_min_rate": _positive_of(int),
            "idle_timeout": _positive_of(float), "send_timeout": _positive_of(float), "max_connections": _positive_of(int),
            "cors_origins": _origins,
            # operations
            "metrics": _bool, "metrics_port": _port, "log_format": _log_format, "shutdown_grace": _seconds,
            "tracing": _bool, "tracing_endpoint": _url, "tracing_capture_content": _bool}
    kind = kinds[name]
    try:
        return kind(value)
    except (TypeError, ValueError):
        shown = "***" if name == "admin_key" else repr(value)  # secrets are never echoed
        names: dict[Callable[[Any], Any], str] = {
            _bool: "a boolean", _positive: "a positive integer", _percent: "a percentage from 0 to 100", _url: "an http(s) URL", _hosts: "a list of host names",
            _origins: "*, none, or origins like https://app.example separated by commas",
            _log_level: "one of critical, error, warning, info, debug, trace",
            _port: "a port number (1-65535)", _seconds: "a number of seconds (0-86400)", _log_format: "text or json"}
        what = names.get(kind) or str(getattr(kind, "__name__", "valid"))
        raise ConfigError(f"{where} must be {what}, got {shown}") from None


def load_settings(config: str | Path | None = None, env: dict[str, str] | None = None, **overrides: Any) -> Settings:
    env = dict(os.environ) if env is None else env
    values: dict[str, Any] = {}
    path = Path(config) if config else (Path(env["TURNOUT_CONFIG"]) if env.get("TURNOUT_CONFIG") else None)
    if path is not None:
        try:
            raw = yaml.safe_load(path.read_text("utf-8")) or {}
        except OSError as exc:
            raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path} is not valid YAML: {exc}") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: the top level must be a mapping")
        server = raw.pop("server", None) or {}
        if not isinstance(server, dict):
            raise ConfigError(f"{path}: server must be a mapping")
        errors: list[str] = []
        for prefix, section in (("server.", server), ("", raw)):
            for key, value in list(section.items()):
                if key in _STRUCTURED and not prefix:
                    if not isinstance(value, _STRUCTURED[key]):
                        kind = "a mapping" if _STRUCTURED[key] is dict else "a list"
                        errors.append(f"{path}: {key} must be {kind}")
                    values[key] = value
                elif key in _SCALARS:
                    try:
                        values[key] = _coerce(key, value, f"{path}: {prefix}{key}")
                    except ConfigError as exc:
                        errors.append(str(exc))
                else:
                    errors.append(f"{path}: {prefix}{key}: unknown setting (known: {', '.join(sorted(_TOP_LEVEL))})")
        if errors:
            raise ConfigError("\n".join(errors))
        values["config_path"] = path
    for name in _SCALARS:
        env_value = env.get(f"TURNOUT_{name.upper()}")
        if env_value:
            values[name] = _coerce(name, env_value, f"TURNOUT_{name.upper()}")
    for name, value in overrides.items():
        if value is not None:
            values[name] = value
    return Settings(**values)
