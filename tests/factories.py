"""Plain functions with keyword overrides that set data up through the domain actions."""

from __future__ import annotations

import itertools

from sqlalchemy import select
from sqlmodel import col

from forum.access import standing_in
from forum.actions import accounts, communities, likes, memberships, threads
from forum.db import Database
from forum.models import Board, Community, CommunityKind, District, Membership, Post, Role, Thread, User

PASSWORD = "correct horse battery"
_counter = itertools.count(1)


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
