"""Boards (sections) of a community: the defaults every community starts with, and the secretary's changes.

Order: the open boards of a community hold positions 0, 1, 2, … in the order they are listed, and the archived
ones follow them. Every change renumbers the whole community's boards while holding a lock on the community row
(PostgreSQL; SQLite has one writer at a time), so the order stays dense even when two secretaries click at once.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from forum.actions import audit
from forum.config import LOCALES
from forum.db import record_event
from forum.errors import DomainError, Forbidden, field_error
from forum.events import BoardsChanged
from forum.i18n import N_, translations
from forum.models import Board, BoardKind, Community, User
from forum.permissions import CommunityStanding, can_archive_board, can_manage_boards
from forum.queries.threads import DEFAULT_BOARD_NAMES
from forum.validation import FieldErrors, clean_text

# Every community starts with these, in this order. Their names are translated by kind until a secretary
# renames them (see `forum.queries.threads.board_name`).
DEFAULT_BOARDS = [
    (BoardKind.NOTICES, "notices"),
    (BoardKind.TALK, "talk"),
    (BoardKind.GUIDES, "guides"),
    (BoardKind.SALE, "sale"),
    (BoardKind.SWAP, "swap"),
]
NAME_MAX = 40  # Board.name
DESCRIPTION_MAX = 200  # Board.description
SLUG_MAX = 40  # Board.slug
# A secretary's new board is a discussion (every member starts threads) or a guides board (the same rules,
# listed as guides). Notices and the market boards exist once per community, from the start.
NEW_BOARD_KINDS = (BoardKind.TALK, BoardKind.GUIDES)

Change = Literal["added", "renamed", "moved", "archived", "restored"]


class BoardArchived(Forbidden):
    code = "board_archived"
    default_message = N_(
        "This board is archived: its threads can still be read, but nobody can start a thread or reply here."
    )


class BoardCannotBeArchived(DomainError):
    status = 409
    code = "board_permanent"
    default_message = N_(
        "The notices board and the market boards cannot be archived. You can rename them or move them down."
    )


class BoardIsArchived(DomainError):
    status = 409
    code = "board_is_archived"
    default_message = N_("Restore this board before moving it: archived boards are not in the list.")


async def create_default_boards(session: AsyncSession, *, community: Community) -> list[Board]:
    assert community.id is not None  # noqa: S101 -- a flushed community
    boards = [
        Board(community_id=community.id, slug=slug, kind=kind, position=position)
        for position, (kind, slug) in enumerate(DEFAULT_BOARDS)
    ]
    session.add_all(boards)
    await session.flush()
    return boards


def _require_manager(standing: CommunityStanding) -> None:
    if not can_manage_boards(standing):
        raise Forbidden()


async def _locked_boards(session: AsyncSession, community_id: int) -> list[Board]:
    """The community's boards in order, fresh from the database, with the community row locked until commit.

    The lock is a no-op write rather than SELECT … FOR UPDATE: SQLite has no row locks, and only a write makes
    its transaction take the database's write lock before the boards are read."""
    await session.execute(
        update(Community)
        .where(col(Community.id) == community_id)
        .values(id=col(Community.id))
        .execution_options(synchronize_session=False)
    )
    return list(
        (
            await session.execute(
                select(Board)
                .where(col(Board.community_id) == community_id)
                .order_by(col(Board.is_archived), col(Board.position), col(Board.id))
                .execution_options(populate_existing=True)
            )
        ).scalars()
    )


def _renumber(open_boards: Sequence[Board], archived: Sequence[Board]) -> None:
    for position, board in enumerate([*open_boards, *archived]):
        board.position = position


def _split(boards: list[Board]) -> tuple[list[Board], list[Board]]:
    return [b for b in boards if not b.is_archived], [b for b in boards if b.is_archived]


def _find(boards: list[Board], board: Board) -> Board:
    """The locked, freshly loaded row of `board` (the same object when the session already holds it)."""
    return next(b for b in boards if b.id == board.id)


def _names_of(board: Board) -> set[str]:
    """Every name a board goes by: its own, or its default name in every language the forum speaks."""
    if board.name:
        return {board.name.casefold()}
    default = DEFAULT_BOARD_NAMES.get(BoardKind(board.kind), N_("Board"))
    return {default.casefold()} | {translations(locale).gettext(default).casefold() for locale in LOCALES}


def _check_unique(boards: list[Board], name: str, *, except_id: int | None = None) -> None:
    wanted = name.casefold()
    for other in boards:
        if other.id != except_id and wanted in _names_of(other):
            if other.is_archived:
                raise field_error(
                    "name",
                    N_("An archived board is already called “%(name)s”. Restore it, or choose another name."),
                    status=409,
                    name=name,
                )
            raise field_error(
                "name", N_("There is already a board called “%(name)s”. Choose another name."), status=409, name=name
            )


