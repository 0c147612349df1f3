"""The `turnout` command: serve, keys, models."""

from __future__ import annotations

import argparse
import dataclasses
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
    if settings.preload_local is None:
        settings = dataclasses.replace(settings, preload_local=True)
    from turnout.core.catalog import build_catalog

    build_catalog(settings.providers, settings.models)  # fail fast on a bad config, before binding
    # Background threads (batched store writes, fsync) hold the GIL for at most this long before the
    # event loop gets it back; CPython's default of 5 ms shows up directly in the request p99.
    sys.setswitchinterval(0.0005)
    from turnout.protocol import fit_descriptors, server_options

    fitted = fit_descriptors(settings.max_connections)  # before the workers start: they inherit it
    if fitted != settings.max_connections:
        settings = dataclasses.replace(settings, max_connections=fitted)
    common = server_options(settings)
    if settings.workers > 1:
        # Each worker process builds its own app from the same settings, passed through the env.
        if settings.config_path is not None:
            os.environ["TURNOUT_CONFIG"] = str(settings.config_path)
        os.environ["TURNOUT_DATA_DIR"] = str(settings.data_dir)
        os.environ["TURNOUT_PRELOAD_LOCAL"] = "1" if settings.preload_local else "0"
        os.environ["TURNOUT_MAX_CONNECTIONS"] = str(settings.max_connections)
        uvicorn.run("turnout.app:create_app_from_env", factory=True, workers=settings.workers, **common)
    else:
        from turnout.app import create_app

        print(f"turnout listening on http://{settings.host}:{settings.port} (data: {settings.data_dir})", flush=True)
        uvicorn.run(create_app(settings), **common)
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    from turnout.core.keys import hash_key, load_secret, mint_key
    from turnout.runtime import open_store
    from turnout.store.base import KeyExists

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
            clear, label = mint_key()
            try:
                store.create_key(hash_key(load_secret(settings.data_dir), clear), args.name, label, limit, time.time(),
                                 account_id=args.account, limit_reset=None if args.limit_reset == "none" else args.limit_reset,
                                 rate_limit_rpm=args.rpm, rate_limit_tpm=args.tpm)
            except KeyExists:
                print(f"a key named {args.name!r} already exists", file=sys.stderr)
                return 1
            print(f"created key {args.name!r} ({label}); it is shown only once:")
            print(clear)
        elif args.keys_command == "list":
            for k in store.list_keys():
                shown = "none" if k.limit is None else f"${k.limit}" + (f"/{k.limit_reset}" if k.limit_reset else "")
                state = "disabled" if k.disabled else "active"
                print(f"{k.name}\t{k.label}\t{state}\tusage ${k.usage}\tlimit {shown}\taccount {k.account_id}\t{k.hash}")
        elif args.keys_command in ("disable", "enable"):
            disabled = args.keys_command == "disable"
            if not store.set_key_disabled(args.name, disabled, time.time()):
                print(f"no key named {args.name!r}", file=sys.stderr)
                return 1
            print(f"{args.keys_command}d key {args.name!r}")
    finally:
        store.close()
    return 0


def cmd_admin_key(args: argparse.Namespace) -> int:
    """Mint an admin (management) key for the key and credits API; prints it once (last line)."""
    from turnout.core.keys import create_admin_key, load_secret

    settings = _settings(args)
    clear = create_admin_key(settings.data_dir, load_secret(settings.data_dir), replace=args.replace)
    what = "replaced every earlier admin key" if args.replace else "earlier admin keys stay valid"
    print(f"created an admin key ({what}); it is shown only once:")
    print(clear)
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
    create.add_argument("--limit-reset", choices=["daily", "weekly", "monthly", "none"], default="none",
                        help="when the limit starts over (midnight UTC)")
    create.add_argument("--account", default="default", help="the account whose credits the key spends")
    create.add_argument("--rpm", type=int, help="requests per minute (0: unlimited; default: the server's)")
    create.add_argument("--tpm", type=int, help="tokens per minute (0: unlimited; default: the server's)")
    for verb in ("disable", "enable"):
        toggle = keys_sub.add_parser(verb, help=f"{verb} a key by name (a running server notices within a second)")
        toggle.add_argument("name")
        toggle.add_argument("--config")
    keys.set_defaults(func=cmd_keys)
    admin = sub.add_parser("admin-key", help="create an admin key for /api/v1/keys and /api/v1/credits")
    admin.add_argument("--replace", action="store_true", help="revoke every earlier admin key")
    admin.add_argument("--config")
    admin.set_defaults(func=cmd_admin_key)
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
