"""`tiepdan run` migrates the database in a child process.

Alembic, with the mako and pygments it brings, takes some 13 MB once it has run, and Python
gives little of that back when it is done. Migrated in a child, it is freed when the child
ends instead of staying in the server for its whole life (about 0.6 s more at start). The
child is told the database URL on its standard input, never on its command line, which any
local user can read; it logs where the server logs and says why it failed on its output.
"""

from __future__ import annotations

import asyncio
import logging
import sys

from sqlalchemy.exc import DBAPIError


class SchemaUpgradeFailed(Exception):
    """The child could not migrate: the message is its reason (one line, no traceback)."""


async def upgrade_in_child(database_url: str, log_format: str = "text") -> None:
    level = logging.getLevelName(logging.getLogger().getEffectiveLevel())
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.schema_upgrade",
        str(level),
        log_format,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    reason, _ = await child.communicate(database_url.encode())
    if child.returncode:
        raise SchemaUpgradeFailed(reason.decode(errors="replace").strip() or "see the log above")


def main() -> int:
    from bot import logs
    from storage import migrate

    level = sys.argv[1] if len(sys.argv) > 1 else logging.WARNING
    logs.configure(level, sys.argv[2] if len(sys.argv) > 2 else "text")
    try:
        asyncio.run(migrate.upgrade(sys.stdin.read()))
    except (DBAPIError, OSError) as error:  # unreachable, refused: said as the server says it
        print(error.orig if isinstance(error, DBAPIError) else error)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
