"""Plain functions with keyword overrides that set data up through the domain actions."""

from __future__ import annotations

import itertools
import secrets
from datetime import timedelta

from sqlalchemy import select
from sqlmodel import col

from forum.access import access_conversation, standing_in
from forum.actions import (
    accounts,
    communities,
    conversations,
    letters,
    likes,
    listings,
    memberships,
    messages,
    offers,
    reservations,
    sale_items,
    sales,
    threads,
)
from forum.db import Database
from forum.models import (
    Board,
    CharitySale,
    Community,
    CommunityKind,
    Conversation,
    District,
    Letter,
    Listing,
    Membership,
    Message,
    Offer,
    Post,
    Report,
    ReportPlace,
    Role,
    SaleItem,
    SaleReservation,
    Thread,
    User,
)
from forum.timeutil import utcnow

PASSWORD = "correct horse battery"
_counter = itertools.count(1)
_FRESH = object()  # a default that tells "not given" from None, which a test may pass on purpose


async def make_user(
    db: Database, *, username: str | None = None, display_name: str | None = None, password: str = PASSWORD
) -> User:
    n = next(_counter)
    async with db.unit_of_work() as session:
        return await accounts.register_user(
            session,
            username=username or f"user{n}",
            password=password,
            display_name=display_name or f"邻居{n}",
        )


async def make_district(db: Database, *, name: str = "宝山区", slug: str | None = None) -> District:
    async with db.unit_of_work() as session:
        return await communities.create_district(session, name=name, slug=slug or f"district-{next(_counter)}")


async def make_community(
    db: Database,
    *,
    district: District | None = None,
    name: str | None = None,
    slug: str | None = None,
    kind: CommunityKind = CommunityKind.RESIDENTIAL,
) -> Community:
    district = district or await make_district(db)
    n = next(_counter)
    async with db.unit_of_work() as session:
        return await communities.create_community(
            session, district=district, name=name or f"第{n}居民区", slug=slug or f"community-{n}", kind=kind
        )


async def make_member(
    db: Database,
    *,
    user: User,
    community: Community,
    role: Role = Role.RESIDENT,
    is_party_member: bool = False,
) -> Membership:
    async with db.unit_of_work() as session:
        return await memberships.add_verified_member(
            session,
            user=user,
            community=community,
            role=role,
            is_party_member=is_party_member,
            building="1",
            room="101",
        )


async def make_members(
    db: Database, *, community: Community, usernames: list[str], role: Role = Role.RESIDENT
) -> list[User]:
    """New accounts with these usernames (shown as the username titled), each a verified member of `community`."""
    people = []
    for username in usernames:
        user = await make_user(db, username=username, display_name=username.title())
        await make_member(db, user=user, community=community, role=role)
        people.append(user)
    return people


async def make_pending(db: Database, *, user: User, community: Community) -> Membership:
    async with db.unit_of_work() as session:
        standing = await standing_in(session, user, community)
        return await memberships.request_to_join(
            session, user=user, community=community, standing=standing, building="2", unit="1", room="202"
        )


async def make_district_admin(db: Database, *, user: User, district_id: int) -> None:
    async with db.unit_of_work() as session:
        district = await session.get(District, district_id)
        assert district is not None
        await communities.grant_district_admin(session, user=user, district=district)


async def make_thread(
    db: Database,
    *,
    author: User,
    community: Community,
    board_slug: str = "talk",
    title: str = "快递柜坏了",
    body: str = "谁知道怎么报修？",
) -> Thread:
    async with db.unit_of_work() as session:
        board = (
            await session.execute(
                select(Board).where(col(Board.community_id) == community.id, col(Board.slug) == board_slug)
            )
        ).scalar_one()
        standing = await standing_in(session, author, community)
        return await threads.create_thread(
            session, actor=author, board=board, standing=standing, title=title, body=body
        )


async def make_reply(db: Database, *, author: User, thread: Thread, body: str = "我也遇到了") -> Post:
    async with db.unit_of_work() as session:
        board = await session.get(Board, thread.board_id)
        community = await session.get(Community, thread.community_id)
        assert board is not None and community is not None
        standing = await standing_in(session, author, community)
        return await threads.reply(session, actor=author, thread=thread, board=board, standing=standing, body=body)


async def make_like(db: Database, *, user: User, post: Post) -> int:
    async with db.unit_of_work() as session:
        thread = await session.get(Thread, post.thread_id)
        assert thread is not None
        community = await session.get(Community, thread.community_id)
        assert community is not None
        standing = await standing_in(session, user, community)
        return await likes.set_like(session, actor=user, post=post, standing=standing, liked=True)


async def make_listing(db: Database, *, owner: User, community: Community, **overrides: object) -> Listing:
    """A swap (a pram for a bike), or whatever `overrides` make of it: any field of listings.create_listing."""
    fields: dict[str, object] = {
        "kind": "swap",
        "title": "九成新婴儿推车",
        "description": "孩子大了用不上了",
        "wanted": "儿童自行车或绘本",
        "category": "children",
        "condition": "like_new",
        "pickup_area": "3号楼门口",
        **overrides,
    }
    async with db.unit_of_work() as session:
        standing = await standing_in(session, owner, community)
        return await listings.create_listing(session, actor=owner, community=community, standing=standing, **fields)  # type: ignore[arg-type]


async def make_offer(db: Database, *, maker: User, listing: Listing, **overrides: object) -> Offer:
    """An offer for `listing`: a message, and any field of offers.make_offer (`offered_listing_id`)."""
    fields: dict[str, object] = {"message": "我有一辆儿童自行车", **overrides}
    async with db.unit_of_work() as session:
        loaded = await session.get(Listing, listing.id)
        community = await session.get(Community, listing.community_id)
        assert loaded is not None and community is not None
        standing = await standing_in(session, maker, community)
        return await offers.make_offer(session, actor=maker, listing=loaded, standing=standing, **fields)  # type: ignore[arg-type]


