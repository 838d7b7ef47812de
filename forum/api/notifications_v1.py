"""JSON API for notifications: the list, marking read, and which kinds are turned off."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field
from quart_schema import tag, validate_querystring, validate_request, validate_response

from forum.actions import notifications
from forum.api.schemas import PersonOut
from forum.api.v1 import blueprint
from forum.models import NotificationKind, id_of
from forum.queries.notifications import muted_kinds, notifications_page, unread_notification_totals
from forum.validation import MAX_ID
from forum.web.context import commit, db_session, require_user


class NotificationOut(BaseModel):
    id: int
    kind: NotificationKind
    community_id: int
    actor: PersonOut | None  # the latest one, as shown in that community; None: nobody, or the account is gone
    count: int  # how many gathered in it (likes on one post, messages in one conversation); else 1
    title: str  # what it is about, as it was then: a thread's title, a letter's, a group's, a community's name
    url: str
    read: bool
    created_at: str
    updated_at: str  # when the latest one gathered in it arrived


class NotificationListOut(BaseModel):
    notifications: list[NotificationOut]  # newest first
    unread: int  # the bell's count, in every community
    earlier: int | None  # pass as `before` for older ones


class NotificationQuery(BaseModel):
    before: int | None = Field(default=None, ge=1, le=MAX_ID)


READ_AT_ONCE = 200  # ids in one request: more than a page of notifications shows, fewer than a long IN (...)


class ReadIn(BaseModel):
    ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] | None = Field(default=None, max_length=READ_AT_ONCE)  # None: all


class UnreadOut(BaseModel):
    unread: int


class PreferencesInOut(BaseModel):
    muted: list[NotificationKind]  # the kinds turned off; every other kind is on


@blueprint.get("/notifications")
@tag(["notifications"])
@validate_querystring(NotificationQuery)
@validate_response(NotificationListOut)
async def list_notifications(query_args: NotificationQuery) -> NotificationListOut:
    """Your notifications, newest first, fifty at a time."""
    page = await notifications_page(db_session(), require_user(), before=query_args.before)
    return NotificationListOut(
        notifications=[
            NotificationOut(
                id=id_of(row.notification),
                kind=NotificationKind(row.notification.kind),
                community_id=row.notification.community_id,
                actor=PersonOut(**row.actor.payload()) if row.actor else None,
                count=row.notification.count,
                title=row.notification.title,
                url=row.notification.url,
                read=row.notification.read_at is not None,
                created_at=row.notification.created_at.isoformat(),
                updated_at=row.notification.updated_at.isoformat(),
            )
            for row in page.rows
        ],
        unread=page.unread,
        earlier=page.earlier,
    )


@blueprint.post("/notifications/read")
@tag(["notifications"])
@validate_request(ReadIn)
@validate_response(UnreadOut)
async def read_notifications(data: ReadIn) -> UnreadOut:
    """Mark the notifications with these `ids` read, or all of them without `ids`. Ids that are not yours are
    passed over. Answers the bell's new count."""
    user = require_user()
    await notifications.mark_read(db_session(), user=user, notification_ids=data.ids)
    await commit()
    return UnreadOut(unread=(await unread_notification_totals(db_session(), [id_of(user)]))[id_of(user)])


@blueprint.get("/notifications/preferences")
@tag(["notifications"])
@validate_response(PreferencesInOut)
async def notification_preferences() -> PreferencesInOut:
    return PreferencesInOut(muted=sorted(await muted_kinds(db_session(), require_user())))


@blueprint.put("/notifications/preferences")
@tag(["notifications"])
@validate_request(PreferencesInOut)
@validate_response(PreferencesInOut)
async def set_notification_preferences(data: PreferencesInOut) -> PreferencesInOut:
    """Turn off exactly the kinds in `muted`."""
    muted = await notifications.set_muted(db_session(), user=require_user(), kinds=data.muted)
    await commit()
    return PreferencesInOut(muted=sorted(muted))
