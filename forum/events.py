"""The one registry of events the server sends, beside the actions that record them. Each event is a typed
model with a literal `type` and no extra fields; it names the rooms it goes to (`to`: a room kind of
`forum.rooms` and the field that holds the room's id), so recording one needs nothing but the event
(`forum.db.record_event`). docs/realtime.md is generated from this registry (`python -m realtime.docs`) and the
tests check every stored event against it."""

from __future__ import annotations

from typing import ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, PrivateAttr

from forum.rooms import (
    BOARD,
    COMMUNITY,
    CONVERSATION,
    LETTERS,
    LISTING,
    MARKET,
    REPORT,
    REPORT_QUEUE,
    REPORTS,
    REVIEW,
    SALE,
    THREAD,
    USER,
    RoomKind,
)


class Event(BaseModel):
    """An event for clients. `to` names its rooms; `room_note` says where it goes when it is sent straight to
    sockets rather than recorded; `content` marks text or pictures that a page may stop showing later (a
    reply hidden, a thread removed): each of its rooms must have a replay filter that decides them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    to: ClassVar[tuple[tuple[RoomKind, str], ...]] = ()
    room_note: ClassVar[str] = ""
    content: ClassVar[bool] = False
    summary: ClassVar[str] = ""

    def rooms(self) -> list[str]:
        """The rooms this event is recorded in, in order."""
        return [kind(getattr(self, field)) for kind, field in self.to]

    @classmethod
    def rooms_described(cls) -> str:
        """Where it goes, for docs/realtime.md."""
        return cls.room_note or " and ".join(kind.pattern() for kind, _field in cls.to)


class PersonalEvent(Event):
    """An event for one person, in their `user:` room (every tab and device of theirs): address it with `to_user`."""

    to: ClassVar[tuple[tuple[RoomKind, str], ...]] = ((USER, "_user_id"),)
    _user_id: int | None = PrivateAttr(default=None)

    def to_user(self, user_id: int) -> Self:
        addressed = self.model_copy()
        addressed._user_id = user_id
        return addressed

    def rooms(self) -> list[str]:
        if self._user_id is None:
            raise ValueError(f"{type(self).__name__} is for one person: address it with to_user(user_id)")
        return super().rooms()


class Ready(Event):
    """Sent to a client right after it connects: who the server thinks it is, how many private messages it has
    not read (`unread.changed` keeps that up to date afterwards) and how many notifications
    (`notifications.changed`)."""

    type: Literal["ready"] = "ready"
    to = ()
    room_note = "the connecting client only"
    summary = "Connection accepted; the client is in its personal room."
    user_id: int
    display_name: str
    unread: int
    notifications: int


class PersonData(BaseModel):
    """A name as shown: with the party badge of the community the event belongs to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: int
    username: str
    display_name: str
    is_party_member: bool


class ThreadCreated(Event):
    """A new thread in a board: boards show it at the top without reloading."""

    type: Literal["thread.created"] = "thread.created"
    to = ((BOARD, "board_id"),)
    content = True
    summary = "A thread was started in the board."
    thread_id: int
    board_id: int
    title: str
    author: PersonData
    created_at: str
    url: str


class NoticePublished(Event):
    """A secretary published a notice: every member online in the community is told."""

    type: Literal["notice.published"] = "notice.published"
    to = ((COMMUNITY, "community_id"),)
    content = True
    summary = "A notice for every member online."
    thread_id: int
    community_id: int
    title: str
    author: PersonData
    url: str


class BoardsChanged(Event):
    """A secretary added, renamed, moved, archived or restored a board. Carries no list: fetch the community's
    boards again (`GET /api/v1/communities/<slug>/boards`). The web pages do not update live on it."""

    type: Literal["boards.changed"] = "boards.changed"
    to = ((COMMUNITY, "community_id"),)
    summary = "The community's list of boards changed."
    community_id: int
    board_id: int
    change: Literal["added", "renamed", "moved", "archived", "restored"]


