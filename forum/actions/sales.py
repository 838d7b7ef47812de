"""Charity sales (义卖): a sale, the items neighbours donate to it, and the reservations buyers make.

No money moves online. A buyer reserves some units of an item; the reservation holds them for the sale's
`hold_hours`, then lapses unless the organiser has recorded the payment. Paid units count towards the total
raised; the organiser then records the hand-over.

Every change of units is one conditional UPDATE (`reserved = reserved + n WHERE quantity - reserved - sold >= n`),
and every change of a reservation's status is one conditional UPDATE from the status it must be in, so two
transactions can never both take the last unit or both end one reservation: the loser finds no row and is told
why. The table's check constraint (`units_add_up`) stands behind that.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from sqlalchemy import bindparam, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from forum.actions import audit
from forum.errors import Forbidden, NotFound, field_error
from forum.i18n import N_
from forum.models import (
    CharitySale,
    Community,
    ReservationStatus,
    SaleItem,
    SaleReservation,
    SaleStatus,
    User,
    metadata,
)
from forum.permissions import CommunityStanding, can_moderate
from forum.timeutil import utcnow
from forum.validation import FieldErrors, clean_text

TITLE_MAX = 100
CAUSE_MAX = 200
PICKUP_MAX = 200
DESCRIPTION_MAX = 2000
MAX_PRICE_CENTS = 100_000 * 100  # ¥100,000 for one unit
MAX_TARGET_CENTS = 10_000_000 * 100
MAX_QUANTITY = 999
HOLD_HOURS = (1, 168)  # a reservation holds for an hour at least, a week at most
_MONEY = re.compile(r"\d{1,9}(\.\d{1,2})?")


def parse_yuan(value: object, field: str, *, most_cents: int, required: bool = True) -> int | None:
    """Yuan as typed ("12", "12.5", "¥12.50") in fen; none for an empty optional field."""
    text = value.strip().lstrip("¥￥").strip() if isinstance(value, str) else value
    if isinstance(text, bool):
        raise field_error(field, N_("Give an amount in yuan, such as 12 or 12.50."))
    if isinstance(text, int | float):
        text = str(text)
    if text in (None, ""):
        if required:
            raise field_error(field, N_("Give an amount in yuan, such as 12 or 12.50."))
        return None
    if not isinstance(text, str) or not _MONEY.fullmatch(text):
        if isinstance(text, str) and text.startswith("-"):
            raise field_error(field, N_("An amount cannot be negative."))
        raise field_error(field, N_("Give an amount in yuan, such as 12 or 12.50."))
    try:
        cents = int(Decimal(text) * 100)
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        raise field_error(field, N_("Give an amount in yuan, such as 12 or 12.50.")) from None
    if cents > most_cents:
        raise field_error(field, N_("At most ¥%(most)s."), most=f"{most_cents // 100:,}")
    return cents


def parse_count(value: object, field: str, *, most: int) -> int:
    """A whole number of units, 1 to `most`."""
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,6}\s*", value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise field_error(field, N_("Give a whole number."))
    if value < 1:
        raise field_error(field, N_("At least one."))
    if value > most:
        raise field_error(field, N_("At most %(most)d."), most=most)
    return value


def _require_member(standing: CommunityStanding) -> None:
    if not standing.is_verified_member:
        raise Forbidden(N_("Only verified members of this community can take part in its charity sales."))


def _require_open(sale: CharitySale) -> None:
    if sale.status != SaleStatus.OPEN:
        raise field_error("sale", N_("This sale is over."), status=409)


def _require_same_sale(sale: CharitySale, item: SaleItem, reservation: SaleReservation | None = None) -> None:
    """The rows an action is given belong together (the access checks load them that way; a mismatch is a bug
    or a forged id, and is answered as a row that does not exist)."""
    if item.sale_id != sale.id or (reservation is not None and reservation.item_id != item.id):
        raise NotFound()


def _may_run(actor: User, sale: CharitySale, standing: CommunityStanding) -> bool:
    """The organiser runs their sale; the community's secretaries can stand in."""
    return sale.organiser_id == actor.id or can_moderate(standing)


