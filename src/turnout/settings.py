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
    max_body_bytes: int = 32 * 1024 * 1024
    # Money: budgets and holds (docs/security.md)
    request_timeout: float = 600.0  # seconds a whole request may take, streams included
    log_level: str = "warning"
    # Load the built-in local model at start-up rather than on first use; None: `turnout serve`
    # preloads, an embedded app (tests) loads lazily.
    preload_local: bool | None = None
    admin_key: str | None = field(default=None, repr=False)  # TURNOUT_ADMIN_KEY; also `turnout admin-key`
    require_credits: bool = False  # refuse (402) requests an account's credit balance cannot cover
    rate_limit_rpm: int | None = None  # per key, requests per minute; a key's own limit overrides it
    rate_limit_tpm: int | None = None  # per key, tokens per minute
    redis_url: str | None = None  # rate-limit counters shared by replicas (the `redis` extra)
    # Catalog: the field's models (models.dev + genai-prices) beside the built-in ones
    catalog_dataset: bool = True  # TURNOUT_CATALOG_DATASET=0 keeps only the built-in and configured models
    list_all_models: bool = False  # GET /models lists models with no available endpoint too
    # Plugins (docs/plugins.md): defaults, web search engines, PDF parsing and URL fetching
    plugins: list[dict[str, Any]] = field(default_factory=list)  # on for every request unless it says enabled: false
    web_search: dict[str, Any] = field(default_factory=dict)  # {engine: name, engines: {name: {url, api_key, price}}}
    url_fetch: bool = False  # fetch `file`/`image_url` URLs that must be inlined (never private addresses)
    url_fetch_allow: list[str] = field(default_factory=list)  # CIDR networks exempt from the address checks
    url_fetch_max_bytes: int = 20 * 1024 * 1024
    url_fetch_timeout: float = 10.0
    pdf_max_chars: int = 200_000  # extracted text kept per PDF
    config_path: Path | None = None
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


# Settings given as a YAML mapping or list rather than a scalar (never from the environment).
_STRUCTURED: dict[str, type] = {"providers": dict, "models": dict, "plugins": list, "web_search": dict,
                                "url_fetch_allow": list}
_SCALARS = {f.name: f for f in fields(Settings) if f.name not in (*_STRUCTURED, "config_path")}


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(value)


def _coerce(name: str, value: Any, where: str) -> Any:
    kinds: dict[str, Callable[[Any], Any]] = {"host": str, "port": int, "workers": int, "data_dir": Path, "database_url": str,
            "connect_timeout": float, "read_timeout": float, "keepalive_interval": float,
            "max_body_bytes": int, "log_level": str, "admin_key": str, "require_credits": _bool,
            "rate_limit_rpm": int, "rate_limit_tpm": int, "redis_url": str,
            "preload_local": _bool, "catalog_dataset": _bool, "list_all_models": _bool,
            # Money: budgets and holds
            "request_timeout": float,
            # Plugins
            "url_fetch": _bool, "url_fetch_max_bytes": int, "url_fetch_timeout": float, "pdf_max_chars": int}
    kind = kinds[name]
    try:
        return kind(value)
    except (TypeError, ValueError):
        shown = "***" if name == "admin_key" else repr(value)  # secrets are never echoed
        what = "a boolean" if kind is _bool else getattr(kind, "__name__", "valid")
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
                if key in _STRUCTURED:
                    if not isinstance(value, _STRUCTURED[key]):
                        kind = "a mapping" if _STRUCTURED[key] is dict else "a list"
                        raise ConfigError(f"{path}: {key} must be {kind}")
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
