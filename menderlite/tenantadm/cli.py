"""`menderlite tenant create|list|show|suspend|activate`: manage tenant accounts without the API.

Errors print one line and exit with status 2. A running server notices a suspension made here within a few
seconds (it polls for suspended tenants) and drops the tenant's cached tokens.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from menderlite.config import PLANS, Settings
from menderlite.web.errors import ApiError

T = TypeVar("T")


def register(commands: Any) -> None:
    from menderlite.cli import add_settings_options

    tenant = commands.add_parser(
        "tenant", help="manage tenant accounts", description="Create, list, show, suspend and activate tenants."
    )
    actions = tenant.add_subparsers(dest="tenant_command", metavar="ACTION", required=True)

    create = actions.add_parser(
        "create",
        help="create a tenant with its admin user and print its id",
        description="Create a tenant (provisioned in every service) with its admin user; print the tenant id.",
    )
    add_settings_options(create)
    create.add_argument("--name", required=True, help="organization name (ASCII)")
    create.add_argument("--username", required=True, help="email of the tenant's admin user (login name)")
    create.add_argument("--password", required=True, help="the admin's password, at least 8 characters; '-' reads it from standard input")
    create.add_argument("--plan", default="os", choices=PLANS, help="plan (default os): device limit os 50, professional 250, enterprise none")
    create.set_defaults(handler=cmd_create)

    listing = actions.add_parser("list", help="list tenants", description="List tenants: id, status, plan, name.")
    add_settings_options(listing)
    listing.set_defaults(handler=cmd_list)

    show = actions.add_parser("show", help="print a tenant as JSON", description="Print a tenant as JSON, its tenant_token included.")
    add_settings_options(show)
    show.add_argument("id", help="tenant id")
    show.set_defaults(handler=cmd_show)

    suspend = actions.add_parser(
        "suspend", help="suspend a tenant", description="Suspend a tenant: its users and devices are cut off at once."
    )
    add_settings_options(suspend)
    suspend.add_argument("id", help="tenant id")
    suspend.set_defaults(handler=cmd_suspend)

    activate = actions.add_parser("activate", help="activate a tenant", description="Activate a suspended or inactive tenant.")
    add_settings_options(activate)
    activate.add_argument("id", help="tenant id")
    activate.set_defaults(handler=cmd_activate)


def _run(args: argparse.Namespace, work: Callable[[Any], Awaitable[T]]) -> T:
    """Run `work(tenantadm_service)` against the configured database (migrated first)."""
    from menderlite.cli import (
        USAGE_ERROR,
        CommandError,
        apply_migrations,
        settings_from_args,
    )

    settings = settings_from_args(args)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    apply_migrations(settings)
    try:
        return asyncio.run(_with_services(settings, work))
    except ApiError as exc:
        raise CommandError(exc.message, USAGE_ERROR) from None


async def _with_services(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    # Every service object (tenant creation provisions the tenant in each of them), without serving.
    from menderlite.app import CONTEXT, create_app

    ctx = create_app(settings)[CONTEXT]
    try:
        return await work(ctx.tenantadm)
    finally:
        await ctx.useradm.close()
        await ctx.db.close()


def cmd_create(args: argparse.Namespace) -> int:
    password = sys.stdin.readline().rstrip("\r\n") if args.password == "-" else args.password

    async def create(tenantadm: Any) -> Any:
        account = tenantadm.parse_new_account(
            {"organization": args.name, "email": args.username, "password": password, "plan": args.plan}
        )
        return await tenantadm.create_tenant(account)

    print(_run(args, create).id)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    async def every_tenant(tenantadm: Any) -> list[Any]:
        tenants, offset = [], 0
        while True:
            page, has_next = await tenantadm.list_tenants(offset=offset, limit=500)
            tenants += page
            if not has_next:
                return tenants
            offset += len(page)

    rows = [("ID", "STATUS", "PLAN", "NAME")]
    rows += [(tenant.id, tenant.status, tenant.plan, tenant.name) for tenant in _run(args, every_tenant)]
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)) + "  " + row[3])
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    tenant = _run(args, lambda tenantadm: tenantadm.get_tenant(args.id))
    print(json.dumps(tenant.to_json(), indent=2))
    return 0


def cmd_suspend(args: argparse.Namespace) -> int:
    _run(args, lambda tenantadm: tenantadm.set_status(args.id, "suspended"))
    print(f"tenant {args.id} is suspended; its users and devices are cut off")
    return 0


def cmd_activate(args: argparse.Namespace) -> int:
    _run(args, lambda tenantadm: tenantadm.set_status(args.id, "active"))
    print(f"tenant {args.id} is active")
    return 0
