"""What a district's admins read about how its communities handle problem reports: each community with its
figures (`forum.queries.reports.figures`, per community and per secretary) and how many of its reports are
overdue now (escalated and still unanswered)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from forum.models import Community, Report, id_of
from forum.queries.people import Person
from forum.queries.reports import Figures, figures_by_secretary, figures_over

WINDOWS = (30, 90)  # days, as the community page shows them


@dataclass(frozen=True, slots=True)
class CommunityFigures:
    community: Community
    overdue: int  # escalated and still unanswered, now
    windows: list[Figures]  # one per WINDOWS
    secretaries: list[tuple[Person, list[Figures]]]  # who gave first answers in the longest window


async def community_figures(session: AsyncSession, *, community_id: int, now: datetime) -> list[Figures]:
    """The community page's accountability: `forum.queries.reports.figures` over each of WINDOWS, all in one
    statement (the page has a budget of statements)."""
    return await figures_over(session, community_id=community_id, now=now, windows=WINDOWS)


async def overdue_counts(session: AsyncSession, community_ids: list[int]) -> dict[int, int]:
    """Reports escalated past their due time and still without a formal answer, by community (one statement)."""
    if not community_ids:
        return {}
    rows = await session.execute(
        select(col(Report.community_id), func.count())
        .where(
            col(Report.community_id).in_(community_ids),
            col(Report.escalated_at).is_not(None),
            col(Report.answered_at).is_(None),
        )
        .group_by(col(Report.community_id))
    )
    return {community_id: int(count) for community_id, count in rows.all()}


async def district_figures(session: AsyncSession, *, district_id: int, now: datetime) -> list[CommunityFigures]:
    """Every community of the district with its figures and its secretaries' (three statements per community
    at most: a district has tens of communities, read by its few admins)."""
    communities = list(
        (
            await session.execute(
                select(Community).where(col(Community.district_id) == district_id).order_by(col(Community.name))
            )
        ).scalars()
    )
    overdue = await overdue_counts(session, [id_of(community) for community in communities])
    found = []
    for community in communities:  # two or three statements each, whatever its number of secretaries
        community_id = id_of(community)
        found.append(
            CommunityFigures(
                community=community,
                overdue=overdue.get(community_id, 0),
                windows=await community_figures(session, community_id=community_id, now=now),
                secretaries=await figures_by_secretary(session, community_id=community_id, now=now, windows=WINDOWS),
            )
        )
    return found
