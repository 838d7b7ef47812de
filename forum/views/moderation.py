"""A secretary's tools as pages: hiding replies, threads, thank-you letters, problem reports and their comments
(with the reason their author sees) and showing them again, the thread panel (lock, pin, slow mode, timer, move,
delete), flags and the review queue, the word filter, and the community's moderation log."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, redirect, request, url_for
from quart_rate_limiter import rate_limit

from forum.access import (
    access_community_to_moderate,
    access_flagged_message,
    access_letter,
    access_listing,
    access_post,
    access_report,
    access_report_comment,
    access_thread,
    board_in,
    require_moderator,
)
from forum.actions import flags, hiding, thread_tools, threads, word_filters
from forum.actions.hiding import Hideable
from forum.errors import Forbidden, InvalidInput
from forum.flaggables import (
    LetterItem,
    ListingItem,
    MessageItem,
    ReplyItem,
    ReportCommentItem,
    ReportItem,
    ThreadItem,
    of_post,
)
from forum.i18n import N_
from forum.models import Community, id_of
from forum.paths import letter_path, listing_path, post_path
from forum.permissions import CommunityStanding, can_moderate
from forum.queries.audit import audit_log as read_audit_log
from forum.queries.review import review_queue
from forum.queries.threads import latest_event_id
from forum.web.context import commit, db_session, login_required, notify, refused_back, require_user
from forum.web.ratelimits import FLAG_LIMITS
from forum.web.templating import render_template

blueprint = Blueprint("moderation", __name__)


@blueprint.get("/posts/<id:post_id>/hide")
@login_required
async def hide_form(post_id: int) -> Any:
    post, thread, _board, community, standing = await access_post(db_session(), require_user(), post_id)
    if not can_moderate(standing):
        raise Forbidden(N_("Only the community's secretaries can do this."))
    return await render_template(
        "moderation/hide.html", post=post, thread=thread, community=community, form={}, errors={}
    )


@blueprint.post("/posts/<id:post_id>/hide")
@login_required
async def hide(post_id: int) -> Any:
    user = require_user()
    post, thread, _board, community, standing = await access_post(db_session(), user, post_id)
    form = await request.form
    try:
        await hiding.set_hidden(
            db_session(),
            actor=user,
            item=ReplyItem(post, thread),
            standing=standing,
            hidden=True,
            reason=form.get("reason"),
        )
    except InvalidInput as error:  # refused before anything was written
        return await render_template(
            "moderation/hide.html",
            post=post,
            thread=thread,
            community=community,
            form=form,
            errors=error.translated_fields(),
        ), error.status
    await commit()
    await notify(N_("The reply is hidden; its author sees why."))
    return redirect(post_path(id_of(thread), post.number))


@blueprint.post("/posts/<id:post_id>/show")
@login_required
async def show(post_id: int) -> Any:
    user = require_user()
    post, thread, _board, _community, standing = await access_post(db_session(), user, post_id)
    await hiding.set_hidden(db_session(), actor=user, item=ReplyItem(post, thread), standing=standing, hidden=False)
    await commit()
    await notify(N_("The reply is shown again."))
    return redirect(post_path(id_of(thread), post.number))


@blueprint.post("/t/<id:thread_id>/lock")
@login_required
async def lock(thread_id: int) -> Any:
    user = require_user()
    thread, _board, _community, standing = await access_thread(db_session(), user, thread_id)
    form = await request.form
    locked = form.get("locked", "1") == "1"
    try:
        await thread_tools.set_locked(
            db_session(), actor=user, thread=thread, standing=standing, locked=locked, reason=form.get("reason", "")
        )
    except InvalidInput as error:  # refused before anything was written
        return await refused_back(error, url_for("threads.show", thread_id=thread_id))
    await commit()
    await notify(N_("The thread is locked.") if locked else N_("The thread is unlocked."))
    return redirect(url_for("threads.show", thread_id=thread_id))


@blueprint.get("/c/<slug>/moderation-log")
@login_required
async def audit_log(slug: str) -> Any:
    """Every moderation action in the community, newest first: who, what, when, on whom, why; with
    `?scope=district`, a district admin reads every community of the district."""
    community, standing = await access_community_to_moderate(db_session(), require_user(), slug)
    whole = request.args.get("scope") == "district"
    if whole and not standing.is_district_admin:
        raise Forbidden(N_("Only a district admin can read the whole district's log."))
    return await render_template(
        "moderation/log.html",
        community=community,
        entries=await read_audit_log(db_session(), community, whole_district=whole),
        whole_district=whole,
        district_admin=standing.is_district_admin,
    )


async def _flag_page(item: Hideable, back: str, *, form: Any, errors: dict[str, str], status: int = 200) -> Any:
    page = await render_template(
        "moderation/flag.html",
        title=item.title,
        back=back,
        action=request.path,
        reasons=flags.REASONS,
        form=form,
        errors=errors,
    )
    return page, status


async def _flagged(item: Hideable, standing: CommunityStanding, back: str) -> Any:
    """A neighbour's flag, from the flag page of any kind of item."""
    form = await request.form
    try:
        added = await flags.flag(
            db_session(),
            actor=require_user(),
            item=item,
            standing=standing,
            reason=form.get("reason"),
            note=form.get("note", ""),
        )
    except InvalidInput as error:  # refused before anything was written
        return await _flag_page(item, back, form=form, errors=error.translated_fields(), status=error.status)
    await commit()
    if added:
        await notify(N_("Thank you. The community's secretaries will review it."))
    else:
        await notify(N_("You have flagged this already; the secretaries will review it."))
    return redirect(back)