async def create_sale(
    session: AsyncSession,
    *,
    actor: User,
    community: Community,
    standing: CommunityStanding,
    title: object,
    cause: object,
    pickup: object,
    starts_at: datetime | None,
    ends_at: datetime | None,
    target: object = None,
    hold_hours: object = 24,
) -> CharitySale:
    """A new open sale, organised by `actor` (a verified member or a secretary of the community)."""
    _require_member(standing)
    errors = FieldErrors()
    clean_title = errors.check(clean_text, title, "title", max_length=TITLE_MAX, min_length=2)
    clean_cause = errors.check(clean_text, cause, "cause", max_length=CAUSE_MAX, min_length=2)
    clean_pickup = errors.check(clean_text, pickup, "pickup", max_length=PICKUP_MAX, min_length=2)
    target_cents = errors.check(parse_yuan, target, "target", most_cents=MAX_TARGET_CENTS, required=False)
    hours = errors.check(parse_count, hold_hours, "hold_hours", most=HOLD_HOURS[1])
    if starts_at is None:
        errors.add("starts_at", N_("Give the day and time the sale starts."))
    if ends_at is None:
        errors.add("ends_at", N_("Give the day and time the sale ends."))
    elif starts_at is not None and ends_at <= starts_at:
        errors.add("ends_at", N_("The sale must end after it starts."))
    elif ends_at <= utcnow():
        errors.add("ends_at", N_("The sale must end in the future."))
    errors.raise_if_any()
    assert clean_title and clean_cause and clean_pickup and hours and starts_at and ends_at  # noqa: S101 -- checked
    assert community.id is not None  # noqa: S101 -- a loaded row
    sale = CharitySale(
        community_id=community.id,
        organiser_id=actor.id,
        title=clean_title,
        cause=clean_cause,
        pickup=clean_pickup,
        starts_at=starts_at,
        ends_at=ends_at,
        target_cents=target_cents,
        hold_hours=hours,
    )
    session.add(sale)
    await session.flush()
    return sale


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
) -> SaleItem:
    """Give something to an open sale: a title, a description, a price per unit and how many there are."""
    _require_member(standing)
    _require_open(sale)
    errors = FieldErrors()
    clean_title = errors.check(clean_text, title, "title", max_length=TITLE_MAX, min_length=2)
    clean_description = errors.check(
        clean_text, description, "description", max_length=DESCRIPTION_MAX, multiline=True, required=False
    )
    price_cents = errors.check(parse_yuan, price, "price", most_cents=MAX_PRICE_CENTS)
    units = errors.check(parse_count, quantity, "quantity", most=MAX_QUANTITY)
    errors.raise_if_any()
    assert clean_title is not None and price_cents is not None and units is not None  # noqa: S101 -- checked
    assert sale.id is not None  # noqa: S101 -- a loaded row
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
    return item


async def reserve(
    session: AsyncSession,
    *,
    actor: User,
    sale: CharitySale,
    item: SaleItem,
    standing: CommunityStanding,
    quantity: object = 1,
) -> SaleReservation:
    """Hold `quantity` units of the item for the actor until the sale's hold time runs out. Of any number of
    neighbours reserving the last unit at once, exactly one gets it; the others are told it is taken (409)."""
    _require_member(standing)
    _require_same_sale(sale, item)
    _require_open(sale)
    units = parse_count(quantity, "quantity", most=MAX_QUANTITY)
    assert item.id is not None and actor.id is not None  # noqa: S101 -- loaded rows
    still_open = exists().where(col(CharitySale.id) == item.sale_id, col(CharitySale.status) == SaleStatus.OPEN)
    taken = (
        await session.execute(
            update(SaleItem)
            .where(
                col(SaleItem.id) == item.id,
                col(SaleItem.quantity) - col(SaleItem.reserved) - col(SaleItem.sold) >= units,
                still_open,  # closed a moment ago by the organiser: nothing more is reserved
            )
            .values(reserved=col(SaleItem.reserved) + units)
            .returning(col(SaleItem.reserved))
        )
    ).first()
    if taken is None:
        if not (await session.execute(select(still_open))).scalar():
            raise field_error("sale", N_("This sale is over."), status=409)
        raise field_error("quantity", N_("Already reserved: not that many are left."), status=409)
    now = utcnow()
    reservation = SaleReservation(
        item_id=item.id,
        buyer_id=actor.id,
        quantity=units,
        created_at=now,
        expires_at=now + timedelta(hours=sale.hold_hours),
    )
    session.add(reservation)
    await session.flush()
    return reservation


async def _move(
    session: AsyncSession,
    reservation: SaleReservation,
    *,
    source: ReservationStatus,
    to: ReservationStatus,
    **stamps: datetime,
) -> int | None:
    """One conditional UPDATE: the reservation from `source` to `to`, with the given times stamped, if it is
    still in `source`. Its quantity, or None if someone else moved it first: whoever tries at the same moment,
    it happens once."""
    moved = (
        await session.execute(
            update(SaleReservation)
            .where(col(SaleReservation.id) == reservation.id, col(SaleReservation.status) == source)
            .values(status=to, **stamps)
            .returning(col(SaleReservation.quantity))
        )
    ).first()
    if moved is None:
        return None
    reservation.status = to
    for name, value in stamps.items():
        setattr(reservation, name, value)
    return int(moved.quantity)


