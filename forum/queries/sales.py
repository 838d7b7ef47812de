"""Charity sales as pages and the API show them: a community's sales, one sale with its items and the
reservations the viewer may see, and the summary. Each page costs a fixed number of statements, whatever
the number of items."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from forum.models import (
    CharitySale,
    Community,
    Membership,
    ReservationStatus,
    SaleItem,
    SaleItemImage,
    SaleReservation,
    SaleStatus,
    User,
    id_of,
)
from forum.permissions import CommunityStanding, can_run_sale
from forum.queries.people import Person
from forum.queries.threads import discussion_replies

SALES_PER_PAGE = 50
DESK_LIMIT = 500  # reservations on the organiser's desk at once (held and paid, not yet handed over)


@dataclass(frozen=True, slots=True)
class SaleRow:
    sale: CharitySale
    organiser: Person | None  # None: the organiser's account is gone
    item_count: int


@dataclass(frozen=True, slots=True)
class ItemView:
    item: SaleItem
    donor: Person | None
    pictures: list[SaleItemImage]

    @property
    def available(self) -> int:
        return self.item.quantity - self.item.reserved - self.item.sold


@dataclass(frozen=True, slots=True)
class ReservationView:
    reservation: SaleReservation
    item: SaleItem
    buyer: Person | None  # on the organiser's desk; None in the buyer's own list


@dataclass(frozen=True, slots=True)
class SaleView:
    sale: CharitySale
    organiser: Person | None
    items: list[ItemView]
    mine: list[ReservationView]  # the viewer's reservations in this sale, newest first
    desk: list[ReservationView] | None  # held and paid reservations, for whoever runs the sale; else None
    may_run: bool
    discussion_replies: int | None  # replies in the sale's discussion thread; None: it has none (any more)


def may_run(user: User, sale: CharitySale, standing: CommunityStanding) -> bool:
    """Whether `user` runs this sale (forum.permissions.can_run_sale): the desk and the summary's form."""
    return can_run_sale(standing, sale.organiser_id, user.id)


def _member_of(community_id: Any, user_column: Any) -> Any:
    """Outer-join condition: the membership, in the sale's community, of the person in `user_column`."""
    return and_(col(Membership.user_id) == user_column, col(Membership.community_id) == community_id)


def _person(user: User | None, membership: Membership | None) -> Person | None:
    return Person.of(user, membership) if user is not None else None


async def sales_of(session: AsyncSession, community: Community) -> list[SaleRow]:
    """The community's sales: open ones first (ending soonest first), then closed ones, newest first."""
    items = (
        select(func.count())
        .where(col(SaleItem.sale_id) == col(CharitySale.id))
        .correlate(CharitySale)
        .scalar_subquery()
    )
    rows = await session.execute(
        select(CharitySale, User, Membership, items)
        .outerjoin(User, col(User.id) == col(CharitySale.organiser_id))
        .outerjoin(Membership, _member_of(col(CharitySale.community_id), col(User.id)))
        .where(col(CharitySale.community_id) == community.id)
        .order_by(
            case((col(CharitySale.status) == SaleStatus.OPEN, 0), else_=1),
            case((col(CharitySale.status) == SaleStatus.OPEN, col(CharitySale.ends_at))),
            col(CharitySale.id).desc(),
        )
        .limit(SALES_PER_PAGE)
    )
    return [SaleRow(sale, _person(user, membership), count) for sale, user, membership, count in rows.all()]


async def _items(session: AsyncSession, sale: CharitySale) -> list[ItemView]:
    rows = (
        await session.execute(
            select(SaleItem, User, Membership)
            .outerjoin(User, col(User.id) == col(SaleItem.donor_id))
            .outerjoin(Membership, _member_of(sale.community_id, col(User.id)))
            .where(col(SaleItem.sale_id) == sale.id)
            .order_by(col(SaleItem.id))
        )
    ).all()
    pictures: dict[int, list[SaleItemImage]] = {}
    if rows:
        for picture in (
            await session.execute(
                select(SaleItemImage)
                .join(SaleItem, col(SaleItem.id) == col(SaleItemImage.item_id))
                .where(col(SaleItem.sale_id) == sale.id)
                .order_by(col(SaleItemImage.item_id), col(SaleItemImage.position))
            )
        ).scalars():
            pictures.setdefault(picture.item_id, []).append(picture)
    return [ItemView(item, _person(user, membership), pictures.get(id_of(item), [])) for item, user, membership in rows]