@blueprint.get("/posts/<id:post_id>/flag")
@login_required
async def flag_form(post_id: int) -> Any:
    post, thread, _board, _community, _standing = await access_post(db_session(), require_user(), post_id)
    return await _flag_page(of_post(post, thread), post_path(id_of(thread), post.number), form={}, errors={})


@blueprint.post("/posts/<id:post_id>/flag")
@login_required
@rate_limit(limits=FLAG_LIMITS)
async def flag(post_id: int) -> Any:
    post, thread, _board, _community, standing = await access_post(db_session(), require_user(), post_id)
    return await _flagged(of_post(post, thread), standing, post_path(id_of(thread), post.number))


@blueprint.get("/letters/<id:letter_id>/flag")
@login_required
async def flag_letter_form(letter_id: int) -> Any:
    letter, _community, _standing = await access_letter(db_session(), require_user(), letter_id)
    return await _flag_page(LetterItem(letter), letter_path(letter_id), form={}, errors={})


@blueprint.post("/letters/<id:letter_id>/flag")
@login_required
@rate_limit(limits=FLAG_LIMITS)
async def flag_letter(letter_id: int) -> Any:
    letter, _community, standing = await access_letter(db_session(), require_user(), letter_id)
    return await _flagged(LetterItem(letter), standing, letter_path(letter_id))


@blueprint.get("/market/<id:listing_id>/flag")
@login_required
async def flag_listing_form(listing_id: int) -> Any:
    listing, _community, _standing = await access_listing(db_session(), require_user(), listing_id)
    return await _flag_page(ListingItem(listing), listing_path(listing_id), form={}, errors={})


@blueprint.post("/market/<id:listing_id>/flag")
@login_required
@rate_limit(limits=FLAG_LIMITS)
async def flag_listing(listing_id: int) -> Any:
    listing, _community, standing = await access_listing(db_session(), require_user(), listing_id)
    return await _flagged(ListingItem(listing), standing, listing_path(listing_id))


async def _decided(item: Hideable, community: Community, standing: CommunityStanding) -> Any:
    """A secretary's decision on something flagged, from the review queue."""
    form = await request.form
    agree = form.get("decision") == "agree"
    back = url_for("moderation.queue", slug=community.slug)
    try:
        await flags.review(
            db_session(),
            actor=require_user(),
            item=item,
            standing=standing,
            agree=agree,
            reason=form.get("reason", ""),
            mute_hours=form.get("mute_hours", 0),
        )
    except InvalidInput as error:  # refused before anything was written
        return await refused_back(error, back)
    await commit()
    await notify(N_("Hidden; the flaggers and the author are told.") if agree else N_("Kept; the flaggers are told."))
    return redirect(back)


@blueprint.post("/posts/<id:post_id>/review")
@login_required
async def decide(post_id: int) -> Any:
    post, thread, _board, community, standing = await access_post(db_session(), require_user(), post_id)
    return await _decided(of_post(post, thread), community, standing)


@blueprint.post("/letters/<id:letter_id>/review")
@login_required
async def decide_letter(letter_id: int) -> Any:
    letter, community, standing = await access_letter(db_session(), require_user(), letter_id)
    return await _decided(LetterItem(letter), community, standing)


@blueprint.post("/market/<id:listing_id>/review")
@login_required
async def decide_listing(listing_id: int) -> Any:
    listing, community, standing = await access_listing(db_session(), require_user(), listing_id)
    return await _decided(ListingItem(listing), community, standing)


