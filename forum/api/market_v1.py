"""JSON API for swaps and give-aways and the market's lists: the same actions and access checks as the pages."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field
from quart_rate_limiter import rate_limit
from quart_schema import tag, validate_querystring, validate_request, validate_response
from quart_schema.pydantic import File

from forum import rooms
from forum.access import access_community_content, access_listing, access_offer
from forum.actions import hiding, listings, offers
from forum.api.bodies import validate_json_or_multipart
from forum.api.forum_v1 import ImageOut, images_out
from forum.api.schemas import PersonOut, WholeNumber, longest
from forum.api.v1 import blueprint
from forum.flaggables import ListingItem
from forum.models import Listing, ListingKind, id_of
from forum.paths import listing_image_path, listing_path, sale_item_image_path, sale_path
from forum.permissions import CommunityStanding
from forum.queries import listings as listing_queries
from forum.queries.listings import ListingRow, MarketFilter, OfferView, listing_view, market_page, my_market
from forum.queries.people import Person
from forum.queries.threads import latest_event_id
from forum.validation import MAX_ID, REASON_MAX
from forum.web.context import commit, db_session, require_user
from forum.web.ratelimits import MARKET_LIMITS
from forum.web.uploads import uploaded_images

ListingStatusOut = Literal["open", "reserved", "done", "expired", "removed"]


class ListingBriefOut(BaseModel):
    id: int
    community_id: int
    kind: Literal["swap", "free"]
    title: str
    wanted: str  # what would be welcome in exchange; empty for a give-away
    category: str  # a key: furniture, appliances, clothing, books, children, kitchen, plants, sports, other
    condition: str  # a key: new, like_new, good, worn
    pickup_area: str
    status: ListingStatusOut
    owner: PersonOut
    offer_count: int  # open offers
    thumb_url: str | None  # the first photo's thumbnail
    created_at: str
    expires_at: str
    url: str


class SaleItemBriefOut(BaseModel):
    item_id: int
    sale_id: int
    sale_title: str
    title: str
    price_cents: int
    available: int
    thumb_url: str | None
    url: str


class MarketOut(BaseModel):
    listings: list[ListingBriefOut]  # newest first
    sale_items: list[SaleItemBriefOut]  # items of open charity sales, newest first
    room: str  # subscribe after `last_event_id` for new listings and status changes
    last_event_id: int


class MarketQuery(BaseModel):
    kind: str = Field(default="all", max_length=longest(listing_queries.KINDS))  # all, sale, swap or free
    category: str = Field(default="", max_length=longest(listings.CATEGORIES))
    status: str = Field(default="available", max_length=longest(listing_queries.STATUSES))  # available or all
    q: str = Field(default="", max_length=listing_queries.QUERY_MAX)


class OfferOut(BaseModel):
    id: int
    listing_id: int
    maker: PersonOut
    message: str
    offered_listing_id: int | None
    offered_listing_title: str | None
    status: Literal["open", "accepted", "declined", "withdrawn", "done", "called_off"]
    by_lot: bool
    owner_confirmed: bool
    maker_confirmed: bool
    created_at: str


class ListingOut(ListingBriefOut):
    description: str
    images: list[ImageOut]
    claim_until: str | None  # a give-away by lot: requests until then, then the owner draws
    removed_reason: str  # set when a secretary removed it (only its owner and secretaries see it)
    thread_id: int | None  # its discussion
    offers: list[OfferOut]  # every offer for the owner and secretaries; your own (and the deal) for others
    deal: OfferOut | None  # the accepted or done offer
    room: str
    last_event_id: int


class ListingIn(BaseModel):
    kind: str = Field(max_length=longest(ListingKind))  # swap or free
    title: str = Field(max_length=listings.TITLE_MAX)
    description: str = Field(default="", max_length=listings.DESCRIPTION_MAX)
    wanted: str = Field(default="", max_length=listings.WANTED_MAX)
    category: str = Field(max_length=longest(listings.CATEGORIES))
    condition: str = Field(max_length=longest(listings.CONDITIONS))
    pickup_area: str = Field(max_length=listings.PICKUP_MAX)
    claim_hours: WholeNumber = 0  # give-aways: hours of requests before a draw (0: the owner picks)


class ListingWithImagesIn(ListingIn):
    """multipart/form-data: the fields, and up to four photos in `images`, re-encoded as for posts."""

    images: list[File] = []


class OfferIn(BaseModel):
    message: str = Field(default="", max_length=listings.MESSAGE_MAX)
    offered_listing_id: int | None = Field(default=None, ge=0, le=MAX_ID)  # one of your own open listings (swaps)


class ReasonIn(BaseModel):
    reason: str = Field(max_length=REASON_MAX)


class MyMarketOut(BaseModel):
    listings: list[ListingBriefOut]
    offers: list[OfferOut]


def _brief(row: ListingRow) -> ListingBriefOut:
    listing = row.listing
    return ListingBriefOut(
        id=id_of(listing),
        community_id=listing.community_id,
        kind=listing.kind,
        title=listing.title,
        wanted=listing.wanted,
        category=listing.category,
        condition=listing.condition,
        pickup_area=listing.pickup_area,
        status=listing.status,
        owner=PersonOut(**row.owner.payload()),
        offer_count=row.offer_count,
        thumb_url=listing_image_path(id_of(row.picture), "thumb") if row.picture else None,
        created_at=listing.created_at.isoformat(),
        expires_at=listing.expires_at.isoformat(),
        url=listing_path(id_of(listing)),
    )


def _offer_out(view: OfferView, *, private: bool = True) -> OfferOut:
    """`private`: the viewer may read the offer's message (its maker, the listing's owner, a secretary)."""
    offer = view.offer
    return OfferOut(
        id=id_of(offer),
        listing_id=offer.listing_id,
        maker=PersonOut(**view.maker.payload()),
        message=offer.message if private else "",
        offered_listing_id=view.offered.id if view.offered else None,
        offered_listing_title=view.offered.title if view.offered else None,
        status=offer.status,
        by_lot=offer.by_lot,
        owner_confirmed=offer.owner_confirmed_at is not None,
        maker_confirmed=offer.maker_confirmed_at is not None,
        created_at=offer.created_at.isoformat(),
    )


async def _listing_out(listing: Listing, standing: CommunityStanding) -> ListingOut:
    last_event_id = await latest_event_id(db_session())
    user_id = require_user().id
    view = await listing_view(db_session(), listing, require_user(), standing)
    brief = _brief(ListingRow(listing, view.owner, view.pictures[0] if view.pictures else None, view.offer_count))
    return ListingOut(
        **brief.model_dump(),
        description=listing.description,
        images=images_out(view.pictures, listing_image_path),
        claim_until=listing.claim_until.isoformat() if listing.claim_until else None,
        removed_reason=listing.removed_reason,
        thread_id=listing.thread_id,
        offers=[_offer_out(offer) for offer in view.offers],
        deal=_offer_out(view.deal, private=view.is_owner or view.may_moderate or view.deal.maker.id == user_id)
        if view.deal
        else None,
        room=rooms.LISTING(id_of(listing)),
        last_event_id=last_event_id,
    )


@blueprint.get("/communities/<slug>/market")
@tag(["market"])
@validate_querystring(MarketQuery)
@validate_response(MarketOut)
async def browse_market(slug: str, query_args: MarketQuery) -> MarketOut:
    """Swaps, give-aways and items of open charity sales; unknown filter values fall back to the defaults."""
    community, _standing = await access_community_content(db_session(), require_user(), slug)
    chosen = MarketFilter.parse(query_args.model_dump(), listings.CATEGORIES)
    last_event_id = await latest_event_id(db_session())
    page = await market_page(db_session(), community, chosen)
    return MarketOut(
        listings=[_brief(row) for row in page.listings],
        sale_items=[
            SaleItemBriefOut(
                item_id=id_of(row.item),
                sale_id=id_of(row.sale),
                sale_title=row.sale.title,
                title=row.item.title,
                price_cents=row.item.price_cents,
                available=row.available,
                thumb_url=sale_item_image_path(id_of(row.picture), "thumb") if row.picture else None,
                url=f"{sale_path(id_of(row.sale))}#item-{row.item.id}",
            )
            for row in page.sale_items
        ],
        room=rooms.MARKET(id_of(community)),
        last_event_id=last_event_id,
    )


@blueprint.get("/communities/<slug>/market/mine")
@tag(["market"])
@validate_response(MyMarketOut)
async def my_listings(slug: str) -> MyMarketOut:
    """Your listings here (removed ones too) and your offers. Your sale reservations are on each sale."""
    user = require_user()
    community, _standing = await access_community_content(db_session(), user, slug)
    mine = await my_market(db_session(), community, user)
    me = Person.of(user)
    return MyMarketOut(
        listings=[_brief(row) for row in mine.listings],
        offers=[_offer_out(OfferView(row.offer, me, None)) for row in mine.offers],
    )


@blueprint.post("/communities/<slug>/market")
@tag(["market"])
@rate_limit(limits=MARKET_LIMITS)
@validate_json_or_multipart(ListingIn, ListingWithImagesIn)
@validate_response(ListingOut, 201)
async def create_listing(slug: str, data: ListingIn) -> tuple[ListingOut, int]:
    """List a swap or a give-away: JSON, or multipart/form-data with up to four photos in `images`."""
    user = require_user()
    community, standing = await access_community_content(db_session(), user, slug)
    listing = await listings.create_listing(
        db_session(),
        actor=user,
        community=community,
        standing=standing,
        images=await uploaded_images(most=listings.MAX_IMAGES, too_many=listings.TOO_MANY_FOR_LISTING),
        **data.model_dump(exclude={"images"}),  # the files are read from the request by uploaded_images
    )
    await commit()
    return await _listing_out(listing, standing), 201


@blueprint.get("/market/<id:listing_id>")
@tag(["market"])
@validate_response(ListingOut)
async def get_listing(listing_id: int) -> ListingOut:
    listing, _community, standing = await access_listing(db_session(), require_user(), listing_id)
    return await _listing_out(listing, standing)


@blueprint.post("/market/<id:listing_id>/offers")
@tag(["market"])
@validate_request(OfferIn)
@validate_response(ListingOut, 201)
async def make_offer(listing_id: int, data: OfferIn) -> tuple[ListingOut, int]:
    """Offer (or, for a give-away, ask). Answers the listing with your offer in `offers`."""
    user = require_user()
    listing, _community, standing = await access_listing(db_session(), user, listing_id)
    await offers.make_offer(
        db_session(),
        actor=user,
        listing=listing,
        standing=standing,
        message=data.message,
        offered_listing_id=data.offered_listing_id,
    )
    await commit()
    return await _listing_out(listing, standing), 201


async def _offer_step(offer_id: int, step: str) -> ListingOut:
    user = require_user()
    offer, listing, _community, standing = await access_offer(db_session(), user, offer_id)
    action = {
        "accept": offers.accept_offer,
        "decline": offers.decline_offer,
        "withdraw": offers.withdraw_offer,
        "confirm": offers.confirm_handover,
        "call_off": offers.call_off,
    }[step]
    await action(db_session(), actor=user, listing=listing, offer=offer)
    await commit()
    await db_session().refresh(listing)
    return await _listing_out(listing, standing)


@blueprint.post("/market/offers/<id:offer_id>/accept")
@tag(["market"])
@validate_response(ListingOut)
async def accept_offer(offer_id: int) -> ListingOut:
    """The owner accepts: the listing (and the one offered in exchange) are reserved; 409 if it is taken."""
    return await _offer_step(offer_id, "accept")


@blueprint.post("/market/offers/<id:offer_id>/decline")
@tag(["market"])
@validate_response(ListingOut)
async def decline_offer(offer_id: int) -> ListingOut:
    return await _offer_step(offer_id, "decline")


@blueprint.post("/market/offers/<id:offer_id>/withdraw")
@tag(["market"])
@validate_response(ListingOut)
async def withdraw_offer(offer_id: int) -> ListingOut:
    return await _offer_step(offer_id, "withdraw")


@blueprint.post("/market/offers/<id:offer_id>/confirm")
@tag(["market"])
@validate_response(ListingOut)
async def confirm_handover(offer_id: int) -> ListingOut:
    """Either side of the deal confirms the hand-over; once both have, the listings are done."""
    return await _offer_step(offer_id, "confirm")


@blueprint.post("/market/offers/<id:offer_id>/call-off")
@tag(["market"])
@validate_response(ListingOut)
async def call_off(offer_id: int) -> ListingOut:
    return await _offer_step(offer_id, "call_off")


@blueprint.post("/market/<id:listing_id>/draw")
@tag(["market"])
@validate_response(ListingOut)
async def draw_lot(listing_id: int) -> ListingOut:
    """A give-away's owner, after its claim window: one of those who asked in time, at random."""
    user = require_user()
    listing, _community, standing = await access_listing(db_session(), user, listing_id)
    await offers.draw_lot(db_session(), actor=user, listing=listing)
    await commit()
    await db_session().refresh(listing)
    return await _listing_out(listing, standing)


