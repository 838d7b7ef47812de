"""How a person is shown: one shape for templates (the `person` macro) and for API payloads."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, NamedTuple

from sqlalchemy import exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from forum.models import Membership, MembershipStatus, Role, User
from forum.validation import USERNAME_MAX


class Person(NamedTuple):
    """A NamedTuple rather than a frozen dataclass: a thread page builds fifty, and a frozen dataclass's
    __init__ costs several times a tuple's."""

    id: int
    username: str
    display_name: str
    is_party_member: bool

    @classmethod
    def of(cls, user: User, membership: Membership | None = None) -> Person:
        assert user.id is not None  # noqa: S101 -- loaded rows
        return cls(
            id=user.id,
            username=user.username,
            display_name=user.display_name,
            is_party_member=bool(membership and membership.is_party_member),
        )

    @classmethod
    def of_viewer(cls, user: User, *, is_party_member: bool) -> Person:
        assert user.id is not None  # noqa: S101 -- loaded rows
        return cls(id=user.id, username=user.username, display_name=user.display_name, is_party_member=is_party_member)

    def payload(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "username": self.username,
            "display_name": self.display_name,
            "is_party_member": self.is_party_member,
        }


async def viewer_person(session: AsyncSession, user: User) -> Person:
    """The signed-in user as shown in the page header: badged if they are a party member in any community."""
    badged = (
        await session.execute(
            select(
                exists().where(
                    col(Membership.user_id) == user.id,
                    col(Membership.is_party_member).is_(True),
                    col(Membership.status) == MembershipStatus.VERIFIED,
                )
            )
        )
    ).scalar_one()
    assert user.id is not None  # noqa: S101 -- a loaded row
    return Person(id=user.id, username=user.username, display_name=user.display_name, is_party_member=bool(badged))


async def member_person(session: AsyncSession, membership: Membership) -> Person:
    """The person a membership belongs to, as shown in that community."""
    user = await session.get(User, membership.user_id)
    assert user is not None  # noqa: S101 -- enforced by the foreign key
    return Person.of(user, membership)


async def member_ids_by_username(
    session: AsyncSession, *, community_id: int, usernames: Collection[str]
) -> dict[str, int]:
    """The verified members of the community among these (lower-case) usernames, by username: the names a post
    or letter there may mention and notify (a link to someone who cannot read it would point at nobody)."""
    if not usernames:
        return {}
    rows = await session.execute(
        select(col(User.username), col(User.id))
        .join(Membership, col(Membership.user_id) == col(User.id))
        .where(
            col(Membership.community_id) == community_id,
            col(Membership.status) == MembershipStatus.VERIFIED,
            col(User.username).in_(set(usernames)),
        )
    )
    return {username: user_id for username, user_id in rows.all() if user_id is not None}


async def mention_candidates(session: AsyncSession, *, community_id: int, typed: str, limit: int = 8) -> list[Person]:
    """Verified members whose username starts with, or whose display name contains, what was typed after "@":
    suggestions while writing a post. Neighbours know each other as 王阿姨 more often than as wang_fang."""
    typed = typed[:USERNAME_MAX].strip()  # after "@": a username, or part of a display name, at most that long
    if not typed:
        return []
    escaped = typed.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    rows = await session.execute(
        select(User, Membership)
        .join(Membership, col(Membership.user_id) == col(User.id))
        .where(
            col(Membership.community_id) == community_id,
            col(Membership.status) == MembershipStatus.VERIFIED,
            or_(
                col(User.username).like(f"{escaped.lower()}%", escape="\\"),
                col(User.display_name).ilike(f"%{escaped}%", escape="\\"),
            ),
        )
        .order_by(col(User.username))
        .limit(limit)
    )
    return [Person.of(user, membership) for user, membership in rows.all()]


async def secretary_ids(session: AsyncSession, community_id: int) -> list[int]:
    """The community's secretaries (verified), to tell them of something to review."""
    rows = await session.execute(
        select(col(Membership.user_id)).where(
            col(Membership.community_id) == community_id,
            col(Membership.role) == Role.SECRETARY,
            col(Membership.status) == MembershipStatus.VERIFIED,
        )
    )
    return list(rows.scalars())
