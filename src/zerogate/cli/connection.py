"""How a command reaches a server: the --url and --key options, and the client."""

from __future__ import annotations

import argparse
import os

from zerogate.client import DEFAULT_URL, KEY_ENV, URL_ENV, AsyncClient
from zerogate.errors import InvalidConfig


def api_options(p: argparse.ArgumentParser, *, top: bool) -> None:
    """Add --url and --key: to the command itself (``top``), or to a subcommand, where
    they are suppressed unless given so that what came before the subcommand holds."""
    default = None if top else argparse.SUPPRESS
    p.add_argument("--url", default=default,
                   help=f"the server (default ${URL_ENV}, else {DEFAULT_URL})")
    p.add_argument("--key", default=default,
                   help=f"API key (default ${KEY_ENV}; prefer the variable: command lines "
                        "are visible to other users)")


def connect(args: argparse.Namespace) -> AsyncClient:
    """A client from --url/--key or the environment; refuses to start without a key
    (every API command needs one, and saying so beats a 401)."""
    key = getattr(args, "key", None) or os.environ.get(KEY_ENV)
    if not key:
        raise InvalidConfig(f"no API key: set {KEY_ENV} or --key (zerogate serve prints "
                            "the first admin key when it creates a store)")
    return AsyncClient(getattr(args, "url", None), key)
