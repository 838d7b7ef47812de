"""Boards (sections) of a community."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from forum.models import Board, BoardKind, Community

# Every community starts with these, in this order. Their names are translated by kind until a secretary
# renames them (see `forum.queries.boards.board_name`).
DEFAULT_BOARDS = [
    (BoardKind.NOTICES, "notices"),
    (BoardKind.TALK, "talk"),
    (BoardKind.GUIDES, "guides"),
    (BoardKind.SALE, "sale"),
    (BoardKind.SWAP, "swap"),
]


async def create_default_boards(session: AsyncSession, *, community: Community) -> list[Board]:
    assert community.id is not None  # noqa: S101 -- a flushed community
    boards = [
        Board(community_id=community.id, slug=slug, kind=kind, position=position)
        for position, (kind, slug) in enumerate(DEFAULT_BOARDS)
    ]
    session.add_all(boards)
    await session.flush()
    return boards
