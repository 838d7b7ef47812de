"""The market as pages: browsing a community's swaps, give-aways and sale items; listing something; a listing
with its offers, the deal and its hand-over; the owner's renewals and draws; reports and removals; and a
person's own listings, offers and reservations."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, redirect, request, url_for
from quart_rate_limiter import rate_limit

from forum.access import access_community, access_community_content, access_listing, access_offer, require_reader
from forum.actions import flags, hiding, listings, offers
from forum.errors import Forbidden, InvalidInput
from forum.flaggables import ListingItem
from forum.i18n import N_
from forum.models import Community, Listing, ListingKind, id_of
from forum.paths import listing_path
from forum.permissions import CommunityStanding
from forum.queries.listings import MarketFilter, listing_view, market_page, my_market
from forum.queries.threads import latest_event_id
from forum.web.context import commit, db_session, login_required, notify, require_user
from forum.web.ratelimits import MARKET_LIMITS
from forum.web.templating import render_template
from forum.web.uploads import uploaded_images

blueprint = Blueprint("market", __name__)

LISTING_FIELDS = ("kind", "title", "description", "wanted", "category", "condition", "pickup_area", "claim_hours")


@blueprint.get("/c/<slug>/market")
@login_required
async def index(slug: str) -> Any:
    community, standing = await access_community_content(db_session(), require_user(), slug)
    chosen = MarketFilter.parse(request.args, listings.CATEGORIES)
    last_event_id = await latest_event_id(db_session())  # before the list: a listing made in between is replayed
    return await render_template(
        "market/index.html",
        community=community,
        page=await market_page(db_session(), community, chosen),
        chosen=chosen,
        categories=listings.CATEGORIES,
        conditions=listings.CONDITIONS,
        can_list=standing.is_verified_member,
        last_event_id=last_event_id,
    )


@blueprint.get("/c/<slug>/market/mine")
@login_required
async def mine(slug: str) -> Any:
    user = require_user()
    community, _standing = await access_community_content(db_session(), user, slug)
    return await render_template(
        "market/mine.html",
        community=community,
        mine=await my_market(db_session(), community, user),
        categories=listings.CATEGORIES,
        conditions=listings.CONDITIONS,
    )


@blueprint.get("/c/<slug>/market/new")
@login_required
async def new(slug: str) -> Any:
    community, standing = await access_community(db_session(), require_user(), slug)
    kind = request.args.get("kind", "swap")
    return await _new_page(
        community, standing, form={"kind": kind if kind in ("swap", "free") else "swap"}, errors={}, status=200
    )


async def _new_page(
    community: Community, standing: CommunityStanding, *, form: Any, errors: dict[str, str], status: int
) -> Any:
    require_reader(standing)
    if not standing.is_verified_member:
        raise Forbidden(N_("Only verified members of this community can swap and give things here."))
    return await render_template(
        "market/new.html",
        community=community,
        form=form,
        errors=errors,
        categories=listings.CATEGORIES,
        conditions=listings.CONDITIONS,
        max_images=listings.MAX_IMAGES,
        claim_hours_max=listings.CLAIM_HOURS_MAX,
    ), status


@blueprint.post("/c/<slug>/market")
@login_required
@rate_limit(limits=MARKET_LIMITS)
async def create(slug: str) -> Any:
    user = require_user()
    community, standing = await access_community_content(db_session(), user, slug)
    form = await request.form
    try:
        listing = await listings.create_listing(
            db_session(),
            actor=user,
            community=community,
            standing=standing,
            images=await uploaded_images(most=listings.MAX_IMAGES, too_many=listings.TOO_MANY_FOR_LISTING),
            **{name: form.get(name, "") for name in LISTING_FIELDS},
        )
    except InvalidInput as error:  # refused before anything was written
        return await _new_page(community, standing, form=form, errors=error.translated_fields(), status=error.status)
    await commit()
    if listing.kind == ListingKind.FREE:
        await notify(N_("Listed. Neighbours can now ask for it; it stays up for 30 days."))
    else:
        await notify(N_("Listed. Neighbours can now make offers; it stays up for 30 days."))
    return redirect(listing_path(id_of(listing)))


async def _listing_page(
    listing: Listing,
    community: Community,
    standing: CommunityStanding,
    *,
    form: Any = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Any:
    user = require_user()
    last_event_id = await latest_event_id(db_session())
    return await render_template(
        "market/show.html",
        community=community,
        view=await listing_view(db_session(), listing, user, standing),
        can_offer=standing.is_verified_member,
        categories=listings.CATEGORIES,
        conditions=listings.CONDITIONS,
        flag_reasons=flags.REASONS,
        form=form or {},
        errors=errors or {},
        last_event_id=last_event_id,
    ), status


@blueprint.get("/market/<id:listing_id>")
@login_required
async def show(listing_id: int) -> Any:
    listing, community, standing = await access_listing(db_session(), require_user(), listing_id)
    return await _listing_page(listing, community, standing)


async def _refused(listing_id: int, error: InvalidInput) -> Any:
    """A refused step may have written part of its change: roll it back, then show the listing as it is now,
    with why."""
    user = require_user()
    await db_session().rollback()
    await db_session().refresh(user)
    listing, community, standing = await access_listing(db_session(), user, listing_id)
    return await _listing_page(listing, community, standing, errors=error.translated_fields(), status=error.status)


@blueprint.post("/market/<id:listing_id>/offers")
@login_required
async def offer(listing_id: int) -> Any:
    user = require_user()
    listing, community, standing = await access_listing(db_session(), user, listing_id)
    form = await request.form
    try:
        await offers.make_offer(
            db_session(),
            actor=user,
            listing=listing,
            standing=standing,
            message=form.get("message", ""),
            offered_listing_id=form.get("offered_listing_id") or None,
        )
    except InvalidInput as error:  # refused before anything was written
        return await _listing_page(
            listing, community, standing, form=form, errors=error.translated_fields(), status=error.status
        )
    await commit()
    if listing.kind == ListingKind.FREE:
        await notify(N_("Your request is sent. The owner is told."))
    else:
        await notify(N_("Your offer is sent. The owner is told."))
    return redirect(listing_path(listing_id))


_STEPS = {
    "accept": (offers.accept_offer, N_("Accepted. Arrange the hand-over, then both of you confirm it here.")),
    "decline": (offers.decline_offer, N_("Offer declined.")),
    "withdraw": (offers.withdraw_offer, N_("Offer withdrawn.")),
    "confirm": (offers.confirm_handover, N_("Hand-over confirmed.")),
    "call-off": (offers.call_off, N_("The deal is called off; the listing is open for offers again.")),
}


@blueprint.post("/market/offers/<id:offer_id>/<step>")
@login_required
async def offer_step(offer_id: int, step: str) -> Any:
    user = require_user()
    found, listing, _community, _standing = await access_offer(db_session(), user, offer_id)
    if step not in _STEPS:
        return redirect(listing_path(id_of(listing)))
    action, done = _STEPS[step]
    try:
        await action(db_session(), actor=user, listing=listing, offer=found)
    except InvalidInput as error:
        return await _refused(id_of(listing), error)
    await commit()
    await notify(done)
    return redirect(listing_path(id_of(listing)))


@blueprint.post("/market/<id:listing_id>/draw")
@login_required
async def draw(listing_id: int) -> Any:
    user = require_user()
    listing, _community, _standing = await access_listing(db_session(), user, listing_id)
    try:
        await offers.draw_lot(db_session(), actor=user, listing=listing)
    except InvalidInput as error:
        return await _refused(listing_id, error)
    await commit()
    await notify(N_("The lot is drawn; the neighbour it fell on is told."))
    return redirect(listing_path(listing_id))


@blueprint.post("/market/<id:listing_id>/renew")
@login_required
async def renew(listing_id: int) -> Any:
    user = require_user()
    listing, _community, _standing = await access_listing(db_session(), user, listing_id)
    try:
        await listings.renew(db_session(), actor=user, listing=listing)
    except InvalidInput as error:
        return await _refused(listing_id, error)
    await commit()
    await notify(N_("Renewed for another 30 days."))
    return redirect(listing_path(listing_id))


@blueprint.post("/market/<id:listing_id>/restore")
@login_required
async def restore(listing_id: int) -> Any:
    user = require_user()
    listing, _community, standing = await access_listing(db_session(), user, listing_id)
    try:
        await hiding.set_hidden(db_session(), actor=user, item=ListingItem(listing), standing=standing, hidden=False)
    except InvalidInput as error:
        return await _refused(listing_id, error)
    await commit()
    await notify(N_("The listing is back."))
    return redirect(url_for("market.show", listing_id=listing_id))


@blueprint.post("/market/<id:listing_id>/remove")
@login_required
async def remove(listing_id: int) -> Any:
    user = require_user()
    listing, _community, standing = await access_listing(db_session(), user, listing_id)
    try:
        await hiding.set_hidden(
            db_session(),
            actor=user,
            item=ListingItem(listing),
            standing=standing,
            hidden=True,
            reason=(await request.form).get("reason"),
        )
    except InvalidInput as error:
        return await _refused(listing_id, error)
    await commit()
    await notify(N_("The listing is removed; its owner sees why."))
    return redirect(url_for("market.show", listing_id=listing_id))
