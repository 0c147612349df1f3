"""The `turnout` command: serve, keys, models."""

from __future__ import annotations

import argparse
import os
import sys
import time
from decimal import Decimal, InvalidOperation
from typing import Any

from turnout.settings import ConfigError, Settings, load_settings


def _settings(args: argparse.Namespace, **overrides: Any) -> Settings:
    return load_settings(getattr(args, "config", None), None, **overrides)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = _settings(args, host=args.host, port=args.port, workers=args.workers)
    from turnout.core.catalog import build_catalog

    build_catalog(settings.providers, settings.models)  # fail fast on a bad config, before binding
    common = dict(
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        log_level=settings.log_level,
        access_log=False,
        server_header=False,
        date_header=False,
    )
    if settings.workers > 1:
        # Each worker process builds its own app from the same settings, passed through the env.
        if settings.config_path is not None:
            os.environ["TURNOUT_CONFIG"] = str(settings.config_path)
        os.environ["TURNOUT_DATA_DIR"] = str(settings.data_dir)
        uvicorn.run("turnout.app:create_app_from_env", factory=True, workers=settings.workers, **common)  # type: ignore[arg-type]
    else:
        from turnout.app import create_app

        print(f"turnout listening on http://{settings.host}:{settings.port} (data: {settings.data_dir})", flush=True)
        uvicorn.run(create_app(settings), **common)  # type: ignore[arg-type]
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    from turnout.core.keys import hash_key, load_secret, mint_key
    from turnout.runtime import open_store

    settings = _settings(args)
    store = open_store(settings)
    try:
        if args.keys_command == "create":
            limit = None
            if args.limit is not None:
                try:
                    limit = Decimal(args.limit)
                except InvalidOperation:
                    print(f"--limit must be a number of USD, got {args.limit!r}", file=sys.stderr)
                    return 2
            if any(k.name == args.name for k in store.list_keys()):
                print(f"a key named {args.name!r} already exists", file=sys.stderr)
                return 1
            clear, label = mint_key()
            store.create_key(hash_key(load_secret(settings.data_dir), clear), args.name, label, limit, time.time())
            print(f"created key {args.name!r} ({label}); it is shown only once:")
            print(clear)
        elif args.keys_command == "list":
            for k in store.list_keys():
                shown = "none" if k.limit is None else f"${k.limit}"
                state = "disabled" if k.disabled else "active"
                print(f"{k.name}\t{k.label}\t{state}\tusage ${k.usage}\tlimit {shown}")
        elif args.keys_command == "disable":
            if not store.set_key_disabled(args.name, True, time.time()):
                print(f"no key named {args.name!r}", file=sys.stderr)
                return 1
            print(f"disabled key {args.name!r}")
    finally:
        store.close()
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from turnout.core.catalog import build_catalog
    from turnout.core.pricing import money

    settings = _settings(args)
    catalog = build_catalog(settings.providers, settings.models)
    for model in catalog.models.values():
        for e in model.endpoints:
            ok, why = e.provider.availability()
            p = e.pricing
            price = f"${money(p.prompt * 1_000_000)}/M in, ${money(p.completion * 1_000_000)}/M out"
            status = "available" if ok else f"unavailable ({why})"
            print(f"{model.id}\t{e.provider.slug}\t{model.context_length}\t{price}\t{status}")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="turnout", description="A self-hosted LLM gateway.")
    sub = p.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="start the gateway")
    serve.add_argument("--config")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int)
    serve.set_defaults(func=cmd_serve)
    keys = sub.add_parser("keys", help="manage API keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    create = keys_sub.add_parser("create", help="create a key and print it (last line)")
    create.add_argument("--name", required=True)
    create.add_argument("--limit", help="spending limit in USD")
    create.add_argument("--config")
    lst = keys_sub.add_parser("list", help="list keys")
    lst.add_argument("--config")
    disable = keys_sub.add_parser("disable", help="disable a key by name")
    disable.add_argument("name")
    disable.add_argument("--config")
    keys.set_defaults(func=cmd_keys)
    models = sub.add_parser("models", help="list the catalog")
    models.add_argument("--config")
    models.set_defaults(func=cmd_models)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"turnout: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # CatalogError and friends: a bad catalog or config section
        print(f"turnout: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
