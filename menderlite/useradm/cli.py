"""`menderlite user create|list|set-password`: manage users without the API (e.g. the first admin)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from menderlite.config import Settings
from menderlite.web.errors import ApiError

T = TypeVar("T")


def register(commands: Any) -> None:
    from menderlite.cli import add_settings_options

    user = commands.add_parser("user", help="manage users", description="Create and list users, set passwords.")
    actions = user.add_subparsers(dest="user_command", metavar="ACTION", required=True)

    create = actions.add_parser("create", help="create a user and print its id", description="Create a user and print its id.")
    add_settings_options(create)
    create.add_argument("--email", required=True, help="the user's email (login name)")
    create.add_argument("--password", required=True, help="at least 8 characters; '-' reads it from standard input")
    create.add_argument("--tenant-id", default="", help="tenant of the user (default: the default tenant)")
    create.add_argument("--role", action="append", default=[], metavar="ROLE", help="role to give (repeatable), e.g. RBAC_ROLE_OBSERVER")
    create.set_defaults(handler=cmd_create)

    listing = actions.add_parser("list", help="list users", description="List users: id, email, tenant, roles.")
    add_settings_options(listing)
    listing.add_argument("--tenant-id", default=None, help="only users of this tenant ('' is the default tenant)")
    listing.set_defaults(handler=cmd_list)

    password = actions.add_parser(
        "set-password", help="set a user's password", description="Set a user's password and revoke their tokens."
    )
    add_settings_options(password)
    password.add_argument("--email", required=True, help="the user's email")
    password.add_argument("--password", required=True, help="the new password; '-' reads it from standard input")
    password.set_defaults(handler=cmd_set_password)


def _password(value: str) -> str:
    return sys.stdin.readline().rstrip("\r\n") if value == "-" else value


def _run(args: argparse.Namespace, work: Callable[[Any], Awaitable[T]]) -> T:
    """Run `work(useradm_service)` against the configured database (migrated first)."""
    from menderlite.cli import CommandError, apply_migrations, settings_from_args

    settings = settings_from_args(args)
    # Warnings and errors only (no-op when logging is set up already): the output is the command's answer.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    apply_migrations(settings)
    try:
        return asyncio.run(_with_service(settings, work))
    except ApiError as exc:
        raise CommandError(exc.message) from None


async def _with_service(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    from menderlite.context import Context
    from menderlite.useradm.service import UseradmService

    ctx = Context.from_settings(settings)
    ctx.useradm = UseradmService(ctx)
    try:
        return await work(ctx.useradm)
    finally:
        await ctx.useradm.close()
        await ctx.db.close()


def cmd_create(args: argparse.Namespace) -> int:
    password = _password(args.password)

    async def create(useradm: Any) -> Any:
        if args.tenant_id:
            await useradm.create_tenant(args.tenant_id)
        return await useradm.create_user(args.tenant_id, args.email, password, roles=args.role)

    user = _run(args, create)
    print(user.id)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    users = _run(args, lambda useradm: useradm.list_all_users())
    if args.tenant_id is not None:
        users = [user for user in users if user.tenant_id == args.tenant_id]
    rows = [("ID", "EMAIL", "TENANT", "ROLES")]
    rows += [(user.id, user.email, user.tenant_id or "-", ",".join(user.roles) or "-") for user in users]
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)) + "  " + row[3])
    return 0


def cmd_set_password(args: argparse.Namespace) -> int:
    password = _password(args.password)
    user = _run(args, lambda useradm: useradm.set_password(args.email, password))
    print(f"password of {user.email} changed; their tokens are revoked")
    return 0
