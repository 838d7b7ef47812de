"""Boards, threads and replies."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, redirect, request, url_for
from quart_rate_limiter import rate_limit

from forum import search
from forum.access import access_board, access_community_content, access_post, access_thread
from forum.actions import likes, threads
from forum.errors import Forbidden, InvalidInput, NotFound
from forum.i18n import N_
from forum.models import Board, Community, Thread, id_of
from forum.paths import page_start, post_path
from forum.permissions import (
    CommunityStanding,
    can_edit_post,
    can_moderate,
    can_reply,
    can_see_history,
    can_start_thread,
)
from forum.queries.people import mention_candidates
from forum.queries.quotes import quote_of_number, quote_of_post
from forum.queries.threads import board_name, board_page, boards_of, likers, revisions, thread_page
from forum.validation import parse_id
from forum.web.context import commit, db_session, login_required, notify, require_user
from forum.web.ratelimits import LIKE_LIMITS, POST_LIMITS
from forum.web.templating import render_template
from forum.web.uploads import uploaded_images

blueprint = Blueprint("threads", __name__)


async def _board_page(
    community: Community, board: Board, standing: CommunityStanding, *, form: Any, errors: dict[str, str], status: int
) -> Any:
    before = request.args.get("before")
    page = await board_page(db_session(), board, cursor=before)
    return await render_template(
        "threads/board.html",
        before=before,  # an older page: no pinned threads, no live ones at its top
        community=community,
        board=board,
        board_name=board_name(board),
        page=page,
        can_start=can_start_thread(standing, board),
        form=form,
        errors=errors,
        last_event_id=page.last_event_id,
    ), status


@blueprint.get("/c/<slug>/b/<board_slug>")
@login_required
async def board(slug: str, board_slug: str) -> Any:
    community, found, standing = await access_board(db_session(), require_user(), slug, board_slug)
    return await _board_page(community, found, standing, form={}, errors={}, status=200)


@blueprint.post("/c/<slug>/b/<board_slug>/threads")
@login_required
@rate_limit(limits=POST_LIMITS)
async def start_thread(slug: str, board_slug: str) -> Any:
    community, found, standing = await access_board(db_session(), require_user(), slug, board_slug)
    form = await request.form
    try:
        images = await uploaded_images()
        thread = await threads.create_thread(
            db_session(),
            actor=require_user(),
            board=found,
            standing=standing,
            title=form.get("title"),
            body=form.get("body"),
            images=images,
        )
    except InvalidInput as error:
        return await _board_page(
            community, found, standing, form=form, errors=error.translated_fields(), status=error.status
        )
    await commit()
    return redirect(url_for("threads.show", thread_id=thread.id))


async def _thread_page(
    thread: Thread,
    board: Board,
    community: Community,
    standing: CommunityStanding,
    *,
    after: int,
    form: Any,
    errors: dict[str, str],
    status: int,
) -> Any:
    page = await thread_page(db_session(), thread, viewer=require_user(), after=after)
    moves = await boards_of(db_session(), community) if can_moderate(standing) else []
    return await render_template(
        "threads/show.html",
        boards=[row for row in moves if row.board.id != board.id],
        thread=thread,
        board=board,
        board_name=board_name(board),
        community=community,
        page=page,
        can_reply=can_reply(standing, board, thread),
        muted_until=standing.muted_until,
        muted_reason=standing.membership.mute_reason if standing.membership else "",
        can_moderate=can_moderate(standing),
        form=form,
        errors=errors,
    ), status


def _number_arg(name: str) -> int:
    raw = request.args.get(name, "0")
    return parse_id(raw) or 0


@blueprint.get("/t/<id:thread_id>")
@login_required
async def show(thread_id: int) -> Any:
    thread, found_board, community, standing = await access_thread(db_session(), require_user(), thread_id)
    form: dict[str, str] = {}
    quoted = _number_arg("quote")
    if quoted and can_reply(standing, found_board, thread):
        # "Quote" without JavaScript: the reply box starts with the quoted post.
        form["body"] = await quote_of_number(db_session(), thread=thread, number=quoted) or ""
    return await _thread_page(
        thread, found_board, community, standing, after=_number_arg("after"), form=form, errors={}, status=200
    )


@blueprint.get("/posts/<id:post_id>/quote")
@login_required
async def quote(post_id: int) -> Any:
    """For scripts, the Markdown that quotes the post ({"markdown": ...}); for a plain link, the thread's last
    page with the reply box already holding it."""
    post, thread, found_board, _community, standing = await access_post(db_session(), require_user(), post_id)
    if not can_reply(standing, found_board, thread):
        raise Forbidden()
    if request.accept_mimetypes.best == "application/json":
        text = await quote_of_post(db_session(), post, thread)
        if text is None:
            raise NotFound()
        return {"post_id": post.id, "markdown": text}
    last = page_start(thread.post_count)
    return redirect(
        url_for("threads.show", thread_id=thread.id, after=last or None, quote=post.number, _anchor="reply-heading")
    )


@blueprint.get("/t/<id:thread_id>/p/<id:number>")
@login_required
async def permalink(thread_id: int, number: int) -> Any:
    """A reply's permanent link lands on the page that shows it."""
    await access_thread(db_session(), require_user(), thread_id)
    return redirect(
        url_for("threads.show", thread_id=thread_id, after=page_start(number) or None, _anchor=f"post-{number}")
    )


