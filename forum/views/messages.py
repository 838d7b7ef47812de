"""Private messages as pages, usable without JavaScript: a community's conversations, one conversation, sending.
Every conversation is fetched through `forum.access.access_conversation`: participants only."""

from __future__ import annotations

import secrets
from typing import Any

from quart import Blueprint, redirect, request, url_for
from quart_rate_limiter import rate_limit

from forum import rooms
from forum.access import (
    access_community,
    access_community_to_moderate,
    access_conversation,
    access_conversation_message,
    members_only,
)
from forum.actions import accounts, conversations, flags, messages
from forum.errors import InvalidInput, NotFound, field_error
from forum.flaggables import MessageItem
from forum.i18n import N_, gettext
from forum.models import Community, id_of
from forum.queries.communities import community_overview
from forum.queries.messages import (
    conversations_of,
    inboxes_of,
    members_named,
    messages_page,
    participants,
    read_marks,
    read_receipt_at,
    saved_answers_of,
)
from forum.queries.people import Person
from forum.queries.threads import latest_event_id
from forum.timeutil import utcnow
from forum.validation import parse_id
from forum.web.context import commit, db_session, login_required, notify, people_reading, require_user, wants_json
from forum.web.ratelimits import FLAG_LIMITS, MESSAGE_LIMITS
from forum.web.templating import render_template
from forum.web.uploads import TOO_MANY_FOR_MESSAGE, uploaded_images

blueprint = Blueprint("messages", __name__)


@blueprint.get("/c/<slug>/messages")
@login_required
async def index(slug: str) -> Any:
    return await _index_page(slug, form={}, errors={}, status=200)


async def _index_page(slug: str, *, form: Any, errors: dict[str, str], status: int) -> Any:
    user = require_user()
    community, standing = await access_community(db_session(), user, slug)
    assert community.id is not None  # noqa: S101 -- a loaded row
    rows = await conversations_of(db_session(), user, community_id=community.id, unanswered_first=standing.is_secretary)
    if not standing.is_verified_member and not rows:  # a former member still reads their conversations
        raise members_only(standing)
    secretaries: list[Person] = []
    if standing.is_verified_member:
        overview = await community_overview(db_session(), community)
        secretaries = [person for person in overview.secretaries if person.id != user.id]
    return await render_template(
        "messages/index.html",
        community=community,
        rows=rows,
        secretaries=secretaries,
        is_secretary=standing.is_secretary,
        can_start=standing.is_verified_member,
        now=utcnow(),
        form=form,
        errors=errors,
    ), status


@blueprint.post("/c/<slug>/messages/groups")
@login_required
@rate_limit(limits=MESSAGE_LIMITS)
async def start_group(slug: str) -> Any:
    """A group conversation with members named in `usernames` (separated by spaces or commas)."""
    user = require_user()
    community, standing = await access_community(db_session(), user, slug)
    form = await request.form
    try:
        conversations.require_can_message(standing)
        others = await members_named(db_session(), community, form.get("usernames"))
        conversation = await conversations.start_group(
            db_session(), actor=user, community=community, standing=standing, others=others, title=form.get("title")
        )
    except InvalidInput as error:
        return await _index_page(slug, form=form, errors=error.translated_fields(), status=error.status)
    await commit()
    return redirect(url_for("messages.show", conversation_id=conversation.id))


@blueprint.get("/messages")
@login_required
async def mine() -> Any:
    """The header's "Messages": straight to the one community's conversations, or a choice of communities."""
    inboxes = await inboxes_of(db_session(), require_user())
    if len(inboxes) == 1:
        return redirect(url_for("messages.index", slug=inboxes[0].community.slug))
    return await render_template("messages/communities.html", inboxes=inboxes)


@blueprint.post("/c/<slug>/messages/with/<username>")
@login_required
@rate_limit(limits=MESSAGE_LIMITS)
async def start(slug: str, username: str) -> Any:
    """Open the conversation with a member of this community, starting it if there is none yet."""
    user = require_user()
    community, standing = await access_community(db_session(), user, slug)
    other = await accounts.find_user_by_username(db_session(), username)
    if other is None:
        raise NotFound()
    conversation, _new = await conversations.start_direct(
        db_session(), actor=user, community=community, standing=standing, other=other
    )
    await commit()
    return redirect(url_for("messages.show", conversation_id=conversation.id))


def _before_arg() -> int | None:
    raw = request.args.get("before", "")
    return parse_id(raw) or None


async def _conversation_page(conversation_id: int, *, form: Any, errors: dict[str, str], status: int) -> Any:
    user = require_user()
    conversation, member, _standing = await access_conversation(db_session(), user, conversation_id)
    before = _before_arg()
    # Read before the messages: a message committed in between is then replayed to the page, never lost.
    last_event_id = await latest_event_id(db_session())
    page = await messages_page(db_session(), conversation, before=before)
    community = await db_session().get(Community, conversation.community_id)
    assert community is not None and conversation.id is not None  # noqa: S101 -- a conversation's community
    people = {
        person.id: person
        for person in (await participants(db_session(), [conversation.id], community_id=id_of(community))).get(
            conversation.id, []
        )
    }
    marks = await read_marks(db_session(), conversation, viewer=user)
    read_here = read_receipt_at(page.messages, marks, viewer_id=id_of(user))
    others = [person for person_id, person in people.items() if person_id != user.id]
    # Opening the page marks nothing read (a GET never writes): the page says so itself, with this id, through
    # static/js/live-messages.js while it is visible, or the "Mark as read" button without JavaScript.
    newest = page.messages[-1].id if page.messages and before is None else None
    return await render_template(
        "messages/show.html",
        before=before,
        unread_up_to=newest if newest is not None and newest > member.last_read_message_id else None,
        last_event_id=last_event_id,
        marks={str(user_id): mark for user_id, mark in marks.items()},
        conversation=conversation,
        community=community,
        others=others,
        people=people,
        page=page,
        read_here=read_here,
        form={
            "client_id": (None if "client_id" in errors else form.get("client_id")) or secrets.token_urlsafe(16),
            "body": form.get("body", ""),
        },
        # Each saved answer is its own small form with an id of its own: a double tap sends it once.
        answers=[(answer, secrets.token_urlsafe(16)) for answer in await saved_answers_of(db_session(), user)],
        errors=errors,
    ), status


