"""Tables. Only data and constraints live here; behaviour lives in `forum.actions` and `forum.queries`."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Protocol

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from forum.timeutil import UTCDateTime, utcnow

# Named constraints make Alembic migrations reproducible on both PostgreSQL and SQLite (batch mode).
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata: MetaData = SQLModel.metadata


def _created() -> datetime:
    return utcnow()


def _fk(target: str, *, nullable: bool = False, ondelete: str = "CASCADE", index: bool = True) -> Column[int]:
    return Column(Integer, ForeignKey(target, ondelete=ondelete), nullable=nullable, index=index)


class _Stored(Protocol):
    @property
    def id(self) -> int | None: ...


def id_of(row: _Stored) -> int:
    """The id of a row that is stored (loaded, or flushed): a row without one is a bug, which must fail here
    rather than quietly query id 0."""
    if row.id is None:
        raise ValueError(f"this {type(row).__name__} has no id: it was never flushed")
    return row.id


class CommunityKind(StrEnum):
    RESIDENTIAL = "residential"  # 居民区
    VILLAGE = "village"  # 村


class MembershipStatus(StrEnum):
    PENDING = "pending"
    VERIFIED = "verified"
    REJECTED = "rejected"
    REMOVED = "removed"  # was verified; a secretary took them out (moved away). They may ask to join again.
    # Was verified; a secretary shut them out for a while (`suspended_until`, or until lifted). They cannot read
    # or post here, nor ask to join again, and are verified again when it ends (role and badge kept).
    SUSPENDED = "suspended"


class Role(StrEnum):
    RESIDENT = "resident"
    SECRETARY = "secretary"


class SessionKind(StrEnum):
    WEB = "web"  # cookie, set by quart-auth
    API = "api"  # bearer token


class District(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    slug: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    created_at: datetime = Field(default_factory=_created, sa_type=UTCDateTime)


class Community(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    district_id: int = Field(sa_column=_fk("district.id"))
    name: str = Field(max_length=100)
    slug: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    kind: str = Field(default=CommunityKind.RESIDENTIAL, max_length=16)
    address: str = Field(default="", max_length=200)
    join_code: str = Field(max_length=16, sa_column_kwargs={"unique": True})
    created_at: datetime = Field(default_factory=_created, sa_type=UTCDateTime)
    # Problem reports (我身边的事) get a formal answer within this many hours (`forum.actions.reports`).
    report_answer_hours: int = Field(default=48, sa_column_kwargs={"server_default": "48"})


class MessagePolicy(StrEnum):
    """Who may start a private conversation with a resident. Secretaries can always be reached, and reach anyone."""

    EVERYONE = "everyone"  # any verified member of a community they share
    CONTACTS = "contacts"  # only people they already have a conversation with


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    # Stored lower-cased; login is case-insensitive.
    username: str = Field(max_length=32, sa_column_kwargs={"unique": True})
    display_name: str = Field(max_length=40)
    password_hash: str = Field(max_length=200)
    locale: str | None = Field(default=None, max_length=16)
    is_active: bool = Field(default=True)
    message_policy: str = Field(
        default=MessagePolicy.EVERYONE, max_length=16, sa_column_kwargs={"server_default": MessagePolicy.EVERYONE}
    )
    created_at: datetime = Field(default_factory=_created, sa_type=UTCDateTime)


class DistrictAdmin(SQLModel, table=True):
    __tablename__ = "district_admin"

    user_id: int = Field(sa_column=Column(Integer, ForeignKey("user.id", ondelete="CASCADE"), primary_key=True))
    district_id: int = Field(sa_column=Column(Integer, ForeignKey("district.id", ondelete="CASCADE"), primary_key=True))
    created_at: datetime = Field(default_factory=_created, sa_type=UTCDateTime)


class Membership(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("user_id", "community_id", name="uq_membership_user_community"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(sa_column=_fk("user.id"))
    community_id: int = Field(sa_column=_fk("community.id"))
    status: str = Field(default=MembershipStatus.PENDING, max_length=16, index=True)
    role: str = Field(default=Role.RESIDENT, max_length=16)
    building: str = Field(default="", max_length=20)
    unit: str = Field(default="", max_length=20)
    room: str = Field(default="", max_length=20)
    is_party_member: bool = Field(default=False)
    requested_at: datetime = Field(default_factory=_created, sa_type=UTCDateTime)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    decided_by_id: int | None = Field(default=None, sa_column=_fk("user.id", nullable=True, ondelete="SET NULL"))
    # Muted by a secretary until then (can read, cannot post or message here), with the reason they see.
    muted_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    mute_reason: str = Field(default="", max_length=500, sa_column_kwargs={"server_default": ""})
    # While the status is suspended: until when (None: until a secretary lifts it), and the reason they see.
    suspended_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    suspend_reason: str = Field(default="", max_length=500, sa_column_kwargs={"server_default": ""})


class AuthSession(SQLModel, table=True):
    """A login. The cookie (or bearer token) carries a random token; only its SHA-256 is stored."""

    __tablename__ = "auth_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    user_id: int = Field(sa_column=_fk("user.id"))
    kind: str = Field(default=SessionKind.WEB, max_length=8)
    user_agent: str = Field(default="", max_length=200)
    ip: str = Field(default="", max_length=64)
    created_at: datetime = Field(default_factory=_created, sa_type=UTCDateTime)
    last_seen_at: datetime = Field(default_factory=_created, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)


class AuditEntry(SQLModel, table=True):
    """Who did what to whom: every secretary and district-admin action leaves one."""

    __tablename__ = "audit_entry"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=_created, sa_type=UTCDateTime, index=True)
    actor_id: int | None = Field(default=None, sa_column=_fk("user.id", nullable=True, ondelete="SET NULL"))
    community_id: int | None = Field(default=None, sa_column=_fk("community.id", nullable=True, ondelete="CASCADE"))
    action: str = Field(max_length=40)
    target_user_id: int | None = Field(
        default=None, sa_column=_fk("user.id", nullable=True, ondelete="SET NULL", index=False)
    )
    detail: str = Field(default="", max_length=500)


class BoardKind(StrEnum):
    TALK = "talk"  # 邻里互动: every verified member starts threads
    NOTICES = "notices"  # 社区公告: only secretaries start threads; new ones are pushed to every member online
    GUIDES = "guides"  # 办事指南: self-help guides written by residents
    SALE = "sale"  # 义卖 (charity sales), filled by the market issue
    SWAP = "swap"  # 物物交换 (item swaps), filled by the market issue


class Board(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("community_id", "slug", name="uq_board_community_slug"),)

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(sa_column=_fk("community.id"))
    slug: str = Field(max_length=40)
    name: str = Field(default="", max_length=40)  # empty: the kind's default name, in the reader's language
    description: str = Field(default="", max_length=200)
    kind: str = Field(default=BoardKind.TALK, max_length=16)
    position: int = Field(default=0)
    is_archived: bool = Field(default=False)
    created_at: datetime = Field(default_factory=_created, sa_type=UTCDateTime)


class Thread(SQLModel, table=True):
    # A board page is a keyset range of this index, at any depth; it also serves lookups by board alone.
    __table_args__ = (Index("ix_thread_board_last_posted_id", "board_id", "last_posted_at", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    board_id: int = Field(sa_column=_fk("board.id", index=False))
    # Denormalised from the board: every access check on a thread needs the community.
    community_id: int = Field(sa_column=_fk("community.id"))
    author_id: int | None = Field(default=None, sa_column=_fk("user.id", nullable=True, ondelete="SET NULL"))
    title: str = Field(max_length=120)
    post_count: int = Field(default=1)  # the opening post and its replies
    created_at: datetime = Field(default_factory=_created, sa_type=UTCDateTime)
    last_posted_at: datetime = Field(default_factory=_created, sa_type=UTCDateTime)
    is_deleted: bool = Field(default=False)
    # Locked by a secretary, with a reason shown in the thread: residents can read but not reply.
    locked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    lock_reason: str = Field(default="", max_length=500, sa_column_kwargs={"server_default": ""})
    # Pinned by a secretary: listed above the board's other threads until `pinned_until` (none: until unpinned).
    pinned_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    pinned_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Hidden by a secretary, with a reason its author sees: gone for everyone else (404), takes no replies.
    hidden_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    hidden_reason: str = Field(default="", max_length=500, sa_column_kwargs={"server_default": ""})
    # Slow mode: one reply per person per this many minutes (secretaries exempt); 0 is off.
    slow_mode_minutes: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # A timer: the thread locks itself then (the moderation clock in forum.app), with `close_reason`.
    closes_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    close_reason: str = Field(default="", max_length=500, sa_column_kwargs={"server_default": ""})


class Post(SQLModel, table=True):
    """The opening post of a thread (number 1) and its replies (2, 3, …), in the order they were committed."""

    __table_args__ = (UniqueConstraint("thread_id", "number", name="uq_post_thread_number"),)

    id: int | None = Field(default=None, primary_key=True)
    # No index of its own: uq_post_thread_number (thread_id, number) serves lookups by thread, and with a
    # second index on thread_id alone PostgreSQL read a whole long thread to sort one page of it.
    thread_id: int = Field(sa_column=_fk("thread.id", index=False))
    author_id: int | None = Field(default=None, sa_column=_fk("user.id", nullable=True, ondelete="SET NULL"))
    number: int
    body: str = Field(sa_type=Text)
    body_html: str = Field(sa_type=Text)
    like_count: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    created_at: datetime = Field(default_factory=_created, sa_type=UTCDateTime)
    edited_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    deleted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Hidden by a secretary, with a reason its author sees; the text stays for the author and the secretaries.
    hidden_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    hidden_reason: str = Field(default="", max_length=500, sa_column_kwargs={"server_default": ""})
    # A secretary edited it: why, shown under it to everyone.
    moderator_note: str = Field(default="", max_length=500, sa_column_kwargs={"server_default": ""})


class StoredImage(SQLModel):
    """A picture's row: one of several, in upload order. The files (re-encoded, without metadata) live under
    UPLOAD_DIR at names derived from the random `key` (see `forum.storage`); they never change, so the key is
    also their ETag. Posts, private messages and thank-you letters each have a table of these."""

    id: int | None = Field(default=None, primary_key=True)
    position: int
    key: str = Field(sa_type=String(32), unique=True, nullable=False)
    content_type: str = Field(max_length=32)  # of both files: image/jpeg or image/png
    width: int
    height: int
    thumb_width: int
    thumb_height: int
    size_bytes: int  # of the full picture as stored
    created_at: datetime = Field(default_factory=_created, sa_type=UTCDateTime)


class PostImage(StoredImage, table=True):
    """A picture shown under a post."""

    __tablename__ = "post_image"
    __table_args__ = (UniqueConstraint("post_id", "position", name="uq_post_image_post_position"),)

    # The unique (post_id, position) index serves lookups by post.
    post_id: int = Field(sa_column=_fk("post.id", index=False))


class Event(SQLModel, table=True):
    """Every event sent to clients, recorded in the transaction of the change that caused it.

    Ids are handed out in commit order (see `forum.db.Database.commit`), so a client that saw id N and asks for
    everything after N in a room misses nothing."""

    __table_args__ = (Index("ix_event_room_id", "room", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    room: str = Field(max_length=64)
    type: str = Field(max_length=40)
    payload: str = Field(sa_type=Text)  # JSON
    created_at: datetime = Field(default_factory=_created, sa_type=UTCDateTime, index=True)


class EventRetention(SQLModel, table=True):
    """One row: events with ids up to `pruned_through` have been deleted; a client behind that must reload."""

    __tablename__ = "event_retention"

    id: int = Field(default=1, primary_key=True)
    pruned_through: int = Field(default=0)


class Like(SQLModel, table=True):
    """One like per person per post; liking a thread is liking its opening post."""

    __table_args__ = (UniqueConstraint("post_id", "user_id", name="uq_like_post_user"),)

    id: int | None = Field(default=None, primary_key=True)
    post_id: int = Field(sa_column=_fk("post.id"))
    user_id: int = Field(sa_column=_fk("user.id"))
    created_at: datetime = Field(default_factory=_created, sa_type=UTCDateTime)


class PostRevision(SQLModel, table=True):
    """A post's text before an edit: the author and the community's secretaries can read the history."""

    __tablename__ = "post_revision"

    id: int | None = Field(default=None, primary_key=True)
    post_id: int = Field(sa_column=_fk("post.id"))
    body: str = Field(sa_type=Text)
    written_at: datetime = Field(sa_type=UTCDateTime)  # when this text was posted or last edited
    replaced_at: datetime = Field(default_factory=_created, sa_type=UTCDateTime)


class Conversation(SQLModel, table=True):
    """A private conversation between members of one community: two people, or a small group. Only its
    participants can read it (`forum.access.access_conversation`)."""

    __table_args__ = (
        UniqueConstraint("community_id", "pair_key", name="uq_conversation_community_pair"),
        Index("ix_conversation_last_message", "community_id", "last_message_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(sa_column=_fk("community.id", index=False))
    # Two people have one conversation per community: "smaller user id:larger user id". None for a group
    # (NULLs are distinct in a unique constraint on both databases).
    pair_key: str | None = Field(default=None, max_length=24)
    title: str = Field(default="", max_length=60)  # a group's name; empty for two people
    created_by_id: int | None = Field(default=None, sa_column=_fk("user.id", nullable=True, ondelete="SET NULL"))
    created_at: datetime = Field(default_factory=_created, sa_type=UTCDateTime)
    last_message_at: datetime = Field(default_factory=_created, sa_type=UTCDateTime)
    last_message_id: int = Field(default=0)  # 0: no message yet


class ConversationMember(SQLModel, table=True):
    """A participant, and how far they have read (read receipts, unread counts)."""

    __tablename__ = "conversation_member"
    __table_args__ = (UniqueConstraint("conversation_id", "user_id", name="uq_conversation_member_user"),)

    id: int | None = Field(default=None, primary_key=True)
    # The unique (conversation_id, user_id) index serves lookups by conversation.
    conversation_id: int = Field(sa_column=_fk("conversation.id", index=False))
    user_id: int = Field(sa_column=_fk("user.id"))
    joined_at: datetime = Field(default_factory=_created, sa_type=UTCDateTime)
    last_read_message_id: int = Field(default=0)


class Message(SQLModel, table=True):
    """A private message. `client_id` is the sender's own id for it, so a retry never stores it twice."""

    __table_args__ = (
        UniqueConstraint("conversation_id", "sender_id", "client_id", name="uq_message_conversation_client"),
        Index("ix_message_conversation_id", "conversation_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(sa_column=_fk("conversation.id", index=False))
    sender_id: int | None = Field(
        default=None, sa_column=_fk("user.id", nullable=True, ondelete="SET NULL", index=False)
    )
    client_id: str = Field(max_length=64)
    body: str = Field(sa_type=Text)
    body_html: str = Field(sa_type=Text)
    created_at: datetime = Field(default_factory=_created, sa_type=UTCDateTime)
    # Hidden by a secretary after a flag (with the reason its sender sees) or, with no reason, by flags until
    # reviewed: the other participants see only that it was hidden.
    hidden_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    hidden_reason: str = Field(default="", max_length=500, sa_column_kwargs={"server_default": ""})


class MessageImage(StoredImage, table=True):
    """A picture sent in a private message: served only to the conversation's participants."""

    __tablename__ = "message_image"
    __table_args__ = (UniqueConstraint("message_id", "position", name="uq_message_image_message_position"),)

    message_id: int = Field(sa_column=_fk("message.id", index=False))


class UserBlock(SQLModel, table=True):
    """`blocker` does not want private messages from `blocked`."""

    __tablename__ = "user_block"

    blocker_id: int = Field(sa_column=Column(Integer, ForeignKey("user.id", ondelete="CASCADE"), primary_key=True))
    blocked_id: int = Field(sa_column=Column(Integer, ForeignKey("user.id", ondelete="CASCADE"), primary_key=True))
    created_at: datetime = Field(default_factory=_created, sa_type=UTCDateTime)


class SavedAnswer(SQLModel, table=True):
    """A secretary's saved reply, sent into a conversation with one tap (the answers they give every day)."""

    __tablename__ = "saved_answer"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(sa_column=_fk("user.id"))
    title: str = Field(max_length=40)
    body: str = Field(sa_type=Text)
    created_at: datetime = Field(default_factory=_created, sa_type=UTCDateTime)


class NotificationKind(StrEnum):
    REPLY = "reply"  # a reply in a thread I started
    MENTION = "mention"  # @me in a post
    QUOTE = "quote"  # a reply quoting my post
    LIKE = "like"  # likes on my post, one notification per post while unread ("A and 4 others")
    MESSAGE = "message"  # private messages while I was not reading the conversation, one per conversation
    LETTER = "letter"  # a thank-you letter to me
    VERIFIED = "verified"  # a secretary verified my membership
    RESERVATION = "reservation"  # reservations in a sale I organise, one notification per sale while unread
    LAPSING = "lapsing"  # my reservation will lapse soon unless I pay
    OFFER = "offer"  # offers on my listing, one notification per listing while unread
    OFFER_ACCEPTED = "offer_accepted"  # the owner accepted my offer (or drew it by lot)
    OFFER_DECLINED = "offer_declined"  # the owner chose another offer, or declined mine
    HIDDEN = "hidden"  # a secretary hid my post, with a reason
    MUTED = "muted"  # a secretary muted me in a community for a while, with a reason
    SUSPENDED = "suspended"  # a secretary suspended me from a community, with a reason
    REINSTATED = "reinstated"  # my suspension from a community ended (lifted, or its time ran out)
    MODERATED = "moderated"  # a secretary edited my post, with a note shown under it
    THREAD_HIDDEN = "thread_hidden"  # a secretary hid my thread, with a reason
    LETTER_HIDDEN = "letter_hidden"  # a secretary hid my thank-you letter, with a reason
    MESSAGE_HIDDEN = "message_hidden"  # after a report, a secretary hid my private message, with a reason
    FLAG = "flag"  # secretaries: a reply was flagged, one notification per reply while unread
    FLAG_AGREED = "flag_agreed"  # the secretaries agreed with my flag: the reply is hidden
    FLAG_KEPT = "flag_kept"  # the secretaries reviewed my flag and kept the reply
    CALLED_OFF = "called_off"  # the other side (or a secretary's removal) called off a deal of mine
    REMOVED = "removed"  # a secretary removed my listing, with a reason
    LISTING_REPORT = "listing_report"  # secretaries: a member reported a listing
    REPORT_NEW = "report_new"  # secretaries: a resident reported a problem (我身边的事)
    REPORT_UPDATE = "report_update"  # the reporter: a secretary answered my report or changed its status
    REPORT_REMINDER = "report_reminder"  # secretaries: a report's answer is due in 24 h, or in 4 h
    REPORT_ESCALATED = "report_escalated"  # district admins: a report went unanswered past its due time
    REPORT_REOPENED = "report_reopened"  # secretaries: the reporter reopened a resolved report
    REPORT_CLOSED = "report_closed"  # the reporter: the clock closed my report 7 days after "resolved"
    REPORT_COMMENT = "report_comment"  # the reporter: a neighbour commented on my report
    REPORT_HIDDEN = "report_hidden"  # a secretary hid my report, with a reason
    COMMENT_HIDDEN = "comment_hidden"  # a secretary hid my comment on a report, with a reason


class Notification(SQLModel, table=True):
    """Something that happened to a user. Kinds that come in bursts (likes, messages) gather in one unread row
    per `subject` ("post:12", "conversation:5"): `actor` is the latest, `count` how many so far."""

    __table_args__ = (
        Index("ix_notification_user_updated", "user_id", "updated_at"),
        # The bell's count (user_id, read_at IS NULL) and finding the unread one to gather into (… subject).
        Index("ix_notification_user_unread", "user_id", "read_at", "subject"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(sa_column=_fk("user.id", index=False))
    community_id: int = Field(sa_column=_fk("community.id"))
    kind: str = Field(max_length=16)  # a NotificationKind
    subject: str = Field(max_length=40)
    actor_id: int | None = Field(default=None, sa_column=_fk("user.id", nullable=True, ondelete="SET NULL"))
    count: int = Field(default=1)
    title: str = Field(default="", max_length=200)  # what it is about, as it was then: a thread's title
    url: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=_created, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=_created, sa_type=UTCDateTime)
    read_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class NotificationMute(SQLModel, table=True):
    """A kind of notification this user turned off (every kind is on until turned off)."""

    __tablename__ = "notification_mute"

    user_id: int = Field(sa_column=Column(Integer, ForeignKey("user.id", ondelete="CASCADE"), primary_key=True))
    kind: str = Field(sa_column=Column(String(16), primary_key=True))


class Letter(SQLModel, table=True):
    """A thank-you letter (感谢信): public to the community, on its thanks wall and on each recipient's profile.
    Addressed to one member, or to several under a group name ("12号楼的党员志愿者")."""

    __table_args__ = (
        Index("ix_letter_community_id", "community_id", "id"),
        Index("ix_letter_featured", "community_id", "featured_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(sa_column=_fk("community.id", index=False))
    author_id: int | None = Field(default=None, sa_column=_fk("user.id", nullable=True, ondelete="SET NULL"))
    title: str = Field(max_length=100)
    body: str = Field(sa_type=Text)
    body_html: str = Field(sa_type=Text)
    group_name: str = Field(default="", max_length=60)  # empty: addressed to the recipients by name
    like_count: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    featured_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # a secretary shows it on the community
    created_at: datetime = Field(default_factory=_created, sa_type=UTCDateTime)
    # Hidden by a secretary (with the reason its author sees) or, with no reason, by flags until reviewed: then
    # only its author and the secretaries see it.
    hidden_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    hidden_reason: str = Field(default="", max_length=500, sa_column_kwargs={"server_default": ""})


class LetterRecipient(SQLModel, table=True):
    """Someone a letter thanks. `hidden_at`: they took it off their own profile (it stays on the wall)."""

    __tablename__ = "letter_recipient"

    letter_id: int = Field(sa_column=Column(Integer, ForeignKey("letter.id", ondelete="CASCADE"), primary_key=True))
    user_id: int = Field(
        sa_column=Column(Integer, ForeignKey("user.id", ondelete="CASCADE"), primary_key=True, index=True)
    )
    position: int = Field(default=0)  # in the order the writer named them
    hidden_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class LetterImage(StoredImage, table=True):
    """A photo in a thank-you letter (at most three)."""

    __tablename__ = "letter_image"
    __table_args__ = (UniqueConstraint("letter_id", "position", name="uq_letter_image_letter_position"),)

    letter_id: int = Field(sa_column=_fk("letter.id", index=False))


class LetterLike(SQLModel, table=True):
    """One like per person per letter."""

    __tablename__ = "letter_like"
    __table_args__ = (UniqueConstraint("letter_id", "user_id", name="uq_letter_like_letter_user"),)

    id: int | None = Field(default=None, primary_key=True)
    letter_id: int = Field(sa_column=_fk("letter.id", index=False))
    user_id: int = Field(sa_column=_fk("user.id"))
    created_at: datetime = Field(default_factory=_created, sa_type=UTCDateTime)


class SaleStatus(StrEnum):
    OPEN = "open"  # items can be donated and reserved
    CLOSED = "closed"  # the sale is over: what was reserved can still be paid for and handed over


class CharitySale(SQLModel, table=True):
    """A charity sale (义卖): neighbours donate items, others reserve and pay for them at the pickup; the money
    goes to `cause`. No money moves online: the organiser records what was paid, and the sale shows the total."""

    __tablename__ = "charity_sale"
    __table_args__ = (
        Index("ix_charity_sale_community_id", "community_id", "id"),
        CheckConstraint("raised_cents >= 0", name="raised_not_negative"),
    )

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(sa_column=_fk("community.id", index=False))
    organiser_id: int | None = Field(default=None, sa_column=_fk("user.id", nullable=True, ondelete="SET NULL"))
    title: str = Field(max_length=100)
    cause: str = Field(max_length=200)  # what the money raised goes to
    pickup: str = Field(max_length=200)  # where and when items are paid for and picked up
    starts_at: datetime = Field(sa_type=UTCDateTime)
    ends_at: datetime = Field(sa_type=UTCDateTime)
    target_cents: int | None = Field(default=None)  # in fen; none: no target shown
    hold_hours: int = Field(default=24)  # how long a reservation holds an item before it lapses
    # Paid so far, in fen: 64 bits, as 999 units at the highest price already pass 2^31.
    raised_cents: int = Field(default=0, sa_type=BigInteger, sa_column_kwargs={"server_default": "0"})
    status: str = Field(default=SaleStatus.OPEN, max_length=16)
    created_at: datetime = Field(default_factory=_created, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The sale's discussion: a thread in the community's charity-sales board, started with the sale.
    thread_id: int | None = Field(default=None, sa_column=_fk("thread.id", nullable=True, ondelete="SET NULL"))
    summary: str = Field(default="", sa_type=Text, sa_column_kwargs={"server_default": ""})  # where the money went
    published_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # the summary, to the community


class SaleItem(SQLModel, table=True):
    """Something donated to a sale, `quantity` of it: each unit is available, held by a reservation, or sold.
    The check constraint is the last word on overselling, whatever the code above it does."""

    __tablename__ = "sale_item"
    __table_args__ = (
        CheckConstraint("quantity >= 1", name="quantity_positive"),
        CheckConstraint("price_cents >= 0", name="price_not_negative"),
        CheckConstraint("reserved >= 0 AND sold >= 0 AND reserved + sold <= quantity", name="units_add_up"),
    )

    id: int | None = Field(default=None, primary_key=True)
    sale_id: int = Field(sa_column=_fk("charity_sale.id"))
    donor_id: int | None = Field(default=None, sa_column=_fk("user.id", nullable=True, ondelete="SET NULL"))
    title: str = Field(max_length=100)
    description: str = Field(default="", sa_type=Text)
    price_cents: int  # in fen, per unit
    quantity: int
    reserved: int = Field(default=0)  # units held by reservations not yet paid
    sold: int = Field(default=0)  # units paid for
    created_at: datetime = Field(default_factory=_created, sa_type=UTCDateTime)


class SaleItemImage(StoredImage, table=True):
    """A photo of an item donated to a charity sale (at most four)."""

    __tablename__ = "sale_item_image"
    __table_args__ = (UniqueConstraint("item_id", "position", name="uq_sale_item_image_item_position"),)

    item_id: int = Field(sa_column=_fk("sale_item.id", index=False))


class ReservationStatus(StrEnum):
    HELD = "held"  # the units are kept for the buyer until `expires_at`
    PAID = "paid"  # the organiser recorded the payment
    HANDED_OVER = "handed_over"  # and the buyer has the item
    LAPSED = "lapsed"  # not paid in time: the units are available again
    CANCELLED = "cancelled"  # by the buyer or the organiser before payment


class SaleReservation(SQLModel, table=True):
    """Some units of an item held for a buyer, then paid for and handed over, or given back."""

    __tablename__ = "sale_reservation"
    __table_args__ = (
        Index("ix_sale_reservation_status_expires_at", "status", "expires_at"),  # the lapse job's scan
        Index("ix_sale_reservation_remind_at", "remind_at"),  # the reminder job's scan (null once reminded)
        CheckConstraint("quantity >= 1", name="quantity_positive"),
    )

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(sa_column=_fk("sale_item.id"))
    buyer_id: int = Field(sa_column=_fk("user.id"))
    quantity: int
    status: str = Field(default=ReservationStatus.HELD, max_length=16)
    created_at: datetime = Field(default_factory=_created, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    paid_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # handed over, lapsed or cancelled
    # When to tell the buyer it will lapse soon; cleared once told (or when it stops being held).
    remind_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ListingKind(StrEnum):
    SWAP = "swap"  # 物物交换: something offered, something welcome in exchange
    FREE = "free"  # a give-away: nothing asked in return


class ListingStatus(StrEnum):
    OPEN = "open"  # neighbours can make offers
    RESERVED = "reserved"  # an offer was accepted: waiting for both sides to confirm the hand-over
    DONE = "done"  # handed over
    EXPIRED = "expired"  # 30 days without a deal; the owner can renew it
    REMOVED = "removed"  # by a secretary, with a reason the owner sees


class Listing(SQLModel, table=True):
    """A swap or a give-away. Open for 30 days (`expires_at`) unless renewed; an accepted offer reserves it
    (and the listing offered in exchange, if any) until both sides confirm the hand-over."""

    __tablename__ = "listing"
    __table_args__ = (
        Index("ix_listing_community_status_id", "community_id", "status", "id"),  # the market pages
        Index("ix_listing_status_expires_at", "status", "expires_at"),  # the expiry job's scan
    )

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(sa_column=_fk("community.id", index=False))
    owner_id: int = Field(sa_column=_fk("user.id"))
    kind: str = Field(max_length=16)  # a ListingKind
    title: str = Field(max_length=100)
    description: str = Field(default="", sa_type=Text)
    wanted: str = Field(default="", max_length=200)  # what would be welcome in exchange (swaps)
    category: str = Field(max_length=16)
    condition: str = Field(max_length=16)
    pickup_area: str = Field(max_length=100)
    status: str = Field(default=ListingStatus.OPEN, max_length=16)
    # Give-aways: neighbours ask until then, and the owner draws a lot among them (none: the owner picks).
    claim_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=_created, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    thread_id: int | None = Field(default=None, sa_column=_fk("thread.id", nullable=True, ondelete="SET NULL"))
    removed_reason: str = Field(default="", max_length=500)
    hidden_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # by flags, until a secretary reviews it


class ListingImage(StoredImage, table=True):
    """A photo of a listing (at most four)."""

    __tablename__ = "listing_image"
    __table_args__ = (UniqueConstraint("listing_id", "position", name="uq_listing_image_listing_position"),)

    listing_id: int = Field(sa_column=_fk("listing.id", index=False))


class OfferStatus(StrEnum):
    OPEN = "open"  # waiting for the owner
    ACCEPTED = "accepted"  # the deal: both listings reserved until both sides confirm
    DECLINED = "declined"  # the owner chose another offer, or declined this one
    WITHDRAWN = "withdrawn"  # by its maker
    DONE = "done"  # both sides confirmed the hand-over
    CALLED_OFF = "called_off"  # an accepted deal one side called off; the listings are open again


class Offer(SQLModel, table=True):
    """A neighbour's offer for a listing: a message, and for a swap optionally one of their own open listings.
    One per neighbour per listing (made again, it is reopened). The accepted one carries the hand-over."""

    __tablename__ = "offer"
    __table_args__ = (UniqueConstraint("listing_id", "maker_id", name="uq_offer_listing_maker"),)

    id: int | None = Field(default=None, primary_key=True)
    listing_id: int = Field(sa_column=_fk("listing.id", index=False))
    maker_id: int = Field(sa_column=_fk("user.id"))
    message: str = Field(default="", max_length=500)
    offered_listing_id: int | None = Field(
        default=None, sa_column=_fk("listing.id", nullable=True, ondelete="SET NULL")
    )
    status: str = Field(default=OfferStatus.OPEN, max_length=16)
    by_lot: bool = Field(default=False)  # accepted by a draw among those who asked in the claim window
    created_at: datetime = Field(default_factory=_created, sa_type=UTCDateTime)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    owner_confirmed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # the hand-over, each side
    maker_confirmed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class FlagReason(StrEnum):
    OFF_TOPIC = "off_topic"
    ABUSE = "abuse"
    SPAM = "spam"
    PRIVACY = "privacy"
    OTHER = "other"  # with a note
    FILTER = "filter"  # not a member's flag: the word filter held the reply for review (the note is the word)


FLAGGED_ITEMS = ("post_id", "letter_id", "listing_id", "message_id", "report_id", "report_comment_id")
ONE_FLAGGED_ITEM = " + ".join(f"(CASE WHEN {column} IS NULL THEN 0 ELSE 1 END)" for column in FLAGGED_ITEMS) + " = 1"


class Flag(SQLModel, table=True):
    """A member's flag on a post (a reply, or a thread by its opening post), a thank-you letter, a swap or
    give-away listing, or a private message sent to them, for the community's secretaries to review: exactly
    one of the FLAGGED_ITEMS columns is set. One per member per item (flagging again changes nothing), so
    three flags are three neighbours."""

    __tablename__ = "flag"
    __table_args__ = (
        UniqueConstraint("post_id", "reporter_id", name="uq_flag_post_reporter"),
        UniqueConstraint("letter_id", "reporter_id", name="uq_flag_letter_reporter"),
        UniqueConstraint("listing_id", "reporter_id", name="uq_flag_listing_reporter"),
        UniqueConstraint("message_id", "reporter_id", name="uq_flag_message_reporter"),
        UniqueConstraint("report_id", "reporter_id", name="uq_flag_report_reporter"),
        UniqueConstraint("report_comment_id", "reporter_id", name="uq_flag_report_comment_reporter"),
        CheckConstraint(ONE_FLAGGED_ITEM, name="one_item"),
        Index("ix_flag_community_open", "community_id", "resolved_at"),  # the review queue
    )

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(sa_column=_fk("community.id", index=False))
    post_id: int | None = Field(default=None, sa_column=_fk("post.id", nullable=True, index=False))
    letter_id: int | None = Field(default=None, sa_column=_fk("letter.id", nullable=True, index=False))
    listing_id: int | None = Field(default=None, sa_column=_fk("listing.id", nullable=True, index=False))
    message_id: int | None = Field(default=None, sa_column=_fk("message.id", nullable=True, index=False))
    report_id: int | None = Field(default=None, sa_column=_fk("report.id", nullable=True, index=False))
    report_comment_id: int | None = Field(default=None, sa_column=_fk("report_comment.id", nullable=True, index=False))
    reporter_id: int | None = Field(default=None, sa_column=_fk("user.id", nullable=True, ondelete="SET NULL"))
    reason: str = Field(max_length=16)  # a FlagReason
    note: str = Field(default="", max_length=500)
    created_at: datetime = Field(default_factory=_created, sa_type=UTCDateTime)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    outcome: str = Field(default="", max_length=16)  # agreed (hidden) or disagreed (kept)


class FilterMode(StrEnum):
    BLOCK = "block"  # a post containing the word is refused, with a message saying which word
    REVIEW = "review"  # a reply containing it waits, hidden, for a secretary's review


class WordFilter(SQLModel, table=True):
    """A word a community's secretaries (or its district's admins) keep out of posts, or hold for review; with
    `district_id` instead of `community_id`, a district admin's word for every community of the district.
    Matched as a substring, case-insensitively: Chinese has no spaces between words."""

    __tablename__ = "word_filter"
    __table_args__ = (
        UniqueConstraint("community_id", "word", name="uq_word_filter_community_word"),
        UniqueConstraint("district_id", "word", name="uq_word_filter_district_word"),
        CheckConstraint("(community_id IS NULL) <> (district_id IS NULL)", name="one_scope"),
    )

    id: int | None = Field(default=None, primary_key=True)
    community_id: int | None = Field(default=None, sa_column=_fk("community.id", nullable=True, index=False))
    district_id: int | None = Field(default=None, sa_column=_fk("district.id", nullable=True, index=False))
    word: str = Field(max_length=50)
    mode: str = Field(max_length=16)  # a FilterMode
    created_by_id: int | None = Field(default=None, sa_column=_fk("user.id", nullable=True, ondelete="SET NULL"))
    created_at: datetime = Field(default_factory=_created, sa_type=UTCDateTime)


class ReportCategory(SQLModel, table=True):
    """A kind of problem residents report in one community (环境卫生, 停车, ...): seeded with the community,
    edited by its secretaries. An archived one is kept for the reports filed under it, and offered no more."""

    __tablename__ = "report_category"
    __table_args__ = (UniqueConstraint("community_id", "name", name="uq_report_category_community_name"),)

    id: int | None = Field(default=None, primary_key=True)
    # The unique (community_id, name) index serves lookups by community.
    community_id: int = Field(sa_column=_fk("community.id", index=False))
    name: str = Field(max_length=20)
    position: int = Field(default=0)
    is_archived: bool = Field(default=False)


class ReportPlace(SQLModel, table=True):
    """A building or landmark of one community (1号楼, 东门, 垃圾房), kept by its secretaries: a report says
    where by choosing one (and a unit or detail), so that neighbours' reports of the same place meet."""

    __tablename__ = "report_place"
    __table_args__ = (UniqueConstraint("community_id", "name", name="uq_report_place_community_name"),)

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(sa_column=_fk("community.id", index=False))
    name: str = Field(max_length=30)
    position: int = Field(default=0)
    is_archived: bool = Field(default=False)


class ReportStatus(StrEnum):
    SUBMITTED = "submitted"  # waiting for the formal answer, on the clock
    ANSWERED = "answered"  # a secretary answered formally: the clock stopped
    IN_PROGRESS = "in_progress"  # being solved
    REFERRED = "referred"  # handed to someone else (`referred_to`): a department, the property company
    RESOLVED = "resolved"  # a secretary says it is solved: the reporter confirms, or it closes in 7 days
    CLOSED = "closed"  # done; the reporter may rate the handling
    DECLINED = "declined"  # not the community's to solve, with a reason and where to go instead


class ClockStep(StrEnum):
    """What a report's clock does next at `report.clock_at` (`forum.actions.report_clock`)."""

    REMIND_24 = "remind_24"  # remind the secretaries: 24 hours left
    REMIND_4 = "remind_4"  # remind them again: 4 hours left
    ESCALATE = "escalate"  # the due time: overdue, escalated to the district's admins
    CLOSE = "close"  # resolved 7 days ago without the reporter objecting: closed


class Report(SQLModel, table=True):
    """A problem a resident reported (我身边的事), answered on a visible clock: `due_at` is when the formal answer
    is due; the first formal answer by a secretary stops the clock (`answered_at`). `clock_at`/`clock_step` is
    the one thing its clock does next (none: nothing pending), found through an index by the clock job, and
    changed by a conditional UPDATE so that each step happens once, whichever process runs it."""

    __table_args__ = (
        Index("ix_report_community_id", "community_id", "id"),  # the community's list, newest first
        Index("ix_report_queue", "community_id", "queue_rank", "due_at", "id"),  # the secretaries' queue
        Index("ix_report_clock", "clock_at"),  # the clock's scan: only reports with a step pending
        Index("ix_report_recent", "community_id", "category_id", "created_at"),  # duplicates: same kind, 7 days
        Index("ix_report_community_created", "community_id", "created_at"),  # figures over the last 30/90 days
        CheckConstraint("rating IS NULL OR (rating >= 1 AND rating <= 5)", name="rating_in_range"),
    )

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(sa_column=_fk("community.id", index=False))
    reporter_id: int | None = Field(default=None, sa_column=_fk("user.id", nullable=True, ondelete="SET NULL"))
    category_id: int = Field(sa_column=_fk("report_category.id", index=False))
    place_id: int | None = Field(
        default=None, sa_column=_fk("report_place.id", nullable=True, ondelete="SET NULL", index=False)
    )
    location: str = Field(default="", max_length=60)  # the unit, or where exactly ("3单元门口", "东门旁")
    # A point on the community's site plan, in thousandths of its width and height from the top left.
    plan_x: int | None = Field(default=None)
    plan_y: int | None = Field(default=None)
    title: str = Field(max_length=60)  # what is wrong, in a line
    description: str = Field(sa_type=Text)
    is_private: bool = Field(default=False)  # only the reporter and the secretaries see it
    is_anonymous: bool = Field(default=False)  # neighbours do not see who reported it (secretaries do)
    status: str = Field(default=ReportStatus.SUBMITTED, max_length=16)
    # 0: waiting for its answer; 1: answered, being handled; 2: resolved, waiting for the reporter; 9: done.
    queue_rank: int = Field(default=0)
    created_at: datetime = Field(default_factory=_created, sa_type=UTCDateTime)
    due_at: datetime = Field(sa_type=UTCDateTime)
    answered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    answered_by_id: int | None = Field(
        default=None, sa_column=_fk("user.id", nullable=True, ondelete="SET NULL", index=False)
    )
    answer_minutes: int | None = Field(default=None)  # from the report to its first formal answer
    escalated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # overdue: past due, unanswered
    clock_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    clock_step: str = Field(default="", max_length=16)  # a ClockStep, or empty
    referred_to: str = Field(default="", max_length=100)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    rating: int | None = Field(default=None)
    rating_comment: str = Field(default="", max_length=500)
    me_too_count: int = Field(default=0)
    comment_count: int = Field(default=0)
    last_activity_at: datetime = Field(default_factory=_created, sa_type=UTCDateTime)
    # Hidden by a secretary (with the reason its reporter sees) or, with no reason, by flags until reviewed.
    hidden_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    hidden_reason: str = Field(default="", max_length=500, sa_column_kwargs={"server_default": ""})


class ReportImage(StoredImage, table=True):
    """A photo of a reported problem (at most nine): shown to whoever may see the report."""

    __tablename__ = "report_image"
    __table_args__ = (UniqueConstraint("report_id", "position", name="uq_report_image_report_position"),)

    report_id: int = Field(sa_column=_fk("report.id", index=False))


class ReportEntryKind(StrEnum):
    """A line of a report's timeline."""

    SUBMITTED = "submitted"
    ANSWER = "answer"  # a secretary's formal answer (the first stops the clock); may change the status too
    STATUS = "status"  # a secretary changed the status, with why
    REMINDED = "reminded"  # the clock reminded the secretaries (`body`: "24" or "4" hours left)
    ESCALATED = "escalated"  # the clock escalated it to the district's admins
    CONFIRMED = "confirmed"  # the reporter confirmed it is solved: closed
    REOPENED = "reopened"  # the reporter says it is not solved
    AUTO_CLOSED = "auto_closed"  # 7 days after "resolved" without objection
    RATED = "rated"  # the reporter rated the handling


class ReportEntry(SQLModel, table=True):
    """One line of a report's timeline: who (none: the clock), when, what, and why."""

    __tablename__ = "report_entry"
    __table_args__ = (Index("ix_report_entry_report_id", "report_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(sa_column=_fk("report.id", index=False))
    actor_id: int | None = Field(
        default=None, sa_column=_fk("user.id", nullable=True, ondelete="SET NULL", index=False)
    )
    kind: str = Field(max_length=16)  # a ReportEntryKind
    status: str = Field(default="", max_length=16)  # the status it moved to, if it moved it
    body: str = Field(default="", sa_type=Text)  # the answer, or why
    body_html: str = Field(default="", sa_type=Text)
    referred_to: str = Field(default="", max_length=100)  # referred: to whom; declined: where to go instead
    created_at: datetime = Field(default_factory=_created, sa_type=UTCDateTime)


class ReportComment(SQLModel, table=True):
    """Neighbours' discussion under a report (not the formal answers, which are timeline entries)."""

    __tablename__ = "report_comment"
    __table_args__ = (Index("ix_report_comment_report_id", "report_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(sa_column=_fk("report.id", index=False))
    author_id: int | None = Field(default=None, sa_column=_fk("user.id", nullable=True, ondelete="SET NULL"))
    body: str = Field(sa_type=Text)
    body_html: str = Field(sa_type=Text)
    created_at: datetime = Field(default_factory=_created, sa_type=UTCDateTime)
    hidden_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    hidden_reason: str = Field(default="", max_length=500, sa_column_kwargs={"server_default": ""})


class ReportMeToo(SQLModel, table=True):
    """A neighbour has the same problem (我也遇到): one per person per report."""

    __tablename__ = "report_me_too"

    report_id: int = Field(sa_column=Column(Integer, ForeignKey("report.id", ondelete="CASCADE"), primary_key=True))
    user_id: int = Field(
        sa_column=Column(Integer, ForeignKey("user.id", ondelete="CASCADE"), primary_key=True, index=True)
    )
    created_at: datetime = Field(default_factory=_created, sa_type=UTCDateTime)


class SitePlan(StoredImage, table=True):
    """The community's site plan (a picture its secretaries upload): a report may mark a point on it."""

    __tablename__ = "site_plan"

    community_id: int = Field(sa_column=_fk("community.id", index=False))
    # position is always 0: one plan per community (the unique index below)
    __table_args__ = (UniqueConstraint("community_id", name="uq_site_plan_community_id"),)


class GuideEntry(SQLModel, table=True):
    """The response guide (社区干部问题应对指南), kept by a district's admins: a question residents often ask, under
    a category name, with the answer, the department responsible and the rule that applies. Public entries are
    the residents' FAQ; the rest are for secretaries answering reports."""

    __tablename__ = "guide_entry"
    __table_args__ = (Index("ix_guide_entry_district_category", "district_id", "category"),)

    id: int | None = Field(default=None, primary_key=True)
    district_id: int = Field(sa_column=_fk("district.id", index=False))
    category: str = Field(max_length=20)  # a report category's name, as communities call it
    question: str = Field(max_length=200)
    answer: str = Field(sa_type=Text)
    department: str = Field(default="", max_length=100)
    rule: str = Field(default="", max_length=300)
    is_public: bool = Field(default=True)
    created_by_id: int | None = Field(default=None, sa_column=_fk("user.id", nullable=True, ondelete="SET NULL"))
    updated_at: datetime = Field(default_factory=_created, sa_type=UTCDateTime)
