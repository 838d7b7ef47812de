"""Swaps (物物交换) and give-aways: a neighbour lists something (`create_listing`), with its discussion thread; it
stays open for 30 days (`renew`, `expire_due`). Offers and deals are in `forum.actions.offers`; a secretary's
removal and flags go through the one hide path (`forum.flaggables`, `forum.actions.hiding`).

Every change of a listing's status is one conditional UPDATE from the status it must be in (`move`), so of
two changes at the same moment exactly one wins, and the expiry job never takes a listing an offer was just
accepted for.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from forum import rooms, subjects
from forum.actions import notifications, threads, word_filters
from forum.actions.images import attach_images
from forum.actions.mutes import require_voice
from forum.db import queue_event, record_event
from forum.errors import Forbidden, field_error
from forum.events import AccessChanged, ListingChanged, ListingCreated, ThreadHidden
from forum.i18n import N_
from forum.images import PreparedImage
from forum.models import (
    Board,
    BoardKind,
    Community,
    Listing,
    ListingImage,
    ListingKind,
    ListingStatus,
    NotificationKind,
    Offer,
    OfferStatus,
    Thread,
    User,
    id_of,
)
from forum.paths import listing_image_path, listing_path
from forum.permissions import CommunityStanding
from forum.timeutil import utcnow
from forum.validation import FieldErrors, clean_text, whole_number

TITLE_MAX = 100
DESCRIPTION_MAX = 2000
WANTED_MAX = 200
PICKUP_MAX = 100
MESSAGE_MAX = 500
MAX_IMAGES = 4
TOO_MANY_FOR_LISTING = N_("At most %(max)d photos per listing; you chose %(count)d.")
LIFETIME = timedelta(days=30)  # a listing expires this long after it was listed or renewed
CLAIM_HOURS_MAX = 72
# Keys stored in the database; the labels are what people read.
CATEGORIES: dict[str, str] = {
    "furniture": N_("Furniture"),
    "appliances": N_("Appliances and electronics"),
    "clothing": N_("Clothing and shoes"),
    "books": N_("Books"),
    "children": N_("Children and toys"),
    "kitchen": N_("Kitchen and household"),
    "plants": N_("Plants and gardening"),
    "sports": N_("Sports and outdoors"),
    "other": N_("Other"),
}
CONDITIONS: dict[str, str] = {
    "new": N_("New"),
    "like_new": N_("Like new"),
    "good": N_("Good"),
    "worn": N_("Worn but works"),
}


def require_member(standing: CommunityStanding) -> None:
    if not standing.is_verified_member:
        raise Forbidden(N_("Only verified members of this community can swap and give things here."))


def _choice(value: object, field: str, choices: dict[str, str], message: str) -> str:
    if not isinstance(value, str) or value not in choices:
        raise field_error(field, message)
    return value


def _claim_hours(value: object) -> int:
    """0 (the owner picks an offer) to CLAIM_HOURS_MAX hours of asking before a draw."""
    if value in (None, ""):
        return 0
    value = whole_number(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= CLAIM_HOURS_MAX:
        raise field_error("claim_hours", N_("From 0 to %(most)d hours."), most=CLAIM_HOURS_MAX)
    return value


async def count_open_offers(session: AsyncSession, listing_id: int) -> int:
    return int(
        (
            await session.execute(
                select(func.count()).where(col(Offer.listing_id) == listing_id, col(Offer.status) == OfferStatus.OPEN)
            )
        ).scalar_one()
    )


async def record_change(
    session: AsyncSession, listing: Listing, offer_count: int | None = None, *, status: str | None = None
) -> None:
    """Tell the market pages and the listing's page its status (or `status`: a listing hidden by flags is
    "removed" for them) and number of open offers (counted here unless the caller counted them for many
    listings at once)."""
    assert listing.id is not None  # noqa: S101 -- a loaded row
    record_event(
        session,
        ListingChanged(
            listing_id=listing.id,
            community_id=listing.community_id,
            status=ListingStatus(status or listing.status).value,
            offer_count=await count_open_offers(session, listing.id) if offer_count is None else offer_count,
        ),
    )


async def create_listing(
    session: AsyncSession,
    *,
    actor: User,
    community: Community,
    standing: CommunityStanding,
    kind: object,
    title: object,
    description: object,
    wanted: object,
    category: object,
    condition: object,
    pickup_area: object,
    claim_hours: object = 0,
    images: Sequence[PreparedImage] = (),
) -> Listing:
    """List something to swap (`wanted`: what would be welcome in exchange) or to give away (with
    `claim_hours` > 0, neighbours ask for that long and the owner then draws a lot among them). Starts its
    discussion thread in the community's swaps board. Open for 30 days."""
    require_member(standing)
    require_voice(standing, "title")
    errors = FieldErrors()
    clean_kind = errors.check(
        _choice, kind, "kind", {k.value: k.value for k in ListingKind}, N_("Choose swap or give away.")
    )
    clean_title = errors.check(clean_text, title, "title", max_length=TITLE_MAX, min_length=2)
    clean_description = errors.check(
        clean_text, description, "description", max_length=DESCRIPTION_MAX, multiline=True, required=False
    )
    clean_wanted = errors.check(clean_text, wanted, "wanted", max_length=WANTED_MAX, required=False)
    clean_category = errors.check(_choice, category, "category", CATEGORIES, N_("Choose a category."))
    clean_condition = errors.check(_choice, condition, "condition", CONDITIONS, N_("Choose the condition."))
    clean_pickup = errors.check(clean_text, pickup_area, "pickup_area", max_length=PICKUP_MAX, min_length=2)
    hours = errors.check(_claim_hours, claim_hours)
    if clean_kind == ListingKind.SWAP and not clean_wanted:
        errors.add("wanted", N_("Say what you would welcome in exchange (or give it away for free)."))
    if clean_kind == ListingKind.SWAP and hours:
        errors.add("claim_hours", N_("Only a give-away is drawn by lot."))
    if len(images) > MAX_IMAGES:
        errors.add("images", TOO_MANY_FOR_LISTING, max=MAX_IMAGES, count=len(images))
    errors.raise_if_any()
    assert clean_kind and clean_title and clean_category and clean_condition and clean_pickup  # noqa: S101 -- checked
    assert community.id is not None and actor.id is not None  # noqa: S101 -- loaded rows
    word_filters.refuse_blocked(
        await word_filters.screen(
            session, community_id=community.id, texts=[clean_title, clean_description, clean_wanted, clean_pickup]
        ),
        "title",
    )
    now = utcnow()
    listing = Listing(
        community_id=community.id,
        owner_id=actor.id,
        kind=clean_kind,
        title=clean_title,
        description=clean_description or "",
        wanted=(clean_wanted or "") if clean_kind == ListingKind.SWAP else "",
        category=clean_category,
        condition=clean_condition,
        pickup_area=clean_pickup,
        claim_until=now + timedelta(hours=hours) if hours else None,
        created_at=now,
        expires_at=now + LIFETIME,
    )
    session.add(listing)
    await session.flush()
    assert listing.id is not None  # noqa: S101 -- flushed
    pictures = await attach_images(session, model=ListingImage, owner={"listing_id": listing.id}, images=images)
    board = (
        await session.execute(
            select(Board)
            .where(col(Board.community_id) == community.id, col(Board.kind) == BoardKind.SWAP)
            .order_by(col(Board.is_archived), col(Board.id))
            .limit(1)
        )
    ).scalar_one_or_none()
    if board is not None and not board.is_archived:
        # Questions and answers about the listing: a thread like any other, live and searchable (the market's
        # search finds listings through it), linking back.
        body = "\n\n".join(
            part
            for part in (
                listing.description,
                f"⇄ {listing.wanted}" if listing.wanted else "",
                f"📍 {listing.pickup_area}",
                f"→ [{listing.title}]({listing_path(listing.id)})",
            )
            if part
        )
        thread = await threads.create_thread(
            session, actor=actor, board=board, standing=standing, title=listing.title, body=body
        )
        listing.thread_id = thread.id
        await session.flush()
    record_event(
        session,
        ListingCreated(
            listing_id=listing.id,
            community_id=community.id,
            kind=ListingKind(listing.kind).value,
            title=listing.title,
            wanted=listing.wanted,
            category=listing.category,
            condition=listing.condition,
            pickup_area=listing.pickup_area,
            owner=threads.author_data(actor, standing),
            images=[threads.image_data(picture, listing_image_path) for picture in pictures],
            created_at=now.isoformat(),
            url=listing_path(listing.id),
        ),
    )
    return listing


