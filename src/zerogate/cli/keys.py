"""API keys: ``keys create``, ``keys list`` and ``keys revoke``, through a server
(admin) or on a store file (``--db``; how a server that will listen beyond loopback
gets its first key)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from rich.markup import escape

from zerogate.adapters.sqlite_store import SqliteStore
from zerogate.api.keys import new_key
from zerogate.cli.connection import connect
from zerogate.cli.output import clock, console, new_table, print_answer, when
from zerogate.cli.store import open_store
from zerogate.client import KEY_ENV


def add_commands(sub: Any, api: argparse.ArgumentParser) -> None:
    """Add ``keys`` and its actions."""
    keys = sub.add_parser("keys", help="API keys: create, list, revoke (admin, or --db)")
    ksub = keys.add_subparsers(required=True, metavar="ACTION")
    db_help = "work on this store file directly (creating it for 'create')"
    create = ksub.add_parser("create", parents=[api], help="create a key; shown only once")
    create.add_argument("--tenant", required=True)
    create.add_argument("--role", required=True, choices=("viewer", "operator", "admin"))
    create.add_argument("--name", default="", help="what the key is for")
    create.add_argument("--expires-in", type=float, default=None, metavar="SECONDS")
    create.add_argument("--db", type=Path, default=None, help=db_help)
    create.add_argument("--json", action="store_true")
    create.set_defaults(run=_keys_create)
    listing = ksub.add_parser("list", parents=[api], help="every key's id and metadata")
    listing.add_argument("--db", type=Path, default=None, help=db_help)
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(run=_keys_list)
    revoke = ksub.add_parser("revoke", parents=[api], help="revoke a key at once")
    revoke.add_argument("key_id", metavar="KEY_ID")
    revoke.add_argument("--db", type=Path, default=None, help=db_help)
    revoke.set_defaults(run=_keys_revoke)


async def _keys_create(args: argparse.Namespace) -> int:
    if args.db is not None:
        out = await _create_in_store(args)
    else:
        async with connect(args) as c:
            out = await c.create_key(args.tenant, args.role, args.name, args.expires_in)
    print_answer(out, _print_created, as_json=args.json)
    return 0


async def _create_in_store(args: argparse.Namespace) -> dict[str, Any]:
    """Save a new key in the store file (creating the file if need be), and answer as
    the server would."""
    created = not args.db.exists()
    now = time.time()
    key, record = new_key(tenant=args.tenant, role=args.role, name=args.name, now=now,
                          expires_at=None if args.expires_in is None
                          else now + args.expires_in)
    store = SqliteStore(args.db)
    await store.open()
    try:
        await store.save_key(record)
    finally:
        await store.close()
    if created:
        console.print(f"created the store {args.db}", highlight=False)
    return {"key": key, "key_id": record.key_id, "tenant": record.tenant,
            "role": record.role, "name": record.name, "created_at": record.created_at,
            "expires_at": record.expires_at, "revoked_at": None}


def _print_created(out: dict[str, Any]) -> None:
    expires = "never expires" if out["expires_at"] is None else \
        f"expires {when(out['expires_at'])}"
    console.print(f"created key {out['key_id']} for tenant {escape(out['tenant'])}, role "
                  f"{out['role']} ({expires})", highlight=False)
    console.print("[bold yellow]This key is shown only now: the store keeps only its "
                  "hash. Keep it somewhere safe:[/bold yellow]")
    console.print(f"    export {KEY_ENV}={out['key']}", highlight=False, soft_wrap=True)


async def _keys_list(args: argparse.Namespace) -> int:
    rows: list[dict[str, Any]]
    if args.db is not None:
        rows = await _list_in_store(args.db)
    else:
        async with connect(args) as c:
            rows = await c.keys()
    print_answer(rows, _print_keys, as_json=args.json)
    return 0


async def _list_in_store(db: Path) -> list[dict[str, Any]]:
    """Every key in the store file, as the server lists them."""
    store = await open_store(db)
    try:
        return [{"key_id": k.key_id, "tenant": k.tenant, "role": k.role, "name": k.name,
                 "created_at": k.created_at, "expires_at": k.expires_at,
                 "revoked_at": k.revoked_at} for k in await store.list_keys()]
    finally:
        await store.close()


def _print_keys(rows: list[dict[str, Any]]) -> None:
    if not rows:
        console.print("no keys")
        return
    now = time.time()
    table = new_table("API keys", "key id", "tenant", "role", "name", "created", "state")
    for k in rows:
        state = ("revoked " + clock(k["revoked_at"]) if k["revoked_at"] is not None
                 else "expired" if k["expires_at"] is not None and k["expires_at"] <= now
                 else "active" if k["expires_at"] is None
                 else "active until " + clock(k["expires_at"]))
        table.add_row(k["key_id"], escape(k["tenant"]), k["role"], escape(k["name"]),
                      clock(k["created_at"]), state)
    console.print(table)


async def _keys_revoke(args: argparse.Namespace) -> int:
    if args.db is not None:
        store = await open_store(args.db)
        try:
            await store.revoke_key(args.key_id, time.time())
        finally:
            await store.close()
        console.print(f"revoked {escape(args.key_id)} (a running server stops accepting it "
                      "within seconds)", highlight=False)
        return 0
    async with connect(args) as c:
        await c.revoke_key(args.key_id)
    console.print(f"revoked {escape(args.key_id)}", highlight=False)
    return 0
