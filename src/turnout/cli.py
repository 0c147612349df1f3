"""The `turnout` command: serve, keys, admin-key, models, config check."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import shutil
import signal
import sys
import time
from types import FrameType
from typing import TYPE_CHECKING, Any

from turnout.cli_format import money, per_million, print_table, quiet_broken_pipe
from turnout.settings import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from turnout.store.base import KeyRecord


def _settings(args: argparse.Namespace, **overrides: Any) -> Settings:
    return load_settings(getattr(args, "config", None), None, **overrides)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from turnout.config_check import load_checked
    from turnout.core.routing.availability import Availability
    from turnout.logs import configure, uvicorn_config
    from turnout.runtime import local_model_plan, open_store

    # Fail fast on a bad config (every unknown key, with its path), before binding.
    settings, catalog = load_checked(getattr(args, "config", None), None, host=args.host, port=args.port,
                                     workers=args.workers)
    open_store(settings).close()  # migrate once here; a database newer than this code is refused before binding
    preload, plan = local_model_plan(settings.preload_local, catalog, Availability.for_settings(settings))
    settings = dataclasses.replace(settings, preload_local=preload)
    configure(settings.log_level, settings.log_format)
    # Background threads (batched store writes, fsync) hold the GIL for at most this long before the
    # event loop gets it back; CPython's default of 5 ms shows up directly in the request p99.
    sys.setswitchinterval(0.0005)
    from turnout.protocol import fit_descriptors, server_options

    fitted = fit_descriptors(settings.max_connections)  # before the workers start: they inherit it
    if fitted != settings.max_connections:
        settings = dataclasses.replace(settings, max_connections=fitted)
    common = server_options(settings)
    # SIGTERM: running requests get `shutdown_grace` (observe/shutdown.py), then an in-band error
    # that needs a moment (a keep-alive tick at most) to go out before uvicorn cancels what is left
    common["timeout_graceful_shutdown"] = settings.shutdown_grace + settings.keepalive_interval + 5
    log_config = uvicorn_config(settings.log_format)
    if log_config is not None:
        common["log_config"] = log_config
    # uvicorn re-raises the SIGTERM it handled once it has shut down; a no-op handler makes that
    # a clean exit (status 0) rather than death by signal.
    signal.signal(signal.SIGTERM, _stopped)
    if settings.log_format == "json":  # every line a JSON object, these too

        def say(line: str) -> None:
            logging.getLogger("turnout").info("%s", line)
    else:

        def say(line: str) -> None:
            print(line, flush=True)
    if settings.workers > 1:
        # Each worker process builds its own app from the same settings, passed through the env.
        if settings.config_path is not None:
            os.environ["TURNOUT_CONFIG"] = str(settings.config_path)
        os.environ["TURNOUT_DATA_DIR"] = str(settings.data_dir)
        os.environ["TURNOUT_PRELOAD_LOCAL"] = "1" if settings.preload_local else "0"
        os.environ["TURNOUT_LOG_LEVEL"] = settings.log_level
        os.environ["TURNOUT_MAX_CONNECTIONS"] = str(settings.max_connections)
        os.environ["TURNOUT_LOG_FORMAT"] = settings.log_format
        if settings.metrics:  # prometheus-client's multi-process mode: a fresh folder per start
            folder = settings.data_dir / "metrics"
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True, exist_ok=True)
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
        say(plan)
        uvicorn.run("turnout.app:create_app_from_env", factory=True, workers=settings.workers, **common)
    else:
        from turnout.app import create_app

        say(f"turnout listening on http://{settings.host}:{settings.port} (data: {settings.data_dir}); "
            "Ctrl-C stops it")
        say(plan)
        uvicorn.run(create_app(settings), **common)
    from turnout.logs import flush

    flush()
    return 0


def _stopped(sig: int, frame: FrameType | None) -> None:
    """What uvicorn's re-raised SIGTERM reaches after a graceful shutdown: nothing left to do."""


