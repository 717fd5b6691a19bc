"""``python main.py backup`` and ``python main.py restore`` (docs/deployment.md#backups).

Exit codes: 0 done; 1 the backup or restore failed at run time (database unreachable,
``pg_dump`` failed, a check of the copy failed; nothing replaced); 2 refused before
anything changed (bad option, no database, no ``--confirm``, a daemon running on the
target, a backup of the wrong kind or an unknown schema revision).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

EXIT_FAILED = 1
EXIT_REFUSED = 2
DEFAULT_DIR = "backups"
DEFAULT_KEEP_DAYS = 14


def add_arguments(sub: Any) -> None:
    """Add ``backup`` and ``restore`` to main's subparsers."""
    b = sub.add_parser("backup", help="back up the database (safe while the daemon runs)")
    b.add_argument("--db", help="database URL or SQLite path (overrides DATABASE_URL)")
    b.add_argument("--to", default=DEFAULT_DIR, help=f"folder (default: {DEFAULT_DIR})")
    b.add_argument("--keep-days", type=int, default=DEFAULT_KEEP_DAYS,
                   help="delete backups this many days old after success; 0 keeps all")  # fmt: skip
    r = sub.add_parser("restore", help="restore a backup (the daemon must be stopped)")
    r.add_argument("file", help="a kinetic-*.db.gz or kinetic-*.dump file")
    r.add_argument("--db", help="database URL or SQLite path (overrides DATABASE_URL)")
    r.add_argument("--confirm", action="store_true", help="required: replace the database")


def run(
    args: argparse.Namespace,
    url: str,
    *,
    out: Callable[[str], None] = print,
    err: Callable[[str], None] | None = None,
) -> int:
    """Run ``backup`` or ``restore`` against the database at ``url``."""
    from kinetic.ops.backup import BackupError, BackupInputError, take_backup
    from kinetic.ops.restore import restore_backup

    err = err or (lambda line: print(f"kinetic: {line}", file=sys.stderr))
    try:
        if args.command == "backup":
            result = take_backup(url, Path(args.to), args.keep_days)
            pruned = f"; deleted {len(result.pruned)} older than {args.keep_days} days" \
                if result.pruned else ""  # fmt: skip
            out(f"backup {result.path} ({result.size_bytes} bytes){pruned}")
            return 0
        done = restore_backup(Path(args.file), url, confirm=args.confirm)
        kept = f"; the replaced database is kept as {done.kept}: delete it once satisfied" \
            if done.kept else ""  # fmt: skip
        out(f"restored {args.file} into {done.target} (schema revision {done.revision}){kept}")
        return 0
    except BackupInputError as exc:
        err(f"{args.command}: {exc}")
        return EXIT_REFUSED
    except BackupError as exc:
        err(f"{args.command} failed: {exc}")
        return EXIT_FAILED