@blueprint.post("/message/<id:message_id>/review")
@login_required
async def decide_message(message_id: int) -> Any:
    message, community, standing = await access_flagged_message(db_session(), require_user(), message_id)
    return await _decided(MessageItem(message, community), community, standing)


@blueprint.get("/letters/<id:letter_id>/moderate")
@login_required
async def hide_letter_form(letter_id: int) -> Any:
    letter, _community, standing = await access_letter(db_session(), require_user(), letter_id)
    require_moderator(standing)
    return await render_template("moderation/hide_letter.html", letter=letter, form={}, errors={})


@blueprint.post("/letters/<id:letter_id>/moderate")
@login_required
async def hide_letter(letter_id: int) -> Any:
    """Hide a thank-you letter with a reason its writer sees (`hidden=1`), or show it again (`hidden=0`)."""
    user = require_user()
    letter, _community, standing = await access_letter(db_session(), user, letter_id)
    form = await request.form
    hidden = form.get("hidden", "1") == "1"
    try:
        await hiding.set_hidden(
            db_session(),
            actor=user,
            item=LetterItem(letter),
            standing=standing,
            hidden=hidden,
            reason=form.get("reason", ""),
        )
    except InvalidInput as error:  # refused before anything was written
        page = await render_template(
            "moderation/hide_letter.html", letter=letter, form=form, errors=error.translated_fields()
        )
        return page, error.status
    await commit()
    await notify(N_("The letter is hidden; its writer sees why.") if hidden else N_("The letter is shown again."))
    return redirect(letter_path(letter_id))


@blueprint.get("/c/<slug>/review")
@login_required
async def queue(slug: str) -> Any:
    """Flagged replies for the community's secretaries: the most-flagged first, or with ?sort=newest."""
    community, _standing = await access_community_to_moderate(db_session(), require_user(), slug)
    newest = request.args.get("sort") == "newest"
    last_event_id = await latest_event_id(db_session())  # before the queue: a flag raised in between is announced
    return await render_template(
        "moderation/review.html",
        community=community,
        last_event_id=last_event_id,
        queue=await review_queue(db_session(), community, viewer=require_user(), newest_first=newest),
        newest=newest,
        reasons=flags.REASONS,
        threshold=flags.FLAG_THRESHOLD,
    )


@blueprint.post("/t/<id:thread_id>/pin")
@login_required
async def pin(thread_id: int) -> Any:
    user = require_user()
    thread, _board, _community, standing = await access_thread(db_session(), user, thread_id)
    form = await request.form
    pinned = form.get("pinned", "1") == "1"
    try:
        await thread_tools.set_pinned(
            db_session(), actor=user, thread=thread, standing=standing, pinned=pinned, hours=form.get("hours", "0")
        )
    except InvalidInput as error:  # refused before anything was written
        return await refused_back(error, url_for("threads.show", thread_id=thread_id))
    await commit()
    await notify(N_("Pinned to the top of its board.") if pinned else N_("Unpinned."))
    return redirect(url_for("threads.show", thread_id=thread_id))


async def _thread_step(thread_id: int, step: Any, done: str) -> Any:
    """Run a secretary's thread step from the thread's panel; a refusal is said on the thread page."""
    user = require_user()
    thread, _board, _community, standing = await access_thread(db_session(), user, thread_id)
    form = await request.form
    try:
        await step(user, thread, standing, form)
    except InvalidInput as error:  # refused before anything was written
        return await refused_back(error, url_for("threads.show", thread_id=thread_id))
    await commit()
    await notify(done)
    return redirect(url_for("threads.show", thread_id=thread_id))


@blueprint.post("/t/<id:thread_id>/slow-mode")
@login_required
async def slow_mode(thread_id: int) -> Any:
    async def step(user: Any, thread: Any, standing: Any, form: Any) -> None:
        await thread_tools.set_slow_mode(
            db_session(), actor=user, thread=thread, standing=standing, minutes=form.get("minutes", "0")
        )

    return await _thread_step(thread_id, step, N_("Slow mode is set."))


@blueprint.post("/t/<id:thread_id>/timer")
@login_required
async def timer(thread_id: int) -> Any:
    async def step(user: Any, thread: Any, standing: Any, form: Any) -> None:
        await thread_tools.set_close_timer(
            db_session(),
            actor=user,
            thread=thread,
            standing=standing,
            hours=form.get("hours", "0"),
            reason=form.get("reason", ""),
        )

    return await _thread_step(thread_id, step, N_("The timer is set."))


