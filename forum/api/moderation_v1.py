"""JSON API for a secretary's tools on threads and replies, and the moderation log: the same actions and access
checks as the pages."""

from __future__ import annotations

from pydantic import BaseModel, Field
from quart_schema import tag, validate_request, validate_response

from forum.access import access_community_to_moderate, access_post, access_thread
from forum.actions import moderation
from forum.api.v1 import blueprint
from forum.queries.audit import audit_log
from forum.web.context import commit, db_session, require_user


class ReasonIn(BaseModel):
    reason: str = Field(max_length=5000)


class LockIn(BaseModel):
    locked: bool
    reason: str = Field(default="", max_length=5000)  # required to lock; shown in the thread


class PostStateOut(BaseModel):
    post_id: int
    hidden: bool
    hidden_reason: str


class ThreadStateOut(BaseModel):
    thread_id: int
    locked: bool
    lock_reason: str


class LogEntryOut(BaseModel):
    id: int
    at: str
    action: str  # e.g. post.hidden, thread.locked, member.verified, listing.removed
    actor: str | None  # username; None: the account is gone
    target: str | None
    detail: str


class LogOut(BaseModel):
    entries: list[LogEntryOut]  # newest first, at most 200


@blueprint.post("/posts/<id:post_id>/hide")
@tag(["moderation"])
@validate_request(ReasonIn)
@validate_response(PostStateOut)
async def hide_post(post_id: int, data: ReasonIn) -> PostStateOut:
    """Secretaries: hide a reply with a reason its author sees."""
    user = require_user()
    post, thread, _board, _community, standing = await access_post(db_session(), user, post_id)
    await moderation.hide_post(
        db_session(), actor=user, post=post, thread=thread, standing=standing, reason=data.reason
    )
    await commit()
    return PostStateOut(post_id=post_id, hidden=True, hidden_reason=post.hidden_reason)


@blueprint.post("/posts/<id:post_id>/show")
@tag(["moderation"])
@validate_response(PostStateOut)
async def show_post(post_id: int) -> PostStateOut:
    user = require_user()
    post, thread, _board, _community, standing = await access_post(db_session(), user, post_id)
    await moderation.show_post(db_session(), actor=user, post=post, thread=thread, standing=standing)
    await commit()
    return PostStateOut(post_id=post_id, hidden=False, hidden_reason="")


@blueprint.post("/threads/<id:thread_id>/lock")
@tag(["moderation"])
@validate_request(LockIn)
@validate_response(ThreadStateOut)
async def lock_thread(thread_id: int, data: LockIn) -> ThreadStateOut:
    """Secretaries: lock (with a reason) or unlock a thread."""
    user = require_user()
    thread, _board, _community, standing = await access_thread(db_session(), user, thread_id)
    await moderation.set_locked(
        db_session(), actor=user, thread=thread, standing=standing, locked=data.locked, reason=data.reason
    )
    await commit()
    return ThreadStateOut(thread_id=thread_id, locked=thread.locked_at is not None, lock_reason=thread.lock_reason)


@blueprint.get("/communities/<slug>/moderation-log")
@tag(["moderation"])
@validate_response(LogOut)
async def moderation_log(slug: str) -> LogOut:
    """Secretaries and district admins: the community's audit entries, newest first."""
    community, _standing = await access_community_to_moderate(db_session(), require_user(), slug)
    rows = await audit_log(db_session(), community)
    return LogOut(
        entries=[
            LogEntryOut(
                id=row.entry.id or 0,
                at=row.entry.at.isoformat(),
                action=row.entry.action,
                actor=row.actor.username if row.actor else None,
                target=row.target.username if row.target else None,
                detail=row.entry.detail,
            )
            for row in rows
        ]
    )
