"""Reading private conversations. Callers pass rows from `forum.access.access_conversation` (or the user's own
list), so nothing here is reachable for a conversation one is not in."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.selectable import ScalarSelect
from sqlmodel import col

from forum.errors import field_error
from forum.i18n import N_
from forum.models import (
    Community,
    Conversation,
    ConversationMember,
    Membership,
    MembershipStatus,
    Message,
    MessageImage,
    SavedAnswer,
    User,
    UserBlock,
    id_of,
)
from forum.queries.people import Person

MESSAGES_PER_PAGE = 50


@dataclass(frozen=True, slots=True)
class ConversationRow:
    conversation: Conversation
    others: list[Person]  # the other participants, by name
    unread: int  # messages from the others after the viewer's read mark
    waiting_since: datetime | None  # the last message is someone else's, sent then: it awaits the viewer's answer


def _unread_count(viewer_id: int, mine: type[ConversationMember]) -> ScalarSelect[int]:
    return (
        select(func.count(col(Message.id)))
        .where(
            col(Message.conversation_id) == col(Conversation.id),
            col(Message.id) > col(mine.last_read_message_id),
            or_(col(Message.sender_id).is_(None), col(Message.sender_id) != viewer_id),
        )
        .correlate(Conversation, mine)
        .scalar_subquery()
    )


async def conversations_of(
    session: AsyncSession, viewer: User, *, community_id: int, unanswered_first: bool = False
) -> list[ConversationRow]:
    """The viewer's conversations in a community, most recently active first, with unread counts: two
    statements, whatever the number of conversations. `unanswered_first` (a secretary's inbox, where the
    practice is to answer within half an hour): those whose last message awaits the viewer's answer come
    first, the longest waiting at the top."""
    assert viewer.id is not None  # noqa: S101 -- a loaded row
    mine = aliased(ConversationMember)
    rows = (
        await session.execute(
            select(Conversation, _unread_count(viewer.id, mine), col(Message.sender_id))
            .join(mine, and_(col(mine.conversation_id) == col(Conversation.id), col(mine.user_id) == viewer.id))
            .outerjoin(Message, col(Message.id) == col(Conversation.last_message_id))
            .where(col(Conversation.community_id) == community_id)
            .order_by(col(Conversation.last_message_at).desc(), col(Conversation.id).desc())
        )
    ).all()
    ids = [row[0].id for row in rows if row[0].id is not None]
    others = await participants(session, ids, community_id=community_id, except_id=viewer.id)
    found = [
        ConversationRow(
            conversation,
            others.get(id_of(conversation), []),
            int(unread),
            conversation.last_message_at if conversation.last_message_id and last_sender != viewer.id else None,
        )
        for conversation, unread, last_sender in rows
    ]
    if unanswered_first:
        waiting = sorted((row for row in found if row.waiting_since), key=lambda row: row.waiting_since or 0)
        found = waiting + [row for row in found if not row.waiting_since]
    return found


async def participants(
    session: AsyncSession, conversation_ids: Sequence[int], *, community_id: int, except_id: int | None = None
) -> dict[int, list[Person]]:
    """The participants of these conversations, by conversation id, as named in the community (one statement)."""
    if not conversation_ids:
        return {}
    people: dict[int, list[Person]] = {}
    rows = await session.execute(
        select(col(ConversationMember.conversation_id), User, Membership)
        .join(User, col(User.id) == col(ConversationMember.user_id))
        .outerjoin(
            Membership,
            and_(col(Membership.user_id) == col(User.id), col(Membership.community_id) == community_id),
        )
        .where(
            col(ConversationMember.conversation_id).in_(conversation_ids),
            *([] if except_id is None else [col(User.id) != except_id]),
        )
        .order_by(col(ConversationMember.conversation_id), col(ConversationMember.id))
    )
    for conversation_id, user, membership in rows:
        people.setdefault(conversation_id, []).append(Person.of(user, membership))
    return people


async def unread_total(session: AsyncSession, viewer: User) -> int:
    """Unread messages in all the viewer's conversations (the count in the header)."""
    assert viewer.id is not None  # noqa: S101 -- a loaded row
    return (await unread_totals(session, [viewer.id]))[viewer.id]


