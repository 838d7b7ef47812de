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
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from forum import subjects
from forum.actions import audit, notifications, threads, word_filters
from forum.actions.images import attach_images
from forum.actions.mutes import require_voice
from forum.db import record_event
from forum.errors import Forbidden, NotFound, field_error
from forum.events import SaleChanged, SaleCreated, SaleItemAdded, SaleItemChanged
from forum.i18n import N_
from forum.images import PreparedImage
from forum.models import (
    Board,
    BoardKind,
    CharitySale,
    Community,
    NotificationKind,
    ReservationStatus,
    SaleItem,
    SaleItemImage,
    SaleReservation,
    SaleStatus,
    Thread,
    User,
    id_of,
    metadata,
)
from forum.paths import sale_item_image_path, sale_path
from forum.permissions import CommunityStanding, can_run_sale
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
WHEN_TEXT_MAX = 64  # a moment as ISO 8601 text ("2026-12-05T09:00:00.000000+08:00" is 32)
SUMMARY_MAX = 2000
MAX_IMAGES = 4
TOO_MANY_FOR_ITEM = N_("At most %(max)d photos per item; you chose %(count)d.")
REMIND_BEFORE = timedelta(hours=2)  # a buyer is told this long before their reservation lapses …
REMIND_SHARE = 4  # … or, for a short hold, when a quarter of it is left
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


def parse_when(value: object, field: str, *, zone: str) -> datetime | None:
    """A moment as a form or the API gives it: an aware datetime, or ISO 8601 text ("2026-12-05T09:00", as a
    datetime-local input sends it, or with an offset). Without an offset it is a time in `zone`, the
    community's clock. None for nothing given; an error for anything else."""
    if isinstance(value, datetime):
        moment = value
    elif value is None or (isinstance(value, str) and not value.strip()):
        return None
    elif isinstance(value, str) and len(value) <= WHEN_TEXT_MAX:
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise field_error(field, N_("Give a day and time, such as 2026-12-05 09:00.")) from None
    else:
        raise field_error(field, N_("Give a day and time, such as 2026-12-05 09:00."))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(zone))
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 with an offset that leaves the calendar
        raise field_error(field, N_("Give a day and time, such as 2026-12-05 09:00.")) from None
    if not 2000 <= moment.year <= 2100:
        raise field_error(field, N_("Give a day and time, such as 2026-12-05 09:00."))
    return moment


def _require_member(standing: CommunityStanding) -> None:
    if not standing.is_verified_member:
        raise Forbidden(N_("Only verified members of this community can take part in its charity sales."))


def _require_open(sale: CharitySale) -> None:
    if sale.status != SaleStatus.OPEN:
        raise field_error("sale", N_("This sale is over."), status=409)


def _require_running(sale: CharitySale, now: datetime) -> None:
    """Reservations are taken from the sale's start to its end (donations are welcome before it starts)."""
    _require_open(sale)
    if now < sale.starts_at:
        raise field_error("sale", N_("This sale has not started yet: reservations open when it starts."), status=409)
    if now >= sale.ends_at:
        raise field_error("sale", N_("This sale is over."), status=409)


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


def sale_changed(sale: CharitySale) -> SaleChanged:
    assert sale.id is not None  # noqa: S101 -- a loaded row
    return SaleChanged(
        sale_id=sale.id,
        community_id=sale.community_id,
        status=SaleStatus(sale.status).value,
        raised_cents=sale.raised_cents,
        target_cents=sale.target_cents,
        published=sale.published_at is not None,
    )


_UNITS = (col(SaleItem.id), col(SaleItem.sale_id), col(SaleItem.quantity), col(SaleItem.reserved), col(SaleItem.sold))


def _record_units(session: AsyncSession, row: Any, community_id: int) -> None:
    """Tell the sale's open pages, and the community's market pages (which list the items of open sales), an
    item's units changed; `row` is (id, sale_id, quantity, reserved, sold)."""
    item_id, sale_id, quantity, reserved, sold = row
    record_event(session, item_changed(item_id, sale_id, community_id, quantity, reserved, sold))


def _record_sale(session: AsyncSession, sale: CharitySale) -> None:
    """Tell the sale's open pages and the community's list of sales its total or status changed."""
    record_event(session, sale_changed(sale))