async def make_sale(db: Database, *, organiser: User, community: Community, **overrides: object) -> CharitySale:
    """A charity sale that started a minute ago and ends in two days; any field of sales.create_sale."""
    now = utcnow()
    fields: dict[str, object] = {
        "title": "爱心义卖",
        "cause": "为社区困难家庭筹款",
        "pickup": "居委会门口，周六上午九点到十一点",
        "starts_at": now - timedelta(minutes=1),
        "ends_at": now + timedelta(days=2),
        "target": "500",
        **overrides,
    }
    async with db.unit_of_work() as session:
        standing = await standing_in(session, organiser, community)
        return await sales.create_sale(session, actor=organiser, community=community, standing=standing, **fields)  # type: ignore[arg-type]


async def make_sale_item(db: Database, *, donor: User, sale: CharitySale, **overrides: object) -> SaleItem:
    """Three scarves at 12.50 given to `sale`; any field of sale_items.donate_item."""
    fields: dict[str, object] = {
        "title": "手工编织围巾",
        "description": "全新，羊毛",
        "price": "12.50",
        "quantity": 3,
        **overrides,
    }
    async with db.unit_of_work() as session:
        loaded = await session.get(CharitySale, sale.id)
        community = await session.get(Community, sale.community_id)
        assert loaded is not None and community is not None
        standing = await standing_in(session, donor, community)
        return await sale_items.donate_item(session, actor=donor, sale=loaded, standing=standing, **fields)  # type: ignore[arg-type]


async def make_reservation(db: Database, *, buyer: User, item: SaleItem, quantity: object = 1) -> SaleReservation:
    """`quantity` units of `item` held for `buyer`."""
    async with db.unit_of_work() as session:
        loaded = await session.get(SaleItem, item.id)
        assert loaded is not None
        sale = await session.get(CharitySale, loaded.sale_id)
        assert sale is not None
        community = await session.get(Community, sale.community_id)
        assert community is not None
        standing = await standing_in(session, buyer, community)
        return await reservations.reserve(
            session, actor=buyer, sale=sale, item=loaded, standing=standing, quantity=quantity
        )


async def make_conversation(
    db: Database, *, starter: User, community: Community, others: list[User], title: str = ""
) -> Conversation:
    """The direct conversation of `starter` and one other (theirs already, if they have one), or with a title
    or more people a new group."""
    async with db.unit_of_work() as session:
        standing = await standing_in(session, starter, community)
        if len(others) == 1 and not title:
            conversation, _new = await conversations.start_direct(
                session, actor=starter, community=community, standing=standing, other=others[0]
            )
            return conversation
        return await conversations.start_group(
            session, actor=starter, community=community, standing=standing, others=others, title=title
        )


async def make_message(
    db: Database,
    *,
    sender: User,
    conversation: Conversation | int,
    body: object = "明早一起去菜场？",
    client_id: object = _FRESH,
    reading: set[int] | None = None,
) -> Message:
    """A message from `sender` (a participant), with a fresh `client_id` unless given; `reading`: who has the
    conversation open (not notified)."""
    conversation_id = conversation if isinstance(conversation, int) else conversation.id
    assert conversation_id is not None
    async with db.unit_of_work() as session:
        loaded, member, standing = await access_conversation(session, sender, conversation_id)
        sent = await messages.send_message(
            session,
            actor=sender,
            conversation=loaded,
            member=member,
            standing=standing,
            body=body,
            client_id=secrets.token_urlsafe(12) if client_id is _FRESH else client_id,
            reading=reading or set(),
        )
        return sent.message


async def make_letter(
    db: Database,
    *,
    author: User,
    community: Community,
    to: list[User],
    title: str = "谢谢帮我搬家",
    body: str = "周末多亏了你们。",
    group_name: str = "",
) -> Letter:
    """A thank-you letter from `author` to `to` (verified members of `community`); several need a group name."""
    async with db.unit_of_work() as session:
        standing = await standing_in(session, author, community)
        return await letters.write_letter(
            session,
            actor=author,
            community=community,
            standing=standing,
            usernames=" ".join(f"@{user.username}" for user in to),
            title=title,
            body=body,
            group_name=group_name or ("热心邻居" if len(to) > 1 else ""),
        )


async def make_report(
    db: Database, *, reporter: User, community: Community, now: object = None, **overrides: object
) -> Report:
    """A problem report by a verified member, in the community's first category, at building "1号楼" (made
    if missing) unless the overrides say otherwise; `now` sets when it was made (the clock's tests)."""
    from forum.actions import reports
    from forum.queries.reports import categories_of, places_of

    async with db.unit_of_work() as session:
        standing = await standing_in(session, reporter, community)
        fields: dict[str, object] = {"description": "楼道灯坏了，晚上很黑", **overrides}
        if "category_id" not in fields:
            fields["category_id"] = (await categories_of(session, community.id or 0))[0].id
        if "place_id" not in fields and "location" not in fields:
            places = await places_of(session, community.id or 0)
            place = next((place for place in places if place.name == "1号楼"), None)
            if place is None:
                place = ReportPlace(community_id=community.id or 0, name="1号楼", position=len(places))
                session.add(place)
                await session.flush()
            fields["place_id"] = place.id
        return await reports.submit_report(
            session,
            actor=reporter,
            community=community,
            standing=standing,
            now=now if now is not None else utcnow(),  # type: ignore[arg-type]  # a datetime from the caller
            **fields,  # type: ignore[arg-type]  # the action's keyword arguments
        )
