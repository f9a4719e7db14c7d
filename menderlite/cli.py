"""The `menderlite` command: serve, migrate, and the user/tenant commands of the services.

Exit codes: 0 on success, 1 on a runtime failure, 2 on a usage or configuration error (one line, no
traceback).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any

from menderlite import __version__
from menderlite.config import ConfigError, Settings, load

log = logging.getLogger("menderlite")

USAGE_ERROR = 2
RUNTIME_ERROR = 1


class CommandError(Exception):
    """A failure to report in one line; `status` is the exit code."""

    def __init__(self, message: str, status: int = RUNTIME_ERROR) -> None:
        super().__init__(message)
        self.status = status


def add_settings_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help="TOML configuration file (or $MENDERLITE_CONFIG)")
    parser.add_argument("--data-dir", metavar="DIR", help="data directory (default ./menderlite-data)")


def settings_from_args(args: argparse.Namespace, server_flags: dict[str, Any] | None = None) -> Settings:
    flags: dict[str, Any] = dict(server_flags or {})
    if args.data_dir:
        flags["data_dir"] = args.data_dir
    return load(args.config, flags={"server": flags} if flags else None)


def configure_logging(settings: Settings) -> None:
    from menderlite import logs

    logs.configure(settings.server.log_level.upper(), sys.stderr)
    # The access log follows the level (its lines are INFO) unless it is switched off.
    logging.getLogger("aiohttp.access").setLevel(settings.server.log_level.upper() if settings.server.access_log else logging.WARNING)
    # SQLAlchemy and aiosqlite are chatty at DEBUG and could echo bound values; keep them quiet.
    for name in ("sqlalchemy", "aiosqlite", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)


def apply_migrations(settings: Settings) -> None:
    from menderlite.db import migrate

    migrate.upgrade(settings.database_path)


# --- serve ---------------------------------------------------------------------------------------------


def _serve_flags(args: argparse.Namespace) -> dict[str, Any]:
    flags: dict[str, Any] = {}
    for name in ("host", "port", "tls_cert", "tls_key"):
        value = getattr(args, name)
        if value is not None:
            flags[name] = value
    if args.tls_self_signed:
        flags["tls_self_signed"] = True
    if args.tls_hostname:
        flags["tls_hostnames"] = list(args.tls_hostname)
    return flags


def cmd_serve(args: argparse.Namespace) -> int:
    from menderlite import tls

    if bool(args.tls_cert) != bool(args.tls_key):
        raise CommandError("--tls-cert and --tls-key must be given together", USAGE_ERROR)
    if args.tls_hostname and not args.tls_self_signed:
        raise CommandError("--tls-hostname needs --tls-self-signed", USAGE_ERROR)
    settings = settings_from_args(args, _serve_flags(args))
    configure_logging(settings)
    apply_migrations(settings)
    try:
        files = tls.tls_files(settings)
        ssl_context = tls.server_ssl_context(files) if files else None
    except (OSError, ValueError) as exc:
        raise CommandError(f"cannot set up TLS: {exc}") from None
    if files is not None and files.generated:
        log.info("created a self-signed certificate: %s", files.cert)
    if files is not None:
        log.info("devices trust this server with ServerCertificate=%s", files.cert)
    try:
        asyncio.run(_run_server(settings, ssl_context))
    except OSError as exc:
        raise CommandError(f"cannot serve on {settings.server.host}:{settings.server.port}: {exc.strerror or exc}") from None
    return 0


async def _run_server(settings: Settings, ssl_context: Any) -> None:
    from aiohttp import web

    from menderlite.app import create_app
    from menderlite.web.access_log import AccessLogger
    from menderlite.web.inflight import IN_FLIGHT

    app = create_app(settings)
    timeout = settings.server.shutdown_timeout_seconds
    runner = web.AppRunner(
        app, access_log_class=AccessLogger, access_log=logging.getLogger("aiohttp.access"), shutdown_timeout=timeout
    )
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        site = web.TCPSite(runner, settings.server.host, settings.server.port, ssl_context=ssl_context)
        await site.start()
        for url in _listening_urls(runner, ssl_context is not None):
            log.info("menderlite %s serving on %s", __version__, url)
        await stop.wait()
        log.info("shutting down: no new connections; finishing in-flight requests (up to %gs)", timeout)
        await site.stop()
        if not await app[IN_FLIGHT].wait_idle(timeout):
            log.warning("shutdown timeout: %d request(s) still running are cut off", app[IN_FLIGHT].count)
    finally:
        await runner.cleanup()
        log.info("stopped")


def _listening_urls(runner: Any, secure: bool) -> list[str]:
    scheme = "https" if secure else "http"
    urls = []
    for address in runner.addresses:
        host, port = address[0], address[1]
        if host in ("0.0.0.0", "::"):
            urls.append(f"{scheme}://127.0.0.1:{port} (all interfaces)")
        else:
            urls.append(f"{scheme}://{'[' + host + ']' if ':' in host else host}:{port}")
    return urls


# --- migrate -------------------------------------------------------------------------------------------


def cmd_migrate(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    configure_logging(settings)
    apply_migrations(settings)
    print(f"database {settings.database_path} is up to date")
    return 0


# --- parser --------------------------------------------------------------------------------------------

CommandRegistrar = Callable[[Any], None]


def _service_commands() -> list[CommandRegistrar]:
    """Each service may add its own commands (e.g. `user ...`); they register through this list."""
    from menderlite.tenantadm import cli as tenantadm_cli
    from menderlite.useradm import cli as useradm_cli

    registrars: list[CommandRegistrar] = [useradm_cli.register, tenantadm_cli.register]
    return registrars


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="menderlite", description="A Mender-compatible OTA update server.")
    parser.add_argument("--version", action="version", version=f"menderlite {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    serve = commands.add_parser("serve", help="run the server", description="Apply migrations, create keys and serve the API.")
    add_settings_options(serve)
    serve.add_argument("--host", help="address to listen on (default 0.0.0.0)")
    serve.add_argument("--port", type=int, help="TCP port (default 8080)")
    serve.add_argument("--tls-cert", metavar="FILE", help="serve HTTPS with this PEM certificate")
    serve.add_argument("--tls-key", metavar="FILE", help="private key of --tls-cert")
    serve.add_argument("--tls-self-signed", action="store_true", help="serve HTTPS with a generated self-signed certificate")
    serve.add_argument("--tls-hostname", action="append", metavar="NAME", help="extra DNS name or IP for the self-signed certificate (repeatable)")
    serve.set_defaults(handler=cmd_serve)

    migrate = commands.add_parser("migrate", help="apply database migrations and exit", description="Apply pending database migrations and exit.")
    add_settings_options(migrate)
    migrate.set_defaults(handler=cmd_migrate)

    for register in _service_commands():
        register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except ConfigError as exc:
        print(f"menderlite: configuration error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    except CommandError as exc:
        print(f"menderlite: error: {exc}", file=sys.stderr)
        return exc.status
    except KeyboardInterrupt:
        return 130