def _require_same_sale(sale: CharitySale, item: SaleItem, reservation: SaleReservation | None = None) -> None:
    """The rows an action is given belong together (the access checks load them that way; a mismatch is a bug
    or a forged id, and is answered as a row that does not exist)."""
    if item.sale_id != sale.id or (reservation is not None and reservation.item_id != item.id):
        raise NotFound()


async def create_sale(
    session: AsyncSession,
    *,
    actor: User,
    community: Community,
    standing: CommunityStanding,
    title: object,
    cause: object,
    pickup: object,
    starts_at: object,
    ends_at: object,
    target: object = None,
    hold_hours: object = 24,
    zone: str = "Asia/Shanghai",
) -> CharitySale:
    """A new open sale, organised by `actor` (a verified member or a secretary of the community), with its
    discussion thread in the community's charity-sales board. Times without an offset are in `zone`."""
    _require_member(standing)
    require_voice(standing, "title")
    errors = FieldErrors()
    starts = errors.check(parse_when, starts_at, "starts_at", zone=zone)
    ends = errors.check(parse_when, ends_at, "ends_at", zone=zone)
    clean_title = errors.check(clean_text, title, "title", max_length=TITLE_MAX, min_length=2)
    clean_cause = errors.check(clean_text, cause, "cause", max_length=CAUSE_MAX, min_length=2)
    clean_pickup = errors.check(clean_text, pickup, "pickup", max_length=PICKUP_MAX, min_length=2)
    target_cents = errors.check(parse_yuan, target, "target", most_cents=MAX_TARGET_CENTS, required=False)
    hours = errors.check(parse_count, hold_hours, "hold_hours", most=HOLD_HOURS[1])
    if starts is None and "starts_at" not in errors:
        errors.add("starts_at", N_("Give the day and time the sale starts."))
    if ends is None:
        if "ends_at" not in errors:
            errors.add("ends_at", N_("Give the day and time the sale ends."))
    elif starts is not None and ends <= starts:
        errors.add("ends_at", N_("The sale must end after it starts."))
    elif ends <= utcnow():
        errors.add("ends_at", N_("The sale must end in the future."))
    errors.raise_if_any()
    assert clean_title and clean_cause and clean_pickup and hours and starts and ends  # noqa: S101 -- checked
    assert community.id is not None and actor.id is not None  # noqa: S101 -- loaded rows
    word_filters.refuse_blocked(
        await word_filters.screen(session, community_id=community.id, texts=[clean_title, clean_cause, clean_pickup]),
        "title",
    )
    sale = CharitySale(
        community_id=community.id,
        organiser_id=actor.id,
        title=clean_title,
        cause=clean_cause,
        pickup=clean_pickup,
        starts_at=starts,
        ends_at=ends,
        target_cents=target_cents,
        hold_hours=hours,
    )
    session.add(sale)
    await session.flush()
    assert sale.id is not None  # noqa: S101 -- flushed
    board = (
        await session.execute(
            select(Board)
            .where(col(Board.community_id) == community.id, col(Board.kind) == BoardKind.SALE)
            .order_by(col(Board.is_archived), col(Board.id))
            .limit(1)
        )
    ).scalar_one_or_none()
    if board is not None and not board.is_archived:
        # Questions and answers about the sale: a thread like any other, live, searchable, linking back.
        thread = await threads.create_thread(
            session,
            actor=actor,
            board=board,
            standing=standing,
            title=clean_title,
            body=f"{clean_cause}\n\n📍 {clean_pickup}\n\n→ [{clean_title}]({sale_path(sale.id)})",
        )
        sale.thread_id = thread.id
        await session.flush()
    record_event(
        session,
        SaleCreated(
            sale_id=sale.id,
            community_id=community.id,
            title=sale.title,
            cause=sale.cause,
            organiser=threads.author_data(actor, standing),
            starts_at=starts.isoformat(),
            ends_at=ends.isoformat(),
            target_cents=target_cents,
            url=sale_path(sale.id),
        ),
    )
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
    images: Sequence[PreparedImage] = (),
) -> SaleItem:
    """Give something to an open sale: a title, a description, a price per unit, how many there are and up to
    four photos (already checked and re-encoded)."""
    _require_member(standing)
    require_voice(standing, "title")
    _require_open(sale)
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
    now = utcnow()
    _require_running(sale, now)
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
            .returning(*_UNITS)
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
    _record_units(session, taken, sale.community_id)
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
    _require_same_sale(sale, item, reservation)
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
        .returning(*_UNITS)
    )
    _record_units(session, given_back.one(), sale.community_id)


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
        .returning(*_UNITS)
    )
    _record_units(session, sold.one(), sale.community_id)
    sale.raised_cents = (
        await session.execute(
            update(CharitySale)
            .where(col(CharitySale.id) == sale.id)
            .values(raised_cents=col(CharitySale.raised_cents) + units * item.price_cents)
            .returning(col(CharitySale.raised_cents))
        )
    ).scalar_one()
    _record_sale(session, sale)
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
            select(*_UNITS, col(CharitySale.community_id))
            .join(CharitySale, col(CharitySale.id) == col(SaleItem.sale_id))
            .where(col(SaleItem.id).in_(units))
        )
        for *row, community_id in rows.all():
            _record_units(session, row, community_id)
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


