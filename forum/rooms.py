"""The kinds of Socket.IO rooms, in one table: who may join each, how its replay is filtered for the joiner, and
whether a client can leave it. Every other place (the socket server, the events that name their rooms, the
templates' `data-room`, the tests) goes through this table; nothing else spells a room's prefix.

A room is `<kind>:<id>` on the wire. A kind with an `access` check is one a client follows: it subscribes (the
check runs, as for the page that shows the room's content), may leave, and is checked again when what its user
may read shrinks. A kind without one is joined by the server alone at connect (the personal rooms), and a client
can neither subscribe to it nor leave it.

A new kind is one entry: its name, the access check (reuse the page's `forum.access` helper), and its replay
filter (`forum.queries.replay`) if any of its events carries content a page may stop showing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from forum import access
from forum.errors import NotFound
from forum.models import User
from forum.permissions import CommunityStanding
from forum.queries import replay
from forum.validation import parse_id

# Raises (forum.errors) unless the user may follow the room; returns their standing in its community.
AccessCheck = Callable[[AsyncSession, User, int], Awaitable[CommunityStanding]]


@dataclass(frozen=True)
class RoomKind:
    name: str  # the room's prefix
    id_name: str  # what its id is, for the docs: thread:<thread_id>
    audience: str = ""  # for the docs: who may be in it, when the access check is narrower than the community's
    access: AccessCheck | None = None  # None: the server's own room (personal); clients cannot join or leave it
    replay: replay.ReplayFilter | None = None  # None: none of its events carries content a page may stop showing
    counts_readers: bool = False  # who has it open is tracked (`realtime.presence`)
    announces_readers: bool = False  # and the count is sent to everyone in it

    def __call__(self, ident: int) -> str:
        """The room of this kind for `ident`."""
        return f"{self.name}:{ident}"

    @property
    def followed(self) -> bool:
        """Joined by a client's subscribe (and left by its unsubscribe), through the access check."""
        return self.access is not None

    def pattern(self) -> str:
        """How the docs write it: `thread:<thread_id>`."""
        return f"`{self.name}:<{self.id_name}>`" + (f" ({self.audience})" if self.audience else "")


async def _thread(session: AsyncSession, user: User, thread_id: int) -> CommunityStanding:
    return (await access.access_thread(session, user, thread_id))[3]


async def _conversation(session: AsyncSession, user: User, conversation_id: int) -> CommunityStanding:
    return (await access.access_conversation(session, user, conversation_id))[2]


async def _sale(session: AsyncSession, user: User, sale_id: int) -> CommunityStanding:
    return (await access.access_sale(session, user, sale_id))[2]


async def _listing(session: AsyncSession, user: User, listing_id: int) -> CommunityStanding:
    return (await access.access_listing(session, user, listing_id))[2]


async def _community(session: AsyncSession, user: User, community_id: int) -> CommunityStanding:
    return (await access.access_community_content_by_id(session, user, community_id))[1]


async def _report(session: AsyncSession, user: User, report_id: int) -> CommunityStanding:
    return (await access.access_report(session, user, report_id))[2]


async def _review(session: AsyncSession, user: User, community_id: int) -> CommunityStanding:
    return (await access.access_community_to_moderate_by_id(session, user, community_id))[1]


THREAD = RoomKind(
    "thread", "thread_id", access=_thread, replay=replay.THREAD, counts_readers=True, announces_readers=True
)
BOARD = RoomKind("board", "board_id", access=access.access_board_content, replay=replay.BOARD)
COMMUNITY = RoomKind("community", "community_id", access=_community, replay=replay.COMMUNITY)
CONVERSATION = RoomKind(
    "conversation",
    "conversation_id",
    audience="its participants only",
    access=_conversation,
    replay=replay.CONVERSATION,
    counts_readers=True,  # someone reading it is not notified of a new message
)
LETTERS = RoomKind("letters", "community_id", access=_community, replay=replay.LETTERS)
MARKET = RoomKind("market", "community_id", access=_community, replay=replay.MARKET)
SALE = RoomKind("sale", "sale_id", access=_sale)
LISTING = RoomKind("listing", "listing_id", access=_listing)
REPORTS = RoomKind("reports", "community_id", access=_community, replay=replay.REPORTS)
REPORT_QUEUE = RoomKind(
    "report_queue",
    "community_id",
    audience="secretaries and district admins",
    access=_review,
    replay=replay.REPORT_QUEUE,
)
REPORT = RoomKind("report", "report_id", audience="whoever may see the report", access=_report, replay=replay.REPORT)
REVIEW = RoomKind("review", "community_id", audience="secretaries and district admins", access=_review)
USER = RoomKind("user", "user_id", audience="that person's sockets")
SESSION = RoomKind("session", "session_id", audience="the sockets of one login session")

KINDS: dict[str, RoomKind] = {
    kind.name: kind
    for kind in (
        THREAD,
        BOARD,
        COMMUNITY,
        CONVERSATION,
        LETTERS,
        MARKET,
        SALE,
        LISTING,
        REPORTS,
        REPORT_QUEUE,
        REPORT,
        REVIEW,
        USER,
        SESSION,
    )
}


def parse(room: object) -> tuple[RoomKind, int]:
    """The kind and id of a room name a client sent; NotFound for anything else."""
    if not isinstance(room, str):
        raise NotFound()
    name, _, raw_id = room[:64].partition(":")
    kind = KINDS.get(name)
    ident = parse_id(raw_id)
    if kind is None or ident is None or kind(ident) != room:
        raise NotFound()
    return kind, ident


def kind_of(room: str) -> RoomKind | None:
    """The kind of a room this server named (a socket's rooms include its sid, which is no kind)."""
    return KINDS.get(room.partition(":")[0])


async def check_access(session: AsyncSession, user: User, room: str) -> tuple[RoomKind, CommunityStanding]:
    """May `user` follow `room`? The same rules as the page that shows its content: returns its kind and the
    user's standing there, or raises (NotFound for rooms no client may join)."""
    kind, ident = parse(room)
    if kind.access is None:
        raise NotFound()
    return kind, await kind.access(session, user, ident)
