"""Swaps (物物交换) and give-aways: a neighbour lists something, others make offers, the owner accepts one (or,
for a give-away with a claim window, draws a lot among those who asked in time), and both sides confirm the
hand-over.

Every change of a listing's or an offer's status is one conditional UPDATE from the status it must be in, so of
two offers accepted at the same moment exactly one wins, and the expiry job never takes a listing an offer
was just accepted for. Accepting a swap reserves both listings in one transaction: if the listing offered in
exchange is gone meanwhile, nothing is reserved.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from forum.actions import audit, flags, notifications, threads, word_filters
from forum.actions.images import attach_images
from forum.actions.moderation import require_voice
from forum.db import insert_for, queue_event, record_event
from forum.errors import Forbidden, NotFound, field_error
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
)
from forum.paths import listing_image_path, listing_path
from forum.permissions import CommunityStanding, can_moderate
from forum.queries.people import secretary_ids
from forum.timeutil import utcnow
from forum.validation import FieldErrors, clean_text, parse_id, whole_number
from realtime.events import (
    AccessChanged,
    ListingChanged,
    ListingCreated,
    ThreadHidden,
    listing_room,
    market_room,
    thread_room,
)

TITLE_MAX = 100
DESCRIPTION_MAX = 2000
WANTED_MAX = 200
PICKUP_MAX = 100
MESSAGE_MAX = 500
REASON_MAX = 500
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


def _require_member(standing: CommunityStanding) -> None:
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


async def _offer_count(session: AsyncSession, listing_id: int) -> int:
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
    event = ListingChanged(
        listing_id=listing.id,
        community_id=listing.community_id,
        status=ListingStatus(status or listing.status).value,
        offer_count=await _offer_count(session, listing.id) if offer_count is None else offer_count,
    ).model_dump()
    record_event(session, market_room(listing.community_id), event)
    record_event(session, listing_room(listing.id), event)


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
    _require_member(standing)
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
        market_room(community.id),
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
        ).model_dump(),
    )
    return listing


def _require_open(listing: Listing) -> None:
    if listing.status != ListingStatus.OPEN:
        raise field_error("listing", N_("This listing is no longer open for offers."), status=409)


async def make_offer(
    session: AsyncSession,
    *,
    actor: User,
    listing: Listing,
    standing: CommunityStanding,
    message: object,
    offered_listing_id: object = None,
) -> Offer:
    """Offer for a listing: a message, and for a swap optionally one of the actor's own open listings in
    exchange. One offer per neighbour per listing; one withdrawn or declined earlier is made again."""
    _require_member(standing)
    require_voice(standing, "message")
    if listing.owner_id == actor.id:
        raise Forbidden(N_("This is your own listing."))
    _require_open(listing)
    now = utcnow()
    if listing.claim_until is not None and now >= listing.claim_until:
        raise field_error(
            "listing", N_("The time to ask is over: the owner draws a lot among those who asked."), status=409
        )
    errors = FieldErrors()
    clean_message = errors.check(clean_text, message, "message", max_length=MESSAGE_MAX, multiline=True, required=False)
    offered: Listing | None = None
    if offered_listing_id not in (None, "", 0, "0"):
        if listing.kind == ListingKind.FREE:
            errors.add("offered_listing_id", N_("A give-away asks nothing in exchange."))
        else:
            offered = await _own_open_listing(session, actor, listing, offered_listing_id)
            if offered is None:
                errors.add("offered_listing_id", N_("Offer one of your own open listings in this community."))
    if not clean_message and offered is None and listing.kind == ListingKind.SWAP:
        errors.add("message", N_("Say what you offer, or choose one of your listings."))
    errors.raise_if_any()
    assert listing.id is not None and actor.id is not None  # noqa: S101 -- loaded rows
    values = {
        "message": clean_message or "",
        "offered_listing_id": offered.id if offered else None,
        "status": OfferStatus.OPEN,
        "created_at": now,
        "decided_at": None,
    }
    # One row per maker and listing: a new one, or the maker's earlier offer made again if it is not open.
    inserted = (
        await session.execute(
            insert_for(session)(Offer)
            .values(listing_id=listing.id, maker_id=actor.id, **values)
            .on_conflict_do_nothing(index_elements=["listing_id", "maker_id"])
            .returning(col(Offer.id))
        )
    ).scalar_one_or_none()
    if inserted is None:
        reopened = (
            await session.execute(
                update(Offer)
                .where(
                    col(Offer.listing_id) == listing.id,
                    col(Offer.maker_id) == actor.id,
                    col(Offer.status).in_((OfferStatus.WITHDRAWN, OfferStatus.DECLINED, OfferStatus.CALLED_OFF)),
                )
                .values(**values)
                .returning(col(Offer.id))
            )
        ).scalar_one_or_none()
        if reopened is None:
            raise field_error("listing", N_("You have already made an offer for this listing."), status=409)
        inserted = reopened
    # Still open, now that this transaction writes: on SQLite it holds the write lock; on PostgreSQL the share
    # lock makes an acceptance wait for this offer (and then decline it), or this offer wait for the acceptance
    # (and then see the listing taken).
    status = select(col(Listing.status)).where(col(Listing.id) == listing.id)
    if session.get_bind().dialect.name == "postgresql":
        status = status.with_for_update(read=True)
    if (await session.execute(status)).scalar_one() != ListingStatus.OPEN:
        raise field_error("listing", N_("This listing is no longer open for offers."), status=409)  # rolled back
    offer = await session.get(Offer, inserted, populate_existing=True)
    assert offer is not None  # noqa: S101 -- written above
    await notifications.notify(
        session,
        recipients=[listing.owner_id],
        kind=NotificationKind.OFFER,
        community_id=listing.community_id,
        subject=f"listing:{listing.id}",
        actor_id=actor.id,
        title=listing.title,
        url=listing_path(listing.id),
    )
    await record_change(session, listing)
    return offer


async def _own_open_listing(session: AsyncSession, actor: User, listing: Listing, raw_id: object) -> Listing | None:
    offered_id = parse_id(str(raw_id) if isinstance(raw_id, int) and not isinstance(raw_id, bool) else raw_id)
    if offered_id is None:
        return None
    found = await session.get(Listing, offered_id)
    if (
        found is None
        or found.id == listing.id
        or found.owner_id != actor.id
        or found.community_id != listing.community_id
        or found.status != ListingStatus.OPEN
    ):
        return None
    return found


def _require_pair(listing: Listing, offer: Offer) -> None:
    if offer.listing_id != listing.id:
        raise NotFound()


async def _move_offer(
    session: AsyncSession, offer: Offer, *, source: OfferStatus, to: OfferStatus, now: datetime
) -> bool:
    moved = (
        await session.execute(
            update(Offer)
            .where(col(Offer.id) == offer.id, col(Offer.status) == source)
            .values(status=to, decided_at=now)
            .returning(col(Offer.id))
        )
    ).first()
    if moved is None:
        return False
    offer.status, offer.decided_at = to, now
    return True


async def _move_listing(
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


async def withdraw_offer(session: AsyncSession, *, actor: User, listing: Listing, offer: Offer) -> None:
    """The maker takes back an offer not yet decided."""
    _require_pair(listing, offer)
    if offer.maker_id != actor.id:
        raise Forbidden()
    if not await _move_offer(session, offer, source=OfferStatus.OPEN, to=OfferStatus.WITHDRAWN, now=utcnow()):
        raise field_error("offer", N_("This offer is no longer open."), status=409)
    await record_change(session, listing)


async def decline_offer(session: AsyncSession, *, actor: User, listing: Listing, offer: Offer) -> None:
    """The owner says no to one offer; its maker is told."""
    _require_pair(listing, offer)
    if listing.owner_id != actor.id:
        raise Forbidden(N_("Only the listing's owner decides on its offers."))
    if not await _move_offer(session, offer, source=OfferStatus.OPEN, to=OfferStatus.DECLINED, now=utcnow()):
        raise field_error("offer", N_("This offer is no longer open."), status=409)
    await _tell(session, [offer.maker_id], NotificationKind.OFFER_DECLINED, listing, actor_id=actor.id)
    await record_change(session, listing)


async def _tell(
    session: AsyncSession, user_ids: Sequence[int], kind: NotificationKind, listing: Listing, *, actor_id: int | None
) -> None:
    assert listing.id is not None  # noqa: S101 -- a loaded row
    await notifications.notify(
        session,
        recipients=user_ids,
        kind=kind,
        community_id=listing.community_id,
        subject=f"listing:{listing.id}",
        actor_id=actor_id,
        title=listing.title,
        url=listing_path(listing.id),
    )


async def accept_offer(
    session: AsyncSession, *, actor: User, listing: Listing, offer: Offer, by_lot: bool = False
) -> None:
    """The owner takes an offer: the listing (and the one offered in exchange) are reserved, every other open
    offer is declined, and everyone concerned is told. Of two acceptances at the same moment exactly one wins
    (409 for the other). A give-away with a claim window is decided by `draw_lot` only."""
    _require_pair(listing, offer)
    if listing.owner_id != actor.id:
        raise Forbidden(N_("Only the listing's owner decides on its offers."))
    if listing.claim_until is not None and not by_lot:
        raise field_error("offer", N_("This give-away is decided by drawing a lot."), status=409)
    assert listing.id is not None  # noqa: S101 -- a loaded row
    now = utcnow()
    if await _move_listing(session, listing.id, sources=[ListingStatus.OPEN], to=ListingStatus.RESERVED) is None:
        raise field_error("listing", N_("This listing is no longer open for offers."), status=409)
    listing.status = ListingStatus.RESERVED
    if not await _move_offer(session, offer, source=OfferStatus.OPEN, to=OfferStatus.ACCEPTED, now=now):
        raise field_error("offer", N_("This offer is no longer open."), status=409)  # rolls the listing back
    if by_lot:
        await session.execute(update(Offer).where(col(Offer.id) == offer.id).values(by_lot=True))
        offer.by_lot = True
    offered = None
    if offer.offered_listing_id is not None:
        offered = await _move_listing(
            session, offer.offered_listing_id, sources=[ListingStatus.OPEN], to=ListingStatus.RESERVED
        )
        if offered is None or offered.owner_id != offer.maker_id:
            raise field_error(
                "offer", N_("The listing offered in exchange is no longer available."), status=409
            )  # the unit of work rolls everything back
    declined = (
        (
            await session.execute(
                update(Offer)
                .where(col(Offer.listing_id) == listing.id, col(Offer.status) == OfferStatus.OPEN)
                .values(status=OfferStatus.DECLINED, decided_at=now)
                .returning(col(Offer.maker_id))
            )
        )
        .scalars()
        .all()
    )
    await _tell(session, [offer.maker_id], NotificationKind.OFFER_ACCEPTED, listing, actor_id=actor.id)
    if declined:
        await _tell(session, list(declined), NotificationKind.OFFER_DECLINED, listing, actor_id=actor.id)
    await record_change(session, listing)
    if offered is not None:
        await record_change(session, offered)


async def draw_lot(session: AsyncSession, *, actor: User, listing: Listing) -> Offer:
    """A give-away's claim window is over: the owner draws one of those who asked in time, each with the same
    chance (the fastest phone has no edge), and that offer is accepted. Audited, with how many took part."""
    if listing.owner_id != actor.id:
        raise Forbidden(N_("Only the listing's owner decides on its offers."))
    if listing.claim_until is None:
        raise field_error("listing", N_("This give-away has no draw: choose an offer."), status=409)
    if utcnow() < listing.claim_until:
        raise field_error("listing", N_("Neighbours can still ask: draw when the time to ask is over."), status=409)
    _require_open(listing)
    entrants = (
        (
            await session.execute(
                select(Offer)
                .where(
                    col(Offer.listing_id) == listing.id,
                    col(Offer.status) == OfferStatus.OPEN,
                    col(Offer.created_at) <= listing.claim_until,
                )
                .order_by(col(Offer.id))
            )
        )
        .scalars()
        .all()
    )
    if not entrants:
        raise field_error("listing", N_("Nobody asked in time, so there is nothing to draw."), status=409)
    chosen = secrets.choice(entrants)
    await accept_offer(session, actor=actor, listing=listing, offer=chosen, by_lot=True)
    await audit.record(
        session,
        actor=actor,
        action="listing.drawn",
        community_id=listing.community_id,
        target_user_id=chosen.maker_id,
        detail=f"listing {listing.id}: offer {chosen.id} drawn among {len(entrants)}",
    )
    return chosen


async def _lock_listing(session: AsyncSession, listing: Listing) -> None:
    """On PostgreSQL, lock the listing's row before its offers' rows, the order in which accepting and removing
    take them: two transactions taking them in opposite orders could deadlock."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(select(col(Listing.id)).where(col(Listing.id) == listing.id).with_for_update())