async def close_ended(session: AsyncSession, *, now: datetime) -> int:
    """Close the open sales whose end has passed (the periodic job); returns how many."""
    ended = (
        (
            await session.execute(
                update(CharitySale)
                .where(col(CharitySale.status) == SaleStatus.OPEN, col(CharitySale.ends_at) <= now)
                .values(status=SaleStatus.CLOSED, closed_at=now)
                .returning(CharitySale)
            )
        )
        .scalars()
        .all()
    )
    for sale in ended:
        assert sale.id is not None  # noqa: S101 -- a stored row
        _record_sale(session, sale)
    return len(ended)


async def close_sale(session: AsyncSession, *, actor: User, sale: CharitySale, standing: CommunityStanding) -> None:
    """No more donations or reservations; what is reserved can still be paid for and handed over."""
    if not can_run_sale(standing, sale.organiser_id, actor.id):
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
    assert sale.id is not None  # noqa: S101 -- a loaded row
    _record_sale(session, sale)


async def publish_summary(
    session: AsyncSession, *, actor: User, sale: CharitySale, standing: CommunityStanding, summary: object
) -> None:
    """After the sale, its organiser (or a secretary) tells the community where the money goes: the summary
    page becomes public to the community and a reply in the sale's discussion gives the total. Once only."""
    if not can_run_sale(standing, sale.organiser_id, actor.id):
        raise Forbidden(N_("Only the sale's organiser or a secretary can publish its summary."))
    if sale.status != SaleStatus.CLOSED:
        raise field_error("sale", N_("Close the sale before publishing its summary."), status=409)
    held = exists().where(
        col(SaleReservation.item_id) == col(SaleItem.id),
        col(SaleItem.sale_id) == sale.id,
        col(SaleReservation.status) == ReservationStatus.HELD,
    )
    if (await session.execute(select(held))).scalar():
        # A payment recorded after publishing would change the total the community was told.
        raise field_error(
            "sale", N_("Settle the reservations still held first: record their payment or cancel them."), status=409
        )
    text = clean_text(summary, "summary", max_length=SUMMARY_MAX, multiline=True, min_length=2)
    now = utcnow()
    published = (
        await session.execute(
            update(CharitySale)
            .where(col(CharitySale.id) == sale.id, col(CharitySale.published_at).is_(None))
            .values(summary=text, published_at=now)
            .returning(col(CharitySale.raised_cents))
        )
    ).first()
    if published is None:
        raise field_error("sale", N_("This summary is published already."), status=409)
    sale.summary, sale.published_at, sale.raised_cents = text, now, published.raised_cents
    assert sale.id is not None  # noqa: S101 -- a loaded row
    if sale.thread_id is not None:
        thread = await session.get(Thread, sale.thread_id)
        board = await session.get(Board, thread.board_id) if thread is not None else None
        if (
            thread is not None
            and board is not None
            and not thread.is_deleted
            and not board.is_archived
            and thread.locked_at is None  # closed by a secretary or a timer: the summary page says it all
        ):
            total = f"¥{sale.raised_cents // 100:,}.{sale.raised_cents % 100:02d}"
            await threads.reply(
                session,
                actor=actor,
                thread=thread,
                board=board,
                standing=standing,
                body=f"**{total}**\n\n{text}\n\n→ [{sale.title}]({sale_path(sale.id)}/summary)",
                on_behalf=True,
            )
    _record_sale(session, sale)