class ImageData(BaseModel):
    """A picture under a post. Both URLs need the reader's login; width and height are in pixels, for laying
    the page out before the pictures arrive."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str
    thumb_url: str
    width: int
    height: int
    thumb_width: int
    thumb_height: int


class PostCreated(Event):
    """A reply in a thread. `body_html` is sanitised HTML, safe to insert as is. `images` are its pictures in
    order (none for most replies)."""

    type: Literal["post.created"] = "post.created"
    to = ((THREAD, "thread_id"),)
    content = True
    summary = "A reply was posted in the thread."
    post_id: int
    thread_id: int
    number: int
    author: PersonData
    body_html: str
    created_at: str
    url: str
    images: list[ImageData]


class PostLiked(Event):
    """A post's like count changed. Carries the full count, so one lost event heals with the next."""

    type: Literal["post.liked"] = "post.liked"
    to = ((THREAD, "thread_id"),)
    summary = "A post was liked or unliked."
    post_id: int
    thread_id: int
    number: int
    like_count: int


class PostEdited(Event):
    """The author (or a secretary, with `moderator_note` shown under it) edited a post. `body_html` is
    sanitised HTML, safe to insert as is; `moderator_note` is plain text, empty unless a secretary edited it."""

    type: Literal["post.edited"] = "post.edited"
    to = ((THREAD, "thread_id"),)
    content = True
    summary = "A post was edited."
    post_id: int
    thread_id: int
    number: int
    body_html: str
    edited_at: str
    moderator_note: str = ""


class PostDeleted(Event):
    """The author deleted a post; clients replace its text with a "deleted" note."""

    type: Literal["post.deleted"] = "post.deleted"
    to = ((THREAD, "thread_id"),)
    summary = "A post was deleted."
    post_id: int
    thread_id: int
    number: int


class PostHidden(Event):
    """A secretary hid a reply: clients replace it with a "hidden" note (its author and the secretaries see
    it, and why, after a reload)."""

    type: Literal["post.hidden"] = "post.hidden"
    to = ((THREAD, "thread_id"),)
    summary = "A secretary hid a reply."
    post_id: int
    thread_id: int
    number: int


class PostShown(Event):
    """A secretary showed a hidden reply again. `body_html` is sanitised HTML, safe to insert as is."""

    type: Literal["post.shown"] = "post.shown"
    to = ((THREAD, "thread_id"),)
    content = True
    summary = "A secretary showed a hidden reply again."
    post_id: int
    thread_id: int
    number: int
    body_html: str


class ThreadLocked(Event):
    """A secretary locked a thread (`locked`, with the reason shown in it) or unlocked it: clients disable
    or enable the reply box. Secretaries can still reply in a locked thread."""

    type: Literal["thread.locked"] = "thread.locked"
    to = ((THREAD, "thread_id"),)
    summary = "A secretary locked or unlocked the thread."
    thread_id: int
    locked: bool
    reason: str


class MemberMuted(PersonalEvent):
    """Sent to the member concerned: a secretary muted them in a community until `muted_until` (can read,
    cannot post or message there; `reason` says why), or lifted it (`muted_until` null). Open composers for
    that community say so."""

    type: Literal["member.muted"] = "member.muted"
    summary = "A secretary muted the member in a community, or lifted it."
    community_id: int
    muted_until: str | None
    reason: str


class ThreadHidden(Event):
    """A secretary hid the thread (`hidden`; its readers' pages say so and take no more replies) or showed it
    again."""

    type: Literal["thread.hidden"] = "thread.hidden"
    to = ((THREAD, "thread_id"),)
    summary = "A secretary hid the thread or showed it again."
    thread_id: int
    hidden: bool


class Typing(Event):
    """Ephemeral: a neighbour is writing a reply (`thread_id`) or a private message (`conversation_id`; the
    other is null). Sent as the Socket.IO event `typing`, never stored or replayed; show it for a few seconds."""

    type: Literal["typing"] = "typing"
    to = ()
    room_note = "`thread:<thread_id>` or `conversation:<conversation_id>`, except the typist"
    summary = "Someone is writing (ephemeral)."
    thread_id: int | None
    conversation_id: int | None = None
    user_id: int
    display_name: str


class ReadersPresent(Event):
    """Ephemeral: how many neighbours have the thread open now, counted once per person across every server
    process (the reader included). Sent as the Socket.IO event `presence` at most once a second per thread
    while the number changes; never stored or replayed."""

    type: Literal["presence"] = "presence"
    to = ((THREAD, "thread_id"),)
    summary = "How many neighbours are reading (ephemeral)."
    thread_id: int
    count: int


class RoomRevoked(Event):
    """Sent to one client when it may no longer follow a room it joined (removed from the community, or the
    room's content closed to it). The server has already taken it out of the room; stop showing live updates
    for it."""

    type: Literal["revoked"] = "revoked"
    to = ()
    room_note = "the client concerned only"
    summary = "Taken out of a room it may no longer follow."
    room: str


