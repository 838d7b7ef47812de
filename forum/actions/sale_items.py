"""Items donated to a charity sale, with their photos, and the counts of their units. Every change of units is one
conditional UPDATE (`reserved = reserved + n WHERE quantity - reserved - sold >= n`), so two transactions can
never both take the last unit; the table's check constraint (`units_add_up`) stands behind that."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from forum.actions import sales, threads, word_filters
from forum.actions.images import attach_images
from forum.actions.mutes import require_voice
from forum.db import record_event
from forum.errors import field_error
from forum.events import SaleItemAdded, SaleItemChanged
from forum.i18n import N_
from forum.images import PreparedImage
from forum.models import (
    CharitySale,
    SaleItem,
    SaleItemImage,
    SaleStatus,
    User,
)
from forum.paths import sale_item_image_path, sale_path
from forum.permissions import CommunityStanding
from forum.validation import FieldErrors, clean_text, parse_count, parse_yuan

TITLE_MAX = 100  # an item's name
DESCRIPTION_MAX = 2000
MAX_PRICE_CENTS = 100_000 * 100  # ¥100,000 for one unit
MAX_QUANTITY = 999
MAX_IMAGES = 4
TOO_MANY_FOR_ITEM = N_("At most %(max)d photos per item; you chose %(count)d.")


def item_changed(
    item_id: int, sale_id: int, community_id: int, quantity: int, reserved: int, sold: int
) -> SaleItemChanged:
    return SaleItemChanged(
        sale_id=sale_id,
        community_id=community_id,
        item_id=item_id,
        quantity=quantity,
        reserved=reserved,
        sold=sold,
        available=quantity - reserved - sold,
    )


UNITS = (col(SaleItem.id), col(SaleItem.sale_id), col(SaleItem.quantity), col(SaleItem.reserved), col(SaleItem.sold))


def record_units(session: AsyncSession, row: Any, community_id: int) -> None:
    """Tell the sale's open pages, and the community's market pages (which list the items of open sales), an
    item's units changed; `row` is (id, sale_id, quantity, reserved, sold)."""
    item_id, sale_id, quantity, reserved, sold = row
    record_event(session, item_changed(item_id, sale_id, community_id, quantity, reserved, sold))


async def donate_item(
    session: AsyncSession,
    *,
    actor: User,
    sale: CharitySale,
    standing: CommunityStanding,
    title: object,
    description: object,
    price: object,
    quantity: object,
    images: Sequence[PreparedImage] = (),
) -> SaleItem:
    """Give something to an open sale: a title, a description, a price per unit, how many there are and up to
    four photos (already checked and re-encoded)."""
    sales.require_member(standing)
    require_voice(standing, "title")
    sales.require_open(sale)
    errors = FieldErrors()
    clean_title = errors.check(clean_text, title, "title", max_length=TITLE_MAX, min_length=2)
    clean_description = errors.check(
        clean_text, description, "description", max_length=DESCRIPTION_MAX, multiline=True, required=False
    )
    price_cents = errors.check(parse_yuan, price, "price", most_cents=MAX_PRICE_CENTS)
    units = errors.check(parse_count, quantity, "quantity", most=MAX_QUANTITY)
    if len(images) > MAX_IMAGES:
        errors.add("images", TOO_MANY_FOR_ITEM, max=MAX_IMAGES, count=len(images))
    errors.raise_if_any()
    assert clean_title is not None and price_cents is not None and units is not None  # noqa: S101 -- checked
    assert sale.id is not None  # noqa: S101 -- a loaded row
    word_filters.refuse_blocked(
        await word_filters.screen(session, community_id=sale.community_id, texts=[clean_title, clean_description]),
        "title",
    )
    item = SaleItem(
        sale_id=sale.id,
        donor_id=actor.id,
        title=clean_title,
        description=clean_description or "",
        price_cents=price_cents,
        quantity=units,
    )
    session.add(item)
    await session.flush()
    # Still open, now that this transaction writes: on SQLite it holds the write lock, so a close commits
    # before or after it; on PostgreSQL the share lock makes a close wait for this donation to commit.
    status = select(col(CharitySale.status)).where(col(CharitySale.id) == sale.id)
    if session.get_bind().dialect.name == "postgresql":
        status = status.with_for_update(read=True)
    if (await session.execute(status)).scalar_one() != SaleStatus.OPEN:
        raise field_error("sale", N_("This sale is over."), status=409)  # the unit of work rolls the item back
    assert item.id is not None  # noqa: S101 -- flushed
    pictures = await attach_images(session, model=SaleItemImage, owner={"item_id": item.id}, images=images)
    record_event(
        session,
        SaleItemAdded(
            sale_id=sale.id,
            item_id=item.id,
            title=item.title,
            description=item.description,
            price_cents=item.price_cents,
            quantity=item.quantity,
            donor=threads.author_data(actor, standing),
            images=[threads.image_data(picture, sale_item_image_path) for picture in pictures],
            url=f"{sale_path(sale.id)}#item-{item.id}",
        ),
    )
    return item