@blueprint.get("/messages/<id:conversation_id>")
@login_required
async def show(conversation_id: int) -> Any:
    return await _conversation_page(conversation_id, form={}, errors={}, status=200)


@blueprint.post("/messages/<id:conversation_id>/read")
@login_required
async def read(conversation_id: int) -> Any:
    """The reader saw messages up to `up_to`: said by static/js/live-messages.js while the page is visible (on
    opening it and as messages arrive), or by the page's "Mark as read" button without JavaScript."""
    user = require_user()
    conversation, member, _standing = await access_conversation(db_session(), user, conversation_id)
    up_to = parse_id((await request.form).get("up_to", ""))
    if up_to is None:
        raise field_error("up_to", N_("Give the id of the last message read."))
    mark = await messages.mark_read(db_session(), conversation=conversation, member=member, up_to=up_to)
    await commit()
    if wants_json():
        return {"last_read_message_id": mark}
    return redirect(url_for("messages.show", conversation_id=conversation_id, _anchor=f"m-{mark}"))


@blueprint.post("/messages/<id:conversation_id>")
@login_required
@rate_limit(limits=MESSAGE_LIMITS)
async def send(conversation_id: int) -> Any:
    user = require_user()
    conversation, member, standing = await access_conversation(db_session(), user, conversation_id)
    form = await request.form
    try:
        sent = await messages.send_message(
            db_session(),
            actor=user,
            conversation=conversation,
            member=member,
            standing=standing,
            body=form.get("body"),
            client_id=form.get("client_id"),
            images=await uploaded_images(too_many=TOO_MANY_FOR_MESSAGE),
            reading=await people_reading(rooms.CONVERSATION(conversation_id)),
        )
    except InvalidInput as error:
        if wants_json():  # static/js/messages.js: the reason, to show beside the message that was not sent
            raise
        return await _conversation_page(
            conversation_id, form=form, errors=error.translated_fields(), status=error.status
        )
    await commit()
    return redirect(url_for("messages.show", conversation_id=conversation_id, _anchor=f"m-{sent.message.id}"))


async def _flag_form(conversation_id: int, message_id: int | None, *, form: Any, errors: dict[str, str]) -> Any:
    return await render_template(
        "moderation/flag.html",
        title=gettext(N_("A private message")),
        back=url_for("messages.show", conversation_id=conversation_id, _anchor=f"m-{message_id}"),
        action=url_for("messages.flag", conversation_id=conversation_id),
        hidden={"message_id": message_id or ""},
        reasons=flags.REASONS,
        form=form,
        errors=errors,
    )


@blueprint.get("/messages/<id:conversation_id>/flag")
@login_required
async def flag_form(conversation_id: int) -> Any:
    """Choose why one message of the conversation should go to the community's secretaries."""
    await access_conversation(db_session(), require_user(), conversation_id)
    message_id = parse_id(request.args.get("message_id", ""))
    if message_id is None:
        raise NotFound()
    return await _flag_form(conversation_id, message_id, form={}, errors={})


@blueprint.post("/messages/<id:conversation_id>/flag")
@login_required
@rate_limit(limits=FLAG_LIMITS)
async def flag(conversation_id: int) -> Any:
    """Send one message of the conversation (never the conversation) to the community's secretaries."""
    user = require_user()
    await access_conversation(db_session(), user, conversation_id)
    form = await request.form
    message_id = parse_id(form.get("message_id", ""))
    if message_id is None:
        raise field_error("message_id", N_("Choose a message to report."))
    message, community, standing = await access_conversation_message(db_session(), user, conversation_id, message_id)
    try:
        added = await flags.flag(
            db_session(),
            actor=user,
            item=MessageItem(message, community),
            standing=standing,
            reason=form.get("reason"),
            note=form.get("note", ""),
        )
    except InvalidInput as error:  # refused before anything was written
        return await _flag_form(conversation_id, message_id, form=form, errors=error.translated_fields()), error.status
    await commit()
    if added:
        await notify(N_("The message was sent to your community's secretaries. They see that message only."))
    else:
        await notify(N_("You have flagged this already; the secretaries will review it."))
    return redirect(url_for("messages.show", conversation_id=conversation_id, _anchor=f"m-{message_id}"))


@blueprint.get("/c/<slug>/message-reports")
@login_required
async def reports(slug: str) -> Any:
    """Where reported messages used to wait: they are flags in the review queue now."""
    community, _standing = await access_community_to_moderate(db_session(), require_user(), slug)
    return redirect(url_for("moderation.queue", slug=community.slug))