async def _accepted_offer(session: AsyncSession, listing: Listing) -> Offer | None:
    return (
        await session.execute(
            select(Offer).where(col(Offer.listing_id) == listing.id, col(Offer.status) == OfferStatus.ACCEPTED)
        )
    ).scalar_one_or_none()


async def confirm_handover(session: AsyncSession, *, actor: User, listing: Listing, offer: Offer) -> bool:
    """One side of an accepted deal confirms the hand-over; once both have, the listing (and the one given in
    exchange) are done. Returns whether the deal is done. Each confirmation is one UPDATE of the offer's row,
    which orders two confirmations at the same moment: the second sees the first and finishes the deal."""
    _require_pair(listing, offer)
    await _lock_listing(session, listing)
    if actor.id == listing.owner_id:
        mine, theirs = Offer.owner_confirmed_at, Offer.maker_confirmed_at
    elif actor.id == offer.maker_id:
        mine, theirs = Offer.maker_confirmed_at, Offer.owner_confirmed_at
    else:
        raise Forbidden()
    now = utcnow()
    other = (
        await session.execute(
            update(Offer)
            .where(col(Offer.id) == offer.id, col(Offer.status) == OfferStatus.ACCEPTED, col(mine).is_(None))
            .values({col(mine): now})
            .returning(col(theirs))
        )
    ).first()
    if other is None:
        raise field_error("offer", N_("There is no hand-over of yours to confirm here."), status=409)
    if other[0] is None:
        return False
    await session.execute(update(Offer).where(col(Offer.id) == offer.id).values(status=OfferStatus.DONE))
    offer.status = OfferStatus.DONE
    for listing_id in (listing.id, offer.offered_listing_id):
        if listing_id is None:
            continue
        done = await _move_listing(session, listing_id, sources=[ListingStatus.RESERVED], to=ListingStatus.DONE)
        if done is not None:
            await record_change(session, done)
    return True


