"""The market as pages and the API show it: a community's swaps, give-aways and charity-sale items, browsed by
kind, category and status or searched; one listing with the offers the viewer may see; a person's own
listings, offers and reservations. Each page costs a fixed number of statements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from forum import search
from forum.models import (
    CharitySale,
    Community,
    Flag,
    Listing,
    ListingImage,
    ListingKind,
    ListingStatus,
    Membership,
    Offer,
    OfferStatus,
    ReservationStatus,
    SaleItem,
    SaleItemImage,
    SaleReservation,
    SaleStatus,
    User,
    id_of,
)
from forum.offload import text_work
from forum.permissions import CommunityStanding, can_moderate
from forum.queries.people import Person
from forum.queries.threads import discussion_replies
from forum.timeutil import utcnow

PER_PAGE = 60
KINDS = ("all", "sale", "swap", "free")
STATUSES = ("available", "all")
QUERY_MAX = 200  # characters of a search that are read


def _member_of(community_id: Any, user_column: Any) -> Any:
    return and_(col(Membership.user_id) == user_column, col(Membership.community_id) == community_id)


@dataclass(frozen=True, slots=True)
class ListingRow:
    listing: Listing
    owner: Person
    picture: ListingImage | None  # the first photo, for the list
    offer_count: int  # open offers


@dataclass(frozen=True, slots=True)
class SaleItemRow:
    item: SaleItem
    sale: CharitySale
    picture: SaleItemImage | None

    @property
    def available(self) -> int:
        return self.item.quantity - self.item.reserved - self.item.sold


@dataclass(frozen=True, slots=True)
class MarketPage:
    listings: list[ListingRow]
    sale_items: list[SaleItemRow]


@dataclass(frozen=True, slots=True)
class MarketFilter:
    kind: str = "all"
    category: str = ""
    status: str = "available"
    query: str = ""

    @classmethod
    def parse(cls, args: Any, categories: Any) -> MarketFilter:
        """From a query string: anything unknown falls back to the default (a filter link never errors)."""
        kind = args.get("kind", "all")
        category = args.get("category", "")
        status = args.get("status", "available")
        return cls(
            kind=kind if kind in KINDS else "all",
            category=category if category in categories else "",
            status=status if status in STATUSES else "available",
            query=str(args.get("q", ""))[:QUERY_MAX].strip(),
        )


async def _open_offer_counts(session: AsyncSession, listing_ids: list[int]) -> dict[int, int]:
    if not listing_ids:
        return {}
    rows = await session.execute(
        select(col(Offer.listing_id), func.count())
        .where(col(Offer.listing_id).in_(listing_ids), col(Offer.status) == OfferStatus.OPEN)
        .group_by(col(Offer.listing_id))
    )
    return {listing_id: int(count) for listing_id, count in rows.all()}


async def _first_pictures(session: AsyncSession, listing_ids: list[int]) -> dict[int, ListingImage]:
    if not listing_ids:
        return {}
    rows = await session.execute(
        select(ListingImage).where(col(ListingImage.listing_id).in_(listing_ids), col(ListingImage.position) == 0)
    )
    return {picture.listing_id: picture for picture in rows.scalars()}


async def _listing_rows(session: AsyncSession, statement: Any) -> list[ListingRow]:
    rows = (await session.execute(statement)).all()
    ids = [listing.id for listing, _user, _membership in rows if listing.id is not None]
    counts = await _open_offer_counts(session, ids)
    pictures = await _first_pictures(session, ids)
    return [
        ListingRow(listing, Person.of(user, membership), pictures.get(id_of(listing)), counts.get(id_of(listing), 0))
        for listing, user, membership in rows
    ]


def _listings_with_owners(community_id: int) -> Any:
    return (
        select(Listing, User, Membership)
        .join(User, col(User.id) == col(Listing.owner_id))
        .outerjoin(Membership, _member_of(community_id, col(User.id)))
        .where(col(Listing.community_id) == community_id)
    )


async def _matching_threads(session: AsyncSession, community_id: int, query: str) -> set[int]:
    """Threads whose opening post matches, by the forum's own search (jieba, FTS5 or tsvector): a listing's
    discussion opens with its title, description, what is wanted and where."""
    hits = await search.search(session, community_id=community_id, query=query, limit=200)
    return {hit.thread_id for hit in hits if hit.number == 1}


async def market_page(session: AsyncSession, community: Community, chosen: MarketFilter) -> MarketPage:
    """What the market page lists for `chosen`, newest first."""
    assert community.id is not None  # noqa: S101 -- a loaded row
    listings: list[ListingRow] = []
    sale_items: list[SaleItemRow] = []
    threads: set[int] | None = None
    if chosen.query:
        threads = await _matching_threads(session, community.id, chosen.query)
    if chosen.kind in ("all", "swap", "free"):
        statement = _listings_with_owners(community.id).order_by(col(Listing.id).desc()).limit(PER_PAGE)
        if chosen.kind != "all":
            statement = statement.where(col(Listing.kind) == chosen.kind)
        if chosen.category:
            statement = statement.where(col(Listing.category) == chosen.category)
        if chosen.status == "available":
            statement = statement.where(col(Listing.status) == ListingStatus.OPEN)
        else:  # removed ones stay with their owner and the secretaries
            statement = statement.where(col(Listing.status) != ListingStatus.REMOVED)
        statement = statement.where(col(Listing.hidden_at).is_(None))  # hidden by flags until reviewed
        if threads is not None:
            statement = statement.where(col(Listing.thread_id).in_(threads or {0}))
        listings = await _listing_rows(session, statement)
    if chosen.kind in ("all", "sale") and not chosen.category:
        sale_items = await _sale_items(session, community, chosen)
    return MarketPage(listings, sale_items)


async def _sale_items(session: AsyncSession, community: Community, chosen: MarketFilter) -> list[SaleItemRow]:
    """Items of the community's open charity sales; searched word by word (jieba's segments) in their titles
    and descriptions, as there are few of them."""
    statement = (
        select(SaleItem, CharitySale)
        .join(CharitySale, col(CharitySale.id) == col(SaleItem.sale_id))
        .where(col(CharitySale.community_id) == community.id, col(CharitySale.status) == SaleStatus.OPEN)
        .order_by(col(SaleItem.id).desc())
        .limit(PER_PAGE)
    )
    if chosen.status == "available":
        statement = statement.where(col(SaleItem.quantity) - col(SaleItem.reserved) - col(SaleItem.sold) > 0)
    if chosen.query:
        terms = await text_work(len(chosen.query), search.segment, chosen.query)
        if not terms:
            return []
        for term in terms[: search.MAX_QUERY_TERMS]:
            pattern = "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            statement = statement.where(
                or_(
                    func.lower(col(SaleItem.title)).like(pattern, escape="\\"),
                    func.lower(col(SaleItem.description)).like(pattern, escape="\\"),
                )
            )
    rows = (await session.execute(statement)).all()
    ids = [item.id for item, _sale in rows]
    pictures: dict[int, SaleItemImage] = {}
    if ids:
        for picture in (
            await session.execute(
                select(SaleItemImage).where(col(SaleItemImage.item_id).in_(ids), col(SaleItemImage.position) == 0)
            )
        ).scalars():
            pictures[picture.item_id] = picture
    return [SaleItemRow(item, sale, pictures.get(id_of(item))) for item, sale in rows]


@dataclass(frozen=True, slots=True)
class OfferView:
    offer: Offer
    maker: Person
    offered: Listing | None  # the maker's listing offered in exchange


@dataclass(frozen=True, slots=True)
class ListingView:
    listing: Listing
    owner: Person
    pictures: list[ListingImage]
    offers: list[OfferView]  # every offer for the owner and secretaries; the viewer's own for anyone else
    offer_count: int  # open offers
    deal: OfferView | None  # the accepted (or done) offer, for everyone: who is taking it
    my_listings: list[Listing]  # the viewer's open listings, to offer one in exchange
    reports: list[tuple[Flag, Person]]  # open flags, for the secretaries
    discussion_replies: int | None  # None: no discussion thread (any more)
    is_owner: bool
    may_moderate: bool
    exchanged_for: Listing | None  # the listing whose deal this one was offered in (and taken) for
    reported_by_viewer: bool
    claim_running: bool  # a give-away's claim window is still open: no draw yet


async def listing_view(
    session: AsyncSession, listing: Listing, viewer: User, standing: CommunityStanding
) -> ListingView:
    """Everything the listing's page shows `viewer`."""
    owner_row = (
        await session.execute(
            select(User, Membership)
            .outerjoin(Membership, _member_of(listing.community_id, col(User.id)))
            .where(col(User.id) == listing.owner_id)
        )
    ).one()
    pictures = list(
        (
            await session.execute(
                select(ListingImage)
                .where(col(ListingImage.listing_id) == listing.id)
                .order_by(col(ListingImage.position))
            )
        ).scalars()
    )
    is_owner = listing.owner_id == viewer.id
    moderates = can_moderate(standing)
    offered = aliased(Listing)
    statement = (
        select(Offer, User, Membership, offered)
        .join(User, col(User.id) == col(Offer.maker_id))
        .outerjoin(Membership, _member_of(listing.community_id, col(User.id)))
        .outerjoin(offered, col(offered.id) == col(Offer.offered_listing_id))
        .where(col(Offer.listing_id) == listing.id)
        .order_by(col(Offer.id))
    )
    if not (is_owner or moderates):
        statement = statement.where(
            or_(col(Offer.maker_id) == viewer.id, col(Offer.status).in_((OfferStatus.ACCEPTED, OfferStatus.DONE)))
        )
    views = [
        OfferView(offer, Person.of(user, membership), other)
        for offer, user, membership, other in (await session.execute(statement)).all()
    ]
    deal = next((view for view in views if view.offer.status in (OfferStatus.ACCEPTED, OfferStatus.DONE)), None)
    visible = [view for view in views if is_owner or moderates or view.offer.maker_id == viewer.id]
    my_listings: list[Listing] = []
    if not is_owner and listing.kind == ListingKind.SWAP and listing.status == ListingStatus.OPEN:
        my_listings = list(
            (
                await session.execute(
                    select(Listing)
                    .where(
                        col(Listing.owner_id) == viewer.id,
                        col(Listing.community_id) == listing.community_id,
                        col(Listing.status) == ListingStatus.OPEN,
                    )
                    .order_by(col(Listing.id).desc())
                    .limit(50)
                )
            ).scalars()
        )
    reports: list[tuple[Flag, Person]] = []
    if moderates:
        reports = [
            (flag, Person.of(user, membership))
            for flag, user, membership in (
                await session.execute(
                    select(Flag, User, Membership)
                    .join(User, col(User.id) == col(Flag.reporter_id))
                    .outerjoin(Membership, _member_of(listing.community_id, col(User.id)))
                    .where(col(Flag.listing_id) == listing.id, col(Flag.resolved_at).is_(None))
                    .order_by(col(Flag.id))
                )
            ).all()
        ]
    replies = await discussion_replies(session, listing.thread_id)
    open_count = (
        sum(1 for view in views if view.offer.status == OfferStatus.OPEN)
        if (is_owner or moderates)
        else ((await _open_offer_counts(session, [id_of(listing)])).get(id_of(listing), 0))
    )
    exchanged = (
        await session.execute(
            select(Listing)
            .join(Offer, col(Offer.listing_id) == col(Listing.id))
            .where(
                col(Offer.offered_listing_id) == listing.id,
                col(Offer.status).in_((OfferStatus.ACCEPTED, OfferStatus.DONE)),
            )
            .order_by(col(Offer.id).desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    reported = False
    if not is_owner and not moderates:
        reported = bool(
            (
                await session.execute(
                    select(exists().where(col(Flag.listing_id) == listing.id, col(Flag.reporter_id) == viewer.id))
                )
            ).scalar()
        )
    return ListingView(
        listing=listing,
        owner=Person.of(*owner_row),
        pictures=pictures,
        offers=visible,
        offer_count=open_count,
        deal=deal,
        my_listings=my_listings,
        reports=reports,
        discussion_replies=replies,
        is_owner=is_owner,
        may_moderate=moderates,
        exchanged_for=exchanged,
        reported_by_viewer=reported,
        claim_running=listing.claim_until is not None and utcnow() < listing.claim_until,
    )


@dataclass(frozen=True, slots=True)
class MyOffer:
    offer: Offer
    listing: Listing


@dataclass(frozen=True, slots=True)
class MyReservation:
    reservation: SaleReservation
    item: SaleItem
    sale: CharitySale


@dataclass(frozen=True, slots=True)
class MyMarket:
    listings: list[ListingRow]
    offers: list[MyOffer]
    reservations: list[MyReservation]


async def my_market(session: AsyncSession, community: Community, viewer: User) -> MyMarket:
    """The viewer's own listings (removed ones too: they see why), offers and sale reservations here."""
    assert community.id is not None  # noqa: S101 -- a loaded row
    mine = await _listing_rows(
        session,
        _listings_with_owners(community.id)
        .where(col(Listing.owner_id) == viewer.id)
        .order_by(col(Listing.id).desc())
        .limit(PER_PAGE),
    )
    offers = [
        MyOffer(offer, listing)
        for offer, listing in (
            await session.execute(
                select(Offer, Listing)
                .join(Listing, col(Listing.id) == col(Offer.listing_id))
                .where(col(Offer.maker_id) == viewer.id, col(Listing.community_id) == community.id)
                .order_by(col(Offer.id).desc())
                .limit(PER_PAGE)
            )
        ).all()
    ]
    reservations = [
        MyReservation(reservation, item, sale)
        for reservation, item, sale in (
            await session.execute(
                select(SaleReservation, SaleItem, CharitySale)
                .join(SaleItem, col(SaleItem.id) == col(SaleReservation.item_id))
                .join(CharitySale, col(CharitySale.id) == col(SaleItem.sale_id))
                .where(col(SaleReservation.buyer_id) == viewer.id, col(CharitySale.community_id) == community.id)
                .order_by((col(SaleReservation.status) != ReservationStatus.HELD), col(SaleReservation.id).desc())
                .limit(PER_PAGE)
            )
        ).all()
    ]
    return MyMarket(mine, offers, reservations)
