"""Settings: built-in defaults, then the YAML config file, then `TURNOUT_*` environment variables.

`load_settings()` returns a value; nothing reads the environment at import time.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import platformdirs
import yaml


class ConfigError(ValueError):
    """The config file or an environment variable is invalid; the message names the setting."""


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
    log_level: str = "warning"
    # Load the built-in local model at start-up rather than on first use; None: `turnout serve`
    # preloads, an embedded app (tests) loads lazily.
    preload_local: bool | None = None
    admin_key: str | None = field(default=None, repr=False)  # TURNOUT_ADMIN_KEY; also `turnout admin-key`
    require_credits: bool = False  # refuse (402) requests an account's credit balance cannot cover
    rate_limit_rpm: int | None = None  # per key, requests per minute; a key's own limit overrides it
    rate_limit_tpm: int | None = None  # per key, tokens per minute
    redis_url: str | None = None  # rate-limit counters shared by replicas (the `redis` extra)
    config_path: Path | None = None
    # Front door: request limits, client timeouts, connections and CORS (docs/security.md).
    max_body_bytes: int = 32 * 1024 * 1024  # inference routes (chat, messages, responses carry images)
    max_small_body_bytes: int = 64 * 1024  # key management and credits
    max_json_values: int = 500_000  # separators and containers in one JSON body (~150 bytes each parsed)
    body_budget_bytes: int = 128 * 1024 * 1024  # request bodies held at once, per process
    max_header_bytes: int = 64 * 1024  # request line and headers together
    max_headers: int = 100
    header_timeout: float = 10.0  # from connecting (or the request's first byte) to complete headers
    body_timeout: float = 30.0  # a body must arrive within this ...
    body_min_rate: int = 32 * 1024  # ... plus one second per this many bytes of it
    idle_timeout: float = 30.0  # an idle keep-alive connection is closed after this
    send_timeout: float = 60.0  # a client that takes none of its answer for this long is disconnected
    max_connections: int = 2048  # per process; past it a connection is answered 503 and closed
    cors_origins: tuple[str, ...] = ("*",)  # origins allowed to call the API from a browser; () for none
    providers: dict[str, Any] = field(default_factory=dict)
    models: dict[str, Any] = field(default_factory=dict)

    @property
    def sqlite_path(self) -> Path:
        url = self.database_url
        if url is None:
            return self.data_dir / "turnout.db"
        if url.startswith("sqlite:///"):
            return Path(url.removeprefix("sqlite:///"))
        raise ConfigError(f"database_url: unsupported database {url.split(':', 1)[0]!r}")


_SCALARS = {f.name: f for f in fields(Settings) if f.name not in ("providers", "models", "config_path")}


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(value)


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


def _positive(kind: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        v = kind(value)
        if not v > 0:
            raise ValueError(value)
        return v

    check.__name__ = f"a positive {kind.__name__}"
    return check


def _coerce(name: str, value: Any, where: str) -> Any:
    kinds: dict[str, Callable[[Any], Any]] = {"host": str, "port": int, "workers": int, "data_dir": Path, "database_url": str,
            "connect_timeout": float, "read_timeout": float, "keepalive_interval": float,
            "max_body_bytes": _positive(int), "log_level": str, "admin_key": str, "require_credits": _bool,
            "rate_limit_rpm": int, "rate_limit_tpm": int, "redis_url": str,
            "preload_local": _bool,
            # Front door (docs/security.md)
            "max_small_body_bytes": _positive(int), "max_json_values": _positive(int),
            "body_budget_bytes": _positive(int), "max_header_bytes": _positive(int), "max_headers": _positive(int),
            "header_timeout": _positive(float), "body_timeout": _positive(float), "body_min_rate": _positive(int),
            "idle_timeout": _positive(float), "send_timeout": _positive(float), "max_connections": _positive(int), "cors_origins": _origins}
    kind = kinds[name]
    try:
        return kind(value)
    except (TypeError, ValueError):
        shown = "***" if name == "admin_key" else repr(value)  # secrets are never echoed
        what = ("a boolean" if kind is _bool else "*, none, or origins like https://app.example separated by commas"
                if kind is _origins else getattr(kind, "__name__", "valid"))
        raise ConfigError(f"{where}: {name} must be {what}, got {shown}") from None


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
        for section in (server, raw):
            for key, value in list(section.items()):
                if key in ("providers", "models"):
                    if not isinstance(value, dict):
                        raise ConfigError(f"{path}: {key} must be a mapping")
                    values[key] = value
                elif key in _SCALARS:
                    values[key] = _coerce(key, value, str(path))
                else:
                    raise ConfigError(f"{path}: unknown setting {key!r}")
        values["config_path"] = path
    for name in _SCALARS:
        env_value = env.get(f"TURNOUT_{name.upper()}")
        if env_value:
            values[name] = _coerce(name, env_value, f"TURNOUT_{name.upper()}")
    for name, value in overrides.items():
        if value is not None:
            values[name] = value
    return Settings(**values)