class MessageCreated(Event):
    """A private message in a conversation. `client_id` is the sender's own id for it: the sender's other tabs,
        and the tab that sent it, replace what they showed at once with this. `body_html` is sanitised HTML (empty
    for a message of pictures only)."""

    type: Literal["message.created"] = "message.created"
    to = ((CONVERSATION, "conversation_id"),)
    content = True
    summary = "A private message was sent."
    message_id: int
    conversation_id: int
    client_id: str
    sender: PersonData
    body_html: str
    images: list[ImageData] = []  # in the order sent; only the participants can fetch them
    created_at: str
    url: str


class MessageHidden(Event):
    """A secretary (or three participants' flags) hid a private message, or a secretary showed it again. Pages
    replace a hidden message's text and pictures with a note; one shown again reappears when they load."""

    type: Literal["message.hidden"] = "message.hidden"
    to = ((CONVERSATION, "conversation_id"),)
    summary = "A message was hidden after flags, or shown again."
    message_id: int
    conversation_id: int
    hidden: bool


class MessagesRead(Event):
    """A participant has read the conversation up to a message: show "read" under it."""

    type: Literal["message.read"] = "message.read"
    to = ((CONVERSATION, "conversation_id"),)
    summary = "A participant read the conversation up to a message."
    conversation_id: int
    user_id: int
    last_read_message_id: int


class UnreadChanged(PersonalEvent):
    """The person's number of unread private messages, in all their conversations. The full count, so one lost
    event heals with the next."""

    type: Literal["unread.changed"] = "unread.changed"
    summary = "The person's count of unread private messages."
    unread: int


class LetterCreated(Event):
    """A thank-you letter on the community's thanks wall. `body_html` is sanitised HTML; `group_name` is empty
    when the letter names its recipients one by one."""

    type: Literal["letter.created"] = "letter.created"
    to = ((LETTERS, "community_id"),)
    content = True
    summary = "A thank-you letter was written."
    letter_id: int
    community_id: int
    title: str
    body_html: str
    author: PersonData
    recipients: list[PersonData]
    group_name: str
    images: list[ImageData]
    created_at: str
    url: str


class LetterLiked(Event):
    """A letter was liked or unliked: its new count."""

    type: Literal["letter.liked"] = "letter.liked"
    to = ((LETTERS, "community_id"),)
    summary = "A thank-you letter was liked or unliked."
    letter_id: int
    community_id: int
    like_count: int


class LetterHidden(Event):
    """A secretary (or three neighbours' flags) hid a thank-you letter, or a secretary showed it again. Pages
    take a hidden letter off the wall; one shown again appears when they load."""

    type: Literal["letter.hidden"] = "letter.hidden"
    to = ((LETTERS, "community_id"),)
    summary = "A thank-you letter was hidden or shown again."
    letter_id: int
    community_id: int
    hidden: bool


class ReviewChanged(Event):
    """Something was flagged, held by the word filter or decided on: how many items now wait in the community's
    review queue. Only the count, so a page tells its secretary to reload rather than showing content."""

    type: Literal["review.changed"] = "review.changed"
    to = ((REVIEW, "community_id"),)
    summary = "The number of items waiting in the review queue changed."
    community_id: int
    waiting: int


class NotificationsChanged(PersonalEvent):
    """The person's number of unread notifications (the bell), in every community. The full count, so one lost
    event heals with the next."""

    type: Literal["notifications.changed"] = "notifications.changed"
    summary = "The person's count of unread notifications."
    unread: int


class SaleCreated(Event):
    """A charity sale was started in the community: the community's list of sales shows it at the top.
    Amounts are in fen; `target_cents` is null when the sale has no target."""

    type: Literal["sale.created"] = "sale.created"
    to = ((MARKET, "community_id"),)
    summary = "A charity sale was started."
    sale_id: int
    community_id: int
    title: str
    cause: str
    organiser: PersonData
    starts_at: str
    ends_at: str
    target_cents: int | None
    url: str


class SaleItemAdded(Event):
    """An item was donated to the sale. `description` is plain text (show it as text, keeping its line
    breaks); `price_cents` is per unit, in fen."""

    type: Literal["sale.item_added"] = "sale.item_added"
    to = ((SALE, "sale_id"),)
    summary = "An item was donated to the sale."
    sale_id: int
    item_id: int
    title: str
    description: str
    price_cents: int
    quantity: int
    donor: PersonData
    images: list[ImageData]
    url: str