async def unread_totals(session: AsyncSession, user_ids: Sequence[int]) -> dict[int, int]:
    """Unread messages of each of these people, in all their conversations: one statement."""
    counts = dict.fromkeys(user_ids, 0)
    if not user_ids:
        return counts
    rows = await session.execute(
        select(col(ConversationMember.user_id), func.count(col(Message.id)))
        .join(Message, col(Message.conversation_id) == col(ConversationMember.conversation_id))
        .where(
            col(ConversationMember.user_id).in_(user_ids),
            col(Message.id) > col(ConversationMember.last_read_message_id),
            or_(col(Message.sender_id).is_(None), col(Message.sender_id) != col(ConversationMember.user_id)),
        )
        .group_by(col(ConversationMember.user_id))
    )
    counts.update({user_id: int(count) for user_id, count in rows.all()})
    return counts


@dataclass(frozen=True, slots=True)
class MessagePage:
    messages: list[Message]  # oldest first
    has_earlier: bool  # older messages exist: ask again with before=messages[0].id
    pictures: dict[int, list[MessageImage]]  # by message id, in the order sent


async def messages_page(
    session: AsyncSession, conversation: Conversation, *, before: int | None = None, limit: int = MESSAGES_PER_PAGE
) -> MessagePage:
    """The newest `limit` messages before message `before` (or the newest of all): a keyset range of
    ix_message_conversation_id, as fast on the thousandth page as on the first."""
    statement = select(Message).where(col(Message.conversation_id) == conversation.id)
    if before is not None:
        statement = statement.where(col(Message.id) < before)
    newest_first = list((await session.execute(statement.order_by(col(Message.id).desc()).limit(limit + 1))).scalars())
    shown = list(reversed(newest_first[:limit]))
    return MessagePage(shown, len(newest_first) > limit, await pictures_of(session, [m.id for m in shown if m.id]))


async def pictures_of(session: AsyncSession, message_ids: Sequence[int]) -> dict[int, list[MessageImage]]:
    """The pictures of these messages, by message id, in order; one statement, none for no messages."""
    pictures: dict[int, list[MessageImage]] = {}
    if message_ids:
        rows = await session.execute(
            select(MessageImage)
            .where(col(MessageImage.message_id).in_(message_ids))
            .order_by(col(MessageImage.message_id), col(MessageImage.position))
        )
        for picture in rows.scalars():
            pictures.setdefault(picture.message_id, []).append(picture)
    return pictures


async def read_marks(session: AsyncSession, conversation: Conversation, *, viewer: User) -> dict[int, int]:
    """How far each other participant has read, by user id: under which message to show "read"."""
    return dict(
        (
            await session.execute(
                select(col(ConversationMember.user_id), col(ConversationMember.last_read_message_id)).where(
                    col(ConversationMember.conversation_id) == conversation.id,
                    col(ConversationMember.user_id) != viewer.id,
                )
            )
        ).all()
    )


@dataclass(frozen=True, slots=True)
class CommunityInbox:
    community: Community
    unread: int


