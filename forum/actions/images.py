"""Pictures under posts, in private messages and in letters: rows in this unit of work, files written when it
commits."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from forum.db import stage_file, stage_removal
from forum.images import PreparedImage
from forum.models import Post, PostImage, StoredImage
from forum.storage import VARIANTS, image_name, new_key
from forum.timeutil import utcnow

Row = TypeVar("Row", bound=StoredImage)


async def attach_images(
    session: AsyncSession, *, model: type[Row], owner: dict[str, int], images: Sequence[PreparedImage]
) -> list[Row]:
    """Add already checked and re-encoded pictures to a row that has just been flushed (`owner`, e.g.
    `{"post_id": 7}`), in the given order. Their files are written when the unit of work commits, and not at
    all if it does not get that far."""
    now = utcnow()
    rows = []
    for position, image in enumerate(images):
        row = model(
            **owner,
            position=position,
            key=new_key(),
            content_type=image.content_type,
            width=image.width,
            height=image.height,
            thumb_width=image.thumb_width,
            thumb_height=image.thumb_height,
            size_bytes=len(image.data),
            created_at=now,
        )
        stage_file(session, image_name(row.key, row.content_type, "full"), image.data)
        stage_file(session, image_name(row.key, row.content_type, "thumb"), image.thumb)
        rows.append(row)
    session.add_all(rows)
    await session.flush()
    return rows


async def remove_images(session: AsyncSession, *, post: Post) -> None:
    """Forget a post's pictures; their files are removed once the unit of work has committed."""
    rows = (await session.execute(select(PostImage).where(col(PostImage.post_id) == post.id))).scalars().all()
    if not rows:
        return
    for row in rows:
        for variant in VARIANTS:
            stage_removal(session, image_name(row.key, row.content_type, variant))
    await session.execute(delete(PostImage).where(col(PostImage.post_id) == post.id))
