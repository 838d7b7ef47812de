"""Notifications: what happened to a person, recorded in the transaction of the change that caused it.

The bell shows the count of unread notifications; every change to it sends the person's full count to their
personal room (`notifications.changed`), so a lost event heals with the next. Kinds that come in bursts
(likes on a post, messages in a conversation) gather in one unread row per subject: "A and 4 others liked …".
A person can turn any kind off (`NotificationMute`); nobody is notified of their own doing.

On PostgreSQL the recipients' user rows are locked (in id order) before their rows are read or written, so
two transactions notifying the same person run one after the other: no gathered row is made twice, and the
last count sent is the right one.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime

from sqlalchemy import delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from forum import subjects
from forum.db import record_event
from forum.errors import field_error
from forum.events import NotificationsChanged
from forum.i18n import N_
from forum.markup import mentioned_usernames
from forum.models import (
    Letter,
    Membership,
    MembershipStatus,
    Notification,
    NotificationKind,
    NotificationMute,
    Post,
    Thread,
    User,
    id_of,
)
from forum.paths import letter_path, post_path
from forum.queries.notifications import unread_notification_totals
from forum.queries.people import member_ids_by_username
from forum.timeutil import utcnow

GATHERED = frozenset(
    {
        NotificationKind.LIKE,
        NotificationKind.MESSAGE,
        NotificationKind.RESERVATION,
        NotificationKind.OFFER,
        NotificationKind.FLAG,
        NotificationKind.REPORT_COMMENT,
    }
)
# A quote starts with the line forum.markup.quote_markdown writes: "> @username [label](url):".
_QUOTE_HEADER = re.compile(r"^> @([A-Za-z0-9][A-Za-z0-9_.-]{2,31}) \[", re.MULTILINE)
TITLE_MAX = 200


async def lock_people(session: AsyncSession, user_ids: Iterable[int]) -> None:
    """On PostgreSQL, lock these users' rows in id order until the transaction ends: counters sent to them are
    then taken one transaction after another. NO KEY UPDATE: it does not wait for the KEY SHARE locks that
    inserting a row referring to a user takes."""
    ids = sorted(set(user_ids))
    if ids and session.get_bind().dialect.name == "postgresql":
        await session.execute(
            select(col(User.id)).where(col(User.id).in_(ids)).order_by(col(User.id)).with_for_update(key_share=True)
        )


async def _record_counts(session: AsyncSession, user_ids: Collection[int]) -> None:
    for user_id, count in (await unread_notification_totals(session, user_ids)).items():
        record_event(session, NotificationsChanged(unread=count).to_user(user_id))


async def notify(
    session: AsyncSession,
    *,
    recipients: Iterable[int],
    kind: NotificationKind,
    community_id: int,
    subject: str,
    actor_id: int | None,
    title: str,
    url: str,
    members_only: bool = True,
    people_locked: bool = False,
) -> list[int]:
    """Notify `recipients` (not the actor, not those who turned `kind` off, and with `members_only` only the
    community's verified members: someone who left is not told about what they can no longer read); returns
    who was notified. `people_locked`: the caller has already locked all the recipients (lock_people)."""
    targets = sorted({user_id for user_id in recipients if user_id != actor_id})
    if not targets:
        return []
    person = col(Membership.user_id) if members_only else col(User.id)
    allowed = select(person).where(
        person.in_(targets),
        ~exists().where(col(NotificationMute.user_id) == person, col(NotificationMute.kind) == kind),
    )
    if members_only:
        allowed = allowed.where(
            col(Membership.community_id) == community_id, col(Membership.status) == MembershipStatus.VERIFIED
        )
    targets = sorted(user_id for user_id in (await session.execute(allowed)).scalars() if user_id is not None)
    if not targets:
        return []
    if not people_locked:
        await lock_people(session, targets)
    now = utcnow()
    gathered: dict[int, Notification] = {}
    if kind in GATHERED:
        rows = await session.execute(
            select(Notification).where(
                col(Notification.user_id).in_(targets),
                col(Notification.subject) == subject,
                col(Notification.kind) == kind,
                col(Notification.read_at).is_(None),
            )
        )
        gathered = {row.user_id: row for row in rows.scalars()}
    title = title[:TITLE_MAX]
    for user_id in targets:
        row = gathered.get(user_id)
        if row is None:
            session.add(
                Notification(
                    user_id=user_id,
                    community_id=community_id,
                    kind=kind,
                    subject=subject,
                    actor_id=actor_id,
                    title=title,
                    url=url,
                    created_at=now,
                    updated_at=now,
                )
            )
        else:
            row.actor_id, row.count, row.title, row.url, row.updated_at = actor_id, row.count + 1, title, url, now
    await session.flush()
    await _record_counts(session, targets)
    return targets


async def prune_read(session: AsyncSession, *, before: datetime) -> int:
    """Delete the notifications read before `before` (the page keeps a season of history); unread ones stay
    until they are read. Returns how many went."""
    result = await session.execute(delete(Notification).where(col(Notification.read_at) < before))
    return int(getattr(result, "rowcount", 0) or 0)


def _mentioned_outside_quotes(body: str) -> list[str]:
    unquoted = "\n".join(line for line in body.split("\n") if not line.lstrip().startswith(">"))
    return mentioned_usernames(unquoted)


async def notify_letter(session: AsyncSession, *, actor: User, letter: Letter, recipients: Sequence[int]) -> None:
    """A new thank-you letter: its recipients, then the verified members it mentions (outside quotes) who are not
    among them ("@li_na helped too"); each person once."""
    assert letter.id is not None  # noqa: S101 -- flushed
    names = await member_ids_by_username(
        session, community_id=letter.community_id, usernames=_mentioned_outside_quotes(letter.body)
    )
    mentioned = [user_id for user_id in names.values() if user_id not in recipients]
    await lock_people(session, [*recipients, *mentioned])  # all at once, in id order (see notify_post)
    for people, kind in ((recipients, NotificationKind.LETTER), (mentioned, NotificationKind.MENTION)):
        await notify(
            session,
            recipients=people,
            kind=kind,
            community_id=letter.community_id,
            subject=subjects.letter(letter.id),
            actor_id=actor.id,
            title=letter.title,
            url=letter_path(letter.id),
            people_locked=True,
        )


async def notify_post(session: AsyncSession, *, actor: User, thread: Thread, post: Post) -> None:
    """A new post: the people it quotes, then those it mentions (outside quotes), then the thread's author for a
    reply; each person once, for the most particular reason. Only verified members of the community."""
    assert post.id is not None  # noqa: S101 -- flushed
    body = post.body
    quoted = [name.lower() for name in _QUOTE_HEADER.findall(body)]
    mentioned = _mentioned_outside_quotes(body)
    ids = await member_ids_by_username(session, community_id=thread.community_id, usernames=[*quoted, *mentioned])
    reasons: dict[int, NotificationKind] = {}
    for names, kind in ((quoted, NotificationKind.QUOTE), (mentioned, NotificationKind.MENTION)):
        for name in names:
            if name in ids:
                reasons.setdefault(ids[name], kind)
    if post.number > 1 and thread.author_id is not None:
        reasons.setdefault(thread.author_id, NotificationKind.REPLY)
    # Everyone this post tells, locked at once in id order: locking each kind's people in turn could take two
    # people in opposite orders in two concurrent replies, and deadlock on PostgreSQL.
    await lock_people(session, reasons)
    for kind in (NotificationKind.QUOTE, NotificationKind.MENTION, NotificationKind.REPLY):
        await notify(
            session,
            recipients=[user_id for user_id, reason in reasons.items() if reason == kind],
            kind=kind,
            community_id=thread.community_id,
            subject=subjects.post(post.id),
            actor_id=actor.id,
            title=thread.title,
            url=post_path(id_of(thread), post.number),
        )


async def withdraw(session: AsyncSession, *, user_id: int, kind: NotificationKind, subject: str) -> None:
    """Take one back from an unread gathered notification (someone unliked what they had just liked): its count
    goes down, and at nought it is gone. Liking and unliking over and over therefore counts one person once."""
    await lock_people(session, [user_id])
    unread = (
        col(Notification.user_id) == user_id,
        col(Notification.kind) == kind,
        col(Notification.subject) == subject,
        col(Notification.read_at).is_(None),
    )
    await session.execute(update(Notification).where(*unread).values(count=col(Notification.count) - 1))
    gone = (
        await session.execute(
            delete(Notification).where(*unread, col(Notification.count) <= 0).returning(col(Notification.id))
        )
    ).all()
    if gone:
        await _record_counts(session, [user_id])


async def forget_subject(session: AsyncSession, *, subject: str) -> None:
    """What the notifications were about is gone (a deleted post): they go too, and the bell counts of those
    who had not read them are sent again."""
    about = select(col(Notification.user_id)).where(col(Notification.subject) == subject)
    unread = sorted(set((await session.execute(about.where(col(Notification.read_at).is_(None)))).scalars()))
    await lock_people(session, unread)
    await session.execute(delete(Notification).where(col(Notification.subject) == subject))
    if unread:
        await _record_counts(session, unread)


async def mark_read(session: AsyncSession, *, user: User, notification_ids: Sequence[int] | None = None) -> int:
    """Mark some of the user's notifications read (None: all of them); returns how many changed. Ids that are
    not the user's are passed over."""
    assert user.id is not None  # noqa: S101 -- a loaded row
    statement = update(Notification).where(col(Notification.user_id) == user.id, col(Notification.read_at).is_(None))
    if notification_ids is not None:
        if not notification_ids:
            return 0
        statement = statement.where(col(Notification.id).in_(notification_ids))
    await lock_people(session, [user.id])
    changed = (await session.execute(statement.values(read_at=utcnow()).returning(col(Notification.id)))).all()
    if changed:
        await _record_counts(session, [user.id])
    return len(changed)


async def mark_subject_read(session: AsyncSession, *, user_id: int, subject: str) -> None:
    """Someone read what these notifications are about themselves (a conversation they opened)."""
    await lock_people(session, [user_id])
    changed = (
        await session.execute(
            update(Notification)
            .where(
                col(Notification.user_id) == user_id,
                col(Notification.subject) == subject,
                col(Notification.read_at).is_(None),
            )
            .values(read_at=utcnow())
            .returning(col(Notification.id))
        )
    ).all()
    if changed:
        await _record_counts(session, [user_id])


async def set_muted(session: AsyncSession, *, user: User, kinds: Iterable[object]) -> list[NotificationKind]:
    """Turn off exactly these kinds of notification (every other kind on)."""
    chosen: list[NotificationKind] = []
    for kind in kinds:
        if not isinstance(kind, str) or kind not in NotificationKind.__members__.values():
            raise field_error("muted", N_("There is no kind of notification called “%(kind)s”."), kind=str(kind)[:40])
        if NotificationKind(kind) not in chosen:
            chosen.append(NotificationKind(kind))
    await session.execute(delete(NotificationMute).where(col(NotificationMute.user_id) == user.id))
    session.add_all(NotificationMute(user_id=id_of(user), kind=kind) for kind in chosen)
    await session.flush()
    return chosen
