"""JSON API for managing a community's boards: the same actions and access checks as the secretary's page."""

from __future__ import annotations

from pydantic import BaseModel, Field
from quart_rate_limiter import rate_limit
from quart_schema import tag, validate_request, validate_response

from forum.access import access_board_to_manage, access_boards_to_manage
from forum.actions import boards
from forum.api.forum_v1 import BoardOut, board_out
from forum.api.schemas import SwitchIn, longest
from forum.api.v1 import blueprint
from forum.models import Board, Community
from forum.queries.threads import boards_of
from forum.web.context import commit, db_session, require_user
from forum.web.ratelimits import BOARD_LIMITS


class BoardIn(BaseModel):
    name: str = Field(max_length=boards.NAME_MAX)
    description: str = Field(default="", max_length=boards.DESCRIPTION_MAX)
    kind: str = Field(
        default="talk",
        max_length=longest(boards.NEW_BOARD_KINDS),
        description="`talk` (a discussion board) or `guides`",
    )


class BoardChangeIn(BaseModel):
    name: str = Field(max_length=boards.NAME_MAX)
    description: str | None = Field(
        default=None, max_length=boards.DESCRIPTION_MAX, description="left as it is when absent"
    )


class PositionIn(BaseModel):
    position: int = Field(description="0 is the top of the list of open boards")


async def _out(community: Community, board: Board) -> BoardOut:
    """The board as the list shows it (its name in the reader's language, its thread count)."""
    rows = await boards_of(db_session(), community, include_archived=True)
    return board_out(next(row for row in rows if row.board.id == board.id))


@blueprint.post("/communities/<slug>/boards")
@tag(["moderation"])
@rate_limit(limits=BOARD_LIMITS)
@validate_request(BoardIn)
@validate_response(BoardOut, 201)
async def add_board(slug: str, data: BoardIn) -> tuple[BoardOut, int]:
    """Secretaries and district admins: add a board at the end of the list. Its slug comes from the name's
    ASCII letters and digits, or is `board-<n>` for a Chinese name; it never changes."""
    user = require_user()
    community, standing = await access_boards_to_manage(db_session(), user, slug)
    board = await boards.add_board(
        db_session(),
        actor=user,
        community=community,
        standing=standing,
        name=data.name,
        description=data.description,
        kind=data.kind,
    )
    await commit()
    return await _out(community, board), 201


@blueprint.patch("/communities/<slug>/boards/<board_slug>")
@tag(["moderation"])
@rate_limit(limits=BOARD_LIMITS)
@validate_request(BoardChangeIn)
@validate_response(BoardOut)
async def rename_board(slug: str, board_slug: str, data: BoardChangeIn) -> BoardOut:
    """Rename a board (a default board's name then stops following the reader's language) and, if given,
    change its description."""
    user = require_user()
    community, board, standing = await access_board_to_manage(db_session(), user, slug, board_slug)
    await boards.rename_board(
        db_session(), actor=user, board=board, standing=standing, name=data.name, description=data.description
    )
    await commit()
    return await _out(community, board)


@blueprint.put("/communities/<slug>/boards/<board_slug>/position")
@tag(["moderation"])
@rate_limit(limits=BOARD_LIMITS)
@validate_request(PositionIn)
@validate_response(BoardOut)
async def move_board(slug: str, board_slug: str, data: PositionIn) -> BoardOut:
    """Move an open board to `position` among the open boards; the others close up around it."""
    user = require_user()
    community, board, standing = await access_board_to_manage(db_session(), user, slug, board_slug)
    await boards.move_board(db_session(), actor=user, board=board, standing=standing, position=data.position)
    await commit()
    return await _out(community, board)


@blueprint.put("/communities/<slug>/boards/<board_slug>/archived")
@tag(["moderation"])
@rate_limit(limits=BOARD_LIMITS)
@validate_request(SwitchIn)
@validate_response(BoardOut)
async def set_archived(slug: str, board_slug: str, data: SwitchIn) -> BoardOut:
    """`true` archives the board (not the notices or market boards: 409), `false` restores it at the end of the
    list. Idempotent."""
    user = require_user()
    community, board, standing = await access_board_to_manage(db_session(), user, slug, board_slug)
    change = boards.archive_board if data.value else boards.restore_board
    await change(db_session(), actor=user, board=board, standing=standing)
    await commit()
    return await _out(community, board)