def escaped(text: str) -> str:
    """`text` for a terminal: control characters (newlines, tabs, escape sequences) written as
    `\\n`, `\\x1b`, ... so that a key's name can neither forge lines nor drive the terminal."""
    if text.isprintable() and "\\" not in text:
        return text
    out = []
    for c in text:
        if c == "\\":
            out.append("\\\\")
        elif c.isprintable():
            out.append(c)
        else:
            out.append(repr(c)[1:-1] if c in "\n\r\t" else f"\\x{ord(c):02x}" if ord(c) < 256 else f"\\u{ord(c):04x}")
    return "".join(out)


def cmd_keys(args: argparse.Namespace) -> int:
    from turnout.core.catalog.pricing import usd
    from turnout.core.money.keys import hash_key, load_secret, mint_key
    from turnout.core.money.ratelimit import MAX_RATE
    from turnout.runtime import open_store
    from turnout.store.base import KeyExists

    settings = _settings(args)
    store = open_store(settings)
    try:
        if args.keys_command == "create":
            limit = None
            if args.limit is not None:
                try:
                    limit = usd(args.limit)
                except ValueError as exc:
                    print(f"--limit {exc}, got {escaped(args.limit)}", file=sys.stderr)
                    return 2
            for flag, rate in (("--rpm", args.rpm), ("--tpm", args.tpm)):
                if rate is not None and not 0 <= rate <= MAX_RATE:
                    print(f"{flag} must be from 0 (unlimited) to {MAX_RATE:,}", file=sys.stderr)
                    return 2
            if not args.name.strip() or len(args.name) > 200 or not args.name.isprintable():
                print("--name must be 1 to 200 printable characters (no control characters)", file=sys.stderr)
                return 2
            clear, label = mint_key()
            try:
                record = store.create_key(hash_key(load_secret(settings.data_dir), clear), args.name, label, limit, time.time(),
                                 account_id=args.account, limit_reset=None if args.limit_reset == "none" else args.limit_reset,
                                 rate_limit_rpm=args.rpm, rate_limit_tpm=args.tpm)
            except KeyExists:
                print(f"a key named {escaped(args.name)} already exists", file=sys.stderr)
                return 1
            _push_key(settings, record)
            print(f"created key '{escaped(args.name)}' ({label}); it is shown only once:")
            print(clear)
        elif args.keys_command == "list":
            rows = []
            for k in store.list_keys():
                shown = "none" if k.limit is None else money(k.limit) + (f"/{k.limit_reset}" if k.limit_reset else "")
                rows.append((k.name, k.label, "disabled" if k.disabled else "active", money(k.usage), shown,
                             k.account_id, k.hash))
            print_table(("NAME", "LABEL", "STATUS", "USAGE", "LIMIT", "ACCOUNT", "HASH"), rows)
        elif args.keys_command in ("disable", "enable"):
            disabled = args.keys_command == "disable"
            if not store.set_key_disabled(args.name, disabled, time.time()):
                print(f"no key named {escaped(args.name)}", file=sys.stderr)
                return 1
            for changed in store.list_keys():
                if changed.name == args.name:
                    _push_key(settings, changed)
            print(f"{args.keys_command}d key '{escaped(args.name)}'")
    finally:
        store.close()
    return 0


def _push_key(settings: Settings, record: KeyRecord) -> None:
    """With `redis_url`, tell the running replicas about the change now (core/money/key_push.py)."""
    if settings.redis_url:
        from turnout.core.money.key_push import publish_now
        from turnout.core.money.keys import load_secret
        from turnout.runtime import key_channel

        publish_now(settings.redis_url, key_channel(load_secret(settings.data_dir)), record)


