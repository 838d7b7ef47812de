"""Pictures sent with a post (multipart field `images`), checked and re-encoded before any action runs.

The request body as a whole is bounded by MAX_REQUEST_BYTES (Quart answers 413 before this runs); here each
picture is held to IMAGE_MAX_BYTES and the post to POST_MAX_IMAGES, and every picture is decoded and encoded
again off the event loop, one at a time so that a post of nine photos never holds nine bitmaps in memory.
"""

from __future__ import annotations

import asyncio
import os

from quart import current_app, request
from quart.datastructures import FileStorage

from forum.errors import InvalidInput, field_error
from forum.i18n import N_
from forum.images import ImageRejected, PreparedImage, prepare_image

FIELD = "images"
NAME_CHARS = 60
MEBIBYTE = 1024 * 1024
# Decoding a 12-megapixel photo holds about 100 MB and a second of CPU: at most this many at once per process,
# whatever the number of people posting pictures at the same moment.
_DECODING = asyncio.Semaphore(2)


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
        raw = await asyncio.to_thread(upload.stream.read)
        try:
            async with _DECODING:
                prepared.append(await asyncio.to_thread(prepare_image, raw))
        except ImageRejected as error:
            raise _rejected(error.message, name=name, **error.params) from error
    return prepared
