"""Hiding: a secretary hides something with a reason its author sees (and shows it again), and neighbours' flags
hide it until a secretary reviews it. One path for every kind of thing (`forum.flaggables` describes each):
`set_hidden` here, `flag` and `review` in `forum.actions.flags`.

Hidden by flags or by the word filter, an item has no reason yet, which is how pages say "waiting for review";
a secretary's hide always has one. A secretary may hide what flags hid (it then gets the reason).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from forum.access import require_moderator
from forum.actions import audit, notifications
from forum.db import record_event
from forum.errors import field_error
from forum.events import Event
from forum.models import NotificationKind, User
from forum.permissions import CommunityStanding
from forum.timeutil import utcnow
from forum.validation import clean_reason


class Hideable(ABC):
    """One thing that can be flagged, held and hidden, as the one flag-and-hide path sees it: what its row is,
    who wrote it, what people read about it (title, link), and how it is hidden and shown again."""

    kind: ClassVar[str]  # reply, thread, letter, listing, message: the API's and the review queue's name
    noun: ClassVar[str]  # what the moderation log's actions (post.hidden) and error fields call it
    audit_verbs: ClassVar[tuple[str, str]] = ("hidden", "shown")  # the log's actions for a hide and a show
    flag_column: ClassVar[str]  # the `flag` column that names it
    table: ClassVar[Any]  # the table of `row`
    hidden_notice: ClassVar[NotificationKind]  # what its author is told when a secretary hides it
    already_hidden: ClassVar[str]  # 409 messages
    not_hidden: ClassVar[str]
    private: ClassVar[bool] = False  # a secretary who wrote it is not told who flagged it, nor shown the flags
    members_only: ClassVar[bool] = True  # notifications about it reach only the community's verified members
    reason_lines: ClassVar[bool] = False  # a secretary's reason may have several lines
    kind_label: ClassVar[str]  # what the review queue calls the kind ("Reply"; translated where shown)

    row: Any  # the stored row that is hidden

    @property
    @abstractmethod
    def community_id(self) -> int: ...

    @property
    @abstractmethod
    def author_id(self) -> int | None: ...

    @property
    @abstractmethod
    def title(self) -> str:
        """What notifications and the review queue call it."""

    @property
    @abstractmethod
    def url(self) -> str:
        """Where its author and its flaggers read it."""

    @property
    @abstractmethod
    def subject(self) -> str:
        """What notifications about it are about (`forum.subjects`)."""

    @property
    def review_url(self) -> str:
        """Where a secretary told of a flag goes."""
        return self.url

    @property
    @abstractmethod
    def review_path(self) -> str:
        """Where the review queue posts a secretary's decision on it."""

    @property
    def queue_title(self) -> str:
        """Its heading in the review queue (empty: the kind's label stands for it)."""
        return self.title

    @property
    def queue_link(self) -> str | None:
        """Where its heading in the review queue links (None: nowhere a secretary may open)."""
        return self.url

    @property
    def flagged_id(self) -> int:
        """The id in `flag_column`."""
        return int(self.row.id)

    def ids(self) -> dict[str, int]:
        """The ids that name it in the API (its flag column's, and for a post its thread's and number)."""
        return {self.flag_column: self.flagged_id}

    @property
    def label(self) -> str:
        """How the moderation log names it: "thread 4 #2", "letter 7"."""
        return f"{self.noun} {self.flagged_id}"

    @property
    def created_at(self) -> datetime:
        created: datetime = self.row.created_at
        return created

    @property
    def body_html(self) -> str:
        """Its text, as safe HTML, for the review queue."""
        body: str = self.row.body_html
        return body

    @property
    def live(self) -> bool:
        """Still there to hide or show (not deleted by its author)."""
        return True

    @property
    @abstractmethod
    def hidden(self) -> bool: ...

    @property
    @abstractmethod
    def reason(self) -> str:
        """A secretary's reason; empty while flags or the word filter hide it (or when shown)."""

    @property
    def hidden_by_a_secretary(self) -> bool:
        return self.hidden and bool(self.reason)

    @property
    def hidden_by_flags(self) -> bool:
        """Hidden without a reason: by flags or the word filter, waiting for review."""
        return self.hidden and not self.reason

    @abstractmethod
    def check_flag(self, actor: User, standing: CommunityStanding) -> None:
        """Raise unless `actor` may flag it (a member; not their own; still there)."""

    def check_review(self, actor: User) -> None:  # noqa: B027 -- a hook: most kinds refuse nobody
        """Raise if `actor`, a secretary, may not decide on its flags."""

    def check_hide(self, hidden: bool) -> None:  # noqa: B027 -- a hook: most kinds can always be hidden
        """Raise if a secretary may not hide (or show) it in its present state."""

    @abstractmethod
    async def hide(self, session: AsyncSession, *, reason: str, actor: User | None) -> bool:
        """Hide it with a secretary's `reason` (or with none: by flags, and only if shown); False if it already
        was (by a secretary; or at all, for flags). Open pages are told."""

    @abstractmethod
    async def show(self, session: AsyncSession, *, actor: User | None) -> bool:
        """Show it again; False if it was not hidden. Open pages are told."""

    async def kept(self, session: AsyncSession, *, held_by_filter: bool) -> None:  # noqa: B027 -- a hook
        """A secretary kept it after review, and it was shown again (`held_by_filter`: the word filter held it)."""

    async def lock(self, session: AsyncSession) -> None:
        """On PostgreSQL, flags of one item take turns (its row is locked first): each then counts the ones
        committed before it, so the flag that makes the threshold always sees the others. (SQLite's write lock
        does the same.)"""
        if session.get_bind().dialect.name == "postgresql":
            await session.execute(select(col(self.table.id)).where(col(self.table.id) == self.row.id).with_for_update())


