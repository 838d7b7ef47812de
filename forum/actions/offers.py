"""Offers and deals on swaps and give-aways: neighbours make offers, the owner accepts one (or, for a give-away
with a claim window, draws a lot among those who asked in time), and both sides confirm the hand-over.

Every change of an offer's status is one conditional UPDATE from the status it must be in, so of two offers
accepted at the same moment exactly one wins. Accepting a swap reserves both listings in one transaction: if
the listing offered in exchange is gone meanwhile, nothing is reserved.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import case, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from forum import subjects
from forum.actions import audit, listings, notifications
from forum.actions.mutes import require_voice
from forum.db import insert_for
from forum.errors import Forbidden, NotFound, field_error
from forum.i18n import N_
from forum.models import Listing, ListingKind, ListingStatus, NotificationKind, Offer, OfferStatus, Thread, User
from forum.paths import listing_path
from forum.permissions import CommunityStanding
from forum.timeutil import utcnow
from forum.validation import FieldErrors, clean_text, parse_id

MESSAGE_MAX = listings.MESSAGE_MAX


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
    listings.require_member(standing)
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
        subject=subjects.listing(listing.id),
        actor_id=actor.id,
        title=listing.title,
        url=listing_path(listing.id),
    )
    await listings.record_change(session, listing)
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


async def withdraw_offer(session: AsyncSession, *, actor: User, listing: Listing, offer: Offer) -> None:
    """The maker takes back an offer not yet decided."""
    _require_pair(listing, offer)
    if offer.maker_id != actor.id:
        raise Forbidden()
    if not await _move_offer(session, offer, source=OfferStatus.OPEN, to=OfferStatus.WITHDRAWN, now=utcnow()):
        raise field_error("offer", N_("This offer is no longer open."), status=409)
    await listings.record_change(session, listing)


async def decline_offer(session: AsyncSession, *, actor: User, listing: Listing, offer: Offer) -> None:
    """The owner says no to one offer; its maker is told."""
    _require_pair(listing, offer)
    if listing.owner_id != actor.id:
        raise Forbidden(N_("Only the listing's owner decides on its offers."))
    if not await _move_offer(session, offer, source=OfferStatus.OPEN, to=OfferStatus.DECLINED, now=utcnow()):
        raise field_error("offer", N_("This offer is no longer open."), status=409)
    await listings.tell(session, [offer.maker_id], NotificationKind.OFFER_DECLINED, listing, actor_id=actor.id)
    await listings.record_change(session, listing)


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
    if await listings.move(session, listing.id, sources=[ListingStatus.OPEN], to=ListingStatus.RESERVED) is None:
        raise field_error("listing", N_("This listing is no longer open for offers."), status=409)
    listing.status = ListingStatus.RESERVED
    if not await _move_offer(session, offer, source=OfferStatus.OPEN, to=OfferStatus.ACCEPTED, now=now):
        raise field_error("offer", N_("This offer is no longer open."), status=409)  # rolls the listing back
    if by_lot:
        await session.execute(update(Offer).where(col(Offer.id) == offer.id).values(by_lot=True))
        offer.by_lot = True
    offered = None
    if offer.offered_listing_id is not None:
        offered = await listings.move(
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
    await listings.tell(session, [offer.maker_id], NotificationKind.OFFER_ACCEPTED, listing, actor_id=actor.id)
    if declined:
        await listings.tell(session, list(declined), NotificationKind.OFFER_DECLINED, listing, actor_id=actor.id)
    await listings.record_change(session, listing)
    if offered is not None:
        await listings.record_change(session, offered)


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
        done = await listings.move(session, listing_id, sources=[ListingStatus.RESERVED], to=ListingStatus.DONE)
        if done is not None:
            await listings.record_change(session, done)
    return True


async def call_off(session: AsyncSession, *, actor: User, listing: Listing, offer: Offer) -> None:
    """Either side calls off an accepted deal before it is done: the listings are open for offers again."""
    _require_pair(listing, offer)
    if actor.id not in (listing.owner_id, offer.maker_id):
        raise Forbidden()
    await _lock_listing(session, listing)
    if not await _move_offer(session, offer, source=OfferStatus.ACCEPTED, to=OfferStatus.CALLED_OFF, now=utcnow()):
        raise field_error("offer", N_("This deal is not in progress."), status=409)
    await reopen(session, [listing.id, offer.offered_listing_id])
    other = offer.maker_id if actor.id == listing.owner_id else listing.owner_id
    await listings.tell(session, [other], NotificationKind.CALLED_OFF, listing, actor_id=actor.id)


async def reopen(session: AsyncSession, listing_ids: Sequence[int | None]) -> None:
    for listing_id in listing_ids:
        if listing_id is None:
            continue
        reopened = await listings.move(
            session,
            listing_id,
            sources=[ListingStatus.RESERVED],
            to=ListingStatus.OPEN,
            claim_until=listings.claim_kept(),
        )
        if reopened is not None:
            await listings.record_change(session, reopened)


async def settle_removed(session: AsyncSession, *, actor: User | None, listing: Listing) -> None:
    """A secretary just removed `listing`: a deal in progress is called off (the listing offered in exchange
    opens again), offers waiting for it are declined, offers of it elsewhere end the same way, and its
    discussion, which repeats its text, is deleted. Everyone concerned is told."""
    actor_id = actor.id if actor is not None else None
    now = utcnow()
    deal = await _accepted_offer(session, listing)
    if deal is not None:
        await _move_offer(session, deal, source=OfferStatus.ACCEPTED, to=OfferStatus.CALLED_OFF, now=now)
        await reopen(session, [deal.offered_listing_id])
        await listings.tell(session, [deal.maker_id], NotificationKind.CALLED_OFF, listing, actor_id=actor_id)
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
        await listings.tell(session, list(waiting), NotificationKind.OFFER_DECLINED, listing, actor_id=actor_id)
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
    await reopen(session, called_off)
    for other_id in called_off:
        other = await session.get(Listing, other_id)
        if other is not None:
            await listings.tell(session, [other.owner_id], NotificationKind.CALLED_OFF, other, actor_id=actor_id)
    for other_id in {other_id for other_id, _status in elsewhere}:
        other = await session.get(Listing, other_id)
        if other is not None:
            await listings.record_change(session, other)
    if listing.thread_id is not None:  # its discussion repeats its text: it goes with it
        await session.execute(update(Thread).where(col(Thread.id) == listing.thread_id).values(is_deleted=True))