async def cancel_reservation(
    session: AsyncSession,
    *,
    actor: User,
    sale: CharitySale,
    item: SaleItem,
    reservation: SaleReservation,
    standing: CommunityStanding,
) -> None:
    """The buyer changes their mind, or the organiser lets the units go, before payment."""
    _require_same_sale(sale, item, reservation)
    if reservation.buyer_id != actor.id and not _may_run(actor, sale, standing):
        raise Forbidden()
    units = await _move(
        session, reservation, source=ReservationStatus.HELD, to=ReservationStatus.CANCELLED, ended_at=utcnow()
    )
    if units is None:
        raise field_error("reservation", N_("This reservation is no longer held."), status=409)
    await session.execute(
        update(SaleItem).where(col(SaleItem.id) == item.id).values(reserved=col(SaleItem.reserved) - units)
    )


async def mark_paid(
    session: AsyncSession,
    *,
    actor: User,
    sale: CharitySale,
    item: SaleItem,
    reservation: SaleReservation,
    standing: CommunityStanding,
) -> None:
    """The organiser records that the buyer paid: the units are sold and the total raised grows. Also after
    the sale has closed (people pay at the pickup)."""
    _require_same_sale(sale, item, reservation)
    if not _may_run(actor, sale, standing):
        raise Forbidden(N_("Only the sale's organiser or a secretary can record payments."))
    units = await _move(
        session, reservation, source=ReservationStatus.HELD, to=ReservationStatus.PAID, paid_at=utcnow()
    )
    if units is None:
        raise field_error("reservation", N_("This reservation is no longer held."), status=409)
    await session.execute(
        update(SaleItem)
        .where(col(SaleItem.id) == item.id)
        .values(reserved=col(SaleItem.reserved) - units, sold=col(SaleItem.sold) + units)
    )
    await session.execute(
        update(CharitySale)
        .where(col(CharitySale.id) == sale.id)
        .values(raised_cents=col(CharitySale.raised_cents) + units * item.price_cents)
    )
    await audit.record(
        session,
        actor=actor,
        action="sale.paid",
        community_id=sale.community_id,
        target_user_id=reservation.buyer_id,
        detail=f"reservation {reservation.id}: {units} × {item.title} ({units * item.price_cents} fen)",
    )


async def hand_over(
    session: AsyncSession,
    *,
    actor: User,
    sale: CharitySale,
    item: SaleItem,
    reservation: SaleReservation,
    standing: CommunityStanding,
) -> None:
    """The organiser records that the buyer has the item (after payment)."""
    _require_same_sale(sale, item, reservation)
    if not _may_run(actor, sale, standing):
        raise Forbidden(N_("Only the sale's organiser or a secretary can record hand-overs."))
    handed = await _move(
        session, reservation, source=ReservationStatus.PAID, to=ReservationStatus.HANDED_OVER, ended_at=utcnow()
    )
    if handed is None:
        raise field_error("reservation", N_("Only a paid reservation can be handed over."), status=409)


async def lapse_due(session: AsyncSession, *, now: datetime, most: int = 200) -> int:
    """Give back the units of up to `most` held reservations past their time, oldest first (the periodic job in
    forum.app); returns how many lapsed. One UPDATE moves them all from held, so a reservation paid or
    cancelled meanwhile, or made a moment ago, is never taken, and processes running the job at once each
    lapse a reservation at most once between them. Then one statement per item gives the units back."""
    due = (
        select(col(SaleReservation.id))
        .where(col(SaleReservation.status) == ReservationStatus.HELD, col(SaleReservation.expires_at) < now)
        .order_by(col(SaleReservation.expires_at))
        .limit(most)
        .scalar_subquery()
    )
    lapsed = (
        await session.execute(
            update(SaleReservation)
            .where(col(SaleReservation.id).in_(due), col(SaleReservation.status) == ReservationStatus.HELD)
            .values(status=ReservationStatus.LAPSED, ended_at=now)
            .returning(col(SaleReservation.item_id), col(SaleReservation.quantity))
        )
    ).all()
    units: dict[int, int] = {}
    for item_id, quantity in lapsed:
        units[item_id] = units.get(item_id, 0) + quantity
    if units:
        items = metadata.tables[SaleItem.__tablename__]  # Core, for an executemany: one statement for all the items
        await session.execute(
            update(items).where(items.c.id == bindparam("item")).values(reserved=items.c.reserved - bindparam("units")),
            [{"item": item_id, "units": count} for item_id, count in units.items()],
        )
    return len(lapsed)


async def close_sale(session: AsyncSession, *, actor: User, sale: CharitySale, standing: CommunityStanding) -> None:
    """No more donations or reservations; what is reserved can still be paid for and handed over."""
    if not _may_run(actor, sale, standing):
        raise Forbidden(N_("Only the sale's organiser or a secretary can close it."))
    now = utcnow()
    closed = (
        await session.execute(
            update(CharitySale)
            .where(col(CharitySale.id) == sale.id, col(CharitySale.status) == SaleStatus.OPEN)
            .values(status=SaleStatus.CLOSED, closed_at=now)
            .returning(col(CharitySale.id))
        )
    ).first()
    if closed is None:
        raise field_error("sale", N_("This sale is over."), status=409)
    sale.status, sale.closed_at = SaleStatus.CLOSED, now
