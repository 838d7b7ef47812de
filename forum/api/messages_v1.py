"""JSON API for private messages: the same actions and participant-only access check as the pages."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, Field
from quart_rate_limiter import rate_limit
from quart_schema import tag, validate_querystring, validate_request, validate_response
from quart_schema.pydantic import File

from forum import rooms
from forum.access import access_community, access_conversation, access_conversation_message, members_only
from forum.actions import accounts, conversations, flags, messages
from forum.api.bodies import validate_json_or_multipart
from forum.api.forum_v1 import ImageOut, images_out
from forum.api.schemas import PersonOut, Username, longest
from forum.api.v1 import blueprint
from forum.errors import NotFound
from forum.flaggables import MessageItem
from forum.models import Conversation, Message, MessageImage, id_of
from forum.paths import message_image_path, message_path
from forum.queries.messages import (
    conversations_of,
    members_named,
    messages_page,
    participants,
    read_marks,
    unread_total,
)
from forum.queries.people import Person
from forum.queries.threads import latest_event_id
from forum.validation import MAX_ID, USERNAME_MAX
from forum.web.context import commit, db_session, people_reading, require_user
from forum.web.ratelimits import FLAG_LIMITS, MESSAGE_LIMITS
from forum.web.uploads import TOO_MANY_FOR_MESSAGE, uploaded_images


class ConversationOut(BaseModel):
    id: int
    community_id: int
    title: str  # a group's name; empty for two people
    is_group: bool
    others: list[PersonOut]
    unread: int
    last_message_id: int  # 0: none yet
    last_message_at: str
    waiting_since: str | None  # the last message is someone else's and awaits your answer since then
    room: str  # the Socket.IO room to subscribe to


class ConversationListOut(BaseModel):
    conversations: list[ConversationOut]
    unread_total: int  # in all your conversations, every community


class StartConversationIn(BaseModel):
    username: str = Field(max_length=USERNAME_MAX)


class StartGroupIn(BaseModel):
    title: str = Field(default="", max_length=conversations.TITLE_MAX)
    # The others (you may be among them): verified members of the community, nine at most.
    usernames: list[Username] = Field(max_length=conversations.MAX_PARTICIPANTS)


class MessageOut(BaseModel):
    id: int
    client_id: str
    sender_id: int | None  # None: the account no longer exists
    body_html: str  # sanitised HTML, safe to insert as is; empty for a message of pictures only (or hidden)
    images: list[ImageOut]  # in the order sent; the URLs need a participant's login
    hidden: bool  # hidden after flags: only its sender gets its text and pictures, with `hidden_reason`
    hidden_reason: str  # a secretary's; empty while flags hide it until review
    created_at: str
    url: str


class MessagePageOut(BaseModel):
    conversation: ConversationOut
    messages: list[MessageOut]  # oldest first
    has_earlier: bool  # ask again with before=messages[0].id
    read_marks: dict[str, int]  # user id -> the last message they have read (the others only)
    last_event_id: int  # subscribe to `room` after this id


class MessagePageQuery(BaseModel):
    before: int | None = Field(default=None, ge=1, le=MAX_ID)


class SendIn(BaseModel):
    body: str = Field(default="", max_length=messages.MAX_MESSAGE_CHARS)  # may be empty when pictures come with it
    # Your id for it (8 to 64 of A-Z a-z 0-9 - _): a retry stores it once.
    client_id: str = Field(max_length=messages.CLIENT_ID_MAX)


class SendWithImagesIn(SendIn):
    """multipart/form-data: `body`, `client_id` and up to POST_MAX_IMAGES files in `images`, as for a reply."""

    images: list[File] = []


class ReadIn(BaseModel):
    up_to: int = Field(ge=0, le=MAX_ID)


class ReadOut(BaseModel):
    last_read_message_id: int


def _person_out(person: Person) -> PersonOut:
    return PersonOut(
        id=person.id,
        username=person.username,
        display_name=person.display_name,
        is_party_member=person.is_party_member,
    )


def _message_out(message: Message, pictures: Sequence[MessageImage], viewer_id: int) -> MessageOut:
    withheld = message.hidden_at is not None and message.sender_id != viewer_id
    return MessageOut(
        id=id_of(message),
        client_id=message.client_id,
        sender_id=message.sender_id,
        body_html="" if withheld else message.body_html,
        images=[] if withheld else images_out(pictures, message_image_path),
        hidden=message.hidden_at is not None,
        hidden_reason=message.hidden_reason if not withheld else "",
        created_at=message.created_at.isoformat(),
        url=message_path(message.conversation_id, id_of(message)),
    )


def _conversation_out(
    conversation: Conversation, others: list[Person], *, unread: int, waiting_since: str | None
) -> ConversationOut:
    return ConversationOut(
        id=id_of(conversation),
        community_id=conversation.community_id,
        title=conversation.title,
        is_group=conversation.pair_key is None,
        others=[_person_out(person) for person in others],
        unread=unread,
        last_message_id=conversation.last_message_id,
        last_message_at=conversation.last_message_at.isoformat(),
        waiting_since=waiting_since,
        room=rooms.CONVERSATION(id_of(conversation)),
    )


@blueprint.get("/communities/<slug>/conversations")
@tag(["messages"])
@validate_response(ConversationListOut)
async def list_conversations(slug: str) -> ConversationListOut:
    """Your conversations in a community, most recent first; for a secretary, those awaiting an answer first."""
    user = require_user()
    community, standing = await access_community(db_session(), user, slug)
    rows = await conversations_of(
        db_session(), user, community_id=id_of(community), unanswered_first=standing.is_secretary
    )
    if not standing.is_verified_member and not rows:
        raise members_only(standing)
    return ConversationListOut(
        conversations=[
            _conversation_out(
                row.conversation,
                row.others,
                unread=row.unread,
                waiting_since=row.waiting_since.isoformat() if row.waiting_since else None,
            )
            for row in rows
        ],
        unread_total=await unread_total(db_session(), user),
    )


@blueprint.post("/communities/<slug>/conversations")
@tag(["messages"])
@rate_limit(limits=MESSAGE_LIMITS)
@validate_request(StartConversationIn)
@validate_response(ConversationOut, 200)
@validate_response(ConversationOut, 201)
async def start_conversation(slug: str, data: StartConversationIn) -> tuple[ConversationOut, int]:
    """The conversation with a member of the community: the existing one (200), or a new one (201)."""
    user = require_user()
    community, standing = await access_community(db_session(), user, slug)
    other = await accounts.find_user_by_username(db_session(), data.username)
    if other is None:
        raise NotFound()
    conversation, new = await conversations.start_direct(
        db_session(), actor=user, community=community, standing=standing, other=other
    )
    await commit()
    people = await participants(db_session(), [id_of(conversation)], community_id=id_of(community), except_id=user.id)
    out = _conversation_out(conversation, people.get(id_of(conversation), []), unread=0, waiting_since=None)
    return out, 201 if new else 200


@blueprint.post("/communities/<slug>/groups")
@tag(["messages"])
@rate_limit(limits=MESSAGE_LIMITS)
@validate_request(StartGroupIn)
@validate_response(ConversationOut, 201)
async def start_group(slug: str, data: StartGroupIn) -> tuple[ConversationOut, int]:
    """A new group conversation with these members (ten people at most, you included)."""
    user = require_user()
    community, standing = await access_community(db_session(), user, slug)
    conversations.require_can_message(standing)
    others = await members_named(db_session(), community, " ".join(data.usernames))
    conversation = await conversations.start_group(
        db_session(), actor=user, community=community, standing=standing, others=others, title=data.title
    )
    await commit()
    people = await participants(db_session(), [id_of(conversation)], community_id=id_of(community), except_id=user.id)
    return _conversation_out(conversation, people.get(id_of(conversation), []), unread=0, waiting_since=None), 201


@blueprint.get("/conversations/<id:conversation_id>/messages")
@tag(["messages"])
@validate_querystring(MessagePageQuery)
@validate_response(MessagePageOut)
async def list_messages(conversation_id: int, query_args: MessagePageQuery) -> MessagePageOut:
    """Fifty messages before `before` (or the newest fifty). Reading does not mark them read: see `/read`."""
    user = require_user()
    conversation, _member, _standing = await access_conversation(db_session(), user, conversation_id)
    last_event_id = await latest_event_id(db_session())
    page = await messages_page(db_session(), conversation, before=query_args.before)
    people = await participants(
        db_session(), [conversation_id], community_id=conversation.community_id, except_id=user.id
    )
    marks = await read_marks(db_session(), conversation, viewer=user)
    return MessagePageOut(
        conversation=_conversation_out(conversation, people.get(conversation_id, []), unread=0, waiting_since=None),
        messages=[
            _message_out(message, page.pictures.get(id_of(message), []), id_of(user)) for message in page.messages
        ],
        has_earlier=page.has_earlier,
        read_marks={str(user_id): mark for user_id, mark in marks.items()},
        last_event_id=last_event_id,
    )


@blueprint.post("/conversations/<id:conversation_id>/messages")
@tag(["messages"])
@rate_limit(limits=MESSAGE_LIMITS)
@validate_json_or_multipart(SendIn, SendWithImagesIn)
@validate_response(MessageOut, 201)
async def send_message(conversation_id: int, data: SendIn) -> tuple[MessageOut, int]:
    """Send a message (Markdown): JSON, or multipart/form-data with pictures in `images`. Sending the same
    `client_id` again returns the stored message."""
    user = require_user()
    conversation, member, standing = await access_conversation(db_session(), user, conversation_id)
    sent = await messages.send_message(
        db_session(),
        actor=user,
        conversation=conversation,
        member=member,
        standing=standing,
        body=data.body,
        client_id=data.client_id,
        images=await uploaded_images(too_many=TOO_MANY_FOR_MESSAGE),
        reading=await people_reading(rooms.CONVERSATION(conversation_id)),
    )
    await commit()
    return _message_out(sent.message, sent.pictures, id_of(user)), 201


@blueprint.post("/conversations/<id:conversation_id>/read")
@tag(["messages"])
@validate_request(ReadIn)
@validate_response(ReadOut)
async def mark_read(conversation_id: int, data: ReadIn) -> ReadOut:
    """You have read the conversation up to message `up_to`. The mark never moves back."""
    user = require_user()
    conversation, member, _standing = await access_conversation(db_session(), user, conversation_id)
    mark = await messages.mark_read(db_session(), conversation=conversation, member=member, up_to=data.up_to)
    await commit()
    return ReadOut(last_read_message_id=mark)


class MessageFlagIn(BaseModel):
    reason: str = Field(max_length=longest(flags.REASONS))  # off_topic, abuse, spam, privacy or other
    note: str = Field(default="", max_length=flags.NOTE_MAX)  # needed for other


class MessageFlagOut(BaseModel):
    message_id: int
    added: bool  # False: you had flagged it already (one member counts once)


@blueprint.post("/conversations/<id:conversation_id>/messages/<id:message_id>/flags")
@tag(["messages"])
@rate_limit(limits=FLAG_LIMITS)
@validate_request(MessageFlagIn)
@validate_response(MessageFlagOut)
async def flag_message(conversation_id: int, message_id: int, data: MessageFlagIn) -> MessageFlagOut:
    """Participants: flag one message sent to you for the community's secretaries, who see that message only.
    In a group, three participants' flags hide it until reviewed."""
    user = require_user()
    message, community, standing = await access_conversation_message(db_session(), user, conversation_id, message_id)
    added = await flags.flag(
        db_session(),
        actor=user,
        item=MessageItem(message, community),
        standing=standing,
        reason=data.reason,
        note=data.note,
    )
    await commit()
    return MessageFlagOut(message_id=message_id, added=added)