async def sale_view(session: AsyncSession, sale: CharitySale, viewer: User, standing: CommunityStanding) -> SaleView:
    """Everything the sale's page shows to `viewer`: five statements, or six for whoever runs the sale."""
    organiser_row = (
        await session.execute(
            select(User, Membership)
            .outerjoin(Membership, _member_of(sale.community_id, col(User.id)))
            .where(col(User.id) == sale.organiser_id)
        )
    ).first()
    organiser = _person(*organiser_row) if organiser_row is not None else None
    items = await _items(session, sale)
    by_id = {view.item.id: view.item for view in items}
    mine = [
        ReservationView(reservation, by_id[reservation.item_id], None)
        for reservation in (
            await session.execute(
                select(SaleReservation)
                .join(SaleItem, col(SaleItem.id) == col(SaleReservation.item_id))
                .where(col(SaleItem.sale_id) == sale.id, col(SaleReservation.buyer_id) == viewer.id)
                .order_by(col(SaleReservation.id).desc())
                .limit(DESK_LIMIT)
            )
        ).scalars()
    ]
    runs = may_run(viewer, sale, standing)
    desk = await _desk(session, sale, by_id) if runs else None
    replies = await discussion_replies(session, sale.thread_id)
    return SaleView(sale, organiser, items, mine, desk, runs, replies)


async def _desk(session: AsyncSession, sale: CharitySale, items: dict[int | None, SaleItem]) -> list[ReservationView]:
    """What the organiser has to do: held reservations (to be paid; soonest to lapse first), then paid ones
    (to be handed over)."""
    buyer = aliased(User)
    rows = await session.execute(
        select(SaleReservation, buyer, Membership)
        .join(SaleItem, col(SaleItem.id) == col(SaleReservation.item_id))
        .join(buyer, col(buyer.id) == col(SaleReservation.buyer_id))
        .outerjoin(Membership, _member_of(sale.community_id, col(buyer.id)))
        .where(
            col(SaleItem.sale_id) == sale.id,
            col(SaleReservation.status).in_((ReservationStatus.HELD, ReservationStatus.PAID)),
        )
        .order_by(
            case((col(SaleReservation.status) == ReservationStatus.HELD, 0), else_=1),
            col(SaleReservation.expires_at),
            col(SaleReservation.id),
        )
        .limit(DESK_LIMIT)
    )
    return [
        ReservationView(reservation, items[reservation.item_id], Person.of(user, membership))
        for reservation, user, membership in rows.all()
    ]


@dataclass(frozen=True, slots=True)
class SummaryLine:
    item: SaleItem
    donor: Person | None

    @property
    def amount_cents(self) -> int:
        return self.item.sold * self.item.price_cents


@dataclass(frozen=True, slots=True)
class SaleSummary:
    sale: CharitySale
    organiser: Person | None
    lines: list[SummaryLine]
    units_sold: int
    buyers: int  # distinct neighbours who paid for something
    held: int  # reservations still held: the summary cannot be published until they are settled


async def sale_summary(session: AsyncSession, sale: CharitySale) -> SaleSummary:
    """What the sale raised, item by item. The total is the sale's `raised_cents`, which counts each payment
    at the price it was made at; the lines multiply today's prices (which do not change)."""
    organiser_row = (
        await session.execute(
            select(User, Membership)
            .outerjoin(Membership, _member_of(sale.community_id, col(User.id)))
            .where(col(User.id) == sale.organiser_id)
        )
    ).first()
    items = await _items(session, sale)
    buyers = (
        await session.execute(
            select(func.count(func.distinct(col(SaleReservation.buyer_id))))
            .join(SaleItem, col(SaleItem.id) == col(SaleReservation.item_id))
            .where(
                col(SaleItem.sale_id) == sale.id,
                col(SaleReservation.status).in_((ReservationStatus.PAID, ReservationStatus.HANDED_OVER)),
            )
        )
    ).scalar_one()
    held = (
        await session.execute(
            select(func.count())
            .select_from(SaleReservation)
            .join(SaleItem, col(SaleItem.id) == col(SaleReservation.item_id))
            .where(col(SaleItem.sale_id) == sale.id, col(SaleReservation.status) == ReservationStatus.HELD)
        )
    ).scalar_one()
    return SaleSummary(
        sale=sale,
        organiser=_person(*organiser_row) if organiser_row is not None else None,
        lines=[SummaryLine(view.item, view.donor) for view in items],
        units_sold=sum(view.item.sold for view in items),
        buyers=int(buyers),
        held=int(held),
    )


def yuan(cents: int | None) -> str:
    """Fen as yuan for people: "12.50", "1,200.00"."""
    if cents is None:
        return ""
    return f"{cents // 100:,}.{cents % 100:02d}"


def _cell(text: str) -> str:
    """A neighbour's text in a spreadsheet cell: one starting like a formula is kept as text (CSV injection)."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def summary_rows(summary: SaleSummary, header: Sequence[str], total: str) -> list[list[str]]:
    """The summary as CSV rows: a header, one row per item, and the total (labelled `total`)."""
    rows = [list(header)]
    for line in summary.lines:
        item = line.item
        rows.append(
            [
                _cell(item.title),
                _cell(line.donor.display_name) if line.donor else "",
                yuan(item.price_cents),
                str(item.quantity),
                str(item.sold),
                yuan(line.amount_cents),
            ]
        )
    rows.append([total, "", "", "", str(summary.units_sold), yuan(summary.sale.raised_cents)])
    return rows