async def inboxes_of(session: AsyncSession, viewer: User) -> list[CommunityInbox]:
    """The communities whose private messages the viewer can read (verified member, or has conversations
    there), with the unread count of each: two statements."""
    assert viewer.id is not None  # noqa: S101 -- a loaded row
    mine = aliased(ConversationMember)
    unread_rows = await session.execute(
        select(col(Conversation.community_id), func.count(col(Message.id)))
        .join(mine, and_(col(mine.conversation_id) == col(Conversation.id), col(mine.user_id) == viewer.id))
        .join(Message, col(Message.conversation_id) == col(Conversation.id))
        .where(
            col(Message.id) > col(mine.last_read_message_id),
            or_(col(Message.sender_id).is_(None), col(Message.sender_id) != viewer.id),
        )
        .group_by(col(Conversation.community_id))
    )
    unread = {community_id: int(count) for community_id, count in unread_rows.all()}
    conversed = (
        select(col(Conversation.community_id))
        .join(ConversationMember, col(ConversationMember.conversation_id) == col(Conversation.id))
        .where(col(ConversationMember.user_id) == viewer.id)
    )
    member_of = select(col(Membership.community_id)).where(
        col(Membership.user_id) == viewer.id, col(Membership.status) == MembershipStatus.VERIFIED
    )
    communities = (
        await session.execute(
            select(Community)
            .where(or_(col(Community.id).in_(member_of), col(Community.id).in_(conversed)))
            .order_by(col(Community.name))
        )
    ).scalars()
    return [CommunityInbox(community, unread.get(id_of(community), 0)) for community in communities]


async def blocked_by(session: AsyncSession, viewer: User) -> list[Person]:
    """The people the viewer blocked, by name (without community badges: a block is not about one community)."""
    rows = await session.execute(
        select(User)
        .join(UserBlock, col(UserBlock.blocked_id) == col(User.id))
        .where(col(UserBlock.blocker_id) == viewer.id)
        .order_by(col(UserBlock.created_at))
    )
    return [Person.of(user) for user in rows.scalars()]


async def has_blocked(session: AsyncSession, viewer: User, other: User) -> bool:
    found = await session.execute(
        select(col(UserBlock.blocker_id)).where(
            col(UserBlock.blocker_id) == viewer.id, col(UserBlock.blocked_id) == other.id
        )
    )
    return found.first() is not None


MAX_NAMES = 20
NAMES_TEXT_MAX = 2000  # the text they are typed in; the rest is not read


async def members_named(session: AsyncSession, community: Community, raw: object) -> list[User]:
    """The verified members of the community named in `raw` ("@a, b c"): one statement. An unknown name is a
    field error that says which."""
    if not isinstance(raw, str):
        raise field_error("usernames", N_("Give the usernames of the people to add."))
    words = re.split(r"[\s,，、;；]+", raw[:NAMES_TEXT_MAX])
    names = list(dict.fromkeys(word.lstrip("@").lower() for word in words if word.strip("@")))
    if not names:
        raise field_error("usernames", N_("Give the usernames of the people to add."))
    if len(names) > MAX_NAMES:
        raise field_error("usernames", N_("At most %(max)d names."), max=MAX_NAMES)
    found = {
        user.username: user
        for user in (
            await session.execute(
                select(User)
                .join(Membership, col(Membership.user_id) == col(User.id))
                .where(
                    col(User.username).in_(names),
                    col(Membership.community_id) == community.id,
                    col(Membership.status) == MembershipStatus.VERIFIED,
                )
            )
        ).scalars()
    }
    missing = [name for name in names if name not in found]
    if missing:
        raise field_error("usernames", N_("No verified member here is called %(name)s."), name=missing[0])
    return [found[name] for name in names]


async def saved_answers_of(session: AsyncSession, viewer: User) -> list[SavedAnswer]:
    return list(
        (
            await session.execute(
                select(SavedAnswer).where(col(SavedAnswer.user_id) == viewer.id).order_by(col(SavedAnswer.id))
            )
        ).scalars()
    )


def read_receipt_at(shown: Sequence[Message], marks: dict[int, int], *, viewer_id: int) -> int:
    """The id of the viewer's newest shown message that every other participant has read (0: none): where
    "read" goes."""
    seen_by_all = min(marks.values(), default=0)
    return max(
        (id_of(message) for message in shown if message.sender_id == viewer_id and (id_of(message)) <= seen_by_all),
        default=0,
    )