async def move(
    session: AsyncSession, listing_id: int, *, sources: Sequence[ListingStatus], to: ListingStatus, **values: object
) -> Listing | None:
    """One conditional UPDATE of a listing's status; the updated row, or None if it was not in `sources`."""
    moved = (
        await session.execute(
            update(Listing)
            .where(col(Listing.id) == listing_id, col(Listing.status).in_(sources))
            .values(status=to, **values)
            .returning(col(Listing.id))
        )
    ).first()
    if moved is None:
        return None
    return await session.get(Listing, listing_id, populate_existing=True)


async def tell(
    session: AsyncSession, user_ids: Sequence[int], kind: NotificationKind, listing: Listing, *, actor_id: int | None
) -> None:
    assert listing.id is not None  # noqa: S101 -- a loaded row
    await notifications.notify(
        session,
        recipients=user_ids,
        kind=kind,
        community_id=listing.community_id,
        subject=subjects.listing(listing.id),
        actor_id=actor_id,
        title=listing.title,
        url=listing_path(listing.id),
    )


def claim_kept() -> Any:
    """A give-away's claim window as it stays when the listing opens again: kept while it runs; once it has
    passed (the lot was drawn and the deal called off, or nobody asked before it expired) the owner picks."""
    return case((col(Listing.claim_until) > utcnow(), col(Listing.claim_until)), else_=None)