def cmd_migrate(args: argparse.Namespace) -> int:
    """Bring the database's schema up to this release (additive steps: old replicas keep serving)."""
    from turnout.runtime import open_store, schema_status
    from turnout.store.base import SchemaTooNew

    settings = _settings(args)
    postgres = (settings.database_url or "").startswith(("postgres://", "postgresql://"))
    where = "PostgreSQL" if postgres else f"SQLite {settings.sqlite_path}"
    store = open_store(settings, migrate=False)
    try:
        current, known = schema_status(store, postgres)
        if current > known:
            print(f"turnout: {SchemaTooNew(current, known)}", file=sys.stderr)
            return 1
        if args.check:
            pending = known - current
            print(f"{where}: schema version {current}, this turnout's is {known}"
                  + (f"; {pending} migration(s) pending: run `turnout migrate`" if pending else "; up to date"))
            return 1 if pending else 0
        applied = store.migrate()
        if applied:
            print(f"{where}: migrated from schema version {current} to {known} "
                  f"(applied {', '.join(str(v) for v in applied)})")
        else:
            print(f"{where}: schema version {current}, up to date")
        return 0
    finally:
        store.close()


def cmd_admin_key(args: argparse.Namespace) -> int:
    """Mint an admin (management) key for the key and credits API; prints it once (last line)."""
    from turnout.core.money.keys import create_admin_key, load_secret

    settings = _settings(args)
    clear = create_admin_key(settings.data_dir, load_secret(settings.data_dir), replace=args.replace)
    what = "replaced every earlier admin key" if args.replace else "earlier admin keys stay valid"
    print(f"created an admin key ({what}); it is shown only once:")
    print(clear)
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from turnout.config_check import load_checked
    from turnout.core.routing.availability import Availability

    settings, catalog = load_checked(getattr(args, "config", None))
    availability = Availability.for_settings(settings)  # the same answer the API and the web give
    rows = []
    for model in catalog.listed(everything=args.all or settings.list_all_models):
        for e in model.endpoints:
            ok, why = availability(e)
            p = e.pricing
            rows.append((model.id, e.provider.name, f"{e.context_length:,}", per_million(p.prompt),
                         per_million(p.completion), "available" if ok else f"unavailable ({why})"))
    print_table(("MODEL", "PROVIDER", "CONTEXT", "INPUT $/M", "OUTPUT $/M", "STATUS"), rows)
    return 0


def cmd_catalog(args: argparse.Namespace) -> int:
    from turnout.catalog.report import report
    from turnout.core.catalog.catalog import catalog_for

    settings = _settings(args)
    return report(catalog_for(settings), args.model, sys.stdout)


def cmd_config_check(args: argparse.Namespace) -> int:
    from turnout.config_check import check

    ok, text = check(args.config)
    print(text, file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


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
    migrate = sub.add_parser("migrate", help="bring the database schema up to this release (safe while older replicas serve)")
    migrate.add_argument("--config")
    migrate.add_argument("--check", action="store_true", help="only report; exit 1 when migrations are pending")
    migrate.set_defaults(func=cmd_migrate)
    admin = sub.add_parser("admin-key", help="create an admin key for /api/v1/keys and /api/v1/credits")
    admin.add_argument("--replace", action="store_true", help="revoke every earlier admin key")
    admin.add_argument("--config")
    admin.set_defaults(func=cmd_admin_key)
    models = sub.add_parser("models", help="list the catalog")
    models.add_argument("--config")
    models.add_argument("--all", action="store_true", help="also models with no available endpoint")
    models.set_defaults(func=cmd_models)
    cat = sub.add_parser("catalog", help="where the catalog's figures come from: data versions, providers, a model's sources")
    cat.add_argument("model", nargs="?", help="a model id: show each figure and where it came from")
    cat.add_argument("--config")
    cat.set_defaults(func=cmd_catalog)
    config = sub.add_parser("config", help="check a config file")
    config_sub = config.add_subparsers(dest="config_command", required=True)
    check = config_sub.add_parser(
        "check", help="validate the config as `turnout serve` would and print the effective settings, secrets masked"
    )
    check.add_argument("--config", help="the YAML file (default: TURNOUT_CONFIG, else none)")
    check.set_defaults(func=cmd_config_check)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.func is cmd_serve:
            return int(args.func(args))
        return quiet_broken_pipe(lambda: int(args.func(args)))
    except ConfigError as exc:
        print(f"turnout: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # CatalogError and friends: a bad catalog or config section
        print(f"turnout: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
