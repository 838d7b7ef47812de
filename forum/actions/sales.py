"""Charity sales (义卖): a sale, opened with its discussion thread, closed by its organiser or its clock, with a
summary published to the community. The items neighbours donate are in `forum.actions.sale_items`; the
reservations buyers make in `forum.actions.reservations`.

No money moves online. A buyer reserves some units of an item; the reservation holds them for the sale's
`hold_hours`, then lapses unless the organiser has recorded the payment. Paid units count towards the total
raised; the organiser then records the hand-over.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from forum.actions import threads, word_filters
from forum.actions.mutes import require_voice
from forum.db import record_event
from forum.errors import Forbidden, field_error
from forum.events import SaleChanged, SaleCreated
from forum.i18n import N_
from forum.models import (
    Board,
    BoardKind,
    CharitySale,
    Community,
    ReservationStatus,
    SaleItem,
    SaleReservation,
    SaleStatus,
    Thread,
    User,
)
from forum.paths import sale_path
from forum.permissions import CommunityStanding, can_run_sale
from forum.timeutil import utcnow
from forum.validation import FieldErrors, clean_text, parse_count, parse_when, parse_yuan

TITLE_MAX = 100
CAUSE_MAX = 200
PICKUP_MAX = 200
MAX_TARGET_CENTS = 10_000_000 * 100
HOLD_HOURS = (1, 168)  # a reservation holds for an hour at least, a week at most
SUMMARY_MAX = 2000


def require_member(standing: CommunityStanding) -> None:
    if not standing.is_verified_member:
        raise Forbidden(N_("Only verified members of this community can take part in its charity sales."))


def require_open(sale: CharitySale) -> None:
    if sale.status != SaleStatus.OPEN:
        raise field_error("sale", N_("This sale is over."), status=409)


def require_running(sale: CharitySale, now: datetime) -> None:
    """Reservations are taken from the sale's start to its end (donations are welcome before it starts)."""
    require_open(sale)
    if now < sale.starts_at:
        raise field_error("sale", N_("This sale has not started yet: reservations open when it starts."), status=409)
    if now >= sale.ends_at:
        raise field_error("sale", N_("This sale is over."), status=409)


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


def record_sale(session: AsyncSession, sale: CharitySale) -> None:
    """Tell the sale's open pages and the community's list of sales its total or status changed."""
    record_event(session, sale_changed(sale))


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
    require_member(standing)
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
        record_sale(session, sale)
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
    record_sale(session, sale)


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
    record_sale(session, sale)