@blueprint.post("/market/<id:listing_id>/renew")
@tag(["market"])
@validate_response(ListingOut)
async def renew_listing(listing_id: int) -> ListingOut:
    user = require_user()
    listing, _community, standing = await access_listing(db_session(), user, listing_id)
    await listings.renew(db_session(), actor=user, listing=listing)
    await commit()
    await db_session().refresh(listing)
    return await _listing_out(listing, standing)


@blueprint.post("/market/<id:listing_id>/restore")
@tag(["market"])
@validate_response(ListingOut)
async def restore_listing(listing_id: int) -> ListingOut:
    """Secretaries: put back a listing they removed (open again until its 30 days are up)."""
    user = require_user()
    listing, _community, standing = await access_listing(db_session(), user, listing_id)
    await hiding.set_hidden(db_session(), actor=user, item=ListingItem(listing), standing=standing, hidden=False)
    await commit()
    await db_session().refresh(listing)
    return await _listing_out(listing, standing)


@blueprint.post("/market/<id:listing_id>/remove")
@tag(["market"])
@validate_request(ReasonIn)
@validate_response(ListingOut)
async def remove_listing(listing_id: int, data: ReasonIn) -> ListingOut:
    """Secretaries: take a listing down with a reason its owner sees."""
    user = require_user()
    listing, _community, standing = await access_listing(db_session(), user, listing_id)
    await hiding.set_hidden(
        db_session(), actor=user, item=ListingItem(listing), standing=standing, hidden=True, reason=data.reason
    )
    await commit()
    await db_session().refresh(listing)
    return await _listing_out(listing, standing)