@blueprint.post("/t/<id:thread_id>/move")
@login_required
async def move(thread_id: int) -> Any:
    async def step(user: Any, thread: Any, standing: Any, form: Any) -> None:
        board = await board_in(db_session(), thread.community_id, form.get("board", ""))
        await thread_tools.move_thread(db_session(), actor=user, thread=thread, standing=standing, board=board)

    return await _thread_step(thread_id, step, N_("The thread is moved."))


@blueprint.post("/t/<id:thread_id>/delete")
@login_required
async def delete_thread(thread_id: int) -> Any:
    user = require_user()
    thread, _board, community, standing = await access_thread(db_session(), user, thread_id)
    form = await request.form
    try:
        await thread_tools.delete_thread(
            db_session(), actor=user, thread=thread, standing=standing, reason=form.get("reason", "")
        )
    except InvalidInput as error:  # refused before anything was written
        return await refused_back(error, url_for("threads.show", thread_id=thread_id))
    await commit()
    await notify(N_("The thread is deleted; its author is told why."))
    return redirect(url_for("communities.show", slug=community.slug))


@blueprint.get("/c/<slug>/word-filter")
@login_required
async def word_filter(slug: str) -> Any:
    community, standing = await access_community_to_moderate(db_session(), require_user(), slug)
    return await render_template(
        "moderation/word_filter.html",
        community=community,
        words=await word_filters.words_of(db_session(), community),
        district_admin=standing.is_district_admin,
    )


@blueprint.post("/c/<slug>/word-filter")
@login_required
async def word_filter_change(slug: str) -> Any:
    user = require_user()
    community, standing = await access_community_to_moderate(db_session(), user, slug)
    form = await request.form
    district_wide = form.get("district") == "1"
    try:
        if form.get("remove"):
            await word_filters.remove_word(
                db_session(),
                actor=user,
                community=community,
                standing=standing,
                word=form.get("remove"),
                district_wide=district_wide,
            )
        else:
            await word_filters.add_word(
                db_session(),
                actor=user,
                community=community,
                standing=standing,
                word=form.get("word"),
                mode=form.get("mode"),
                district_wide=district_wide,
            )
    except InvalidInput as error:  # refused before anything was written
        return await refused_back(error, url_for("moderation.word_filter", slug=slug))
    await commit()
    await notify(N_("The word list is saved."))
    return redirect(url_for("moderation.word_filter", slug=slug))


@blueprint.get("/posts/<id:post_id>/moderate-edit")
@login_required
async def edit_form(post_id: int) -> Any:
    post, thread, _board, community, standing = await access_post(db_session(), require_user(), post_id)
    if not can_moderate(standing):
        raise Forbidden(N_("Only the community's secretaries can do this."))
    return await render_template(
        "moderation/edit.html", post=post, thread=thread, community=community, form={"body": post.body}, errors={}
    )


@blueprint.post("/posts/<id:post_id>/moderate-edit")
@login_required
async def edit_submit(post_id: int) -> Any:
    user = require_user()
    post, thread, _board, community, standing = await access_post(db_session(), user, post_id)
    form = await request.form
    try:
        await threads.edit_post(
            db_session(), actor=user, post=post, standing=standing, body=form.get("body"), note=form.get("note")
        )
    except InvalidInput as error:  # refused before anything was written
        return await render_template(
            "moderation/edit.html",
            post=post,
            thread=thread,
            community=community,
            form=form,
            errors=error.translated_fields(),
        ), error.status
    await commit()
    await notify(N_("The post is edited; the note shows under it and its author is told."))
    return redirect(post_path(id_of(thread), post.number))


@blueprint.post("/t/<id:thread_id>/hide")
@login_required
async def hide_thread(thread_id: int) -> Any:
    """Hide the whole thread with a reason its author sees (`hidden=1`), or show it again (`hidden=0`)."""
    hidden = (await request.form).get("hidden", "1") == "1"

    async def step(user: Any, thread: Any, standing: Any, form: Any) -> None:
        await hiding.set_hidden(
            db_session(),
            actor=user,
            item=ThreadItem(thread),
            standing=standing,
            hidden=hidden,
            reason=form.get("reason", ""),
        )

    done = N_("The thread is hidden; its author sees why.") if hidden else N_("The thread is shown again.")
    return await _thread_step(thread_id, step, done)


# Problem reports (我身边的事) and their comments, through the same flag, hide and review path.


async def _report_item(report_id: int) -> tuple[ReportItem, Community, CommunityStanding]:
    report, community, standing = await access_report(db_session(), require_user(), report_id)
    return ReportItem(report), community, standing