async def call_off(session: AsyncSession, *, actor: User, listing: Listing, offer: Offer) -> None:
    """Either side calls off an accepted deal before it is done: the listings are open for offers again."""
    _require_pair(listing, offer)
    if actor.id not in (listing.owner_id, offer.maker_id):
        raise Forbidden()
    await _lock_listing(session, listing)
    if not await _move_offer(session, offer, source=OfferStatus.ACCEPTED, to=OfferStatus.CALLED_OFF, now=utcnow()):
        raise field_error("offer", N_("This deal is not in progress."), status=409)
    await _reopen(session, [listing.id, offer.offered_listing_id])
    other = offer.maker_id if actor.id == listing.owner_id else listing.owner_id
    await _tell(session, [other], NotificationKind.CALLED_OFF, listing, actor_id=actor.id)


async def _reopen(session: AsyncSession, listing_ids: Sequence[int | None]) -> None:
    for listing_id in listing_ids:
        if listing_id is None:
            continue
        reopened = await _move_listing(
            session, listing_id, sources=[ListingStatus.RESERVED], to=ListingStatus.OPEN, claim_until=_claim_kept()
        )
        if reopened is not None:
            await record_change(session, reopened)


def _claim_kept() -> Any:
    """A give-away's claim window as it stays when the listing opens again: kept while it runs; once it has
    passed (the lot was drawn and the deal called off, or nobody asked before it expired) the owner picks."""
    return case((col(Listing.claim_until) > utcnow(), col(Listing.claim_until)), else_=None)


