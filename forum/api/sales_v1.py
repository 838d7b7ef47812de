"""JSON API for charity sales: the same actions and access checks as the pages. Amounts are in fen (integer
hundredths of a yuan) on the way out; on the way in, prices and targets are yuan as people type them
("12", "12.50"), numbers or text."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field
from quart import current_app
from quart_rate_limiter import rate_limit
from quart_schema import tag, validate_request, validate_response
from quart_schema.pydantic import File

from forum import rooms
from forum.access import (
    access_community_content,
    access_reservation,
    access_sale,
    access_sale_item,
)
from forum.actions import reservations, sale_items, sales
from forum.api.bodies import validate_json_or_multipart
from forum.api.forum_v1 import ImageOut, images_out
from forum.api.schemas import Amount, PersonOut, WholeNumber
from forum.api.v1 import blueprint
from forum.models import CharitySale, id_of
from forum.paths import sale_item_image_path, sale_path
from forum.permissions import CommunityStanding
from forum.queries.people import Person
from forum.queries.sales import ItemView, ReservationView, sale_summary, sale_view, sales_of
from forum.queries.threads import latest_event_id
from forum.validation import WHEN_TEXT_MAX
from forum.web.context import commit, db_session, require_user
from forum.web.ratelimits import MARKET_LIMITS
from forum.web.uploads import uploaded_images


class SaleBriefOut(BaseModel):
    id: int
    community_id: int
    title: str
    cause: str
    pickup: str  # where and when items are paid for and picked up
    organiser: PersonOut | None  # None: the organiser's account is gone
    starts_at: str
    ends_at: str
    target_cents: int | None
    raised_cents: int
    hold_hours: int  # how long a reservation holds before it lapses
    status: Literal["open", "closed"]
    published: bool  # the summary is published
    thread_id: int | None  # the sale's discussion
    url: str


class SaleListOut(BaseModel):
    sales: list[SaleBriefOut]  # open ones first (ending soonest first), then closed ones
    room: str  # subscribe after `last_event_id` for sales as they start
    last_event_id: int


class ItemOut(BaseModel):
    id: int
    title: str
    description: str  # plain text
    price_cents: int  # per unit
    quantity: int
    reserved: int
    sold: int
    available: int
    donor: PersonOut | None
    images: list[ImageOut]


class ReservationOut(BaseModel):
    id: int
    item_id: int
    item_title: str
    quantity: int
    amount_cents: int
    status: Literal["held", "paid", "handed_over", "lapsed", "cancelled"]
    buyer: PersonOut | None  # on the organiser's desk; null in your own list
    created_at: str
    expires_at: str  # a held reservation lapses then unless paid


class SaleOut(SaleBriefOut):
    items: list[ItemOut]
    my_reservations: list[ReservationOut]
    desk: list[ReservationOut] | None  # held and paid reservations, for the organiser and secretaries only
    summary: str  # where the money goes, once published
    room: str  # subscribe after `last_event_id` for units, totals and new items
    last_event_id: int


class SaleIn(BaseModel):
    title: str = Field(max_length=sales.TITLE_MAX)
    cause: str = Field(max_length=sales.CAUSE_MAX)
    pickup: str = Field(max_length=sales.PICKUP_MAX)
    # ISO 8601; without an offset, the community's time (Asia/Shanghai)
    starts_at: str = Field(max_length=WHEN_TEXT_MAX)
    ends_at: str = Field(max_length=WHEN_TEXT_MAX)
    target: Amount | None = None  # yuan
    hold_hours: WholeNumber = 24


class ItemIn(BaseModel):
    title: str = Field(max_length=sale_items.TITLE_MAX)
    description: str = Field(default="", max_length=sale_items.DESCRIPTION_MAX)
    price: Amount  # yuan per unit
    quantity: WholeNumber = 1


class ItemWithImagesIn(ItemIn):
    """multipart/form-data: the fields, and up to four photos in `images`, re-encoded as for posts."""

    images: list[File] = []


class ReserveIn(BaseModel):
    quantity: WholeNumber = 1


class SummaryIn(BaseModel):
    summary: str = Field(max_length=sales.SUMMARY_MAX)


class SummaryLineOut(BaseModel):
    item_id: int
    title: str
    donor: PersonOut | None
    price_cents: int
    quantity: int
    sold: int
    amount_cents: int


class SummaryOut(BaseModel):
    sale: SaleBriefOut
    lines: list[SummaryLineOut]
    units_sold: int
    buyers: int
    raised_cents: int
    summary: str  # empty until published


def _person(person: Person | None) -> PersonOut | None:
    return PersonOut(**person.payload()) if person else None


def _brief(sale: CharitySale, organiser: Person | None) -> SaleBriefOut:
    return SaleBriefOut(
        id=id_of(sale),
        community_id=sale.community_id,
        title=sale.title,
        cause=sale.cause,
        pickup=sale.pickup,
        organiser=_person(organiser),
        starts_at=sale.starts_at.isoformat(),
        ends_at=sale.ends_at.isoformat(),
        target_cents=sale.target_cents,
        raised_cents=sale.raised_cents,
        hold_hours=sale.hold_hours,
        status=sale.status,
        published=sale.published_at is not None,
        thread_id=sale.thread_id,
        url=sale_path(id_of(sale)),
    )


def _item_out(view: ItemView) -> ItemOut:
    item = view.item
    return ItemOut(
        id=id_of(item),
        title=item.title,
        description=item.description,
        price_cents=item.price_cents,
        quantity=item.quantity,
        reserved=item.reserved,
        sold=item.sold,
        available=view.available,
        donor=_person(view.donor),
        images=images_out(view.pictures, sale_item_image_path),
    )


def _reservation_out(view: ReservationView) -> ReservationOut:
    reservation, item = view.reservation, view.item
    return ReservationOut(
        id=id_of(reservation),
        item_id=id_of(item),
        item_title=item.title,
        quantity=reservation.quantity,
        amount_cents=reservation.quantity * item.price_cents,
        status=reservation.status,
        buyer=_person(view.buyer),
        created_at=reservation.created_at.isoformat(),
        expires_at=reservation.expires_at.isoformat(),
    )


async def _sale_out(sale: CharitySale, standing: CommunityStanding) -> SaleOut:
    user = require_user()
    last_event_id = await latest_event_id(db_session())  # before the sale: a change in between is replayed
    view = await sale_view(db_session(), sale, user, standing)
    return SaleOut(
        **_brief(sale, view.organiser).model_dump(),
        items=[_item_out(item) for item in view.items],
        my_reservations=[_reservation_out(row) for row in view.mine],
        desk=[_reservation_out(row) for row in view.desk] if view.desk is not None else None,
        summary=sale.summary if sale.published_at else "",
        room=rooms.SALE(id_of(sale)),
        last_event_id=last_event_id,
    )


@blueprint.get("/communities/<slug>/sales")
@tag(["market"])
@validate_response(SaleListOut)
async def list_sales(slug: str) -> SaleListOut:
    community, _standing = await access_community_content(db_session(), require_user(), slug)
    last_event_id = await latest_event_id(db_session())
    rows = await sales_of(db_session(), community)
    return SaleListOut(
        sales=[_brief(row.sale, row.organiser) for row in rows],
        room=rooms.MARKET(id_of(community)),
        last_event_id=last_event_id,
    )


@blueprint.post("/communities/<slug>/sales")
@tag(["market"])
@rate_limit(limits=MARKET_LIMITS)
@validate_request(SaleIn)
@validate_response(SaleOut, 201)
async def create_sale(slug: str, data: SaleIn) -> tuple[SaleOut, int]:
    """Open a charity sale; you organise it. Also starts its discussion thread in the charity-sales board."""
    user = require_user()
    community, standing = await access_community_content(db_session(), user, slug)
    sale = await sales.create_sale(
        db_session(),
        actor=user,
        community=community,
        standing=standing,
        zone=current_app.config["TIMEZONE"],
        **data.model_dump(),
    )
    await commit()
    return await _sale_out(sale, standing), 201


@blueprint.get("/sales/<id:sale_id>")
@tag(["market"])
@validate_response(SaleOut)
async def get_sale(sale_id: int) -> SaleOut:
    sale, _community, standing = await access_sale(db_session(), require_user(), sale_id)
    return await _sale_out(sale, standing)


@blueprint.post("/sales/<id:sale_id>/items")
@tag(["market"])
@rate_limit(limits=MARKET_LIMITS)
@validate_json_or_multipart(ItemIn, ItemWithImagesIn)
@validate_response(SaleOut, 201)
async def donate_item(sale_id: int, data: ItemIn) -> tuple[SaleOut, int]:
    """Donate an item: JSON, or multipart/form-data with up to four photos in `images`. Answers the sale."""
    user = require_user()
    sale, _community, standing = await access_sale(db_session(), user, sale_id)
    await sale_items.donate_item(
        db_session(),
        actor=user,
        sale=sale,
        standing=standing,
        title=data.title,
        description=data.description,
        price=data.price,
        quantity=data.quantity,
        images=await uploaded_images(most=sale_items.MAX_IMAGES, too_many=sale_items.TOO_MANY_FOR_ITEM),
    )
    await commit()
    return await _sale_out(sale, standing), 201


@blueprint.post("/sales/items/<id:item_id>/reservations")
@tag(["market"])
@validate_request(ReserveIn)
@validate_response(ReservationOut, 201)
async def reserve_item(item_id: int, data: ReserveIn) -> tuple[ReservationOut, int]:
    """Reserve units of an item. 409 `quantity` when not that many are left, 409 `sale` when it is over."""
    user = require_user()
    item, sale, _community, standing = await access_sale_item(db_session(), user, item_id)
    reservation = await reservations.reserve(
        db_session(), actor=user, sale=sale, item=item, standing=standing, quantity=data.quantity
    )
    await commit()
    return _reservation_out(ReservationView(reservation, item, None)), 201


async def _step(reservation_id: int, step: str) -> ReservationOut:
    user = require_user()
    reservation, item, sale, _community, standing = await access_reservation(db_session(), user, reservation_id)
    action = {
        "cancel": reservations.cancel_reservation,
        "paid": reservations.mark_paid,
        "handed_over": reservations.hand_over,
    }[step]
    await action(db_session(), actor=user, sale=sale, item=item, reservation=reservation, standing=standing)
    await commit()
    return _reservation_out(ReservationView(reservation, item, None))  # the action set its new status


@blueprint.post("/sales/reservations/<id:reservation_id>/cancel")
@tag(["market"])
@validate_response(ReservationOut)
async def cancel_reservation(reservation_id: int) -> ReservationOut:
    """The buyer, the organiser or a secretary lets a held reservation go."""
    return await _step(reservation_id, "cancel")


@blueprint.post("/sales/reservations/<id:reservation_id>/paid")
@tag(["market"])
@validate_response(ReservationOut)
async def mark_paid(reservation_id: int) -> ReservationOut:
    """The organiser (or a secretary) records the payment of a held reservation."""
    return await _step(reservation_id, "paid")


@blueprint.post("/sales/reservations/<id:reservation_id>/handed-over")
@tag(["market"])
@validate_response(ReservationOut)
async def hand_over(reservation_id: int) -> ReservationOut:
    """The organiser (or a secretary) records that the buyer has a paid item."""
    return await _step(reservation_id, "handed_over")


@blueprint.post("/sales/<id:sale_id>/close")
@tag(["market"])
@validate_response(SaleOut)
async def close_sale(sale_id: int) -> SaleOut:
    user = require_user()
    sale, _community, standing = await access_sale(db_session(), user, sale_id)
    await sales.close_sale(db_session(), actor=user, sale=sale, standing=standing)
    await commit()
    return await _sale_out(sale, standing)


@blueprint.get("/sales/<id:sale_id>/summary")
@tag(["market"])
@validate_response(SummaryOut)
async def get_summary(sale_id: int) -> SummaryOut:
    sale, _community, _standing = await access_sale(db_session(), require_user(), sale_id)
    summary = await sale_summary(db_session(), sale)
    return SummaryOut(
        sale=_brief(sale, summary.organiser),
        lines=[
            SummaryLineOut(
                item_id=id_of(line.item),
                title=line.item.title,
                donor=_person(line.donor),
                price_cents=line.item.price_cents,
                quantity=line.item.quantity,
                sold=line.item.sold,
                amount_cents=line.amount_cents,
            )
            for line in summary.lines
        ],
        units_sold=summary.units_sold,
        buyers=summary.buyers,
        raised_cents=sale.raised_cents,
        summary=sale.summary if sale.published_at else "",
    )


@blueprint.post("/sales/<id:sale_id>/summary")
@tag(["market"])
@validate_request(SummaryIn)
@validate_response(SaleOut)
async def publish_summary(sale_id: int, data: SummaryIn) -> SaleOut:
    """After closing: tell the community where the money goes (once)."""
    user = require_user()
    sale, _community, standing = await access_sale(db_session(), user, sale_id)
    await sales.publish_summary(db_session(), actor=user, sale=sale, standing=standing, summary=data.summary)
    await commit()
    return await _sale_out(sale, standing)