class HiddenAtRow(Hideable):
    """A kind whose row has `hidden_at` and `hidden_reason`: hiding and showing set them, and open pages are
    told with `hidden_event`."""

    @property
    def hidden(self) -> bool:
        return self.row.hidden_at is not None

    @property
    def reason(self) -> str:
        reason: str = self.row.hidden_reason
        return reason

    @abstractmethod
    def hidden_event(self, hidden: bool) -> Event:
        """What the open pages showing it are told."""

    async def after_change(self, session: AsyncSession, hidden: bool) -> None:
        """Anything else that goes with hiding or showing it (its readers leaving a room)."""

    async def hide(self, session: AsyncSession, *, reason: str, actor: User | None) -> bool:
        now = utcnow()
        applies = _not_hidden_by_a_secretary(self) if reason else col(self.table.hidden_at).is_(None)
        changed = (
            await session.execute(
                update(self.table)
                .where(col(self.table.id) == self.row.id, applies)
                .values(hidden_at=now, hidden_reason=reason)
                .returning(col(self.table.id))
            )
        ).first()
        if changed is None:
            return False
        self.row.hidden_at, self.row.hidden_reason = now, reason
        record_event(session, self.hidden_event(True))
        await self.after_change(session, True)
        return True

    async def show(self, session: AsyncSession, *, actor: User | None) -> bool:
        changed = (
            await session.execute(
                update(self.table)
                .where(col(self.table.id) == self.row.id, col(self.table.hidden_at).is_not(None))
                .values(hidden_at=None, hidden_reason="")
                .returning(col(self.table.id))
            )
        ).first()
        if changed is None:
            return False
        self.row.hidden_at, self.row.hidden_reason = None, ""
        record_event(session, self.hidden_event(False))
        await self.after_change(session, False)
        return True


def _not_hidden_by_a_secretary(item: HiddenAtRow) -> ColumnElement[bool]:
    """Shown, or hidden only by flags or the word filter, waiting for review (no reason yet): a secretary's hide
    applies to it, and gives it the reason its author sees."""
    return or_(col(item.table.hidden_at).is_(None), col(item.table.hidden_reason) == "")


async def set_hidden(
    session: AsyncSession,
    *,
    actor: User,
    item: Hideable,
    standing: CommunityStanding,
    hidden: bool,
    reason: object = "",
) -> None:
    """A secretary hides `item` with a reason its author sees (open pages drop it; its author and the
    secretaries still see it, and why), or shows it again. Something flags hid gets the reason. Its author is
    told of a hide; audited either way."""
    require_moderator(standing)
    item.check_hide(hidden)
    text = clean_reason(reason, multiline=item.reason_lines) if hidden else ""
    changed = await item.hide(session, reason=text, actor=actor) if hidden else await item.show(session, actor=actor)
    if not changed:
        raise field_error(item.noun, item.already_hidden if hidden else item.not_hidden, status=409)
    if hidden and item.author_id is not None:
        await notifications.notify(
            session,
            recipients=[item.author_id],
            kind=item.hidden_notice,
            community_id=item.community_id,
            subject=item.subject,
            actor_id=actor.id,
            title=item.title,
            url=item.url,
            members_only=item.members_only,
        )
    await audit.record(
        session,
        actor=actor,
        action=f"{item.noun}.{item.audit_verbs[0] if hidden else item.audit_verbs[1]}",
        community_id=item.community_id,
        target_user_id=item.author_id,
        detail=f"{item.label}: {text}" if hidden else item.label,
    )


async def hide_for_review(session: AsyncSession, *, item: Hideable, flags: int) -> None:
    """Enough neighbours flagged it: hide it until a secretary reviews it, with no reason, which is how pages
    say "waiting for review". Once; audited as done by Linli itself."""
    if await item.hide(session, reason="", actor=None):
        await audit.record(
            session,
            actor=None,
            action=f"{item.noun}.auto_hidden",
            community_id=item.community_id,
            target_user_id=item.author_id,
            detail=f"{item.label}: flagged by {flags} members",
        )