@blueprint.post("/t/<id:thread_id>/replies")
@login_required
@rate_limit(limits=POST_LIMITS)
async def reply(thread_id: int) -> Any:
    user = require_user()
    thread, found_board, community, standing = await access_thread(db_session(), user, thread_id)
    form = await request.form
    try:
        images = await uploaded_images()
        post = await threads.reply(
            db_session(),
            actor=user,
            thread=thread,
            board=found_board,
            standing=standing,
            body=form.get("body"),
            images=images,
        )
    except InvalidInput as error:
        last_page = page_start(thread.post_count)
        return await _thread_page(
            thread,
            found_board,
            community,
            standing,
            after=last_page,
            form=form,
            errors=error.translated_fields(),
            status=error.status,
        )
    await commit()
    await notify(N_("Your reply has been posted."))
    return redirect(post_path(thread_id, post.number))


@blueprint.post("/posts/<id:post_id>/like")
@login_required
@rate_limit(limits=LIKE_LIMITS)
async def like(post_id: int) -> Any:
    """Works as a plain form (redirects back to the post) and for scripts (answers JSON with the count)."""
    user = require_user()
    post, _thread, _board, _community, standing = await access_post(db_session(), user, post_id)
    liked = (await request.form).get("value", "1") == "1"
    count = await likes.set_like(db_session(), actor=user, post=post, standing=standing, liked=liked)
    await commit()
    if request.accept_mimetypes.best == "application/json":
        return {"post_id": post.id, "liked": liked, "like_count": count}
    return redirect(post_path(post.thread_id, post.number))


@blueprint.get("/posts/<id:post_id>/likes")
@login_required
async def who_liked(post_id: int) -> Any:
    post, thread, _board, community, _standing = await access_post(db_session(), require_user(), post_id)
    people = await likers(db_session(), post, community_id=id_of(community))
    return await render_template("threads/likes.html", post=post, thread=thread, people=people)


@blueprint.get("/posts/<id:post_id>/edit")
@login_required
async def edit(post_id: int) -> Any:
    user = require_user()
    post, thread, _board, _community, standing = await access_post(db_session(), user, post_id)
    if not can_edit_post(standing, post, id_of(user)):
        raise Forbidden()
    return await render_template("threads/edit.html", post=post, thread=thread, form={"body": post.body}, errors={})


@blueprint.post("/posts/<id:post_id>/edit")
@login_required
@rate_limit(limits=POST_LIMITS)
async def edit_submit(post_id: int) -> Any:
    user = require_user()
    post, thread, _board, _community, standing = await access_post(db_session(), user, post_id)
    form = await request.form
    try:
        await threads.edit_post(db_session(), actor=user, post=post, standing=standing, body=form.get("body"))
    except InvalidInput as error:
        return await render_template(
            "threads/edit.html", post=post, thread=thread, form=form, errors=error.translated_fields()
        ), error.status
    await commit()
    await notify(N_("Your post has been updated."))
    return redirect(post_path(post.thread_id, post.number))


@blueprint.post("/posts/<id:post_id>/delete")
@login_required
async def delete(post_id: int) -> Any:
    user = require_user()
    post, _thread, _board, _community, standing = await access_post(db_session(), user, post_id)
    if (await request.form).get("confirm") != "1":
        await notify(N_("Tick the box to confirm that you want to delete the post."), "error")
        return redirect(url_for("threads.edit", post_id=post_id))
    await threads.delete_post(db_session(), actor=user, post=post, standing=standing)
    await commit()
    await notify(N_("Your post has been deleted."))
    return redirect(post_path(post.thread_id, post.number))


@blueprint.get("/posts/<id:post_id>/history")
@login_required
async def history(post_id: int) -> Any:
    """Earlier texts of an edited post: for its author and the community's secretaries."""
    user = require_user()
    post, thread, _board, _community, standing = await access_post(db_session(), user, post_id)
    if not can_see_history(standing, post, id_of(user)):
        raise Forbidden()
    return await render_template(
        "threads/history.html", post=post, thread=thread, revisions=await revisions(db_session(), post)
    )


@blueprint.get("/c/<slug>/mentions")
@login_required
async def mention_suggestions(slug: str) -> Any:
    """Neighbours to mention, for the reply box's "@" suggestions: members only, at most eight."""
    community, _standing = await access_community_content(db_session(), require_user(), slug)
    people = await mention_candidates(db_session(), community_id=id_of(community), typed=request.args.get("q", "")[:32])
    return {"people": [person.payload() for person in people]}


@blueprint.get("/c/<slug>/search")
@login_required
async def search_page(slug: str) -> Any:
    community, _standing = await access_community_content(db_session(), require_user(), slug)
    query = request.args.get("q", "")[:200]
    hits = await search.search(db_session(), community_id=id_of(community), query=query) if query.strip() else []
    return await render_template("threads/search.html", community=community, query=query, hits=hits)