def slug_for(name: str, taken: set[str]) -> str:
    """A URL slug from the name's ASCII letters and digits ('Lost & Found' -> 'lost-found'). Chinese names have
    none, so they get 'board-1', 'board-2', …; the slug never changes afterwards, so links keep working."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    base = re.sub(r"[^a-z0-9]+", "-", ascii_name).strip("-")[: SLUG_MAX - 6].strip("-")
    if len(base) < 2 or base.isdigit():
        base, n = "board", 1
    elif base not in taken:
        return base
    else:
        n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


async def _changed(
    session: AsyncSession, *, actor: User, board: Board, action: Change, audit_action: str, detail: str
) -> None:
    await session.flush()
    assert board.id is not None  # noqa: S101 -- flushed
    await audit.record(
        session, actor=actor, action=audit_action, community_id=board.community_id, detail=f"{board.slug}: {detail}"
    )
    record_event(session, BoardsChanged(community_id=board.community_id, board_id=board.id, change=action))


async def add_board(
    session: AsyncSession,
    *,
    actor: User,
    community: Community,
    standing: CommunityStanding,
    name: object,
    description: object = "",
    kind: object = BoardKind.TALK,
) -> Board:
    """Add a board at the end of the community's list. `kind` is 'talk' (the default) or 'guides'."""
    _require_manager(standing)
    assert community.id is not None  # noqa: S101 -- a loaded row
    errors = FieldErrors()
    clean_name = errors.check(clean_text, name, "name", max_length=NAME_MAX)
    clean_description = errors.check(clean_text, description, "description", max_length=DESCRIPTION_MAX, required=False)
    if kind not in NEW_BOARD_KINDS:
        errors.add("kind", N_("Choose a discussion board or a guides board."))
    errors.raise_if_any()
    assert clean_name is not None  # noqa: S101 -- checked
    boards = await _locked_boards(session, community.id)
    _check_unique(boards, clean_name)
    board = Board(
        community_id=community.id,
        slug=slug_for(clean_name, {b.slug for b in boards}),
        name=clean_name,
        description=clean_description or "",
        kind=BoardKind(str(kind)),
    )
    session.add(board)
    open_boards, archived = _split(boards)
    _renumber([*open_boards, board], archived)
    await _changed(session, actor=actor, board=board, action="added", audit_action="board.add", detail=clean_name)
    return board


async def rename_board(
    session: AsyncSession,
    *,
    actor: User,
    board: Board,
    standing: CommunityStanding,
    name: object,
    description: object = None,
) -> Board:
    """Give a board a name (replacing a default board's translated name) and, unless None, a description."""
    _require_manager(standing)
    errors = FieldErrors()
    clean_name = errors.check(clean_text, name, "name", max_length=NAME_MAX)
    clean_description = (
        None
        if description is None
        else errors.check(clean_text, description, "description", max_length=DESCRIPTION_MAX, required=False)
    )
    errors.raise_if_any()
    assert clean_name is not None  # noqa: S101 -- checked
    boards = await _locked_boards(session, board.community_id)
    board = _find(boards, board)
    if not board.name and clean_name.casefold() in _names_of(board):
        clean_name = ""  # the default name sent back as shown (a description edit): it stays translated
    else:
        _check_unique(boards, clean_name, except_id=board.id)
    new_description = board.description if clean_description is None else clean_description
    changes = []
    if clean_name != board.name:
        changes.append(f"{board.name or '(' + board.kind + ')'} → {clean_name}")
    if new_description != board.description:
        changes.append(f"description: {new_description or '-'}")
    if not changes:
        return board
    board.name = clean_name
    board.description = new_description
    await _changed(
        session, actor=actor, board=board, action="renamed", audit_action="board.rename", detail="; ".join(changes)
    )
    return board


async def move_board(
    session: AsyncSession,
    *,
    actor: User,
    board: Board,
    standing: CommunityStanding,
    direction: Literal["up", "down"] | None = None,
    position: int | None = None,
) -> Board:
    """Move an open board one place up or down, or to `position` (0 is the top) among the open boards."""
    _require_manager(standing)
    boards = await _locked_boards(session, board.community_id)
    board = _find(boards, board)
    if board.is_archived:
        raise BoardIsArchived()
    open_boards, archived = _split(boards)
    current = open_boards.index(board)
    if position is not None:
        if not 0 <= position < len(open_boards):
            raise field_error("position", N_("Choose a position from 0 to %(last)d."), last=len(open_boards) - 1)
        target = position
    elif direction in ("up", "down"):
        target = max(0, min(len(open_boards) - 1, current + (-1 if direction == "up" else 1)))
    else:
        raise DomainError(N_("Choose up or down."))  # only a hand-made request sends anything else
    if target == current:
        return board
    open_boards.insert(target, open_boards.pop(current))
    _renumber(open_boards, archived)
    await _changed(
        session, actor=actor, board=board, action="moved", audit_action="board.move", detail=f"{current} → {target}"
    )
    return board


async def archive_board(session: AsyncSession, *, actor: User, board: Board, standing: CommunityStanding) -> Board:
    """Take a board out of the community's list. Its threads stay readable at their addresses; nobody can start
    a thread or reply there until it is restored. Archiving an archived board changes nothing."""
    _require_manager(standing)
    if not can_archive_board(standing, board):
        raise BoardCannotBeArchived()
    boards = await _locked_boards(session, board.community_id)
    board = _find(boards, board)
    if board.is_archived:
        return board
    open_boards, archived = _split(boards)
    open_boards.remove(board)
    board.is_archived = True
    _renumber(open_boards, [board, *archived])
    await _changed(session, actor=actor, board=board, action="archived", audit_action="board.archive", detail="")
    return board


async def restore_board(session: AsyncSession, *, actor: User, board: Board, standing: CommunityStanding) -> Board:
    """Bring an archived board back, at the end of the list. Restoring an open board changes nothing."""
    _require_manager(standing)
    boards = await _locked_boards(session, board.community_id)
    board = _find(boards, board)
    if not board.is_archived:
        return board
    open_boards, archived = _split(boards)
    archived.remove(board)
    board.is_archived = False
    _renumber([*open_boards, board], archived)
    await _changed(session, actor=actor, board=board, action="restored", audit_action="board.restore", detail="")
    return board
