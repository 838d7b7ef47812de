"""Pictures under posts, behind the same access check as the thread they are in, and in private messages, for
the conversation's participants only; photos of problem reports under the report's rule (a private one: its
reporter and the secretaries)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from quart import Blueprint, Response, current_app, request, send_file

from forum.access import (
    access_image,
    access_letter_image,
    access_listing_image,
    access_message_image,
    access_report_image,
    access_sale_item_image,
)
from forum.errors import NotFound
from forum.models import StoredImage
from forum.storage import VARIANTS, Variant, image_name, resolve
from forum.web.context import db_session, login_required, require_user

log = logging.getLogger(__name__)
blueprint = Blueprint("images", __name__)

# A picture's files never change (an edit that replaced one would make a new key), so a reader's browser may
# keep them for a year without asking again. Private: they are members-only, no shared cache may keep them.
CACHE_CONTROL = "private, max-age=31536000, immutable"


@blueprint.get("/images/<id:image_id>/<variant>")
@login_required
async def show(image_id: int, variant: str) -> Any:
    return await send_image(await access_image(db_session(), require_user(), image_id), _variant(variant))


@blueprint.get("/messages/images/<id:image_id>/<variant>")
@login_required
async def message_image(image_id: int, variant: str) -> Any:
    return await send_image(await access_message_image(db_session(), require_user(), image_id), _variant(variant))


@blueprint.get("/letters/images/<id:image_id>/<variant>")
@login_required
async def letter_image(image_id: int, variant: str) -> Any:
    return await send_image(await access_letter_image(db_session(), require_user(), image_id), _variant(variant))


@blueprint.get("/sales/images/<id:image_id>/<variant>")
@login_required
async def sale_item_image(image_id: int, variant: str) -> Any:
    return await send_image(await access_sale_item_image(db_session(), require_user(), image_id), _variant(variant))


@blueprint.get("/market/images/<id:image_id>/<variant>")
@login_required
async def listing_image(image_id: int, variant: str) -> Any:
    return await send_image(await access_listing_image(db_session(), require_user(), image_id), _variant(variant))


@blueprint.get("/reports/images/<id:image_id>/<variant>")
@login_required
async def report_image(image_id: int, variant: str) -> Any:
    return await send_image(await access_report_image(db_session(), require_user(), image_id), _variant(variant))


def _variant(name: str) -> Variant:
    for variant in VARIANTS:
        if variant == name:
            return variant
    raise NotFound()


async def send_image(image: StoredImage, variant: Variant, *, cache_control: str = CACHE_CONTROL) -> Any:
    """One picture's file (already access-checked), with its key as the ETag. A picture whose address stays
    the same when it is replaced (the site plan) passes a `cache_control` that makes browsers ask again."""
    etag = f"{image.key}-{variant}"
    headers = {"Cache-Control": cache_control, "X-Content-Type-Options": "nosniff"}
    if request.if_none_match.contains_weak(etag):
        response = Response(status=304, headers=headers)
        response.set_etag(etag)
        return response
    path = resolve(Path(current_app.config["UPLOAD_DIR"]), image_name(image.key, image.content_type, variant))
    try:
        response = await send_file(path, mimetype=image.content_type, add_etags=False)
    except FileNotFoundError:
        log.error("the file of %s %d (%s) is missing", type(image).__tablename__, image.id, variant)
        raise NotFound() from None
    response.headers.update(headers)
    response.headers.pop("Expires", None)
    response.set_etag(etag)
    return response