async def renew(session: AsyncSession, *, actor: User, listing: Listing) -> None:
    """The owner keeps an open or expired listing up for another 30 days."""
    if listing.owner_id != actor.id:
        raise Forbidden(N_("Only the listing's owner can renew it."))
    assert listing.id is not None  # noqa: S101 -- a loaded row
    renewed = await _move_listing(
        session,
        listing.id,
        sources=[ListingStatus.OPEN, ListingStatus.EXPIRED],
        to=ListingStatus.OPEN,
        expires_at=utcnow() + LIFETIME,
        claim_until=_claim_kept(),
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
        await record_change(session, listing, counts.get(listing.id or 0, 0))
    return len(expired)


async def flag_listing(
    session: AsyncSession,
    *,
    actor: User,
    listing: Listing,
    standing: CommunityStanding,
    reason: object,
    note: object = "",
) -> bool:
    """A member flags a listing for the community's secretaries, with a reason (as posts and letters are
    flagged); False if they had already. The third distinct member's flag hides it until a secretary reviews
    it: open market pages drop it, and only its owner and the secretaries see it."""
    _require_member(standing)
    if listing.owner_id == actor.id:
        raise Forbidden(N_("This is your own listing."))
    if listing.status in (ListingStatus.REMOVED, ListingStatus.DONE):
        raise field_error("listing", N_("This listing is already done or removed."), status=409)
    assert listing.id is not None and actor.id is not None  # noqa: S101 -- loaded rows
    text = flags.checked_note(reason, note)
    await flags.lock_item(session, Listing, listing.id)
    open_flags = await flags.add_flag(
        session,
        community_id=listing.community_id,
        item=("listing_id", listing.id),
        actor=actor,
        reason=reason,
        note=text,
    )
    if open_flags is None:
        return False
    if open_flags >= flags.FLAG_THRESHOLD:
        hidden = (
            await session.execute(
                update(Listing)
                .where(col(Listing.id) == listing.id, col(Listing.hidden_at).is_(None))
                .values(hidden_at=utcnow())
                .returning(col(Listing.id))
            )
        ).first()
        if hidden is not None:
            await record_change(session, listing, status=ListingStatus.REMOVED)  # gone from open market pages
            await _hide_discussion(session, listing, hidden=True)
            await audit.record(
                session,
                actor=None,
                action="listing.auto_hidden",
                community_id=listing.community_id,
                target_user_id=listing.owner_id,
                detail=f"listing {listing.id}: flagged by {open_flags} members",
            )
    secretaries = await secretary_ids(session, listing.community_id)
    await _tell(session, secretaries, NotificationKind.FLAG, listing, actor_id=actor.id)
    return True


async def restore_listing(session: AsyncSession, *, actor: User, listing: Listing, standing: CommunityStanding) -> None:
    """A secretary puts back a listing they removed (by mistake, or after talking with its owner): open again
    until its 30 days are up (expired if they are), for everyone. Deals called off by the removal stay off, and
    its discussion thread, deleted with it, does not come back. Audited."""
    if not can_moderate(standing):
        raise Forbidden(N_("Only the community's secretaries can remove a listing."))
    assert listing.id is not None  # noqa: S101 -- a loaded row
    status = ListingStatus.OPEN if listing.expires_at > utcnow() else ListingStatus.EXPIRED
    restored = await _move_listing(
        session, listing.id, sources=[ListingStatus.REMOVED], to=status, removed_reason="", hidden_at=None
    )
    if restored is None:
        raise field_error("listing", N_("This listing is not removed."), status=409)
    await record_change(session, restored)
    await audit.record(
        session,
        actor=actor,
        action="listing.restored",
        community_id=restored.community_id,
        target_user_id=restored.owner_id,
        detail=f"listing {restored.id}",
    )


async def _hide_discussion(session: AsyncSession, listing: Listing, *, hidden: bool) -> None:
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
    room = thread_room(listing.thread_id)
    record_event(session, room, ThreadHidden(thread_id=listing.thread_id, hidden=hidden).model_dump())
    if hidden:
        queue_event(session, AccessChanged(user_ids=[], rooms=[room]).model_dump())


async def review_listing(
    session: AsyncSession,
    *,
    actor: User,
    listing: Listing,
    standing: CommunityStanding,
    agree: bool,
    reason: object = "",
    mute_hours: object = 0,
) -> None:
    """A secretary decides on a flagged listing. Agree: it is removed with `reason` for its owner (a deal in
    progress is called off), and the owner is muted for `mute_hours` if given. Disagree: it stays, shown again
    if the flags had hidden it. Either way the flags are closed and the flaggers told."""
    if not can_moderate(standing):
        raise Forbidden(N_("Only the community's secretaries can remove a listing."))
    assert listing.id is not None  # noqa: S101 -- a loaded row
    text = clean_text(reason, "reason", max_length=REASON_MAX, multiline=True, min_length=2) if agree else ""
    flaggers = await flags.close_flags(
        session, community_id=listing.community_id, item=("listing_id", listing.id), agree=agree
    )
    if agree and listing.status == ListingStatus.DONE:  # handed over since it was flagged: stays hidden, with why
        await session.execute(
            update(Listing)
            .where(col(Listing.id) == listing.id)
            .values(hidden_at=listing.hidden_at or utcnow(), removed_reason=text)
        )
        await record_change(session, listing, status=ListingStatus.REMOVED)
        await _hide_discussion(session, listing, hidden=True)
    elif agree and listing.status != ListingStatus.REMOVED:
        await remove_listing(session, actor=actor, listing=listing, standing=standing, reason=text)
    elif not agree and listing.hidden_at is not None:  # the flags hid it
        await session.execute(update(Listing).where(col(Listing.id) == listing.id).values(hidden_at=None))
        listing.hidden_at = None
        await record_change(session, listing)
        await _hide_discussion(session, listing, hidden=False)
    await flags.conclude(
        session,
        actor=actor,
        standing=standing,
        agree=agree,
        reason=text,
        mute_hours=mute_hours,
        flaggers=flaggers,
        community_id=listing.community_id,
        author_id=listing.owner_id,
        detail=f"listing {listing.id}",
        subject=f"listing:{listing.id}",
        title=listing.title,
        url=listing_path(listing.id),
    )


async def remove_listing(
    session: AsyncSession, *, actor: User, listing: Listing, standing: CommunityStanding, reason: object
) -> None:
    """A secretary takes a listing down, with a reason its owner sees; a deal in progress is called off.
    Audited."""
    if not can_moderate(standing):
        raise Forbidden(N_("Only the community's secretaries can remove a listing."))
    text = clean_text(reason, "reason", max_length=REASON_MAX, multiline=True, min_length=2)
    assert listing.id is not None  # noqa: S101 -- a loaded row
    removed = await _move_listing(
        session,
        listing.id,
        sources=[ListingStatus.OPEN, ListingStatus.RESERVED, ListingStatus.EXPIRED],
        to=ListingStatus.REMOVED,
        removed_reason=text,
    )
    if removed is None:
        raise field_error("listing", N_("This listing is already done or removed."), status=409)
    now = utcnow()
    deal = await _accepted_offer(session, removed)
    if deal is not None:
        await _move_offer(session, deal, source=OfferStatus.ACCEPTED, to=OfferStatus.CALLED_OFF, now=now)
        await _reopen(session, [deal.offered_listing_id])
        await _tell(session, [deal.maker_id], NotificationKind.CALLED_OFF, removed, actor_id=actor.id)
    waiting = (
        (
            await session.execute(
                update(Offer)
                .where(col(Offer.listing_id) == listing.id, col(Offer.status) == OfferStatus.OPEN)
                .values(status=OfferStatus.DECLINED, decided_at=now)
                .returning(col(Offer.maker_id))
            )
        )
        .scalars()
        .all()
    )
    if waiting:  # their offers did not go ahead; the listing is gone for them, so the bell says so
        await _tell(session, list(waiting), NotificationKind.OFFER_DECLINED, removed, actor_id=actor.id)
    # Offered in exchange elsewhere: a deal in progress for it is called off (that listing opens again, its
    # owner is told), and open offers of it are declined.
    elsewhere = (
        await session.execute(
            update(Offer)
            .where(
                col(Offer.offered_listing_id) == listing.id,
                col(Offer.status).in_((OfferStatus.ACCEPTED, OfferStatus.OPEN)),
            )
            .values(
                status=case(
                    (col(Offer.status) == OfferStatus.ACCEPTED, OfferStatus.CALLED_OFF), else_=OfferStatus.DECLINED
                ),
                decided_at=now,
            )
            .returning(col(Offer.listing_id), col(Offer.status))
        )
    ).all()
    called_off = [other_id for other_id, status in elsewhere if status == OfferStatus.CALLED_OFF]
    await _reopen(session, called_off)
    for other_id in called_off:
        other = await session.get(Listing, other_id)
        if other is not None:
            await _tell(session, [other.owner_id], NotificationKind.CALLED_OFF, other, actor_id=actor.id)
    for other_id in {other_id for other_id, _status in elsewhere}:
        other = await session.get(Listing, other_id)
        if other is not None:
            await record_change(session, other)
    if removed.thread_id is not None:  # its discussion repeats its text: it goes with it
        await session.execute(update(Thread).where(col(Thread.id) == removed.thread_id).values(is_deleted=True))
    await record_change(session, removed)
    await _tell(session, [removed.owner_id], NotificationKind.REMOVED, removed, actor_id=actor.id)
    await audit.record(
        session,
        actor=actor,
        action="listing.removed",
        community_id=removed.community_id,
        target_user_id=removed.owner_id,
        detail=f"listing {listing.id}: {text}",
    )
