"""The secretary's board list: add, rename, order, archive and restore a community's boards."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, redirect, request, url_for
from quart_rate_limiter import rate_limit

from forum.access import access_board_to_manage, access_boards_to_manage
from forum.actions import boards
from forum.errors import InvalidInput
from forum.i18n import N_
from forum.models import Board, Community
from forum.permissions import CommunityStanding, can_archive_board
from forum.queries.threads import board_name, boards_of
from forum.web.context import commit, db_session, login_required, notify, require_user
from forum.web.ratelimits import BOARD_LIMITS
from forum.web.templating import render_template

blueprint = Blueprint("boards", __name__)


async def _page(
    community: Community,
    standing: CommunityStanding,
    *,
    failed: int | str | None = None,
    form: Any = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Any:
    """The list; after a failed form, that form (`failed`: "add" or a board id) shows what was sent and why."""
    rows = await boards_of(db_session(), community, include_archived=True)
    return await render_template(
        "boards/index.html",
        community=community,
        rows=rows,
        open_count=sum(1 for row in rows if not row.board.is_archived),
        archivable={row.board.id for row in rows if can_archive_board(standing, row.board)},
        failed=failed,
        form=form or {},
        errors=errors or {},
    ), status


def _back(community: Community, board: Board | None = None) -> Any:
    anchor = f"board-{board.id}" if board is not None else None
    return redirect(url_for("boards.index", slug=community.slug, _anchor=anchor))


@blueprint.get("/c/<slug>/boards")
@login_required
async def index(slug: str) -> Any:
    community, standing = await access_boards_to_manage(db_session(), require_user(), slug)
    return await _page(community, standing)


@blueprint.post("/c/<slug>/boards")
@login_required
@rate_limit(limits=BOARD_LIMITS)
async def add(slug: str) -> Any:
    user = require_user()
    community, standing = await access_boards_to_manage(db_session(), user, slug)
    form = await request.form
    try:
        board = await boards.add_board(
            db_session(),
            actor=user,
            community=community,
            standing=standing,
            name=form.get("name"),
            description=form.get("description", ""),
            kind=form.get("kind", "talk"),
        )
    except InvalidInput as error:
        return await _page(
            community, standing, failed="add", form=form, errors=error.translated_fields(), status=error.status
        )
    await commit()
    await notify(N_("Added the board “%(name)s”."), name=board_name(board))
    return _back(community, board)


@blueprint.post("/c/<slug>/boards/<board_slug>/rename")
@login_required
@rate_limit(limits=BOARD_LIMITS)
async def rename(slug: str, board_slug: str) -> Any:
    user = require_user()
    community, board, standing = await access_board_to_manage(db_session(), user, slug, board_slug)
    form = await request.form
    try:
        await boards.rename_board(
            db_session(),
            actor=user,
            board=board,
            standing=standing,
            name=form.get("name"),
            description=form.get("description", ""),
        )
    except InvalidInput as error:
        return await _page(
            community, standing, failed=board.id, form=form, errors=error.translated_fields(), status=error.status
        )
    await commit()
    await notify(N_("Saved the board “%(name)s”."), name=board_name(board))
    return _back(community, board)


@blueprint.post("/c/<slug>/boards/<board_slug>/move")
@login_required
@rate_limit(limits=BOARD_LIMITS)
async def move(slug: str, board_slug: str) -> Any:
    user = require_user()
    community, board, standing = await access_board_to_manage(db_session(), user, slug, board_slug)
    direction = (await request.form).get("direction")
    await boards.move_board(
        db_session(),
        actor=user,
        board=board,
        standing=standing,
        direction="up" if direction == "up" else "down" if direction == "down" else None,
    )
    await commit()
    return _back(community, board)


@blueprint.post("/c/<slug>/boards/<board_slug>/archive")
@login_required
@rate_limit(limits=BOARD_LIMITS)
async def archive(slug: str, board_slug: str) -> Any:
    user = require_user()
    community, board, standing = await access_board_to_manage(db_session(), user, slug, board_slug)
    await boards.archive_board(db_session(), actor=user, board=board, standing=standing)
    await commit()
    await notify(
        N_("Archived the board “%(name)s”. Its threads can still be read at their addresses."),
        name=board_name(board),
    )
    return _back(community, board)


@blueprint.post("/c/<slug>/boards/<board_slug>/restore")
@login_required
@rate_limit(limits=BOARD_LIMITS)
async def restore(slug: str, board_slug: str) -> Any:
    user = require_user()
    community, board, standing = await access_board_to_manage(db_session(), user, slug, board_slug)
    await boards.restore_board(db_session(), actor=user, board=board, standing=standing)
    await commit()
    await notify(N_("Restored the board “%(name)s”, at the end of the list."), name=board_name(board))
    return _back(community, board)
