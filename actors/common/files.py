"""A host's files are its owner's alone: the state directory holds both join tokens (in the Raft
database), the host's and the admin's secret keys, and the bootstrap batch.

Every Shoal process (the CLI, shoald, each actor) starts with :func:`private_files`: a umask of 077,
so whatever it creates (directories 0700, files 0600: the Raft database and its WAL and SHM files,
snapshots, host.json, logs, keys) is closed to group and others. :func:`tighten` closes what an
older version left open.
"""

from __future__ import annotations

import os
import pathlib
import stat

UMASK = 0o077
OPEN_BITS = stat.S_IRWXG | stat.S_IRWXO


def private_files() -> None:
    """Set this process's umask to 077 (inherited by the processes it starts)."""
    os.umask(UMASK)


def tighten(state_dir: pathlib.Path) -> list[pathlib.Path]:
    """Remove group and other permission bits from ``state_dir`` and everything under it (symbolic
    links are left alone, never followed). Returns the paths that were changed; a missing
    ``state_dir`` changes nothing."""
    changed = []
    if not state_dir.is_dir():
        return changed
    for directory, subdirs, files in os.walk(state_dir):
        for path in [pathlib.Path(directory)] + [pathlib.Path(directory, name) for name in subdirs + files]:
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode) or not mode & OPEN_BITS:
                continue
            path.chmod(stat.S_IMODE(mode) & ~OPEN_BITS)
            changed.append(path)
    return changed