async def renew(session: AsyncSession, *, actor: User, listing: Listing) -> None:
    """The owner keeps an open or expired listing up for another 30 days."""
    if listing.owner_id != actor.id:
        raise Forbidden(N_("Only the listing's owner can renew it."))
    assert listing.id is not None  # noqa: S101 -- a loaded row
    renewed = await move(
        session,
        listing.id,
        sources=[ListingStatus.OPEN, ListingStatus.EXPIRED],
        to=ListingStatus.OPEN,
        expires_at=utcnow() + LIFETIME,
        claim_until=claim_kept(),
    )
    if renewed is None:
        raise field_error("listing", N_("Only an open or expired listing can be renewed."), status=409)
    await record_change(session, renewed)


async def expire_due(session: AsyncSession, *, now: datetime, most: int = 200) -> int:
    """Open listings past their 30 days expire (the periodic job); a reserved one never does. Returns how
    many expired."""
    due = (
        select(col(Listing.id))
        .where(col(Listing.status) == ListingStatus.OPEN, col(Listing.expires_at) < now)
        .order_by(col(Listing.expires_at))
        .limit(most)
        .scalar_subquery()
    )
    expired = (
        (
            await session.execute(
                update(Listing)
                .where(col(Listing.id).in_(due), col(Listing.status) == ListingStatus.OPEN)
                .values(status=ListingStatus.EXPIRED)
                .returning(Listing)
            )
        )
        .scalars()
        .all()
    )
    if not expired:
        return 0
    counts = dict(
        (
            await session.execute(
                select(col(Offer.listing_id), func.count())
                .where(
                    col(Offer.listing_id).in_([listing.id for listing in expired]),
                    col(Offer.status) == OfferStatus.OPEN,
                )
                .group_by(col(Offer.listing_id))
            )
        ).all()
    )
    for listing in expired:  # one count for all of them, not one per listing
        await record_change(session, listing, counts.get(id_of(listing), 0))
    return len(expired)


async def hide_discussion(session: AsyncSession, listing: Listing, *, hidden: bool) -> None:
    """While flags hide a listing, its discussion thread (which repeats it) is hidden too, the same way (no
    reason: "waiting for review"), and its readers leave its room; keeping the listing shows both again."""
    if listing.thread_id is None:
        return
    changed = (
        await session.execute(
            update(Thread)
            .where(
                col(Thread.id) == listing.thread_id,
                col(Thread.hidden_at).is_(None) if hidden else col(Thread.hidden_at).is_not(None),
                col(Thread.hidden_reason) == "",  # a secretary's own hide of the thread stays theirs
            )
            .values(hidden_at=utcnow() if hidden else None)
            .returning(col(Thread.id))
        )
    ).first()
    if changed is None:
        return
    room = rooms.THREAD(listing.thread_id)
    record_event(session, ThreadHidden(thread_id=listing.thread_id, hidden=hidden))
    if hidden:
        queue_event(session, AccessChanged(user_ids=[], rooms=[room]))
