"""The repository's own files, walked safely while other tests write beside them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent


def own_files(folder: Path) -> Iterator[Path]:
    """Every file under ``folder``, without npm's ``node_modules`` and the client tests' ``tmp-*``.

    The client tests create and remove ``tests/clients/tmp-*`` while a test in the other CI lane
    walks the tree; ``Path.rglob`` raises on a folder that vanished between listing and reading,
    where ``os.walk`` skips it, and the folders are pruned so their files are never read.
    """
    for parent, subfolders, files in os.walk(folder):
        subfolders[:] = sorted(
            name for name in subfolders if name != "node_modules" and not name.startswith("tmp-")
        )
        for name in sorted(files):
            yield Path(parent) / name
