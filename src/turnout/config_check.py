"""`turnout config check`: validate a config the way `turnout serve` would, and show the
effective settings (defaults, then the file, then `TURNOUT_*`) with every secret masked."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

from turnout.core.catalog.catalog import Catalog, CatalogError, build_catalog, catalog_for
from turnout.settings import ConfigError, Settings, load_settings

MASK = "***"
SECRET_SETTINGS = frozenset({"admin_key"})  # never shown, only whether they are set
URL_SETTINGS = frozenset({"database_url", "redis_url", "tracing_endpoint"})  # shown without their password


def mask_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit((parts.scheme, f"{parts.username or ''}:{MASK}@{host}", parts.path, parts.query, parts.fragment))


def effective(settings: Settings, catalog: Catalog) -> dict[str, Any]:
    """What the gateway would run with, as plain data (secrets masked)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(settings):
        if f.name in ("providers", "models"):
            continue
        value = getattr(settings, f.name)
        if f.name in SECRET_SETTINGS and value is not None:
            value = MASK
        elif f.name in URL_SETTINGS and value is not None:
            value = mask_url(str(value))
        out[f.name] = str(value) if isinstance(value, Path) else value
    providers: dict[str, Any] = {}
    for slug, p in catalog.providers.items():
        if p.source.startswith("models.dev") and not p.api_key:
            continue  # the dataset's providers: `turnout catalog` lists them all
        ok, why = p.availability()
        entry: dict[str, Any] = {"name": p.name, "dialect": p.dialect, "base_url": p.base_url,
                                 "api_key": MASK if p.api_key else None}
        if p.headers:
            entry["headers"] = {k: MASK for k in p.headers}
        if p.options:
            entry["options"] = dict(p.options)
        entry["available"] = ok if ok else f"no: {why}"
        providers[slug] = entry
    out["providers"] = providers
    models: dict[str, Any] = {}
    for model in catalog.models.values():
        if model.origin == "dataset":
            continue  # thousands: `turnout catalog` and `turnout models` show them
        models[model.id] = {
            "created": model.created or "(when this gateway first serves it)",
            "endpoints": [
                {"provider": e.provider.slug, "model": e.upstream_model,
                 "supported_parameters": sorted(e.supported_parameters)}
                for e in model.endpoints
            ],
        }
    out["models"] = models
    return out


def load_checked(config: str | Path | None, env: dict[str, str] | None = None, **overrides: Any) -> tuple[Settings, Catalog]:
    """Settings and the catalog they make, or a ConfigError with every problem, one per line,
    each naming the config file and the key's path (`providers.acme.api-kee`)."""
    env = dict(os.environ) if env is None else env
    try:
        settings = load_settings(config, env, **overrides)
    except ConfigError as exc:
        # Bad settings: still report what is wrong in the providers and models, all in one go.
        raise ConfigError("\n".join([str(exc), *_catalog_errors(config, env)])) from None
    try:
        catalog = catalog_for(settings, env)
    except CatalogError as exc:
        where = f"{settings.config_path}: " if settings.config_path else ""
        raise ConfigError("\n".join(where + line for line in str(exc).splitlines())) from None
    return settings, catalog


def _catalog_errors(config: str | Path | None, env: dict[str, str]) -> list[str]:
    path = config or env.get("TURNOUT_CONFIG")
    try:
        raw = yaml.safe_load(Path(path).read_text("utf-8")) if path else None
    except (OSError, yaml.YAMLError):
        return []  # load_settings has said so already
    if not isinstance(raw, dict):
        return []
    sections = [raw.get(name) if isinstance(raw.get(name), dict) else None for name in ("providers", "models")]
    try:
        build_catalog(sections[0], sections[1], env)
    except CatalogError as exc:
        return [f"{path}: {line}" for line in str(exc).splitlines()]
    return []


def check(config: str | None, env: dict[str, str] | None = None) -> tuple[bool, str]:
    """(ok, what to print): the effective settings, or every error found, one per line."""
    try:
        settings, catalog = load_checked(config, env)
    except ConfigError as exc:
        return False, str(exc)
    source = str(settings.config_path) if settings.config_path else "no config file (defaults and TURNOUT_*)"
    body = yaml.safe_dump(effective(settings, catalog), sort_keys=False, allow_unicode=True, width=110)
    return True, f"OK: {source}\n{body}"
