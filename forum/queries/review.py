"""The review queue: a community's items with open flags (every kind in `forum.flaggables`), most-flagged or
newest first, with each flag's reason and who raised it. A constant number of statements whatever the number
of flags: one for the queue's order, one per kind present, one for the flags, one for a message's pictures."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from forum.actions.hiding import Hideable
from forum.flaggables import LOADERS, MessageItem
from forum.models import FLAGGED_ITEMS, Community, Flag, Membership, MessageImage, User, id_of
from forum.queries.messages import pictures_of
from forum.queries.people import Person

QUEUE_LIMIT = 100


@dataclass(frozen=True, slots=True)
class FlagView:
    flag: Flag
    reporter: Person | None  # None: the word filter held the reply


@dataclass(frozen=True, slots=True)
class Flagged:
    """One flagged item (a private message: that one message, never its conversation), with its flags."""

    item: Hideable
    author: Person | None
    flags: list[FlagView]
    latest: datetime
    pictures: list[MessageImage] = field(default_factory=list)  # a flagged message's, shown with its text

    @property
    def count(self) -> int:
        return len(self.flags)

    @property
    def hidden(self) -> bool:
        return self.item.hidden


def _key(flag_or_row: object) -> tuple[str, int] | None:
    """The item a flag (or a grouped row) names: its column and id."""
    for column in FLAGGED_ITEMS:
        value = getattr(flag_or_row, column)
        if value is not None:
            return column, int(value)
    return None


async def review_queue(
    session: AsyncSession, community: Community, *, viewer: User, newest_first: bool = False
) -> list[Flagged]:
    """Items with open flags: the most-flagged first (then the newest), or the newest first. Flags on the
    viewer's own private messages are left to the other secretaries: who reported someone privately is not
    shown to that someone."""
    columns = [getattr(Flag, column) for column in FLAGGED_ITEMS]
    count, latest = func.count().label("count"), func.max(col(Flag.created_at)).label("latest")
    grouped = (
        select(*columns, count, latest)
        .where(col(Flag.community_id) == community.id, col(Flag.resolved_at).is_(None))
        .group_by(*columns)
        .order_by(*((latest.desc(),) if newest_first else (count.desc(), latest.desc())))
        .limit(QUEUE_LIMIT)
    )
    order = [(key, row.latest) for row in (await session.execute(grouped)).all() if (key := _key(row)) is not None]
    if not order:
        return []
    wanted: dict[str, list[int]] = {}
    for (column, ident), _when in order:
        wanted.setdefault(column, []).append(ident)
    loaded = {
        (column, ident): found
        for column, ids in wanted.items()
        for ident, found in (await LOADERS[column](session, ids, community=community, viewer=viewer)).items()
    }
    message_ids = [item.flagged_id for item, _author in loaded.values() if isinstance(item, MessageItem)]
    pictures = await pictures_of(session, message_ids) if message_ids else {}
    flags: dict[tuple[str, int], list[FlagView]] = {}
    for flag, user, membership in (
        await session.execute(
            select(Flag, User, Membership)
            .outerjoin(User, col(User.id) == col(Flag.reporter_id))
            .outerjoin(
                Membership, and_(col(Membership.user_id) == col(User.id), col(Membership.community_id) == community.id)
            )
            .where(
                col(Flag.community_id) == community.id,
                col(Flag.resolved_at).is_(None),
                or_(*(getattr(Flag, column).in_(ids) for column, ids in wanted.items())),
            )
            .order_by(col(Flag.id))
        )
    ).all():
        key = _key(flag)
        if key is not None:
            flags.setdefault(key, []).append(FlagView(flag, Person.of(user, membership) if user else None))
    queue: list[Flagged] = []
    for key, when in order:
        if key not in loaded:  # a message of the viewer's own
            continue
        item, author = loaded[key]
        extra = pictures.get(id_of(item.row), []) if isinstance(item, MessageItem) else []
        queue.append(Flagged(item, author, flags.get(key, []), when, extra))
    return queue