class SaleItemChanged(Event):
    """Units of an item were reserved, given back (cancelled or lapsed) or sold. Carries the full counts
    (`available` = quantity − reserved − sold), so one lost event heals with the next."""

    type: Literal["sale.item_changed"] = "sale.item_changed"
    to = ((SALE, "sale_id"), (MARKET, "community_id"))
    summary = "An item's units were reserved, given back or sold."
    sale_id: int
    community_id: int
    item_id: int
    quantity: int
    reserved: int
    sold: int
    available: int


class SaleChanged(Event):
    """The sale's total raised (in fen, against its target) or its status changed: a payment was recorded, the
    sale closed, or its summary was published. The full state, so one lost event heals with the next."""

    type: Literal["sale.changed"] = "sale.changed"
    to = ((SALE, "sale_id"), (MARKET, "community_id"))
    summary = "The sale's total raised or its status changed."
    sale_id: int
    community_id: int
    status: Literal["open", "closed"]
    raised_cents: int
    target_cents: int | None
    published: bool


class ListingCreated(Event):
    """A swap or a give-away was listed: open market pages show it at the top. `kind` is `swap` or `free`;
    `category` and `condition` are keys (docs/market.md); `images` are its photos in order."""

    type: Literal["listing.created"] = "listing.created"
    to = ((MARKET, "community_id"),)
    content = True
    summary = "A swap or give-away was listed."
    listing_id: int
    community_id: int
    kind: Literal["swap", "free"]
    title: str
    wanted: str
    category: str
    condition: str
    pickup_area: str
    owner: PersonData
    images: list[ImageData]
    created_at: str
    url: str


class ListingChanged(Event):
    """A listing's status or its number of open offers changed: offered for, reserved by an accepted offer,
    handed over (`done`), expired, renewed (`open` again), or removed by a secretary. The full state."""

    type: Literal["listing.changed"] = "listing.changed"
    to = ((MARKET, "community_id"), (LISTING, "listing_id"))
    summary = "A listing's status or its number of open offers changed."
    listing_id: int
    community_id: int
    status: Literal["open", "reserved", "done", "expired", "removed"]
    offer_count: int


class ReportCreated(Event):
    """A resident reported a problem (我身边的事) publicly: the community's list of reports shows it at the top.
    `reporter` is null when they hid their name from neighbours. Private reports never come here."""

    type: Literal["report.created"] = "report.created"
    to = ((REPORTS, "community_id"),)
    content = True
    summary = "A public problem report was made in the community."
    report_id: int
    community_id: int
    title: str
    category: str
    place: str
    status: str
    reporter: PersonData | None
    created_at: str
    due_at: str
    me_too_count: int
    thumbnail_url: str | None  # its first photo, small; null without photos
    url: str


class ReportQueued(Event):
    """A new report for the secretaries' queue, private ones included, always with the reporter's name (hidden
    only from neighbours). Open queue pages show it live, with its countdown."""

    type: Literal["report.queued"] = "report.queued"
    to = ((REPORT_QUEUE, "community_id"),)
    content = True
    summary = "A new report arrived in the secretaries' queue."
    report_id: int
    community_id: int
    title: str
    category: str
    place: str
    status: str
    reporter: PersonData | None  # null only if the reporter's account is gone
    is_private: bool
    is_anonymous: bool
    created_at: str
    due_at: str
    url: str


class _Unlistable(Event):
    """An event about one report whose `to` lists the community's list room (`reports:`) last: a private or
    hidden report's events are kept out of it (`unlisted`), since neighbours may not know the report exists."""

    _listed: bool = PrivateAttr(default=True)

    def unlisted(self, unlisted: bool) -> Self:
        copy = self.model_copy()
        copy._listed = not unlisted
        return copy

    def rooms(self) -> list[str]:
        rooms = super().rooms()
        if self._listed:
            return rooms
        return [room for room in rooms if not room.startswith(f"{REPORTS.name}:")]


