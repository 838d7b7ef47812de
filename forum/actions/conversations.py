"""Conversations: private messages between verified members of one community, two people (one conversation per
pair and community) or a small group.

Who may start a conversation with whom (`_require_reachable`): everyone in it is a verified member of the
community. A secretary can always be reached (a resident must be able to reach their secretary at any hour)
and can reach anyone. Otherwise a recipient who blocked the sender, or who takes messages only from contacts
(people they already share a conversation with) and has none with the sender, cannot be reached (their
choices are in `forum.actions.message_settings`).

Only participants read or write a conversation: every fetch by id goes through
`forum.access.access_conversation`.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from forum.actions.mutes import require_voice
from forum.db import insert_for
from forum.errors import Forbidden, field_error
from forum.i18n import N_
from forum.models import (
    Community,
    Conversation,
    ConversationMember,
    Membership,
    MembershipStatus,
    MessagePolicy,
    Role,
    User,
    UserBlock,
    id_of,
)
from forum.permissions import CommunityStanding
from forum.timeutil import utcnow
from forum.validation import clean_text

MAX_PARTICIPANTS = 10  # a group, the one who starts it included
TITLE_MAX = 60


def require_verified(standing: CommunityStanding) -> None:
    if not standing.is_verified_member:
        raise Forbidden(N_("Only verified members of this community can send private messages here."))


def require_can_message(standing: CommunityStanding) -> None:
    """For handlers, before they look up names: only verified members learn who is a member here."""
    require_verified(standing)


class NotReachable(Forbidden):
    default_message = N_("%(name)s does not take private messages from you.")


async def _require_reachable(
    session: AsyncSession, *, community_id: int, actor: User, standing: CommunityStanding, others: Sequence[User]
) -> None:
    """Raise unless `actor` may start a conversation with every one of `others` in this community."""
    ids = [other.id for other in others if other.id is not None]
    roles: dict[int, str] = dict(
        (
            await session.execute(
                select(col(Membership.user_id), col(Membership.role)).where(
                    col(Membership.community_id) == community_id,
                    col(Membership.user_id).in_(ids),
                    col(Membership.status) == MembershipStatus.VERIFIED,
                )
            )
        ).all()
    )
    if len(roles) != len(set(ids)):
        raise field_error("recipients", N_("You can only message verified members of this community."))
    if standing.is_secretary:
        return
    guarded = [other for other in others if roles.get(id_of(other)) != Role.SECRETARY]
    if not guarded:
        return
    guarded_ids = [other.id for other in guarded]
    blocked_by = set(
        (
            await session.execute(
                select(col(UserBlock.blocker_id)).where(
                    col(UserBlock.blocker_id).in_(guarded_ids), col(UserBlock.blocked_id) == actor.id
                )
            )
        ).scalars()
    )
    contacts_only = [other.id for other in guarded if other.message_policy == MessagePolicy.CONTACTS]
    contacts: set[int] = set()
    if contacts_only:
        mine = select(col(ConversationMember.conversation_id)).where(col(ConversationMember.user_id) == actor.id)
        contacts = set(
            (
                await session.execute(
                    select(col(ConversationMember.user_id)).where(
                        col(ConversationMember.conversation_id).in_(mine),
                        col(ConversationMember.user_id).in_(contacts_only),
                    )
                )
            ).scalars()
        )
    for other in guarded:
        if other.id in blocked_by or (other.message_policy == MessagePolicy.CONTACTS and other.id not in contacts):
            raise NotReachable(name=other.display_name)


def _pair_key(first: int, second: int) -> str:
    return f"{min(first, second)}:{max(first, second)}"


async def _create(
    session: AsyncSession,
    *,
    community: Community,
    actor: User,
    people: Sequence[User],
    pair_key: str | None,
    title: str,
) -> Conversation:
    """A new conversation; for two people whose conversation another request has just created, that one."""
    assert community.id is not None  # noqa: S101 -- a loaded row
    now = utcnow()
    created = (
        await session.execute(
            insert_for(session)(Conversation)
            .values(
                community_id=community.id,
                pair_key=pair_key,
                title=title,
                created_by_id=actor.id,
                created_at=now,
                last_message_at=now,
                last_message_id=0,
            )
            .on_conflict_do_nothing()
            .returning(col(Conversation.id))
        )
    ).scalar_one_or_none()
    if created is None:  # both people opened it at the same moment: the other request's, with its members
        return (
            await session.execute(
                select(Conversation).where(
                    col(Conversation.community_id) == community.id, col(Conversation.pair_key) == pair_key
                )
            )
        ).scalar_one()
    session.add_all(
        [
            ConversationMember(conversation_id=created, user_id=person.id, joined_at=now)
            for person in people
            if person.id is not None
        ]
    )
    await session.flush()
    conversation = await session.get(Conversation, created)
    assert conversation is not None  # noqa: S101 -- just inserted
    return conversation


async def start_direct(
    session: AsyncSession, *, actor: User, community: Community, standing: CommunityStanding, other: User
) -> tuple[Conversation, bool]:
    """The conversation of `actor` and `other` in this community: the one they already have, else a new one;
    and whether it is new."""
    require_verified(standing)
    require_voice(standing)
    assert actor.id is not None and other.id is not None  # noqa: S101 -- loaded rows
    if other.id == actor.id:
        raise field_error("recipients", N_("Choose someone other than yourself."))
    pair_key = _pair_key(actor.id, other.id)
    existing = (
        await session.execute(
            select(Conversation).where(
                col(Conversation.community_id) == community.id, col(Conversation.pair_key) == pair_key
            )
        )
    ).scalar_one_or_none()
    if existing is not None:
        return existing, False
    assert community.id is not None  # noqa: S101 -- a loaded row
    await _require_reachable(session, community_id=community.id, actor=actor, standing=standing, others=[other])
    people = [actor, other]
    return await _create(session, community=community, actor=actor, people=people, pair_key=pair_key, title=""), True


async def start_group(
    session: AsyncSession,
    *,
    actor: User,
    community: Community,
    standing: CommunityStanding,
    others: Sequence[User],
    title: object,
) -> Conversation:
    """A new group conversation of `actor` and `others` (up to MAX_PARTICIPANTS in all)."""
    require_verified(standing)
    require_voice(standing)
    people = list({other.id: other for other in others if other.id != actor.id}.values())
    if not people:
        raise field_error("recipients", N_("Choose someone other than yourself."))
    if len(people) + 1 > MAX_PARTICIPANTS:
        raise field_error("recipients", N_("A group has at most %(max)d people, you included."), max=MAX_PARTICIPANTS)
    clean_title = clean_text(title, "title", max_length=TITLE_MAX, required=False)
    assert community.id is not None  # noqa: S101 -- a loaded row
    await _require_reachable(session, community_id=community.id, actor=actor, standing=standing, others=people)
    return await _create(
        session, community=community, actor=actor, people=[actor, *people], pair_key=None, title=clean_title
    )
