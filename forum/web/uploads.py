"""Pictures sent with a post (multipart field `images`), checked and re-encoded before any action runs.

The request body as a whole is bounded by MAX_REQUEST_BYTES (Quart answers 413 before this runs); here each
picture is held to IMAGE_MAX_BYTES and the post to POST_MAX_IMAGES, and every picture is decoded and encoded
again off the event loop, one at a time so that a post of nine photos never holds nine bitmaps in memory.

Every picture is read and decoded in one small pool of threads of its own (`DECODERS`), never in asyncio's default
pool: glibc's malloc gives each thread that allocates a large bitmap an arena of its own and keeps it once the
bitmap is freed, so decoding on whichever of the default pool's six threads was free left one process at 2.5 to
3.3 times its starting size after 90 uploads of a 40-megapixel photo, for good (docs/performance.md, "Memory
under photo uploads"). The pool's size is also how many pictures are decoded at once, whoever posts them.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import IO

from quart import current_app, request
from quart.datastructures import FileStorage

from forum.errors import InvalidInput, field_error
from forum.i18n import N_
from forum.images import ImageRejected, PreparedImage, prepare_image

FIELD = "images"
NAME_CHARS = 60
MEBIBYTE = 1024 * 1024
# Decoding a 40-megapixel JPEG holds about 75 MB for a quarter of a second of CPU (forum.images decodes it at
# half scale): at most this many at once per process, whatever the number of people posting pictures at the same
# moment. Threads start on first use; a request that goes away while its picture waits gives up its place.
DECODERS = 2
_decoders = ThreadPoolExecutor(max_workers=DECODERS, thread_name_prefix="linli-images")


def _chosen(upload: FileStorage) -> bool:
    """A form whose file input was left empty still sends a part, with no file name and no bytes."""
    return bool(upload.filename) or _size(upload) > 0


def _size(upload: FileStorage) -> int:
    stream = upload.stream
    stream.seek(0, os.SEEK_END)
    size = stream.tell()
    stream.seek(0)
    return size


def _shown_name(upload: FileStorage, number: int) -> str:
    name = os.path.basename((upload.filename or "").replace("\\", "/")).strip()
    if not name:
        return f"#{number}"
    return name if len(name) <= NAME_CHARS else f"{name[: NAME_CHARS - 1]}…"


def _rejected(message: str, **params: object) -> InvalidInput:
    # 400, not 422: the upload itself is unusable, whatever the rest of the form says.
    return field_error(FIELD, message, status=400, **params)


def _glibc_malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, or None where the C library has none (musl, macOS)."""
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError, TypeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


_malloc_trim = _glibc_malloc_trim()


def _read_and_prepare(stream: IO[bytes]) -> PreparedImage:
    """In a decoder thread: the upload's bytes (a few MB) and its bitmaps are allocated in that thread's arena."""
    try:
        return prepare_image(stream.read())
    finally:
        if _malloc_trim is not None:
            # Hand the freed bitmaps' pages back to the system now: glibc only trims the top of a heap by itself,
            # and keeps what fragmentation leaves below it. On the bench, after 90 photos the process is at 1.0 to
            # 1.15 times its starting RSS with this and 1.33 to 1.46 without; it takes 0.1-3 ms against 250 of decoding.
            _malloc_trim(0)


TOO_MANY_FOR_POST = N_("At most %(max)d pictures per post; you chose %(count)d.")
TOO_MANY_FOR_MESSAGE = N_("At most %(max)d pictures per message; you chose %(count)d.")


async def uploaded_images(*, most: int | None = None, too_many: str = TOO_MANY_FOR_POST) -> list[PreparedImage]:
    """The request's pictures, in the order sent, ready for `attach_images`: at most `most` (by default
    POST_MAX_IMAGES), else `too_many` explains. Raises InvalidInput on the field `images` naming the first
    picture that is refused and why; nothing has been stored then."""
    if request.mimetype != "multipart/form-data":
        return []
    uploads = [upload for upload in (await request.files).getlist(FIELD) if _chosen(upload)]
    if not uploads:
        return []
    config = current_app.config
    most = config["POST_MAX_IMAGES"] if most is None else most
    if len(uploads) > most:
        raise _rejected(too_many, max=most, count=len(uploads))
    max_bytes = config["IMAGE_MAX_BYTES"]
    prepared = []
    for number, upload in enumerate(uploads, start=1):
        name = _shown_name(upload, number)
        if _size(upload) > max_bytes:
            raise _rejected(
                N_("“%(name)s” is larger than %(max)s MB. Choose a smaller picture."),
                name=name,
                max=f"{max_bytes / MEBIBYTE:g}",
            )
        try:
            loop = asyncio.get_running_loop()
            prepared.append(await loop.run_in_executor(_decoders, _read_and_prepare, upload.stream))
        except ImageRejected as error:
            raise _rejected(error.message, name=name, **error.params) from error
    return prepared
