"""Reservations in a charity sale: a buyer reserves units of an item, the organiser records the payment and the
hand-over, or the reservation is cancelled or lapses (`lapse_due`; buyers are reminded first, `remind_due`).
Every change of a reservation's status is one conditional UPDATE from the status it must be in, so two
transactions can never both end one reservation: the loser finds no row and is told why."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import bindparam, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from forum import subjects
from forum.actions import audit, notifications, sale_items, sales
from forum.errors import Forbidden, NotFound, field_error
from forum.i18n import N_
from forum.models import (
    CharitySale,
    NotificationKind,
    ReservationStatus,
    SaleItem,
    SaleReservation,
    SaleStatus,
    User,
    id_of,
    metadata,
)
from forum.paths import sale_path
from forum.permissions import CommunityStanding, can_run_sale
from forum.timeutil import utcnow
from forum.validation import parse_count

REMIND_BEFORE = timedelta(hours=2)  # a buyer is told this long before their reservation lapses …
REMIND_SHARE = 4  # … or, for a short hold, when a quarter of it is left


def require_same_sale(sale: CharitySale, item: SaleItem, reservation: SaleReservation | None = None) -> None:
    """The rows an action is given belong together (the access checks load them that way; a mismatch is a bug
    or a forged id, and is answered as a row that does not exist)."""
    if item.sale_id != sale.id or (reservation is not None and reservation.item_id != item.id):
        raise NotFound()


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
    sales.require_member(standing)
    require_same_sale(sale, item)
    now = utcnow()
    sales.require_running(sale, now)
    units = parse_count(quantity, "quantity", most=sale_items.MAX_QUANTITY)
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
            .returning(*sale_items.UNITS)
        )
    ).first()
    if taken is None:
        if not (await session.execute(select(still_open))).scalar():
            raise field_error("sale", N_("This sale is over."), status=409)
        raise field_error("quantity", N_("Already reserved: not that many are left."), status=409)
    hold = timedelta(hours=sale.hold_hours)
    reservation = SaleReservation(
        item_id=item.id,
        buyer_id=actor.id,
        quantity=units,
        created_at=now,
        expires_at=now + hold,
        remind_at=now + hold - min(REMIND_BEFORE, hold / REMIND_SHARE),
    )
    session.add(reservation)
    await session.flush()
    sale_items.record_units(session, taken, sale.community_id)
    if sale.organiser_id is not None:
        await notifications.notify(
            session,
            recipients=[sale.organiser_id],
            kind=NotificationKind.RESERVATION,
            community_id=sale.community_id,
            subject=subjects.sale(id_of(sale)),
            actor_id=actor.id,
            title=sale.title,
            url=sale_path(item.sale_id),
        )
    return reservation


async def _move(
    session: AsyncSession,
    reservation: SaleReservation,
    *,
    source: ReservationStatus,
    to: ReservationStatus,
    **stamps: datetime | None,
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
    require_same_sale(sale, item, reservation)
    if reservation.buyer_id != actor.id and not can_run_sale(standing, sale.organiser_id, actor.id):
        raise Forbidden()
    units = await _move(
        session,
        reservation,
        source=ReservationStatus.HELD,
        to=ReservationStatus.CANCELLED,
        ended_at=utcnow(),
        remind_at=None,
    )
    if units is None:
        raise field_error("reservation", N_("This reservation is no longer held."), status=409)
    given_back = await session.execute(
        update(SaleItem)
        .where(col(SaleItem.id) == item.id)
        .values(reserved=col(SaleItem.reserved) - units)
        .returning(*sale_items.UNITS)
    )
    sale_items.record_units(session, given_back.one(), sale.community_id)


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
    require_same_sale(sale, item, reservation)
    if not can_run_sale(standing, sale.organiser_id, actor.id):
        raise Forbidden(N_("Only the sale's organiser or a secretary can record payments."))
    units = await _move(
        session, reservation, source=ReservationStatus.HELD, to=ReservationStatus.PAID, paid_at=utcnow(), remind_at=None
    )
    if units is None:
        raise field_error("reservation", N_("This reservation is no longer held."), status=409)
    sold = await session.execute(
        update(SaleItem)
        .where(col(SaleItem.id) == item.id)
        .values(reserved=col(SaleItem.reserved) - units, sold=col(SaleItem.sold) + units)
        .returning(*sale_items.UNITS)
    )
    sale_items.record_units(session, sold.one(), sale.community_id)
    sale.raised_cents = (
        await session.execute(
            update(CharitySale)
            .where(col(CharitySale.id) == sale.id)
            .values(raised_cents=col(CharitySale.raised_cents) + units * item.price_cents)
            .returning(col(CharitySale.raised_cents))
        )
    ).scalar_one()
    sales.record_sale(session, sale)
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
    require_same_sale(sale, item, reservation)
    if not can_run_sale(standing, sale.organiser_id, actor.id):
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
            .values(status=ReservationStatus.LAPSED, ended_at=now, remind_at=None)
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
        rows = await session.execute(
            select(*sale_items.UNITS, col(CharitySale.community_id))
            .join(CharitySale, col(CharitySale.id) == col(SaleItem.sale_id))
            .where(col(SaleItem.id).in_(units))
        )
        for *row, community_id in rows.all():
            sale_items.record_units(session, row, community_id)
    return len(lapsed)


async def remind_due(session: AsyncSession, *, now: datetime, most: int = 200) -> int:
    """Tell buyers whose held reservations lapse soon (their `remind_at` has come) to pay at the pickup; each
    is told once, whichever process gets there first. Returns how many were told."""
    due = (
        select(col(SaleReservation.id))
        .where(col(SaleReservation.remind_at) <= now, col(SaleReservation.status) == ReservationStatus.HELD)
        .order_by(col(SaleReservation.remind_at))
        .limit(most)
        .scalar_subquery()
    )
    reminded = (
        (
            await session.execute(
                update(SaleReservation)
                .where(col(SaleReservation.id).in_(due), col(SaleReservation.remind_at).is_not(None))
                .values(remind_at=None)
                .returning(col(SaleReservation.id))
            )
        )
        .scalars()
        .all()
    )
    if not reminded:
        return 0
    rows = await session.execute(
        select(
            col(SaleReservation.id),
            col(SaleReservation.buyer_id),
            col(CharitySale.id),
            col(CharitySale.community_id),
            col(SaleItem.title),
        )
        .join(SaleItem, col(SaleItem.id) == col(SaleReservation.item_id))
        .join(CharitySale, col(CharitySale.id) == col(SaleItem.sale_id))
        .where(col(SaleReservation.id).in_(reminded))
        .order_by(col(SaleReservation.buyer_id))
    )
    for reservation_id, buyer_id, sale_id, community_id, item_title in rows.all():
        assert reservation_id is not None and sale_id is not None  # noqa: S101 -- stored rows
        await notifications.notify(
            session,
            recipients=[buyer_id],
            kind=NotificationKind.LAPSING,
            community_id=community_id,
            subject=subjects.reservation(reservation_id),
            actor_id=None,
            title=item_title,
            url=sale_path(sale_id),
        )
    return len(reminded)
