"""Uploaded files on disk, under UPLOAD_DIR. The database says which files exist for whom; the files follow it.

Files are written just before the commit of the unit of work that refers to them and removed just after the
commit of the one that forgets them (`forum.db.stage_file`, `forum.db.stage_removal`). If that commit fails, a
written file is an orphan: it has a random name that no row and no page mentions, so it is never served; a
sweep could delete files that no row names. Names are random, never content hashes, so two posts never share
a file and removing one post's files cannot take another's.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

log = logging.getLogger(__name__)

Variant = Literal["full", "thumb"]
VARIANTS: tuple[Variant, ...] = ("full", "thumb")


def new_key() -> str:
    return secrets.token_hex(16)


def image_name(key: str, content_type: str, variant: Variant) -> str:
    """Where a post image's file lives, relative to UPLOAD_DIR: images/ab/ab12….jpg and ab12….thumb.jpg."""
    extension = "png" if content_type == "image/png" else "jpg"
    suffix = ".thumb" if variant == "thumb" else ""
    return f"images/{key[:2]}/{key}{suffix}.{extension}"


def resolve(root: Path, name: str) -> Path:
    path = (root / name).resolve()
    if not path.is_relative_to(root.resolve()):
        raise ValueError(f"{name!r} is outside the upload directory")
    return path


def write_files(root: Path, files: Iterable[tuple[str, bytes]]) -> None:
    """Blocking. Each file appears whole or not at all (written aside, synced, then renamed into place)."""
    for name, data in files:
        path = resolve(root, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
        try:
            with partial.open("wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)  # gone already after the rename; a half-written one must not stay


def remove_files(root: Path, names: Iterable[str]) -> None:
    """Blocking. A file already gone is fine; a file that cannot be removed is logged, not raised: the commit
    that forgot it has happened, and an unreferenced file is never served."""
    for name in names:
        try:
            resolve(root, name).unlink(missing_ok=True)
        except OSError:
            log.exception("could not remove %s", name)
