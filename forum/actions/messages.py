"""Private messages in a conversation (`forum.actions.conversations`): sending, and reading up to a message.

A message carries the sender's own id for it (`client_id`): sending it again, after a lost answer, returns the
stored message instead of storing it twice. Blocks also stop messages in a conversation that already exists
between two people. Every participant's unread count travels whole to their personal room.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from forum import subjects
from forum.actions import conversations, notifications
from forum.actions.images import attach_images
from forum.actions.mutes import require_voice
from forum.actions.threads import author_data, image_data
from forum.db import insert_for, record_event
from forum.errors import field_error
from forum.events import MessageCreated, MessagesRead, UnreadChanged
from forum.i18n import N_
from forum.images import PreparedImage
from forum.markup import render_markdown
from forum.models import (
    Conversation,
    ConversationMember,
    Membership,
    MembershipStatus,
    Message,
    MessageImage,
    NotificationKind,
    Role,
    User,
    UserBlock,
)
from forum.offload import text_work
from forum.paths import message_image_path, message_path
from forum.permissions import CommunityStanding
from forum.queries.messages import pictures_of, unread_totals
from forum.timeutil import utcnow
from forum.validation import clean_text

MAX_MESSAGE_CHARS = 4000
# A UUID, a ULID or any other random id the client makes: long enough not to collide, short enough to index.
CLIENT_ID_MAX = 64
_CLIENT_ID = re.compile(rf"[A-Za-z0-9_-]{{8,{CLIENT_ID_MAX}}}")


# A conversation's participants, each with their role if they are still a verified member of its community and
# whether they blocked the sender (built once: it runs on every message).
_SEND_TO = (
    select(
        col(ConversationMember.user_id),
        col(User.display_name),
        col(Membership.role),
        exists().where(
            col(UserBlock.blocker_id) == col(ConversationMember.user_id),
            col(UserBlock.blocked_id) == bindparam("actor_id"),
        ),
    )
    .join(User, col(User.id) == col(ConversationMember.user_id))
    .outerjoin(
        Membership,
        and_(
            col(Membership.user_id) == col(ConversationMember.user_id),
            col(Membership.community_id) == bindparam("community_id"),
            col(Membership.status) == MembershipStatus.VERIFIED,
        ),
    )
    .where(col(ConversationMember.conversation_id) == bindparam("conversation_id"))
)


async def send_message(
    session: AsyncSession,
    *,
    actor: User,
    conversation: Conversation,
    member: ConversationMember,
    standing: CommunityStanding,
    body: object,
    client_id: object,
    images: Sequence[PreparedImage] = (),
    reading: Collection[int] = (),
) -> SentMessage:
    """Add a message (Markdown, as in posts) with pictures, already checked and re-encoded (text, pictures or
    both). `member` is the actor's participation, from the access check. A message with this sender's
    `client_id` already in the conversation is returned as stored (after the same checks as a new one),
    whatever this attempt carries. The others are notified unless they are in `reading` (the people who have
    the conversation open right now). tests/test_statements.py counts the statements of a send."""
    conversations.require_verified(standing)
    require_voice(standing)
    if not isinstance(client_id, str) or not _CLIENT_ID.fullmatch(client_id):
        raise field_error(
            "client_id", N_("A message needs an id made by the sender: 8 to 64 letters, digits, '-' or '_'.")
        )
    clean_body = clean_text(body, "body", max_length=MAX_MESSAGE_CHARS, multiline=True, required=False)
    if not clean_body and not images:
        raise field_error("body", N_("Write a message or choose a picture."))
    assert conversation.id is not None and actor.id is not None  # noqa: S101 -- loaded rows
    # Who is in it, and (for two people) whether the other may still be written to: one statement, before the
    # first write (on SQLite that write takes the database's lock until commit).
    people = (
        await session.execute(
            _SEND_TO,
            {"conversation_id": conversation.id, "community_id": conversation.community_id, "actor_id": actor.id},
        )
    ).all()
    participant_ids = [user_id for user_id, _name, _role, _blocked in people]
    if conversation.pair_key is not None and not standing.is_secretary:
        for user_id, name, role, blocked in people:
            # They share this conversation, so "contacts only" lets them through; a block does not.
            if user_id == actor.id:
                continue
            if role is None:
                raise field_error("recipients", N_("You can only message verified members of this community."))
            if role != Role.SECRETARY and blocked:
                raise conversations.NotReachable(name=name)
    body_html = await text_work(len(clean_body), render_markdown, clean_body) if clean_body else ""
    now = utcnow()
    # A retry that overlaps the first send (a double tap, a lost answer) waits for it and stores nothing.
    new_id = (
        await session.execute(
            insert_for(session)(Message)
            .values(
                conversation_id=conversation.id,
                sender_id=actor.id,
                client_id=client_id,
                body=clean_body,
                body_html=body_html,
                created_at=now,
            )
            .on_conflict_do_nothing()
            .returning(col(Message.id))
        )
    ).scalar_one_or_none()
    if new_id is None:  # a retry: what the first attempt stored
        found: Message = await _stored_message(session, conversation.id, actor.id, client_id)
        assert found.id is not None  # noqa: S101 -- a stored row
        return SentMessage(found, (await pictures_of(session, [found.id])).get(found.id, []))
    message = Message(
        id=new_id,
        conversation_id=conversation.id,
        sender_id=actor.id,
        client_id=client_id,
        body=clean_body,
        body_html=body_html,
        created_at=now,
    )
    # The newest message and the sender's read mark ("one has read what one wrote") only move forward,
    # whatever order concurrent sends commit in.
    await session.execute(
        update(Conversation)
        .where(col(Conversation.id) == conversation.id, col(Conversation.last_message_id) < new_id)
        .values(last_message_id=new_id, last_message_at=now)
    )
    await _move_read_mark(session, member, new_id)
    pictures = await attach_images(session, model=MessageImage, owner={"message_id": new_id}, images=images)
    sender = author_data(actor, standing)
    record_event(
        session,
        MessageCreated(
            message_id=new_id,
            conversation_id=conversation.id,
            client_id=client_id,
            sender=sender,
            body_html=body_html,
            images=[image_data(picture, message_image_path) for picture in pictures],
            created_at=now.isoformat(),
            url=message_path(conversation.id, new_id),
        ),
    )
    await _record_unread(session, participant_ids)
    await notifications.notify(
        session,
        recipients=[user_id for user_id in participant_ids if user_id not in reading],
        kind=NotificationKind.MESSAGE,
        community_id=conversation.community_id,
        subject=subjects.conversation(conversation.id),
        actor_id=actor.id,
        title=conversation.title,
        url=message_path(conversation.id, new_id),
        members_only=False,  # a former member still reads their conversations
        people_locked=True,  # by _record_unread: all the participants
    )
    return SentMessage(message, pictures)


@dataclass(frozen=True)
class SentMessage:
    """A message as sent (or as the first attempt stored it, for a retry), with its pictures."""

    message: Message
    pictures: list[MessageImage]


async def _record_unread(session: AsyncSession, user_ids: Sequence[int]) -> None:
    """Each person's full unread count, to their personal room: every tab and device shows the same number.
    The people's rows are locked first (forum.actions.notifications.lock_people) so that two transactions
    writing to the same person count one after the other, each seeing the other's message: the last count
    sent is right."""
    await notifications.lock_people(session, user_ids)
    for user_id, count in (await unread_totals(session, user_ids)).items():
        record_event(session, UnreadChanged(unread=count).to_user(user_id))


async def _stored_message(
    session: AsyncSession, conversation_id: int, sender_id: int, client_id: str, *, required: bool = True
) -> Any:
    result = await session.execute(
        select(Message).where(
            col(Message.conversation_id) == conversation_id,
            col(Message.sender_id) == sender_id,
            col(Message.client_id) == client_id,
        )
    )
    return result.scalar_one() if required else result.scalar_one_or_none()


async def _move_read_mark(session: AsyncSession, member: ConversationMember, mark: int) -> bool:
    """Move the participant's read mark up to `mark`, never back (two tabs may report out of order)."""
    moved = (
        await session.execute(
            update(ConversationMember)
            .where(col(ConversationMember.id) == member.id, col(ConversationMember.last_read_message_id) < mark)
            .values(last_read_message_id=mark)
            .returning(col(ConversationMember.id))
        )
    ).first()
    return moved is not None


async def mark_read(
    session: AsyncSession, *, conversation: Conversation, member: ConversationMember, up_to: int
) -> int:
    """The participant has seen the conversation up to message `up_to`; never moves back. Returns the new mark."""
    newest = (
        await session.execute(select(func.max(col(Message.id))).where(col(Message.conversation_id) == conversation.id))
    ).scalar_one()
    mark = min(up_to, newest or 0)
    if await _move_read_mark(session, member, mark):
        assert conversation.id is not None  # noqa: S101 -- a loaded row
        record_event(
            session, MessagesRead(conversation_id=conversation.id, user_id=member.user_id, last_read_message_id=mark)
        )
        await _record_unread(session, [member.user_id])
        await notifications.mark_subject_read(
            session, user_id=member.user_id, subject=subjects.conversation(conversation.id)
        )
        return mark
    return max(member.last_read_message_id, mark)