class ReportChanged(_Unlistable):
    """A report's state changed: answered (the clock stops: `answered_at`, `answer_minutes`), a new status,
    overdue (`overdue`: escalated), a "me too" or a comment. The full state, so a lost event heals with the
    next. Sent to the report's room and the queue; to the community's list too unless the report is private or
    hidden."""

    type: Literal["report.changed"] = "report.changed"
    to = ((REPORT, "report_id"), (REPORT_QUEUE, "community_id"), (REPORTS, "community_id"))
    room_note = (
        "`report:<report_id>` and `report_queue:<community_id>`, and `reports:<community_id>` unless the report"
        " is private or hidden"
    )
    summary = "A report's status, clock or counts changed."
    report_id: int
    community_id: int
    status: str
    due_at: str
    answered_at: str | None
    answer_minutes: int | None
    overdue: bool
    referred_to: str
    me_too_count: int
    comment_count: int


class ReportEntryAdded(Event):
    """A line was added to a report's timeline: a formal answer, a status change (with why), a reminder, the
    escalation, the reporter's confirmation, reopening or rating. Pages fetch the timeline again to show it in
    the reader's language. `actor` is null for the clock, and for a reporter whose name is hidden
    (`by_reporter`)."""

    type: Literal["report.entry_added"] = "report.entry_added"
    to = ((REPORT, "report_id"),)
    summary = "A line was added to a report's timeline."
    entry_id: int
    report_id: int
    kind: str
    status: str
    actor: PersonData | None
    by_reporter: bool
    created_at: str


class ReportCommentCreated(Event):
    """A comment under a report. `author` is null when the reporter, whose name is hidden, wrote it."""

    type: Literal["report.comment_created"] = "report.comment_created"
    to = ((REPORT, "report_id"),)
    content = True
    summary = "A comment was made under a report."
    comment_id: int
    report_id: int
    body_html: str
    author: PersonData | None
    by_reporter: bool
    created_at: str


class ReportCommentHidden(Event):
    """A secretary (or flags) hid a comment under a report, or a secretary showed it again."""

    type: Literal["report.comment_hidden"] = "report.comment_hidden"
    to = ((REPORT, "report_id"),)
    summary = "A comment under a report was hidden or shown again."
    comment_id: int
    report_id: int
    hidden: bool


class ReportHidden(_Unlistable):
    """A secretary (or three neighbours' flags) hid a report, or a secretary showed it again: lists drop it.
    Sent to the community's list only for a public report."""

    type: Literal["report.hidden"] = "report.hidden"
    to = ((REPORT_QUEUE, "community_id"), (REPORTS, "community_id"))
    room_note = "`report_queue:<community_id>`, and `reports:<community_id>` unless the report is private"
    summary = "A report was hidden or shown again."
    report_id: int
    community_id: int
    hidden: bool


# Every event a client may receive, by its `type`. Events other than `ready`, `typing`, `presence` and `revoked`
# arrive as the Socket.IO event `event` with the envelope {"id", "room", "type", "data"}; `data` is the model.
CLIENT_EVENTS: tuple[type[Event], ...] = (
    Ready,
    ThreadCreated,
    NoticePublished,
    BoardsChanged,
    PostCreated,
    PostLiked,
    PostEdited,
    PostDeleted,
    PostHidden,
    PostShown,
    ThreadLocked,
    MemberMuted,
    ThreadHidden,
    Typing,
    ReadersPresent,
    RoomRevoked,
    MessageCreated,
    MessageHidden,
    MessagesRead,
    UnreadChanged,
    LetterCreated,
    LetterLiked,
    LetterHidden,
    ReviewChanged,
    NotificationsChanged,
    SaleCreated,
    SaleItemAdded,
    SaleItemChanged,
    SaleChanged,
    ListingCreated,
    ListingChanged,
    ReportCreated,
    ReportQueued,
    ReportChanged,
    ReportEntryAdded,
    ReportCommentCreated,
    ReportCommentHidden,
    ReportHidden,
)
REGISTRY: dict[str, type[Event]] = {model.model_fields["type"].default: model for model in CLIENT_EVENTS}


class InternalEvent(BaseModel):
    """Internal, between the unit of work and the socket server of every process; never sent to clients."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class SessionsEnded(InternalEvent):
    """Internal, never sent to clients: these login sessions ended (logout, password change), so every process
    disconnects the sockets that authenticated with them."""

    type: Literal["sessions.ended"] = "sessions.ended"
    session_ids: list[int]


class AccessChanged(InternalEvent):
    """Internal, never sent to clients: what these users may read changed (removed from a community), or who may
    follow these rooms did (a thread hidden), so every process checks the rooms of those users' sockets (and of
    the sockets following those rooms) again and takes them out of those they may no longer follow."""

    type: Literal["access.changed"] = "access.changed"
    user_ids: list[int]
    rooms: list[str] = []
