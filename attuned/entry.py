"""The first module the `attuned` command runs: it keeps the daemon's process lean.

Two things, both for resident memory (bench/daemon_bench.py; the target is 30 MiB):

- OpenSSL stays out, unless a phone is configured that may speak TLS (a [phone] table
  with an https:// address or Apprise). Otherwise attuned never speaks TLS, and the
  only hash it takes (SHA-256, for the random times) CPython also implements itself. Yet asyncio
  imports `ssl`, and `hashlib` and `secrets` import `_hashlib`, whenever they
  can, and loading libssl and libcrypto costs about 4.5 MiB. Marking those modules
  as absent before anything else is imported makes each of those imports take the
  fallback it has for a Python built without OpenSSL; the hashes are the same.
- `attuned [--config FILE] run [-v...]`, the line the user service runs, starts
  the daemon without loading click and the other commands (about 1 MiB). Any
  other command line, including `run --help` or a typo, goes to click as usual.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

OPENSSL_MODULES = ("ssl", "_ssl", "_hashlib")


def without_openssl() -> None:
    # setdefault: a module something already imported is left alone. None is the
    # import system's own "absent" marker, which typeshed does not model.
    for name in OPENSSL_MODULES:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]


def daemon_args(argv: Sequence[str]) -> tuple[str | None, int] | None:
    """(config, verbosity) when `argv` is plainly `[--config FILE] run [-v...]`, else None.

    Only forms click would accept the same way are taken; the rest is click's to judge.
    """
    config: str | None = None
    rest = list(argv)
    if rest and rest[0].startswith("--config="):
        config, rest = rest[0].partition("=")[2], rest[1:]
    elif len(rest) >= 2 and rest[0] == "--config":
        config, rest = rest[1], rest[2:]
    if config is not None and (not config or os.path.isdir(config)):
        return None  # click explains these
    if not rest or rest[0] != "run":
        return None
    verbose = 0
    for arg in rest[1:]:
        if arg == "--verbose":
            verbose += 1
        elif len(arg) > 1 and arg[0] == "-" and arg[1] != "-" and set(arg[1:]) == {"v"}:
            verbose += len(arg) - 1
        else:
            return None
    return config, verbose


def phone_configured(config: str | None) -> bool:
    """Does the schedule have a [phone] table? A plain look at the file's lines (no TOML
    read here: this runs before anything else is imported); a wrong guess costs only
    memory or a clear TLS error, never a nudge."""
    from attuned import paths
    from attuned.fsutil import read_regular

    try:
        text = read_regular(paths.config_path(config), 1024 * 1024)
    except OSError:
        return False
    if not any(line.strip().startswith(b"[phone]") for line in text.splitlines()):
        return False
    # A local ntfy over plain http needs no TLS; ntfy.sh and Apprise's services do.
    return b"https://" in text or b"apprise" in text


def config_arg(argv: Sequence[str]) -> str | None:
    """The --config FILE given before the command, if any."""
    if argv and argv[0].startswith("--config="):
        return argv[0].partition("=")[2] or None
    if len(argv) >= 2 and argv[0] == "--config":
        return argv[1]
    return None


def main() -> None:
    argv = sys.argv[1:]
    # `attuned phone setup` may write the table: it is a phone command all the same.
    if "phone" not in argv and not phone_configured(config_arg(argv)):
        without_openssl()
    args = daemon_args(argv)
    if args is not None:
        from attuned import paths
        from attuned.daemon import lifecycle as daemon

        sys.exit(daemon.run(paths.config_path(args[0]), args[1]))
    from attuned.cli.root import main as cli_main

    cli_main()
