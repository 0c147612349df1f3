"""Settings: built-in defaults, then the YAML config file, then `TURNOUT_*` environment variables.

`load_settings()` returns a value; nothing reads the environment at import time.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, fields
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
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    data_dir: Path = field(default_factory=lambda: Path(platformdirs.user_data_dir("turnout")))
    database_url: str | None = None  # default: sqlite:///<data_dir>/turnout.db
    connect_timeout: float = 10.0
    read_timeout: float = 300.0  # longest upstream silence tolerated
    keepalive_interval: float = 15.0  # SSE comment while the upstream is silent
    max_body_bytes: int = 32 * 1024 * 1024
    # Money: budgets and holds (docs/security.md)
    request_timeout: float = 600.0  # seconds a whole request may take, streams included
    log_level: str = "info"  # turnout's own log (one line per request at info); uvicorn's too
    # Load the built-in local model at start-up (true) or on first use (false). None: `turnout serve`
    # loads it at start-up only when it is the only chat model that can answer (runtime.local_model_plan);
    # an embedded app (tests) loads it on first use.
    preload_local: bool | None = None
    admin_key: str | None = field(default=None, repr=False)  # TURNOUT_ADMIN_KEY; also `turnout admin-key`
    require_credits: bool = False  # refuse (402) requests an account's credit balance cannot cover
    rate_limit_rpm: int | None = None  # per key, requests per minute; a key's own limit overrides it
    rate_limit_tpm: int | None = None  # per key, tokens per minute
    redis_url: str | None = None  # rate-limit counters shared by replicas (the `redis` extra)
    # Catalog: the field's models (models.dev + genai-prices) beside the built-in ones
    catalog_dataset: bool = True  # TURNOUT_CATALOG_DATASET=0 keeps only the built-in and configured models
    list_all_models: bool = False  # GET /models lists models with no available endpoint too
    # Response caching (X-OpenRouter-Cache): in memory (bounded) or in Redis when redis_url is set
    response_cache_ttl: int = 300  # seconds, 1-86400, when the request does not say
    response_cache_max_bytes: int = 64 * 1024 * 1024  # the in-memory cache's bound
    response_cache_keys: str = ""  # comma-separated key names whose requests are always cached
    # Upstream limits (docs/security.md, "Upstream limits"): what one upstream answer may make us hold.
    upstream_max_answer_bytes: int = 64 << 20  # a non-streamed answer's body, after decompression
    upstream_max_error_bytes: int = 1 << 20  # an error answer's body (status >= 400)
    upstream_max_headers: int = 256  # header lines of one answer (trailers included)
    upstream_max_header_bytes: int = 64 << 10  # all headers of one answer
    upstream_max_sse_line_bytes: int = 16 << 20  # one line of an event stream
    upstream_max_sse_event_bytes: int = 16 << 20  # one event's data lines together
    # Web UI (docs/security.md): the base URL the model pages' code samples show. `public_url` when
    # set; else the request's Host when it is on `public_hosts` ("host" for any port, or
    # "host:port"); else this server's own address. Never an arbitrary Host header.
    public_url: str | None = None
    public_hosts: tuple[str, ...] = ("127.0.0.1", "localhost", "[::1]")
    # Stored data (docs/security.md): responses kept for previous_response_id, per key and in all
    responses_per_key: int = 1_000
    responses_bytes_per_key: int = 32 * 1024 * 1024
    responses_max: int = 10_000
    responses_max_bytes: int = 256 * 1024 * 1024
    # Request bodies (docs/configuration.md): how long a client may take to send one
    body_timeout: float = 30.0
    config_path: Path | None = None
    providers: dict[str, Any] = field(default_factory=dict)
    models: dict[str, Any] = field(default_factory=dict)

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


_SCALARS = {f.name: f for f in fields(Settings) if f.name not in ("providers", "models", "config_path")}
_TOP_LEVEL = (*_SCALARS, "providers", "models", "server")  # what a config file's top level may hold


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


def _coerce(name: str, value: Any, where: str) -> Any:
    kinds: dict[str, Callable[[Any], Any]] = {"host": str, "port": int, "workers": int, "data_dir": Path, "database_url": str,
            "connect_timeout": float, "read_timeout": float, "keepalive_interval": float,
            "max_body_bytes": int, "log_level": _log_level, "admin_key": str, "require_credits": _bool,
            "rate_limit_rpm": int, "rate_limit_tpm": int, "redis_url": str,
            "preload_local": _bool, "catalog_dataset": _bool, "list_all_models": _bool,
            # Money: budgets and holds
            "request_timeout": float,
            "response_cache_ttl": int, "response_cache_max_bytes": int, "response_cache_keys": _names,
            # Upstream limits
            "upstream_max_answer_bytes": _positive, "upstream_max_error_bytes": _positive,
            "upstream_max_headers": _positive, "upstream_max_header_bytes": _positive,
            "upstream_max_sse_line_bytes": _positive, "upstream_max_sse_event_bytes": _positive,
            # web UI
            "public_url": _url, "public_hosts": _hosts,
            # stored data
            "responses_per_key": int, "responses_bytes_per_key": int, "responses_max": int,
            "responses_max_bytes": int,
            # request bodies
            "body_timeout": float}
    kind = kinds[name]
    try:
        return kind(value)
    except (TypeError, ValueError):
        shown = "***" if name == "admin_key" else repr(value)  # secrets are never echoed
        names: dict[Callable[[Any], Any], str] = {
            _bool: "a boolean", _positive: "a positive integer", _url: "an http(s) URL", _hosts: "a list of host names",
            _log_level: "one of critical, error, warning, info, debug, trace"}
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
                if key in ("providers", "models") and not prefix:
                    if not isinstance(value, dict):
                        errors.append(f"{path}: {key} must be a mapping")
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