async def _comment_item(comment_id: int) -> tuple[ReportCommentItem, Community, CommunityStanding]:
    comment, report, community, standing = await access_report_comment(db_session(), require_user(), comment_id)
    return ReportCommentItem(comment, report), community, standing


@blueprint.get("/reports/<id:report_id>/flag")
@login_required
async def flag_report_form(report_id: int) -> Any:
    item, _community, _standing = await _report_item(report_id)
    return await _flag_page(item, item.url, form={}, errors={})


@blueprint.post("/reports/<id:report_id>/flag")
@login_required
@rate_limit(limits=FLAG_LIMITS)
async def flag_report(report_id: int) -> Any:
    item, _community, standing = await _report_item(report_id)
    return await _flagged(item, standing, item.url)


@blueprint.get("/reports/comments/<id:comment_id>/flag")
@login_required
async def flag_report_comment_form(comment_id: int) -> Any:
    item, _community, _standing = await _comment_item(comment_id)
    return await _flag_page(item, item.url, form={}, errors={})


@blueprint.post("/reports/comments/<id:comment_id>/flag")
@login_required
@rate_limit(limits=FLAG_LIMITS)
async def flag_report_comment(comment_id: int) -> Any:
    item, _community, standing = await _comment_item(comment_id)
    return await _flagged(item, standing, item.url)


@blueprint.post("/reports/<id:report_id>/review")
@login_required
async def decide_report(report_id: int) -> Any:
    item, community, standing = await _report_item(report_id)
    return await _decided(item, community, standing)


@blueprint.post("/reports/comments/<id:comment_id>/review")
@login_required
async def decide_report_comment(comment_id: int) -> Any:
    item, community, standing = await _comment_item(comment_id)
    return await _decided(item, community, standing)


async def _hide_report_page(
    item: ReportItem | ReportCommentItem, *, form: Any, errors: dict[str, str], status: int = 200
) -> Any:
    page = await render_template(
        "moderation/hide_report.html",
        item=item,
        is_comment=isinstance(item, ReportCommentItem),
        back=item.url,
        action=request.path,
        form=form,
        errors=errors,
    )
    return page, status


async def _set_report_hidden(item: ReportItem | ReportCommentItem, standing: CommunityStanding, hidden: bool) -> Any:
    """A secretary hides a report or a comment with a reason its author sees, or shows it again."""
    form = await request.form
    try:
        await hiding.set_hidden(
            db_session(),
            actor=require_user(),
            item=item,
            standing=standing,
            hidden=hidden,
            reason=form.get("reason", ""),
        )
    except InvalidInput as error:  # refused before anything was written
        if hidden:
            return await _hide_report_page(item, form=form, errors=error.translated_fields(), status=error.status)
        return await refused_back(error, item.url)
    await commit()
    if isinstance(item, ReportItem):
        await notify(N_("The report is hidden; its reporter sees why.") if hidden else N_("The report is shown again."))
    else:
        await notify(N_("The comment is hidden; its author sees why.") if hidden else N_("The comment is shown again."))
    return redirect(item.url)


@blueprint.get("/reports/<id:report_id>/hide")
@login_required
async def hide_report_form(report_id: int) -> Any:
    item, _community, standing = await _report_item(report_id)
    require_moderator(standing)
    return await _hide_report_page(item, form={}, errors={})


@blueprint.post("/reports/<id:report_id>/hide")
@login_required
async def hide_report(report_id: int) -> Any:
    item, _community, standing = await _report_item(report_id)
    return await _set_report_hidden(item, standing, True)


@blueprint.post("/reports/<id:report_id>/show")
@login_required
async def show_report(report_id: int) -> Any:
    item, _community, standing = await _report_item(report_id)
    return await _set_report_hidden(item, standing, False)


@blueprint.get("/reports/comments/<id:comment_id>/hide")
@login_required
async def hide_report_comment_form(comment_id: int) -> Any:
    item, _community, standing = await _comment_item(comment_id)
    require_moderator(standing)
    return await _hide_report_page(item, form={}, errors={})


@blueprint.post("/reports/comments/<id:comment_id>/hide")
@login_required
async def hide_report_comment(comment_id: int) -> Any:
    item, _community, standing = await _comment_item(comment_id)
    return await _set_report_hidden(item, standing, True)


@blueprint.post("/reports/comments/<id:comment_id>/show")
@login_required
async def show_report_comment(comment_id: int) -> Any:
    item, _community, standing = await _comment_item(comment_id)
    return await _set_report_hidden(item, standing, False)
